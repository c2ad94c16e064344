"""Ranking generated proposals: thresholds for known compositions, one per composition."""

from __future__ import annotations

import numpy as np
import pytest

from materials_ai.candidates import (
    first_per_composition,
    probability_improves,
    proposal_order,
    proposal_thresholds,
)
from materials_ai.errors import CandidateError


def test_known_composition_must_beat_its_ground_state() -> None:
    # new composition; known ground state on the hull; known one 0.04 above; 0.3 above
    known = np.array([np.nan, 0.0, 0.04, 0.3])
    thresholds = proposal_thresholds(known, 0.1)
    np.testing.assert_allclose(thresholds, [0.1, 0.0, 0.04, 0.1])


def test_polymorph_near_a_known_ground_state_scores_below_a_new_material() -> None:
    # both predicted 0.02 eV/atom above the hull with the same std
    e = np.array([0.02, 0.02])
    std = np.array([0.03, 0.03])
    thresholds = proposal_thresholds(np.array([np.nan, 0.0]), 0.1)
    p = probability_improves(e, std, thresholds)
    assert p[0] > 0.99
    assert p[1] == pytest.approx(0.2525, abs=1e-3)  # Phi(-2/3)


def test_probability_with_zero_std_is_a_step_and_nan_stays_nan() -> None:
    p = probability_improves(np.array([0.05, 0.15, np.nan]), np.zeros(3), np.array([0.1, 0.1, 0.1]))
    assert p[0] == 1.0 and p[1] == 0.0 and np.isnan(p[2])


def test_probability_rejects_mismatched_shapes() -> None:
    with pytest.raises(CandidateError, match="one value per candidate"):
        probability_improves(np.zeros(3), np.zeros(2), np.zeros(3))


def test_each_composition_once_before_any_second_geometry() -> None:
    keys = ["A", "A", "B", "A", "C"]
    score = np.array([0.9, 0.8, 0.7, 0.95, 0.1])
    order = proposal_order(keys, score)
    assert [keys[i] for i in order] == ["A", "B", "C", "A", "A"]
    assert order.tolist() == [3, 2, 4, 0, 1]
    plain = proposal_order(keys, score, one_per_composition=False)
    assert plain.tolist() == [3, 0, 1, 2, 4]


def test_ties_follow_the_tiebreak_and_nan_scores_go_last() -> None:
    keys = ["A", "B", "C"]
    order = proposal_order(keys, np.array([np.nan, 1.0, 1.0]), np.array([0.0, 0.2, -0.1]))
    assert order.tolist() == [2, 1, 0]


def test_order_rejects_a_short_score() -> None:
    with pytest.raises(CandidateError, match="one score"):
        proposal_order(["A", "B"], np.array([1.0]))


def test_first_per_composition_keeps_list_order_within_each_part() -> None:
    order = first_per_composition(["B", "A", "B", "C", "A"])
    assert order.tolist() == [0, 1, 3, 2, 4]
