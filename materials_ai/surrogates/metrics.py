"""Accuracy and uncertainty-quality metrics of predictions with a mean and a std.

Calibration follows the regression-calibration literature (Kuleshov et al., ICML 2018;
Tran et al., Mach. Learn.: Sci. Technol. 1, 025006, 2020): for each nominal probability
``p`` of a central interval, the observed proportion of labels inside it is compared
with ``p``; the miscalibration area is the mean absolute gap over ``p``. Intervals are
Gaussian, ``mean ± z_p * std``, unless a fitted error distribution is given
(``error_distribution.py``): then they are ``mean + std * [q((1-p)/2), q((1+p)/2)]``.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from materials_ai.surrogates.error_distribution import StandardizedErrors, standard_ppf

#: Nominal probabilities at which the calibration curve is evaluated.
CALIBRATION_LEVELS = np.linspace(0.01, 0.99, 99)


def _clean(y_true: np.ndarray, mean: np.ndarray, std: np.ndarray | None = None):  # type: ignore[no-untyped-def]
    y_true = np.asarray(y_true, dtype=np.float64).ravel()
    mean = np.asarray(mean, dtype=np.float64).ravel()
    ok = np.isfinite(y_true) & np.isfinite(mean)
    if std is None:
        return y_true[ok], mean[ok], None
    std = np.asarray(std, dtype=np.float64).ravel()
    ok &= np.isfinite(std)
    return y_true[ok], mean[ok], np.maximum(std[ok], 1e-12)


def observed_coverage(
    y_true: np.ndarray,
    mean: np.ndarray,
    std: np.ndarray,
    levels: np.ndarray = CALIBRATION_LEVELS,
    errors: StandardizedErrors | None = None,
) -> np.ndarray:
    """Fraction of labels inside the central interval of each nominal level.

    Args:
        y_true: `n` labels.
        mean: `n` predicted means.
        std: `n` predicted standard deviations.
        levels: `k` nominal probabilities in (0, 1).
        errors: Distribution of the standardized error (None: Gaussian intervals).

    Returns:
        `k` observed proportions.
    """
    y, mu, sigma = _clean(y_true, mean, std)
    if y.size == 0:
        return np.full(len(levels), np.nan)
    levels = np.asarray(levels, np.float64)
    z = (y - mu) / sigma
    lower = standard_ppf((1.0 - levels) / 2.0, errors)
    upper = standard_ppf((1.0 + levels) / 2.0, errors)
    return ((z[None, :] >= lower[:, None]) & (z[None, :] <= upper[:, None])).mean(axis=1)


def miscalibration_area(
    y_true: np.ndarray,
    mean: np.ndarray,
    std: np.ndarray,
    errors: StandardizedErrors | None = None,
) -> float:
    """Mean |observed - nominal| coverage over :data:`CALIBRATION_LEVELS` (0 is perfect)."""
    observed = observed_coverage(y_true, mean, std, errors=errors)
    return float(np.mean(np.abs(observed - CALIBRATION_LEVELS)))


def regression_metrics(
    y_true: np.ndarray,
    mean: np.ndarray,
    std: np.ndarray | None = None,
    errors: StandardizedErrors | None = None,
) -> dict[str, float]:
    """MAE, RMSE, R² and (with ``std``) uncertainty metrics.

    ``errors`` (the fitted distribution of the standardized error, see
    ``error_distribution.py``) shapes the intervals behind the calibration figures; None
    reads the prediction as Gaussian.

    Returns:
        ``mae, rmse, r2, n`` and, when ``std`` is given, ``miscalibration_area``,
        ``coverage_90`` (fraction inside the central 90 % interval), ``spearman_err_std``
        (rank correlation of |error| with std) and ``mean_std``.
    """
    y, mu, sigma = _clean(y_true, mean, std)
    err = mu - y
    out: dict[str, float] = {"n": float(y.size)}
    if y.size == 0:
        return out | {"mae": float("nan"), "rmse": float("nan"), "r2": float("nan")}
    out["mae"] = float(np.mean(np.abs(err)))
    out["rmse"] = float(np.sqrt(np.mean(err**2)))
    variance = float(np.var(y))
    out["r2"] = float(1.0 - np.mean(err**2) / variance) if variance > 0 else float("nan")
    if sigma is not None:
        out["miscalibration_area"] = miscalibration_area(y, mu, sigma, errors)
        out["coverage_90"] = float(observed_coverage(y, mu, sigma, np.array([0.9]), errors)[0])
        rho = stats.spearmanr(np.abs(err), sigma).statistic if y.size > 2 else np.nan
        out["spearman_err_std"] = float(rho)
        out["mean_std"] = float(np.mean(sigma))
    return out
