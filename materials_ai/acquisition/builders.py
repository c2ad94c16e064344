"""The built-in acquisition strategies (BoTorch), registered in
:data:`materials_ai.acquisition.strategies.STRATEGIES` by name.

Each ``NAME`` constant is the :class:`~materials_ai.acquisition.strategies.AcquisitionStrategy`
of the strategy ``name``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from materials_ai.acquisition.config import AcquisitionConfig
from materials_ai.acquisition.objective import DesirabilityObjective
from materials_ai.acquisition.strategies import AcquisitionStrategy
from materials_ai.errors import AcquisitionError

if TYPE_CHECKING:
    from botorch.acquisition import AcquisitionFunction

__all__ = [
    "CONSTRAINED",
    "GREEDY",
    "QLOGEI",
    "QNEHVI",
    "QUCB",
    "THOMPSON",
    "mc_objective",
    "pareto_objective",
]


def mc_objective(objective: DesirabilityObjective):  # type: ignore[no-untyped-def]
    """The desirability as a BoTorch ``GenericMCObjective`` over member samples."""
    from botorch.acquisition.objective import GenericMCObjective

    def desirability(samples: torch.Tensor, X: torch.Tensor | None = None) -> torch.Tensor:
        return objective.torch_desirability(samples)

    return GenericMCObjective(desirability)


def pareto_objective(config: AcquisitionConfig, target_names: tuple[str, ...]):  # type: ignore[no-untyped-def]
    """The ``qnehvi`` objectives (all maximised) and their reference point."""
    from botorch.acquisition.multi_objective.objective import GenericMCMultiOutputObjective

    unknown = [o.target for o in config.objectives if o.target not in target_names]
    if unknown:
        raise AcquisitionError(f"qnehvi objectives use unknown target(s) {unknown}")
    columns = [target_names.index(o.target) for o in config.objectives]

    def values(samples: torch.Tensor, X: torch.Tensor | None = None) -> torch.Tensor:
        out = []
        for spec, j in zip(config.objectives, columns, strict=True):
            y = samples[..., j]
            if spec.goal == "maximize":
                out.append(y)
            elif spec.goal == "minimize":
                out.append(-y)
            else:
                out.append(-(y - float(spec.value)).abs())  # type: ignore[arg-type]
        return torch.stack(out, dim=-1)

    reference = torch.tensor([o.reference for o in config.objectives], dtype=torch.float64)
    return GenericMCMultiOutputObjective(values), reference


def _sampler(model: Any) -> Any:
    from materials_ai.acquisition.model import EnsembleMemberSampler

    return EnsembleMemberSampler(model.ensemble_size)


def _simple_regret(
    model: Any, objective: DesirabilityObjective, config: AcquisitionConfig, *_: np.ndarray
) -> AcquisitionFunction:
    from botorch.acquisition import qSimpleRegret

    return qSimpleRegret(model, sampler=_sampler(model), objective=mc_objective(objective))


def _qucb(
    model: Any, objective: DesirabilityObjective, config: AcquisitionConfig, *_: np.ndarray
) -> AcquisitionFunction:
    from botorch.acquisition import qUpperConfidenceBound

    return qUpperConfidenceBound(
        model, beta=config.beta, sampler=_sampler(model), objective=mc_objective(objective)
    )


def _qlogei(
    model: Any,
    objective: DesirabilityObjective,
    config: AcquisitionConfig,
    observed_desirability: np.ndarray,
    observed_indices: np.ndarray,
) -> AcquisitionFunction:
    from botorch.acquisition import qLogExpectedImprovement

    finite = observed_desirability[np.isfinite(observed_desirability)]
    best_f = float(finite.max()) if config.best_f == "incumbent" and finite.size else 0.0
    return qLogExpectedImprovement(
        model, best_f=best_f, sampler=_sampler(model), objective=mc_objective(objective)
    )


def _constrained(
    model: Any, objective: DesirabilityObjective, config: AcquisitionConfig, *_: np.ndarray
) -> AcquisitionFunction:
    from botorch.acquisition.analytic import LogProbabilityOfFeasibility

    bounds: dict[int, tuple[float | None, float | None]] = {}
    for criterion, column in zip(objective.config.criteria, objective.columns, strict=True):
        if column in bounds:
            low, high = bounds[column]
            low = criterion.min if low is None else max(low, criterion.min or low)
            high = criterion.max if high is None else min(high, criterion.max or high)
            bounds[column] = (low, high)
        else:
            bounds[column] = (criterion.min, criterion.max)
    return LogProbabilityOfFeasibility(model, constraints=bounds)


def _qnehvi(
    model: Any,
    objective: DesirabilityObjective,
    config: AcquisitionConfig,
    observed_desirability: np.ndarray,
    observed_indices: np.ndarray,
) -> AcquisitionFunction:
    from botorch.acquisition.multi_objective.logei import (
        qLogNoisyExpectedHypervolumeImprovement,
    )

    mo_objective, reference = pareto_objective(config, objective.target_names)
    if observed_indices.size == 0:
        raise AcquisitionError("qnehvi needs labelled candidates as its baseline")
    baseline = torch.as_tensor(observed_indices, dtype=torch.float64).unsqueeze(-1)
    return qLogNoisyExpectedHypervolumeImprovement(
        model,
        ref_point=reference.tolist(),
        X_baseline=baseline,
        sampler=_sampler(model),
        objective=mo_objective,
        prune_baseline=True,
        cache_root=False,
    )


GREEDY = AcquisitionStrategy(_simple_regret, "ranked")
THOMPSON = AcquisitionStrategy(_simple_regret, "thompson")
QUCB = AcquisitionStrategy(_qucb, "joint")
QLOGEI = AcquisitionStrategy(_qlogei, "joint")
CONSTRAINED = AcquisitionStrategy(_constrained, "ranked")
QNEHVI = AcquisitionStrategy(_qnehvi, "joint", pareto_shortlist=True)
