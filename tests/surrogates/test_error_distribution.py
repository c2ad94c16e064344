"""Empirical distributions of standardized errors: fitting, quantiles, intervals."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from materials_ai.surrogates.calibration import fit_error_distributions, fit_std_scale
from materials_ai.surrogates.error_distribution import (
    MIN_RESIDUALS,
    QUANTILE_PROBABILITIES,
    StandardizedErrors,
    central_interval,
    standard_cdf,
    standard_ppf,
)
from materials_ai.surrogates.metrics import miscalibration_area, observed_coverage
from materials_ai.surrogates.prediction import Prediction


def _heavy_tailed(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels whose errors are Student-t (3 dof) times a per-row std."""
    rng = np.random.default_rng(seed)
    std = rng.uniform(0.1, 1.0, n)
    mean = rng.normal(0.0, 2.0, n)
    return mean + std * rng.standard_t(3, n), mean, std


def test_fixes_heavy_tails_that_no_std_factor_can() -> None:
    y, mu, sigma = _heavy_tailed(6000, 0)
    fit, held = slice(0, 3000), slice(3000, None)
    errors = StandardizedErrors.fit(y[fit], mu[fit], sigma[fit])
    assert errors is not None
    best_factor = fit_std_scale(y[fit], mu[fit], sigma[fit])
    gaussian = miscalibration_area(y[held], mu[held], best_factor * sigma[held])
    empirical = miscalibration_area(y[held], mu[held], sigma[held], errors)
    assert empirical < gaussian / 2
    assert empirical < 0.015
    coverage = observed_coverage(y[held], mu[held], sigma[held], np.array([0.9]), errors)[0]
    assert 0.88 <= coverage <= 0.92


def test_recovers_the_quantiles_of_a_known_distribution() -> None:
    rng = np.random.default_rng(1)
    z = rng.standard_t(4, 200_000)
    errors = StandardizedErrors.fit(z, np.zeros_like(z), np.ones_like(z))
    assert errors is not None
    p = np.array([0.05, 0.25, 0.5, 0.9, 0.99])
    np.testing.assert_allclose(errors.ppf(p), stats.t.ppf(p, 4), atol=0.03)
    np.testing.assert_allclose(errors.cdf(stats.t.ppf(p, 4)), p, atol=0.003)


def test_ppf_and_cdf_are_inverse_and_monotone_beyond_the_stored_range() -> None:
    rng = np.random.default_rng(2)
    z = rng.normal(size=5000)
    errors = StandardizedErrors.fit(z, np.zeros_like(z), np.ones_like(z))
    assert errors is not None
    p = np.concatenate([[1e-6, 1e-4, 1e-3], np.linspace(0.01, 0.99, 50), [0.999, 1 - 1e-6]])
    np.testing.assert_allclose(errors.cdf(errors.ppf(p)), p, rtol=1e-6, atol=1e-9)
    # Strictly increasing (so rankings by P survive the tails) until 1 - P underflows.
    far = np.linspace(-40.0, 6.0, 461)
    cdf = errors.cdf(far)
    assert np.all(np.diff(cdf) > 0)
    assert cdf[0] < 1e-30 and cdf[-1] > 1 - 1e-6


def test_tied_residuals_do_not_underestimate_the_cdf() -> None:
    # 60 % exact zeros (metals predicted at 0 eV), the rest spread out.
    rng = np.random.default_rng(3)
    z = np.where(rng.random(4000) < 0.6, 0.0, rng.normal(size=4000))
    errors = StandardizedErrors.fit(z, np.zeros_like(z), np.ones_like(z))
    assert errors is not None
    assert errors.cdf(0.0) == pytest.approx(np.mean(z <= 0.0), abs=0.005)


def test_skewed_errors_give_asymmetric_intervals() -> None:
    rng = np.random.default_rng(4)
    z = rng.exponential(1.0, 5000) - 1.0  # mean 0, long upper tail
    errors = StandardizedErrors.fit(z, np.zeros_like(z), np.ones_like(z))
    lower, upper = central_interval(np.array([10.0]), np.array([2.0]), 0.9, errors)
    assert upper[0] - 10.0 > 2 * (10.0 - lower[0])
    g_lower, g_upper = central_interval(np.array([10.0]), np.array([2.0]), 0.9)
    gaussian = 10.0 + 2.0 * np.array([-1.0, 1.0]) * 1.6449
    np.testing.assert_allclose([g_lower[0], g_upper[0]], gaussian, atol=1e-3)


def test_gaussian_fallback_and_bad_levels() -> None:
    np.testing.assert_allclose(standard_ppf(0.975, None), 1.959964, atol=1e-6)
    np.testing.assert_allclose(standard_cdf(0.0, None), 0.5)
    with pytest.raises(ValueError, match="level"):
        central_interval(np.zeros(1), np.ones(1), 1.0)


def test_too_few_residuals_fit_nothing_and_round_trip() -> None:
    z = np.linspace(-1, 1, MIN_RESIDUALS - 1)
    assert StandardizedErrors.fit(z, np.zeros_like(z), np.ones_like(z)) is None
    z = np.linspace(-1, 1, 100)
    errors = StandardizedErrors.fit(z, np.zeros_like(z), np.ones_like(z))
    assert errors is not None
    again = StandardizedErrors.from_list(errors.to_list())
    np.testing.assert_array_equal(again.quantiles, errors.quantiles)


@pytest.mark.parametrize(
    "values",
    [
        np.zeros(5),
        np.linspace(1, -1, QUANTILE_PROBABILITIES.size),
        np.full(QUANTILE_PROBABILITIES.size, np.nan),
    ],
)
def test_invalid_quantiles_are_rejected(values: np.ndarray) -> None:
    with pytest.raises(ValueError):
        StandardizedErrors(values)


def test_prediction_intervals_use_the_fitted_errors_per_target() -> None:
    y, mu, sigma = _heavy_tailed(2000, 5)
    pred = Prediction(
        mean=np.stack([mu, mu], axis=1),
        std=np.stack([sigma, sigma], axis=1),
        samples=None,
        target_names=("a", "b"),
    )
    errors = fit_error_distributions(np.stack([y, np.full_like(y, np.nan)], axis=1), pred)
    assert set(errors) == {"a"}  # no labels for b: stays Gaussian
    fitted = Prediction(pred.mean, pred.std, None, pred.target_names, errors=errors)
    lower, upper = fitted.interval(0.9)
    inside = (y >= lower[:, 0]) & (y <= upper[:, 0])
    assert inside.mean() == pytest.approx(0.9, abs=0.005)  # fitted on the same rows
    np.testing.assert_allclose(upper[:, 1] - mu, 1.6449 * sigma, rtol=1e-4)
    subset = fitted.select(np.array([3, 1]))
    assert subset.errors is fitted.errors
