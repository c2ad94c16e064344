"""Zero-gap metals: classify them from the gap ensemble, score the gap where it is open.

Half of MP-2018 has a PBE gap of exactly 0 eV: a regression on the gap spends much of its
loss on metals and predicts small positive or negative gaps for them. Our strategy (see
``docs/architecture.md``, "Metals") keeps one regression ensemble and reads the metal
decision off its predictive distribution, without a second model:

* ``P(metal) = P(gap <= threshold)`` under the recalibrated predictive distribution
  ``F((threshold - mean) / std)``, where ``F`` is the fitted distribution of the
  standardized error (``error_distribution.py``) or, for models without one, the Gaussian
  ``Phi`` (a smooth stand-in for the share of ensemble members below the threshold,
  informative even for 3-5 members);
* where metals dominate the labels, the gap is trained with a squared error
  (``training.loss: [l1, mse]``, one loss per target): the L1 loss is minimised by the
  conditional *median*, which is 0 eV wherever most neighbours are metals, so an L1 gap
  network collapses to 0 eV (measured on Castelli, 96 % metals: R² -0.03, ROC AUC 0.5),
  while the squared error's conditional *mean* stays positive where gaps are likely;
* the reported gap is clipped at 0 eV (a negative gap is a metal);
* accuracy is reported separately for metals (classification: ROC AUC, accuracy at
  ``P = 0.5``) and non-metals (MAE on the gap), next to the plain MAE.

Screens that need a semiconductor (``band_gap`` above a bound) already act on the
predicted gap; ``P(metal)`` is available to a workflow as a derived quantity for
reporting and filtering.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from materials_ai.surrogates.error_distribution import StandardizedErrors, standard_cdf

#: Labels at or below this gap (eV) count as metals (MP-2018 stores metals as exactly 0).
METAL_LABEL_EV = 1e-6

#: Predicted gaps at or below this value (eV) are metallic in :func:`metal_probability`.
METAL_THRESHOLD_EV = 0.1


def metal_probability(
    mean: np.ndarray,
    std: np.ndarray,
    threshold_ev: float = METAL_THRESHOLD_EV,
    errors: StandardizedErrors | None = None,
) -> np.ndarray:
    """Probability that the gap is at most ``threshold_ev``.

    Args:
        mean: `n` predicted gaps (eV).
        std: `n` predictive standard deviations (eV, recalibrated).
        threshold_ev: Gap (eV) at or below which a material is called a metal.
        errors: Fitted distribution of the standardized gap error (None: Gaussian).

    Returns:
        `n` probabilities in [0, 1].
    """
    mean = np.asarray(mean, dtype=np.float64)
    std = np.maximum(np.asarray(std, dtype=np.float64), 1e-9)
    return standard_cdf((threshold_ev - mean) / std, errors)


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U form, ties counted half); NaN if one class."""
    labels = np.asarray(labels, dtype=bool)
    scores = np.asarray(scores, dtype=np.float64)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    u = stats.mannwhitneyu(scores[labels], scores[~labels]).statistic
    return float(u / (n_pos * n_neg))


def gap_metrics(
    y_true: np.ndarray,
    mean: np.ndarray,
    std: np.ndarray,
    threshold_ev: float = METAL_THRESHOLD_EV,
    errors: StandardizedErrors | None = None,
) -> dict[str, float]:
    """Metal classification and non-metal accuracy of a band-gap prediction.

    Args:
        y_true: `n` reference gaps (eV; metals 0).
        mean: `n` predicted gaps (eV).
        std: `n` predictive standard deviations (eV).
        threshold_ev: See :func:`metal_probability`.
        errors: See :func:`metal_probability`.

    Returns:
        ``metal_fraction`` (share of labels that are metals), ``metal_auc`` (ROC AUC of
        ``P(metal)``), ``metal_accuracy`` (at ``P(metal) > 0.5``), ``mae_nonmetal`` (MAE
        on labels above 0), ``mae_clipped`` (MAE of the prediction clipped at 0 eV).
        Rows with a non-finite label or prediction are ignored.
    """
    y = np.asarray(y_true, dtype=np.float64).ravel()
    mu = np.asarray(mean, dtype=np.float64).ravel()
    sigma = np.asarray(std, dtype=np.float64).ravel()
    ok = np.isfinite(y) & np.isfinite(mu) & np.isfinite(sigma)
    y, mu, sigma = y[ok], mu[ok], sigma[ok]
    if y.size == 0:
        return {}
    metal = y <= METAL_LABEL_EV
    p_metal = metal_probability(mu, sigma, threshold_ev, errors)
    return {
        "metal_fraction": float(metal.mean()),
        "metal_auc": roc_auc(metal, p_metal),
        "metal_accuracy": float(((p_metal > 0.5) == metal).mean()),
        "mae_nonmetal": float(np.abs(mu[~metal] - y[~metal]).mean())
        if (~metal).any()
        else float("nan"),
        "mae_clipped": float(np.abs(np.maximum(mu, 0.0) - y).mean()),
    }


def is_gap_target(name: str) -> bool:
    """Whether a target name denotes a band gap (gets :func:`gap_metrics` in evaluations)."""
    return "gap" in name.lower()
