"""The numbers behind the report's plots, on hand-built states with closed-form answers."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pytest

from materials_ai.campaign.state import CampaignState, ObservationRecord, SelectionRecord
from materials_ai.report.analysis import (
    discovery_curve,
    fidelities_by_candidate,
    interval_coverage,
    merged_observed_values,
    out_of_sample_pairs,
    pareto_mask,
    parity_stats,
    random_search_expectation,
    z_scores,
)


def _obs(cid: str, values: dict[str, float], fidelity: str = "replay", ok: bool = True) -> dict:
    return {
        "candidate_id": cid,
        "values": values,
        "fidelity": fidelity,
        "provenance": {},
        "ok": ok,
        "reason": "",
    }


@pytest.fixture
def state() -> CampaignState:
    """Seed labels a, b; round 1 picks c (gap 2.0 ± 0.5), d (1.0 ± 0.0), e (pending);
    c is later measured in the lab as well; d's validation failed."""
    return CampaignState(
        workflow_fingerprint="x",
        selections=[
            SelectionRecord(
                iteration=0,
                strategy="random",
                candidate_ids=["a", "b"],
                acquisition_values=[None, None],
            ),
            SelectionRecord(
                iteration=1,
                strategy="qucb",
                candidate_ids=["c", "d", "e"],
                acquisition_values=[0.9, 0.5, 0.1],
                predicted_mean={"gap": [2.0, 1.0, 3.0], "e_form": [-1.0, -0.5, 0.0]},
                predicted_std={"gap": [0.5, 0.0, 0.2], "e_form": [0.1, 0.1, 0.1]},
            ),
        ],
        observations=[
            ObservationRecord(iteration=1, observation=_obs("a", {"gap": 1.0, "e_form": -1.0})),
            ObservationRecord(iteration=1, observation=_obs("b", {"gap": 4.0, "e_form": 0.5})),
            ObservationRecord(iteration=2, observation=_obs("c", {"gap": 3.0, "e_form": -1.2})),
            ObservationRecord(iteration=2, observation=_obs("d", {}, ok=False)),
            ObservationRecord(
                iteration=2, observation=_obs("c", {"gap": 2.5}, fidelity="experiment")
            ),
        ],
    )


def test_pairs_use_predictions_made_at_selection_time(state: CampaignState) -> None:
    pairs = out_of_sample_pairs(state, ["gap", "e_form"])
    gap = pairs["gap"]
    # Seed labels have no prediction, d failed, e is pending: only c, once per observation.
    assert gap.candidate_ids == ("c", "c")
    assert gap.fidelity == ("replay", "experiment")
    np.testing.assert_allclose(gap.predicted_mean, [2.0, 2.0])
    np.testing.assert_allclose(gap.predicted_std, [0.5, 0.5])
    np.testing.assert_allclose(gap.observed, [3.0, 2.5])
    assert list(gap.iteration) == [1, 1]
    # The lab measured only the gap: one e_form pair.
    assert pairs["e_form"].candidate_ids == ("c",)
    np.testing.assert_allclose(z_scores(gap), [2.0, 1.0])


def test_parity_stats_closed_form() -> None:
    stats = parity_stats(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 5.0]))
    assert stats.n == 3
    assert stats.mae == pytest.approx(2 / 3)
    assert stats.rmse == pytest.approx(np.sqrt(4 / 3))
    # SS_res = 4, SS_tot = sum((y - 8/3)^2) = (25 + 4 + 49) / 9 = 78/9.
    assert stats.r2 == pytest.approx(1 - 4 / (78 / 9))
    assert np.isnan(parity_stats(np.array([1.0]), np.array([2.0])).r2)
    assert parity_stats(np.array([]), np.array([])).n == 0


def test_interval_coverage_counts_central_intervals() -> None:
    # 68.27 % interval: |z| <= 1; 95.45 %: |z| <= 2.
    z = np.array([0.0, 0.5, -0.9, 1.5, -2.5])
    cov = interval_coverage(z, (0.6827, 0.9545))
    np.testing.assert_allclose(cov, [3 / 5, 4 / 5])
    # Perfectly Gaussian z gives coverage equal to nominal (up to sampling noise).
    rng = np.random.default_rng(0)
    levels = (0.1, 0.5, 0.9)
    np.testing.assert_allclose(
        interval_coverage(rng.standard_normal(20000), levels), levels, atol=0.01
    )
    assert np.isnan(interval_coverage(np.array([]), levels)).all()
    # The half-width used for 90 % is the normal quantile 1.645.
    assert NormalDist().inv_cdf(0.95) == pytest.approx(1.6449, abs=1e-4)


def test_zero_std_is_left_out_of_z_scores(state: CampaignState) -> None:
    state.observations[3] = ObservationRecord(iteration=2, observation=_obs("d", {"gap": 1.5}))
    pairs = out_of_sample_pairs(state, ["gap"])["gap"]
    assert "d" in pairs.candidate_ids
    assert z_scores(pairs).size == 2  # d has std 0


def test_random_search_expectation_and_discovery_curve() -> None:
    np.testing.assert_allclose(
        random_search_expectation(np.array([0, 100, 1000, 5000]), 19, 1000), [0, 1.9, 19, 19]
    )
    with pytest.raises(ValueError):
        random_search_expectation(np.array([1]), 1, 0)
    curve = discovery_curve(
        [
            {"oracle_calls": 15.0, "targets_found": 1.0, "targets_total": 13.0},
            {"oracle_calls": 20.0, "targets_found": 3.0, "targets_total": 13.0},
        ]
    )
    assert list(curve.oracle_calls) == [0, 15, 20]
    assert list(curve.targets_found) == [0, 1, 3]
    assert curve.targets_total == 13
    assert discovery_curve([{"oracle_calls": 5.0, "targets_found": 0.0}]).targets_total is None


def test_pareto_mask_maximises_every_column() -> None:
    scores = np.array(
        [
            [1.0, 1.0],  # dominated by [2, 2]
            [2.0, 2.0],
            [3.0, 0.0],  # front (best first column)
            [0.0, 3.0],  # front
            [2.0, 2.0],  # equal to row 1: neither dominates
            [np.nan, 9.0],  # incomplete: never on the front
        ]
    )
    assert list(pareto_mask(scores)) == [False, True, True, True, True, False]
    assert list(pareto_mask(np.zeros((1, 3)))) == [True]
    assert pareto_mask(np.zeros((0, 2))).shape == (0,)


def test_merged_values_and_fidelities(state: CampaignState) -> None:
    merged = merged_observed_values(state)
    # The lab's gap overrides the replayed one; the replayed e_form stays.
    assert merged["c"] == {"gap": 2.5, "e_form": -1.2}
    assert "d" not in merged
    assert fidelities_by_candidate(state) == {
        "a": "replay",
        "b": "replay",
        "c": "replay + experiment",
    }
