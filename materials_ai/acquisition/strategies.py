"""The acquisition-strategy registry: ``acquisition.strategy`` -> how a batch is chosen.

A strategy is an :class:`AcquisitionStrategy`: a builder of the BoTorch acquisition
function over a :class:`~materials_ai.acquisition.model.PoolEnsembleModel` (``None`` for
``random``, which ignores the surrogate) and how the batch is read from it:

============  ==========================================================================
``batch``     picks
============  ==========================================================================
``random``    uniform over the available candidates (seeded)
``ranked``    the best single-candidate values first (``greedy``, ``constrained``)
``thompson``  one ensemble member per pick (BoTorch ``MaxPosteriorSampling``)
``joint``     sequential greedy on the joint batch value (``optimize_acqf_discrete``:
              qUCB, qLogEI, qLogNEHVI, which condition on pending points)
============  ==========================================================================

The built-in builders live in :mod:`materials_ai.acquisition.builders` (registered lazily:
BoTorch is imported when a strategy is first used). Add a strategy with
``STRATEGIES.add("name", AcquisitionStrategy(build, "joint"))``; a workflow then names it as
``acquisition.strategy: name``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from materials_ai.registry import Registry

__all__ = ["STRATEGIES", "AcquisitionBuilder", "AcquisitionStrategy", "BatchMode"]

#: ``(model, objective, config, observed_desirability (m,), observed_indices (m,))`` ->
#: the BoTorch acquisition function over the pool model (a ``PoolEnsembleModel``).
AcquisitionBuilder = Callable[..., Any]

#: How a batch is read from the acquisition (see the module table).
BatchMode = Literal["random", "ranked", "thompson", "joint"]


@dataclass(frozen=True)
class AcquisitionStrategy:
    """One registered strategy.

    Attributes:
        build: Builds the acquisition function; ``None`` for strategies without one.
        batch: How the batch is picked (:data:`BatchMode`).
        pareto_shortlist: Pre-screen a large pool to ``config.qnehvi_shortlist``
            candidates by Pareto rank of the posterior means (expensive acquisitions).
    """

    build: AcquisitionBuilder | None
    batch: BatchMode
    pareto_shortlist: bool = False


#: Strategy name -> :class:`AcquisitionStrategy` (the names of ``acquisition.strategy``).
STRATEGIES: Registry[AcquisitionStrategy] = Registry("acquisition strategy")
STRATEGIES.add("random", AcquisitionStrategy(None, "random"))
for _name in ("greedy", "thompson", "qucb", "qlogei", "constrained", "qnehvi"):
    STRATEGIES.register_lazy(_name, f"materials_ai.acquisition.builders:{_name.upper()}")
