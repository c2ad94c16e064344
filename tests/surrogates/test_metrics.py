"""Accuracy and calibration metrics."""

from __future__ import annotations

import numpy as np
import pytest

from materials_ai.surrogates.metrics import (
    miscalibration_area,
    observed_coverage,
    regression_metrics,
)


def test_regression_metrics_closed_form() -> None:
    y = np.array([0.0, 1.0, 2.0, 3.0])
    mean = np.array([0.5, 1.0, 2.0, 2.0])
    m = regression_metrics(y, mean)
    assert m["mae"] == pytest.approx(1.5 / 4)
    assert m["rmse"] == pytest.approx(np.sqrt(1.25 / 4))
    assert m["r2"] == pytest.approx(1 - (1.25 / 4) / np.var(y))
    assert m["n"] == 4


def test_nan_rows_are_ignored() -> None:
    m = regression_metrics(np.array([1.0, np.nan, 3.0]), np.array([1.0, 5.0, 2.0]))
    assert m["n"] == 2 and m["mae"] == pytest.approx(0.5)


def test_calibrated_gaussian_has_small_area_and_right_coverage() -> None:
    rng = np.random.default_rng(0)
    std = rng.uniform(0.5, 2.0, size=20000)
    y = rng.normal(0.0, std)
    m = regression_metrics(y, np.zeros_like(y), std)
    assert m["miscalibration_area"] < 0.01
    assert m["coverage_90"] == pytest.approx(0.9, abs=0.01)
    # |error| grows with std, so the rank correlation is clearly positive.
    assert m["spearman_err_std"] > 0.2


def test_overconfident_predictions_are_miscalibrated() -> None:
    rng = np.random.default_rng(1)
    y = rng.normal(0.0, 2.0, size=5000)
    area = miscalibration_area(y, np.zeros_like(y), np.ones_like(y))
    coverage = observed_coverage(y, np.zeros_like(y), np.ones_like(y), np.array([0.9]))[0]
    assert area > 0.1
    # P(|N(0, 4)| < 1.645) = P(|N(0,1)| < 0.8225) ≈ 0.589
    assert coverage == pytest.approx(0.589, abs=0.02)
