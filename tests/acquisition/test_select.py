"""Batch selection over a scored pool with every strategy."""

from __future__ import annotations

import math

import numpy as np
import pytest

from materials_ai.acquisition import AcquisitionConfig, Criterion, DesirabilityObjective
from materials_ai.acquisition.objective import ObjectiveConfig
from materials_ai.acquisition.select import BatchSelection, select_batch
from materials_ai.errors import AcquisitionError
from materials_ai.testing.models import one_best_per_member_samples

STRATEGIES = ("random", "greedy", "qucb", "qlogei", "thompson", "constrained")

#: One target ``y`` with criterion ``y >= 0`` (scale 1): the desirability is ``y`` itself.
IDENTITY = DesirabilityObjective(ObjectiveConfig(criteria=[Criterion(target="y", min=0.0)]), ["y"])


def _select(
    samples: np.ndarray,
    q: int,
    available: np.ndarray | list[int] | None = None,
    objective: DesirabilityObjective = IDENTITY,
    **config: object,
) -> BatchSelection:
    if available is None:
        available = np.arange(samples.shape[1])
    return select_batch(
        samples,
        objective,
        AcquisitionConfig(**config),  # type: ignore[arg-type]
        q,
        available=np.asarray(available),
    )


def _pool(s: int = 4, n: int = 30, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(s, n, 1))


# -- contract shared by every strategy ----------------------------------------------------


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_picks_are_q_distinct_available_indices(strategy: str) -> None:
    samples = _pool()
    labelled = {0, 3, 4, 7, 8, 15, 21, 22}
    # Give the labelled candidates the best predictions: they must still never be picked.
    samples[:, sorted(labelled)] += 10.0
    available = np.array([i for i in range(30) if i not in labelled])
    selection = _select(samples, 6, available, strategy=strategy)
    picks = selection.indices.tolist()
    assert len(picks) == 6
    assert len(set(picks)) == 6
    assert set(picks) <= set(available.tolist())
    assert not set(picks) & labelled
    assert selection.strategy == strategy
    assert selection.pick_values.shape == (6,)
    assert selection.candidate_values.shape == (30,)
    assert np.isnan(selection.candidate_values[sorted(labelled)]).all()
    if strategy != "random":
        assert np.isfinite(selection.candidate_values[available]).all()
        assert np.isfinite(selection.pick_values).all()


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_fewer_available_than_q_returns_all_available(strategy: str) -> None:
    selection = _select(_pool(), 10, [5, 2, 9], strategy=strategy)
    assert sorted(selection.indices.tolist()) == [2, 5, 9]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_duplicate_available_indices_are_counted_once(strategy: str) -> None:
    selection = _select(_pool(), 4, [1, 1, 6, 6, 6], strategy=strategy)
    assert sorted(selection.indices.tolist()) == [1, 6]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_empty_available_raises(strategy: str) -> None:
    with pytest.raises(AcquisitionError, match="no unlabelled candidate left"):
        _select(_pool(), 3, np.zeros(0, dtype=np.int64), strategy=strategy)


@pytest.mark.parametrize("bad", [[-1, 2], [2, 30]])
def test_out_of_range_available_raises(bad: list[int]) -> None:
    with pytest.raises(AcquisitionError, match=r"must lie in \[0, 30\)"):
        _select(_pool(), 2, bad, strategy="greedy")


def test_unknown_strategy_raises() -> None:
    config = AcquisitionConfig.model_construct(
        strategy="simulated_annealing",
        beta=2.0,
        best_f="threshold",
        max_batch_size=10,
        max_per_chemsys=None,
        objectives=[],
        qnehvi_shortlist=500,
    )
    with pytest.raises(
        AcquisitionError, match="unknown acquisition strategy 'simulated_annealing'"
    ):
        select_batch(_pool(), IDENTITY, config, 2, available=np.arange(30))


# -- random -------------------------------------------------------------------------------


def test_random_is_reproducible_for_a_seed_and_differs_across_seeds() -> None:
    samples = _pool(n=200)
    config = AcquisitionConfig(strategy="random")
    picks = [
        select_batch(samples, IDENTITY, config, 8, available=np.arange(200), seed=s).indices
        for s in (0, 0, 1)
    ]
    np.testing.assert_array_equal(picks[0], picks[1])
    assert picks[0].tolist() != picks[2].tolist()
    assert np.isnan(
        select_batch(samples, IDENTITY, config, 8, available=np.arange(200)).pick_values
    ).all()


# -- greedy ---------------------------------------------------------------------------------


def test_greedy_takes_the_top_q_posterior_mean_desirability() -> None:
    # Two members; mean desirabilities 1, 5, 3, 4, 2, 6 (candidate 5 is already labelled).
    samples = np.array([[0.0, 6.0, 2.0, 5.0, 1.0, 7.0], [2.0, 4.0, 4.0, 3.0, 3.0, 5.0]])[..., None]
    selection = _select(samples, 3, [0, 1, 2, 3, 4], strategy="greedy")
    assert selection.indices.tolist() == [1, 3, 2]
    np.testing.assert_allclose(selection.pick_values, [5.0, 4.0, 3.0])
    np.testing.assert_allclose(selection.candidate_values[:5], [1.0, 5.0, 3.0, 4.0, 2.0])
    assert np.isnan(selection.candidate_values[5])


