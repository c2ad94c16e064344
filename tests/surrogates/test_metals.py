"""Zero-gap metals: P(metal) from the gap ensemble, ROC AUC, non-metal and clipped MAE."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from materials_ai.surrogates.metals import (
    gap_metrics,
    is_gap_target,
    metal_probability,
    roc_auc,
)


def test_metal_probability_is_the_gaussian_mass_below_the_threshold() -> None:
    p = metal_probability(np.array([0.1, -1.0, 3.0, 0.6]), np.array([0.2, 0.5, 0.5, 0.25]))
    np.testing.assert_allclose(p[0], 0.5)
    assert p[1] > 0.98 and p[2] < 1e-6
    np.testing.assert_allclose(p[3], stats.norm.cdf(-2.0))


def test_roc_auc_against_closed_forms() -> None:
    labels = np.array([True, True, False, False])
    assert roc_auc(labels, np.array([0.9, 0.8, 0.2, 0.1])) == 1.0
    assert roc_auc(labels, np.array([0.1, 0.2, 0.8, 0.9])) == 0.0
    assert roc_auc(labels, np.array([0.5, 0.5, 0.5, 0.5])) == 0.5
    # one of four positive/negative pairs mis-ordered
    assert roc_auc(labels, np.array([0.9, 0.3, 0.4, 0.1])) == pytest.approx(0.75)
    assert np.isnan(roc_auc(np.array([True, True]), np.array([0.1, 0.2])))


def test_gap_metrics_on_a_hand_made_case() -> None:
    y = np.array([0.0, 0.0, 1.0, 2.0, np.nan])
    mean = np.array([-0.3, 0.4, 1.2, 1.5, 1.0])
    std = np.array([0.1, 0.1, 0.1, 0.1, 0.1])
    m = gap_metrics(y, mean, std)
    assert m["metal_fraction"] == 0.5
    # P(metal) order: -0.3 (metal) > 0.4 (metal) > 1.2 > 1.5: every metal ranks first
    assert m["metal_auc"] == 1.0
    assert m["metal_accuracy"] == pytest.approx(0.75)  # the 0.4 eV metal is called open
    np.testing.assert_allclose(m["mae_nonmetal"], (0.2 + 0.5) / 2)
    np.testing.assert_allclose(m["mae_clipped"], (0.0 + 0.4 + 0.2 + 0.5) / 4)


def test_gap_targets_are_recognised_by_name() -> None:
    assert is_gap_target("band_gap") and is_gap_target("gap_gllbsc_eV")
    assert not is_gap_target("formation_energy")


def test_metal_probability_reads_the_fitted_error_distribution() -> None:
    from materials_ai.surrogates.error_distribution import StandardizedErrors

    rng = np.random.default_rng(0)
    z = rng.standard_t(2, 20000)  # heavier tails than the Gaussian
    errors = StandardizedErrors.fit(z, np.zeros_like(z), np.ones_like(z))
    assert errors is not None
    mean, std = np.array([1.1, 0.1]), np.array([0.25, 0.3])  # 4 std above the threshold
    fitted = metal_probability(mean, std, errors=errors)
    np.testing.assert_allclose(fitted, errors.cdf((0.1 - mean) / std))
    np.testing.assert_allclose(fitted[0], stats.t.cdf(-4.0, 2), rtol=0.15)
    assert fitted[0] > 100 * metal_probability(mean, std)[0]  # the tail is not Gaussian
