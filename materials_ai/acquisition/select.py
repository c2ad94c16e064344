"""Choose a batch of q candidates from a scored pool with a BoTorch acquisition.

Every strategy except ``random`` works on the ensemble's member predictions for the pool
(`s x n x t`), exposed to BoTorch as a :class:`~materials_ai.acquisition.model.PoolEnsembleModel`
whose input is a candidate's pool index. Batch strategies that BoTorch conditions on
pending points (qUCB, qLogEI, qLogNEHVI) are built sequentially with
``optimize_acqf_discrete``; Thompson sampling draws one ensemble member per pick
(``MaxPosteriorSampling`` without replacement); ``greedy`` and ``constrained`` rank single
candidates. Strategies are looked up by name in
:data:`~materials_ai.acquisition.strategies.STRATEGIES`. A chemical-system cap
(``max_per_chemsys``) then keeps a batch diverse.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from materials_ai.acquisition.builders import mc_objective, pareto_objective
from materials_ai.acquisition.config import AcquisitionConfig
from materials_ai.acquisition.objective import DesirabilityObjective
from materials_ai.acquisition.strategies import STRATEGIES
from materials_ai.errors import AcquisitionError

if TYPE_CHECKING:
    from botorch.acquisition import AcquisitionFunction


@dataclass(frozen=True)
class BatchSelection:
    """The outcome of one selection.

    Attributes:
        indices: `q` pool indices, in the order they were picked.
        pick_values: `q` acquisition values at pick time (for sequential batch strategies
            the joint value of the batch so far; NaN for ``random``).
        candidate_values: `n` single-candidate acquisition values over the whole pool
            (NaN where the candidate was not available, and for ``random``). For
            ``thompson`` this is the posterior-mean desirability; for ``constrained`` the
            log probability that every criterion holds.
        strategy: The strategy used.
    """

    indices: np.ndarray
    pick_values: np.ndarray
    candidate_values: np.ndarray
    strategy: str


def _single_point_values(
    acq: AcquisitionFunction, choices: torch.Tensor, chunk: int
) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat(
            [acq(choices[i : i + chunk].unsqueeze(-2)) for i in range(0, len(choices), chunk)]
        )


def _apply_group_cap(
    ordered: np.ndarray,
    values: np.ndarray,
    fallback: np.ndarray,
    q: int,
    groups: np.ndarray | None,
    cap: int | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Keep picks in order while no group exceeds ``cap``; fill from ``fallback`` order."""
    if groups is None or cap is None:
        return ordered[:q], values[:q]
    counts: dict[int, int] = {}
    picks: list[int] = []
    picked_values: list[float] = []
    seen: set[int] = set()
    for index, value in [*zip(ordered, values, strict=True), *((i, np.nan) for i in fallback)]:
        if len(picks) == q:
            break
        if index in seen:
            continue
        group = int(groups[index])
        if counts.get(group, 0) >= cap:
            continue
        counts[group] = counts.get(group, 0) + 1
        seen.add(int(index))
        picks.append(int(index))
        picked_values.append(float(value))
    if len(picks) < q:  # every group is full: relax the cap rather than pick fewer
        for index in fallback:
            if len(picks) == q:
                break
            if int(index) not in seen:
                seen.add(int(index))
                picks.append(int(index))
                picked_values.append(float("nan"))
    return np.array(picks, dtype=np.int64), np.array(picked_values)


def _pareto_shortlist(
    samples: np.ndarray,
    config: AcquisitionConfig,
    objective: DesirabilityObjective,
    available: np.ndarray,
) -> np.ndarray:
    """Keep the best ``config.qnehvi_shortlist`` candidates by Pareto rank of the means.

    qLogNEHVI costs far more per candidate than the other acquisitions; successive
    non-dominated fronts of the posterior-mean objectives are a cheap, standard pre-screen.
    """
    from botorch.utils.multi_objective.pareto import is_non_dominated

    mo_objective, _ = pareto_objective(config, objective.target_names)
    means = torch.as_tensor(samples[:, available], dtype=torch.float64).mean(dim=0)
    values = mo_objective(means.unsqueeze(0))[0]  # n x m
    remaining = torch.arange(len(available))
    keep: list[torch.Tensor] = []
    kept = 0
    while kept < config.qnehvi_shortlist and len(remaining):
        front = is_non_dominated(values[remaining], deduplicate=False)
        keep.append(remaining[front])
        kept += int(front.sum())
        remaining = remaining[~front]
    chosen = torch.cat(keep)[: config.qnehvi_shortlist].numpy()
    return np.sort(available[chosen])


