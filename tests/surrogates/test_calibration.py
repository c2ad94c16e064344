"""Std recalibration."""

from __future__ import annotations

import numpy as np
import pytest

from materials_ai.surrogates.calibration import apply_std_scales, fit_std_scale, fit_std_scales
from materials_ai.surrogates.metrics import miscalibration_area
from materials_ai.surrogates.prediction import Prediction


@pytest.mark.parametrize("method", ["calibration", "likelihood"])
def test_recovers_a_known_overconfidence_factor(method: str) -> None:
    rng = np.random.default_rng(0)
    std = rng.uniform(0.1, 1.0, size=20000)
    y = rng.normal(0.0, 3.0 * std)
    assert fit_std_scale(y, np.zeros_like(y), std, method) == pytest.approx(3.0, rel=0.05)


def test_recalibration_improves_held_out_calibration() -> None:
    rng = np.random.default_rng(2)
    std = rng.uniform(0.1, 1.0, size=4000)
    y = rng.normal(0.0, 0.4 * std)  # the model is under-confident by 2.5x
    fit, held = slice(0, 2000), slice(2000, None)
    s = fit_std_scale(y[fit], np.zeros(2000), std[fit])
    before = miscalibration_area(y[held], np.zeros(2000), std[held])
    after = miscalibration_area(y[held], np.zeros(2000), s * std[held])
    assert after < before / 3
    assert after < 0.03


def test_heavy_tailed_errors_prefer_calibration_fit() -> None:
    # Most errors tiny, a few huge (like band gaps of metals vs insulators).
    rng = np.random.default_rng(3)
    err = np.where(rng.random(5000) < 0.05, rng.normal(0, 20, 5000), rng.normal(0, 0.5, 5000))
    std = np.ones(5000)
    area = {
        m: miscalibration_area(
            err, np.zeros(5000), fit_std_scale(err, np.zeros(5000), std, m) * std
        )
        for m in ("calibration", "likelihood")
    }
    assert area["calibration"] < area["likelihood"]


def test_apply_scales_members_around_the_mean() -> None:
    samples = np.array([[[1.0, 10.0]], [[3.0, 14.0]]])  # s=2, n=1, t=2
    pred = Prediction.from_samples(samples, ("a", "b"))
    scaled = apply_std_scales(pred, {"a": 2.0})
    np.testing.assert_allclose(scaled.mean, pred.mean)
    np.testing.assert_allclose(scaled.std, pred.std * np.array([2.0, 1.0]))
    np.testing.assert_allclose(scaled.samples[:, 0, 0], [0.0, 4.0])
    np.testing.assert_allclose(scaled.samples[:, 0, 1], [10.0, 14.0])
    # Member spread and reported std stay consistent.
    np.testing.assert_allclose(scaled.samples.std(axis=0, ddof=1), scaled.std)


def test_too_few_rows_gives_identity() -> None:
    assert fit_std_scale(np.array([1.0]), np.array([0.0]), np.array([1.0])) == 1.0
    pred = Prediction.from_samples(np.zeros((2, 1, 1)), ("a",))
    assert fit_std_scales(np.array([[np.nan]]), pred) == {"a": 1.0}
