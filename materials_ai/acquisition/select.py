"""Choose a batch of q candidates from a scored pool with a BoTorch acquisition."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from materials_ai.acquisition.config import AcquisitionConfig
from materials_ai.acquisition.objective import DesirabilityObjective
from materials_ai.errors import AcquisitionError


@dataclass(frozen=True)
class BatchSelection:
    """The outcome of one selection.

    Attributes:
        indices: `q` pool indices, in the order they were picked.
        pick_values: `q` acquisition values at pick time (for sequential-greedy batch
            strategies, the joint value of the batch so far).
        candidate_values: `n` single-candidate acquisition values over the whole pool;
            NaN where the candidate was not available (or for ``random``).
        strategy: The strategy used.
    """

    indices: np.ndarray
    pick_values: np.ndarray
    candidate_values: np.ndarray
    strategy: str


def _make_acquisition(
    samples: torch.Tensor,
    objective: DesirabilityObjective,
    config: AcquisitionConfig,
    observed_desirability: np.ndarray,
):  # type: ignore[no-untyped-def]
    from botorch.acquisition import (
        qLogExpectedImprovement,
        qSimpleRegret,
        qUpperConfidenceBound,
    )
    from botorch.acquisition.objective import GenericMCObjective

    from materials_ai.acquisition.model import EnsembleMemberSampler, PoolEnsembleModel

    model = PoolEnsembleModel(samples)
    sampler = EnsembleMemberSampler(model.ensemble_size)

    def desirability(samples: torch.Tensor, X: torch.Tensor | None = None) -> torch.Tensor:
        return objective.torch_desirability(samples)

    mc_objective = GenericMCObjective(desirability)
    if config.strategy == "greedy":
        return qSimpleRegret(model, sampler=sampler, objective=mc_objective)
    if config.strategy == "qucb":
        return qUpperConfidenceBound(
            model, beta=config.beta, sampler=sampler, objective=mc_objective
        )
    if config.strategy == "qlogei":
        finite = observed_desirability[np.isfinite(observed_desirability)]
        best_f = float(finite.max()) if config.best_f == "incumbent" and finite.size else 0.0
        return qLogExpectedImprovement(
            model, best_f=best_f, sampler=sampler, objective=mc_objective
        )
    raise AcquisitionError(f"unknown acquisition strategy {config.strategy!r}")


def _single_point_values(acq, choices: torch.Tensor, chunk: int) -> torch.Tensor:  # type: ignore[no-untyped-def]
    with torch.no_grad():
        return torch.cat(
            [acq(choices[i : i + chunk].unsqueeze(-2)) for i in range(0, len(choices), chunk)]
        )


def select_batch(
    samples: np.ndarray,
    objective: DesirabilityObjective,
    config: AcquisitionConfig,
    q: int,
    *,
    available: np.ndarray,
    observed_values: np.ndarray | None = None,
    seed: int = 0,
) -> BatchSelection:
    """Pick ``q`` distinct available candidates.

    Args:
        samples: `s x n x t` member predictions for the whole pool (target units).
        objective: Turns `... x t` predictions into desirabilities.
        config: Strategy and its parameters.
        q: Batch size.
        available: Pool indices that may be picked (unlabelled, not pending).
        observed_values: `m x t` labels observed so far (for the EI incumbent).
        seed: Seeds the ``random`` strategy.

    Returns:
        The selection. Fewer than ``q`` picks only when fewer are available.

    Raises:
        AcquisitionError: If nothing is available or the strategy is unknown.
    """
    available = np.unique(np.asarray(available, dtype=np.int64))
    n = samples.shape[1]
    if available.size == 0:
        raise AcquisitionError("no unlabelled candidate left in the pool to select from")
    if available.min() < 0 or available.max() >= n:
        raise AcquisitionError(f"available indices must lie in [0, {n}); got out-of-range ones")
    q = min(q, available.size)
    candidate_values = np.full(n, np.nan)
    if config.strategy == "random":
        rng = np.random.default_rng(seed)
        picks = rng.choice(available, size=q, replace=False)
        return BatchSelection(picks, np.full(q, np.nan), candidate_values, "random")

    observed = (
        objective.desirability(observed_values)
        if observed_values is not None and len(observed_values)
        else np.zeros(0)
    )
    samples_t = torch.as_tensor(samples, dtype=torch.float64)
    acq = _make_acquisition(samples_t, objective, config, observed)
    choices = torch.as_tensor(available, dtype=torch.float64).unsqueeze(-1)
    single = _single_point_values(acq, choices, config.max_batch_size)
    candidate_values[available] = single.numpy()

    if config.strategy == "greedy":
        order = np.argsort(-single.numpy(), kind="stable")[:q]
        return BatchSelection(available[order], single.numpy()[order], candidate_values, "greedy")

    from botorch.optim import optimize_acqf_discrete

    # Present the choices best-first by single-candidate value: optimize_acqf_discrete
    # takes the first maximiser (torch.argmax), so ties in the joint batch value are
    # broken by the single-candidate value instead of by pool order. Ties are common:
    # with s ensemble members as MC samples, the joint value of an MC batch acquisition
    # stops growing once every member's favourite candidate is in the batch.
    order = np.argsort(-single.numpy(), kind="stable")
    picked, values = optimize_acqf_discrete(
        acq, q=q, choices=choices[order], max_batch_size=config.max_batch_size, unique=True
    )
    indices = picked[:, 0].round().long().numpy()
    return BatchSelection(
        indices, values.detach().numpy().reshape(-1), candidate_values, config.strategy
    )