def test_greedy_values_are_the_mean_of_member_desirabilities() -> None:
    """The mean over members of d(y), not d(mean y): they differ for a window."""
    window = DesirabilityObjective(
        ObjectiveConfig(criteria=[Criterion(target="y", min=-1.0, max=1.0)]), ["y"]
    )
    samples = np.array([[[-1.0], [0.5]], [[1.0], [0.5]]])  # candidate 0: mean 0, spread 1
    selection = _select(samples, 1, objective=window, strategy="greedy")
    np.testing.assert_allclose(selection.candidate_values, [0.0, 0.5])
    assert selection.indices.tolist() == [1]
    assert window.desirability(samples.mean(axis=0))[0] == pytest.approx(1.0)


# -- qUCB -------------------------------------------------------------------------------------


def test_qucb_single_point_values_closed_form() -> None:
    samples = _pool(s=5, n=12, seed=3)
    beta = 3.0
    selection = _select(samples, 2, strategy="qucb", beta=beta)
    d = samples[..., 0]
    mean = d.mean(axis=0)
    expected = mean + math.sqrt(beta * math.pi / 2) * np.abs(d - mean).mean(axis=0)
    np.testing.assert_allclose(selection.candidate_values, expected, rtol=1e-10)
    assert selection.indices[0] == int(np.argmax(expected))


def test_qucb_with_beta_zero_picks_the_dominating_candidate_first() -> None:
    samples = _pool(s=4, n=10, seed=5)
    samples[:, 7, 0] = samples[..., 0].max() + 1.0  # best in every member
    selection = _select(samples, 3, strategy="qucb", beta=0.0)
    assert selection.indices[0] == 7
    np.testing.assert_allclose(selection.candidate_values, samples[..., 0].mean(axis=0))
    # The joint value of a growing batch never decreases.
    assert np.all(np.diff(selection.pick_values) >= -1e-12)


def test_qucb_batch_covers_each_members_optimum() -> None:
    """Member k has its single best candidate at index k.

    Candidate 3 is a near copy of candidate 0 (liked by member 0 only, slightly less),
    so ranking candidates one by one picks 0 and 3 before 1 and 2. Conditioning on the
    picks (MC-joint, via X_pending) sees that 3 adds nothing once 0 is in the batch.
    """
    samples = one_best_per_member_samples(n_members=3, n_pool=6, best=10.0)
    samples[0, 3, 0] = 9.9  # near-duplicate of candidate 0
    samples[1, 1, 0] = samples[2, 2, 0] = 8.0
    selection = _select(samples, 4, strategy="qucb", beta=100.0)
    single = selection.candidate_values
    assert single[0] > single[3] > single[1] > single[4]
    assert single[1] == pytest.approx(single[2])
    assert set(selection.indices[:3].tolist()) == {0, 1, 2}
    assert selection.indices[0] == 0
    assert np.all(np.diff(selection.pick_values) >= -1e-12)


def test_qucb_with_one_best_candidate_per_member_covers_all_members() -> None:
    samples = one_best_per_member_samples(n_members=3, n_pool=8)
    selection = _select(samples, 3, strategy="qucb", beta=50.0)
    assert set(selection.indices.tolist()) == {0, 1, 2}


# -- qLogEI -----------------------------------------------------------------------------------


def _certain_pool() -> np.ndarray:
    """Candidate 0 inside (d = 1) in every member, 1 outside (d = -1) in every member,
    2 uncertain (d = -1 or 1)."""
    return np.array([[[1.0], [-1.0], [-1.0]], [[1.0], [-1.0], [1.0]], [[1.0], [-1.0], [-1.0]]])


def test_qlogei_prefers_certain_satisfaction_over_certain_violation() -> None:
    selection = _select(_certain_pool(), 3, strategy="qlogei")
    values = selection.candidate_values
    assert values[0] > values[2] > values[1]
    assert selection.indices[0] == 0
    # With best_f = 0, EI of the certain candidate is E[max(d, 0)] = 1: log EI ~ 0.
    assert values[0] == pytest.approx(0.0, abs=1e-2)
    assert values[2] == pytest.approx(math.log(1 / 3), abs=5e-2)


def test_qlogei_incumbent_raises_the_bar() -> None:
    threshold = _select(_certain_pool(), 1, strategy="qlogei", best_f="threshold")
    observed = np.array([[0.5], [np.nan]])  # best observed desirability 0.5
    incumbent = select_batch(
        _certain_pool(),
        IDENTITY,
        AcquisitionConfig(strategy="qlogei", best_f="incumbent"),
        1,
        available=np.arange(3),
        observed_values=observed,
    )
    # EI over 0.5 of a certain d = 1 is 0.5: log 0.5.
    assert incumbent.candidate_values[0] == pytest.approx(math.log(0.5), abs=2e-2)
    assert np.all(incumbent.candidate_values < threshold.candidate_values)


def test_chunked_evaluation_gives_the_same_values() -> None:
    samples = _pool(s=3, n=25, seed=9)
    whole = _select(samples, 4, strategy="qlogei")
    chunked = _select(samples, 4, strategy="qlogei", max_batch_size=4)
    np.testing.assert_allclose(chunked.candidate_values, whole.candidate_values, rtol=1e-12)
    np.testing.assert_array_equal(chunked.indices, whole.indices)