def select_batch(
    samples: np.ndarray,
    objective: DesirabilityObjective,
    config: AcquisitionConfig,
    q: int,
    *,
    available: np.ndarray,
    observed_values: np.ndarray | None = None,
    observed_indices: np.ndarray | None = None,
    groups: np.ndarray | None = None,
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
        observed_indices: `m` pool indices of the labelled candidates (the qNEHVI
            baseline).
        groups: `n` integer group labels (e.g. chemical systems) for the diversity cap.
        seed: Seeds the ``random`` and ``thompson`` strategies.

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
    if config.strategy not in STRATEGIES:
        raise AcquisitionError(
            f"unknown acquisition strategy {config.strategy!r}; known: "
            + ", ".join(STRATEGIES.names())
        )
    strategy = STRATEGIES.get(config.strategy)
    if strategy.batch == "random" or strategy.build is None:
        rng = np.random.default_rng(seed)
        picks = rng.choice(available, size=q, replace=False)
        return BatchSelection(picks, np.full(q, np.nan), candidate_values, config.strategy)

    from materials_ai.acquisition.model import PoolEnsembleModel

    observed = (
        objective.desirability(observed_values)
        if observed_values is not None and len(observed_values)
        else np.zeros(0)
    )
    observed_idx = (
        np.zeros(0, np.int64) if observed_indices is None else np.asarray(observed_indices)
    )
    model = PoolEnsembleModel(torch.as_tensor(samples, dtype=torch.float64))
    if strategy.pareto_shortlist and available.size > config.qnehvi_shortlist:
        available = _pareto_shortlist(samples, config, objective, available)
        q = min(q, available.size)
    acq = strategy.build(model, objective, config, observed, observed_idx)
    choices = torch.as_tensor(available, dtype=torch.float64).unsqueeze(-1)
    single = _single_point_values(acq, choices, config.max_batch_size).numpy()
    candidate_values[available] = single
    best_first = np.argsort(-single, kind="stable")
    cap = config.max_per_chemsys
    n_ordered = q if cap is None or groups is None else min(available.size, 3 * q)

    if strategy.batch == "ranked":
        ordered, values = best_first, single[best_first]
    elif strategy.batch == "thompson":
        from botorch.generation.sampling import MaxPosteriorSampling

        with torch.random.fork_rng():
            torch.manual_seed(seed)
            sampler = MaxPosteriorSampling(model, mc_objective(objective), replacement=False)
            with torch.no_grad():
                drawn = sampler(choices, num_samples=n_ordered)
        # Without replacement, BoTorch lists the picks of later draws first (it
        # de-duplicates from the back); reverse to get the picks in draw order.
        ordered_indices = drawn[:, 0].round().long().numpy()[::-1]
        position = {int(v): i for i, v in enumerate(available)}
        ordered = np.array([position[int(i)] for i in ordered_indices], dtype=np.int64)
        values = single[ordered]
    else:
        from botorch.optim import optimize_acqf_discrete

        # Choices best-first: optimize_acqf_discrete takes the first maximiser
        # (torch.argmax), so ties in the joint batch value are broken by the
        # single-candidate value instead of by pool order. Ties are common: with s
        # members as MC samples, the joint value of an MC batch acquisition stops
        # growing once every member's favourite candidate is in the batch.
        picked, joint = optimize_acqf_discrete(
            acq,
            q=n_ordered,
            choices=choices[best_first],
            max_batch_size=config.max_batch_size,
            unique=True,
        )
        position = {int(v): i for i, v in enumerate(available)}
        ordered = np.array(
            [position[int(i)] for i in picked[:, 0].round().long().numpy()], dtype=np.int64
        )
        values = joint.detach().numpy().reshape(-1)
    positions, pick_values = _apply_group_cap(
        np.asarray(ordered),
        np.asarray(values, dtype=np.float64),
        best_first,
        q,
        None if groups is None else np.asarray(groups)[available],
        cap,
    )
    return BatchSelection(available[positions], pick_values, candidate_values, config.strategy)
