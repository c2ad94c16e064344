"""The shape of a surrogate's errors: empirical quantiles of standardized residuals.

A recalibrated ensemble reports a mean ``mu`` and a std ``sigma`` per candidate. Reading
them as a Gaussian ``N(mu, sigma^2)`` is what acquisition functions do, but ensemble errors
are heavy-tailed: on the MP-2018 validation split the 90 % quantile of
``|z| = |y - mu| / sigma`` is 2.9, not the Gaussian 1.64, while its median is 0.66, close
to the Gaussian 0.67. No single std factor makes both the centre and the tails right
(measured in ``docs/benchmarks.md``, "Calibration").

:class:`StandardizedErrors` keeps the location-scale form ``y = mu + sigma * Z`` but takes
the distribution of ``Z`` from held-out data: the empirical quantiles of the signed
standardized residuals ``z = (y - mu) / sigma`` on the validation split. This is the
normalized split-conformal construction (Lei et al., J. Am. Stat. Assoc. 113, 1094, 2018;
Kuleshov et al., ICML 2018 for the calibration view): an interval
``[mu + sigma * q(a), mu + sigma * q(b)]`` covers a fraction ``b - a`` of exchangeable
held-out labels. The ranking by ``sigma`` is unchanged; only the interval widths and
tail probabilities change, and they may be asymmetric (band gaps cannot go below 0 eV).

Where no :class:`StandardizedErrors` is fitted, ``Z`` is the standard normal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

#: Probabilities at which the quantiles of ``Z`` are stored (0.25 % … 99.75 %, step 0.25 %):
#: enough for central intervals up to 99.5 % and small enough to save with a model.
QUANTILE_PROBABILITIES = np.linspace(0.0025, 0.9975, 399)

#: Fewest held-out residuals from which an empirical distribution is fitted.
MIN_RESIDUALS = 20


@dataclass(frozen=True, slots=True, eq=False)
class StandardizedErrors:
    """Empirical distribution of ``Z = (y - mean) / std`` for one target.

    Attributes:
        quantiles: Quantiles of ``Z`` at :data:`QUANTILE_PROBABILITIES` (non-decreasing,
            dimensionless).
    """

    quantiles: np.ndarray

    def __post_init__(self) -> None:
        q = np.asarray(self.quantiles, dtype=np.float64)
        if q.shape != QUANTILE_PROBABILITIES.shape:
            raise ValueError(
                f"expected {QUANTILE_PROBABILITIES.size} quantiles, got shape {q.shape}"
            )
        if not np.all(np.isfinite(q)) or np.any(np.diff(q) < 0):
            raise ValueError("quantiles must be finite and non-decreasing")
        object.__setattr__(self, "quantiles", q)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StandardizedErrors):
            return NotImplemented
        return bool(np.array_equal(self.quantiles, other.quantiles))

    def __hash__(self) -> int:
        return hash(self.quantiles.tobytes())

    @classmethod
    def fit(
        cls, y_true: np.ndarray, mean: np.ndarray, std: np.ndarray
    ) -> StandardizedErrors | None:
        """Fit on held-out labels and predictions of one target.

        Args:
            y_true: `n` labels.
            mean: `n` predicted means.
            std: `n` predicted stds (> 0), already rescaled if a std factor is used.

        Returns:
            The distribution, or None when fewer than :data:`MIN_RESIDUALS` usable rows.
        """
        y = np.asarray(y_true, np.float64)
        mu = np.asarray(mean, np.float64)
        sigma = np.asarray(std, np.float64)
        ok = np.isfinite(y) & np.isfinite(mu) & np.isfinite(sigma) & (sigma > 1e-12)
        if ok.sum() < MIN_RESIDUALS:
            return None
        z = (y[ok] - mu[ok]) / sigma[ok]
        return cls(np.quantile(z, QUANTILE_PROBABILITIES))

    def _tail_scales(self) -> tuple[float, float]:
        """Scales (in ``z``) of the exponential tails beyond the stored quantiles.

        Each matches the density of the first (last) stored quantile interval, so the CDF
        stays continuous and strictly increasing outside the stored range.
        """
        p, q = QUANTILE_PROBABILITIES, self.quantiles
        step = p[1] - p[0]
        left = p[0] * (q[1] - q[0]) / step
        right = (1.0 - p[-1]) * (q[-1] - q[-2]) / step
        return (left if left > 0 else 1.0), (right if right > 0 else 1.0)

    def ppf(self, p: np.ndarray | float) -> np.ndarray:
        """Quantile function of ``Z``: linear between stored quantiles, exponential tails."""
        p = np.asarray(p, np.float64)
        probs, q = QUANTILE_PROBABILITIES, self.quantiles
        left, right = self._tail_scales()
        out = np.interp(p, probs, q)
        with np.errstate(divide="ignore"):
            low, high = p < probs[0], p > probs[-1]
            out = np.where(low, q[0] + left * np.log(p / probs[0]), out)
            out = np.where(high, q[-1] - right * np.log((1.0 - p) / (1.0 - probs[-1])), out)
        return out

    def cdf(self, z: np.ndarray | float) -> np.ndarray:
        """``P(Z <= z)``: linear between stored quantiles, exponential tails beyond them."""
        z = np.asarray(z, np.float64)
        probs, q = QUANTILE_PROBABILITIES, self.quantiles
        left, right = self._tail_scales()
        # Ties (e.g. many exact-zero residuals) make the quantiles flat: take the largest
        # probability of each tied value so that P(Z <= q) is not underestimated.
        values, last = np.unique(q[::-1], return_index=True)
        out = np.interp(z, values, probs[::-1][last])
        with np.errstate(over="ignore"):
            out = np.where(z < q[0], probs[0] * np.exp((z - q[0]) / left), out)
            out = np.where(z > q[-1], 1.0 - (1.0 - probs[-1]) * np.exp(-(z - q[-1]) / right), out)
        return out

    def to_list(self) -> list[float]:
        """The quantiles as a JSON-friendly list."""
        return [float(v) for v in self.quantiles]

    @classmethod
    def from_list(cls, values: Sequence[float]) -> StandardizedErrors:
        """Inverse of :meth:`to_list`."""
        return cls(np.asarray(values, np.float64))


def standard_ppf(p: np.ndarray | float, errors: StandardizedErrors | None) -> np.ndarray:
    """Quantile of ``Z`` under ``errors``, or of the standard normal when None."""
    if errors is None:
        return np.asarray(stats.norm.ppf(p), np.float64)
    return errors.ppf(p)


def standard_cdf(z: np.ndarray | float, errors: StandardizedErrors | None) -> np.ndarray:
    """``P(Z <= z)`` under ``errors``, or under the standard normal when None."""
    if errors is None:
        return np.asarray(stats.norm.cdf(z), np.float64)
    return errors.cdf(z)


def central_interval(
    mean: np.ndarray, std: np.ndarray, level: float, errors: StandardizedErrors | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Bounds of the central interval of probability ``level``.

    Args:
        mean: Predicted means (any shape).
        std: Predicted stds, same shape and unit.
        level: Probability in (0, 1), e.g. 0.9.
        errors: Distribution of the standardized error (None: Gaussian).

    Returns:
        ``(lower, upper)``, each the shape of ``mean``, in its unit.
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"interval level must be in (0, 1), got {level}")
    lo, hi = standard_ppf(np.array([(1.0 - level) / 2.0, (1.0 + level) / 2.0]), errors)
    mean = np.asarray(mean, np.float64)
    std = np.asarray(std, np.float64)
    return mean + std * lo, mean + std * hi
