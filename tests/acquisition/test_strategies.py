"""Thompson sampling, constrained (probability of feasibility), qLogNEHVI, diversity cap."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from materials_ai.acquisition import AcquisitionConfig, Criterion, DesirabilityObjective
from materials_ai.acquisition.config import ParetoObjective
from materials_ai.acquisition.objective import ObjectiveConfig
from materials_ai.acquisition.select import select_batch

#: Two targets a, b; criteria 0 <= a <= 1 and b >= 2.
TWO = DesirabilityObjective(
    ObjectiveConfig(
        criteria=[Criterion(target="a", min=0.0, max=1.0), Criterion(target="b", min=2.0)]
    ),
    ["a", "b"],
)


def _members(means: np.ndarray, spread: np.ndarray, s: int = 4) -> np.ndarray:
    """`s x n x t` members with exactly the given mean and (ddof=1) std per entry."""
    offsets = np.array([1.0, -1.0, 1.0, -1.0][:s])[:, None, None]
    offsets = offsets / offsets.std(ddof=1)
    return means[None] + offsets * spread[None]


def test_constrained_prefers_certain_feasibility_over_a_violated_criterion() -> None:
    means = np.array([[0.5, 3.0], [0.5, 1.0], [5.0, 3.0]])  # ok; b too low; a too high
    samples = _members(means, np.full((3, 2), 0.1))
    result = select_batch(
        samples, TWO, AcquisitionConfig(strategy="constrained"), 1, available=np.arange(3)
    )
    assert result.indices.tolist() == [0]
    values = result.candidate_values
    assert values[0] > values[1] and values[0] > values[2]
    # Closed form: log P(0 <= a <= 1) + log P(b >= 2) under N(mean, std) marginals.
    expected = np.log(stats.norm.cdf(5.0) - stats.norm.cdf(-5.0)) + np.log(stats.norm.sf(-10.0))
    assert values[0] == pytest.approx(expected, abs=1e-6)
    assert values[1] == pytest.approx(
        np.log(stats.norm.cdf(5.0) - stats.norm.cdf(-5.0)) + np.log(stats.norm.sf(10.0)), rel=1e-3
    )


def test_constrained_ranks_by_probability() -> None:
    # Same means on the edge of the window: the smaller spread is more likely inside.
    means = np.array([[0.5, 2.2], [0.5, 2.2], [0.5, 2.2]])
    spread = np.array([[0.1, 0.1], [0.1, 0.5], [0.1, 2.0]])
    result = select_batch(
        _members(means, spread),
        TWO,
        AcquisitionConfig(strategy="constrained"),
        3,
        available=np.arange(3),
    )
    assert result.indices.tolist() == [0, 1, 2]


def test_thompson_picks_each_members_favourite() -> None:
    # Member k likes candidate k only; 4 draws without replacement.
    s, n = 4, 12
    samples = np.full((s, n, 1), -5.0)
    for k in range(s):
        samples[k, k, 0] = 5.0
    objective = DesirabilityObjective(
        ObjectiveConfig(criteria=[Criterion(target="y", min=0)]), ["y"]
    )
    favourites_drawn = set()
    for seed in range(8):
        picks = select_batch(
            samples,
            objective,
            AcquisitionConfig(strategy="thompson"),
            3,
            available=np.arange(n),
            seed=seed,
        ).indices.tolist()
        assert len(set(picks)) == 3
        drawn = frozenset(picks) & {0, 1, 2, 3}
        assert drawn  # every draw of member k starts from member k's favourite
        favourites_drawn.add(drawn)
    assert len(favourites_drawn) > 1  # different seeds draw different members


def test_chemsys_cap_limits_picks_per_group() -> None:
    rng = np.random.default_rng(0)
    samples = rng.normal(size=(4, 40, 1))
    samples[:, :10] += 5.0  # the ten best share group 0
    groups = np.array([0] * 10 + list(range(1, 31)))
    objective = DesirabilityObjective(
        ObjectiveConfig(criteria=[Criterion(target="y", min=0)]), ["y"]
    )
    for strategy in ("greedy", "qucb", "thompson", "constrained"):
        capped = select_batch(
            samples,
            objective,
            AcquisitionConfig(strategy=strategy, max_per_chemsys=2),
            8,
            available=np.arange(40),
            groups=groups,
            seed=1,
        )
        assert (groups[capped.indices] == 0).sum() == 2, strategy
        assert len(set(capped.indices.tolist())) == 8
        free = select_batch(
            samples,
            objective,
            AcquisitionConfig(strategy=strategy),
            8,
            available=np.arange(40),
            groups=groups,
            seed=1,
        )
        assert (groups[free.indices] == 0).sum() > 2, strategy


def test_cap_is_relaxed_rather_than_returning_fewer_picks() -> None:
    samples = np.random.default_rng(1).normal(size=(3, 6, 1))
    objective = DesirabilityObjective(
        ObjectiveConfig(criteria=[Criterion(target="y", min=0)]), ["y"]
    )
    result = select_batch(
        samples,
        objective,
        AcquisitionConfig(strategy="greedy", max_per_chemsys=1),
        4,
        available=np.arange(6),
        groups=np.zeros(6, int),
    )
    assert len(result.indices) == 4


def test_qnehvi_picks_pareto_improving_candidates() -> None:
    # Objectives: maximise a, minimise b. Baseline (labelled) points are dominated by
    # candidates 3 and 4; candidate 5 is dominated by the baseline.
    means = np.array([[0.0, 1.0], [0.2, 0.8], [0.1, 0.9], [1.0, 0.0], [0.9, 0.1], [-1.0, 2.0]])
    samples = _members(means, np.full((6, 2), 0.01))
    config = AcquisitionConfig(
        strategy="qnehvi",
        objectives=[
            ParetoObjective(target="a", goal="maximize", reference=-2.0),
            ParetoObjective(target="b", goal="minimize", reference=-3.0),
        ],
    )
    result = select_batch(
        samples, TWO, config, 2, available=np.array([3, 4, 5]), observed_indices=np.array([0, 1, 2])
    )
    assert set(result.indices.tolist()) == {3, 4}
    assert result.candidate_values[5] < result.candidate_values[3]


def test_qnehvi_needs_two_objectives() -> None:
    with pytest.raises(ValueError, match="two objectives"):
        AcquisitionConfig(strategy="qnehvi")
    with pytest.raises(ValueError, match="needs a value"):
        ParetoObjective(target="a", goal="target", reference=-1.0)
