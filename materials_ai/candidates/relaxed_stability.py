"""Formation energy of relaxed candidates: corrected CHGNet energy combined with a surrogate.

Two estimates of a relaxed candidate's formation energy on the hull's scale (eV/atom):

* **CHGNet**: the relaxation's final energy per atom mapped with the fitted per-element
  references (:class:`~materials_ai.candidates.energy_correction.EnergyCorrection`),
  ``mu_c``, with ``sigma_c`` the correction's residual spread on its training split (the
  68.27 % quantile of the absolute residuals: the typical error of a corrected CHGNet
  energy against DFT, calibrated as a Gaussian's one sigma);
* **surrogate**: the ensemble's prediction on the *relaxed* geometry, ``mu_s +- sigma_s``
  (``sigma_s`` the member spread, recalibrated with the model's own std scale and
  optionally the workflow's ``std_scale``). Both sigmas are thus calibrated the same way
  (68 % of held-out errors within one sigma) before they are weighed.

**Combination rule** (``inverse_variance``): the best linear unbiased estimate of two
estimates whose errors correlate with coefficient ``rho`` (both models learned from
Materials Project data; the hull-accuracy benchmark measures ``rho`` on held-out MP-2018
entries). With ``s = sigma_s``, ``c = sigma_c`` and ``d = s^2 + c^2 - 2 rho s c``:
``w_c = (s^2 - rho s c) / d`` clipped to [0, 1], ``w_s = 1 - w_c``,
``mu = w_c mu_c + w_s mu_s`` and the variance of that weighted sum,
``v = w_c^2 c^2 + w_s^2 s^2 + 2 rho w_c w_s s c``. ``rho = 0`` is plain inverse-variance
weighting (``w = 1 / sigma^2``, ``v = 1 / (1/s^2 + 1/c^2)``); a positive ``rho`` moves
weight to the more precise estimate, since averaging in a correlated, noisier one removes
less error. The clip keeps ``mu`` between the two (no extrapolation when
``rho > c / s``). The ensemble spread is often over-confident, so the weighted scatter of
the two estimates about the mean is added, ``sigma^2 = v + w_c (mu_c - mu)^2 +
w_s (mu_s - mu)^2``, so that disagreement between CHGNet and the surrogate widens the
band. Where CHGNet has no value (failed or skipped relaxation, an element without a
reference) the surrogate alone is used; ``surrogate`` and ``chgnet`` use one estimate only.

**Polymorphs in the pool** (:func:`anchor_polymorphs`): candidates of one composition are
polymorphs competing with each other, and only the lowest in energy can lie on the hull.
Energy *differences* between polymorphs from one potential are far more reliable than the
absolute energies (the composition's systematic error cancels), so each candidate is
placed relative to its composition's CHGNet ground state in the pool ``b``:
``mu_c <- mu_b + (E_c - E_b)`` with ``E`` the relaxed CHGNet energies per atom and
``sigma_c <- sigma_b``; ``b`` itself is unchanged. The other polymorphs thus sit above
``b`` by their CHGNet energy difference instead of competing with it on their own,
noisier, estimates.

Ranking code works with ensemble member samples (`s x n`); :func:`rescale_samples` maps the
members affinely onto the combined mean and spread (``mu + sigma z_k`` with ``z_k`` the
members' standardised values), so member-wise desirabilities stay consistent with it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from materials_ai.candidates.energy_correction import EnergyCorrection
from materials_ai.errors import CandidateError

__all__ = [
    "CombineRule",
    "CombinedEnergy",
    "anchor_polymorphs",
    "combine_formation_energies",
    "relaxed_formation_energies",
    "rescale_samples",
]

CombineRule = Literal["inverse_variance", "surrogate", "chgnet"]


@dataclass(frozen=True)
class CombinedEnergy:
    """Formation energies of `n` candidates from both estimates (eV/atom).

    Attributes:
        mean: `n` combined means.
        std: `n` combined standard deviations.
        chgnet_mean: `n` corrected CHGNet formation energies (NaN where unavailable).
        chgnet_std: `n` their standard deviations.
        surrogate_mean: `n` surrogate means.
        surrogate_std: `n` surrogate standard deviations.
        source: `n` labels: ``combined``, ``surrogate`` or ``chgnet``.
    """

    mean: np.ndarray
    std: np.ndarray
    chgnet_mean: np.ndarray
    chgnet_std: np.ndarray
    surrogate_mean: np.ndarray
    surrogate_std: np.ndarray
    source: list[str]

    def columns(self) -> dict[str, np.ndarray | list[str]]:
        """Columns for a ranked list (``e_form_chgnet``, ``e_form_surrogate``, ...)."""
        return {
            "e_form_chgnet": self.chgnet_mean,
            "e_form_chgnet_std": self.chgnet_std,
            "e_form_surrogate": self.surrogate_mean,
            "e_form_surrogate_std": self.surrogate_std,
            "e_form_source": self.source,
        }


def combine_formation_energies(
    surrogate_mean: np.ndarray,
    surrogate_std: np.ndarray,
    chgnet_mean: np.ndarray,
    chgnet_std: np.ndarray,
    rule: CombineRule = "inverse_variance",
    correlation: float = 0.0,
) -> CombinedEnergy:
    """Combine two formation-energy estimates per candidate (see the module docstring).

    Args:
        surrogate_mean: `n` surrogate means (eV/atom).
        surrogate_std: `n` surrogate standard deviations (eV/atom, >= 0).
        chgnet_mean: `n` corrected CHGNet formation energies (NaN: none).
        chgnet_std: `n` their standard deviations (> 0).
        rule: ``inverse_variance``, ``surrogate`` or ``chgnet``.
        correlation: ``rho``, the correlation of the two estimates' errors, in [0, 1)
            (``inverse_variance`` only).

    Returns:
        Combined means and standard deviations with both inputs.

    Raises:
        CandidateError: Inputs of different shapes, or ``correlation`` outside [0, 1).
    """
    mu_s = np.asarray(surrogate_mean, dtype=np.float64)
    sd_s = np.asarray(surrogate_std, dtype=np.float64)
    mu_c = np.asarray(chgnet_mean, dtype=np.float64)
    sd_c = np.asarray(chgnet_std, dtype=np.float64)
    if not (mu_s.shape == sd_s.shape == mu_c.shape == sd_c.shape) or mu_s.ndim != 1:
        raise CandidateError("the four inputs must be 1-D arrays of one length")
    if not 0.0 <= correlation < 1.0:
        raise CandidateError(f"correlation must lie in [0, 1); got {correlation}")
    have_c = np.isfinite(mu_c) & np.isfinite(sd_c) & (sd_c > 0)
    if rule == "surrogate":
        mean, std = mu_s.copy(), sd_s.copy()
        source = ["surrogate"] * len(mu_s)
    elif rule == "chgnet":
        mean = np.where(have_c, mu_c, mu_s)
        std = np.where(have_c, sd_c, sd_s)
        source = ["chgnet" if h else "surrogate" for h in have_c]
    else:
        s = np.maximum(sd_s, 1e-6)
        c = np.where(have_c, sd_c, 1.0)
        cov = correlation * s * c
        w_c = np.clip((s**2 - cov) / (s**2 + c**2 - 2.0 * cov), 0.0, 1.0)
        w_s = 1.0 - w_c
        mu_c0 = np.where(have_c, mu_c, 0.0)
        mean = w_s * mu_s + w_c * mu_c0
        variance = (w_c * c) ** 2 + (w_s * s) ** 2 + 2.0 * w_c * w_s * cov
        scatter = w_s * (mu_s - mean) ** 2 + w_c * (mu_c0 - mean) ** 2
        std = np.where(have_c, np.sqrt(variance + scatter), sd_s)
        mean = np.where(have_c, mean, mu_s)
        source = ["combined" if h else "surrogate" for h in have_c]
    return CombinedEnergy(
        mean=mean,
        std=std,
        chgnet_mean=np.where(have_c, mu_c, np.nan),
        chgnet_std=np.where(have_c, sd_c, np.nan),
        surrogate_mean=mu_s,
        surrogate_std=sd_s,
        source=source,
    )


def relaxed_formation_energies(
    compositions: Sequence[Mapping[str, float]],
    relax_energy_per_atom: Sequence[float] | np.ndarray,
    surrogate_samples: np.ndarray,
    correction: EnergyCorrection,
    rule: CombineRule = "inverse_variance",
    *,
    surrogate_std_scale: float = 1.0,
    surrogate_std_floor: float = 0.0,
    polymorphs: bool = False,
    correlation: float = 0.0,
) -> tuple[np.ndarray, CombinedEnergy]:
    """Combined formation-energy member samples of `n` relaxed candidates.

    Args:
        compositions: `n` element -> amount mappings.
        relax_energy_per_atom: `n` final CHGNet energies (eV/atom; NaN: not relaxed).
        surrogate_samples: `s x n` surrogate member predictions on the relaxed structures
            (eV/atom, the correction's target scale).
        correction: Maps CHGNet energies onto the formation-energy scale.
        rule: See :func:`combine_formation_energies`.
        surrogate_std_scale: Multiplies the member spread before combining.
        surrogate_std_floor: Added in quadrature to the scaled spread (eV/atom), as
            :class:`~materials_ai.candidates.config.StabilityConfig` does.
        polymorphs: Apply :func:`anchor_polymorphs` to the combined estimate.
        correlation: Correlation of the two estimates' errors, see
            :func:`combine_formation_energies`.

    Returns:
        (`s x n` samples with the combined mean and spread, the combination's columns).
    """
    samples = np.asarray(surrogate_samples, dtype=np.float64)
    if samples.ndim != 2 or samples.shape[1] != len(compositions):
        raise CandidateError(
            f"surrogate samples must be s x {len(compositions)}; got {samples.shape}"
        )
    ddof = 1 if samples.shape[0] > 1 else 0
    mu_s = samples.mean(axis=0)
    sd_s = np.hypot(samples.std(axis=0, ddof=ddof) * surrogate_std_scale, surrogate_std_floor)
    mu_c = correction.formation_energy(compositions, relax_energy_per_atom)
    sd_c = np.full(len(mu_c), correction.residual_std_ev_per_atom)
    combined = combine_formation_energies(mu_s, sd_s, mu_c, sd_c, rule, correlation)
    if polymorphs:
        from materials_ai.candidates.chemistry import formula_key

        keys = [formula_key(c) for c in compositions]
        mean, std, _ = anchor_polymorphs(keys, combined.mean, combined.std, relax_energy_per_atom)
        combined = replace(combined, mean=mean, std=std)
    return rescale_samples(samples, combined.mean, combined.std), combined


def anchor_polymorphs(
    keys: Sequence[str],
    mean: np.ndarray,
    std: np.ndarray,
    energy_per_atom: Sequence[float] | np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Place polymorphs relative to their composition's lowest-energy candidate.

    Args:
        keys: `n` composition keys (candidates with equal keys are polymorphs).
        mean: `n` formation energies (eV/atom), e.g. :attr:`CombinedEnergy.mean`.
        std: `n` standard deviations (eV/atom).
        energy_per_atom: `n` relaxed CHGNet energies (eV/atom; NaN: not relaxed, left
            unchanged and never a reference).

    Returns:
        (`n` means, `n` stds, `n` booleans: moved), see the module docstring.
    """
    mean = np.asarray(mean, dtype=np.float64).copy()
    std = np.asarray(std, dtype=np.float64).copy()
    energy = np.asarray(energy_per_atom, dtype=np.float64)
    if not (len(keys) == len(mean) == len(std) == len(energy)):
        raise CandidateError("keys, means, stds and energies must have one entry each")
    groups: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        if np.isfinite(energy[i]) and np.isfinite(mean[i]):
            groups.setdefault(key, []).append(i)
    moved = np.zeros(len(mean), dtype=bool)
    for members in groups.values():
        if len(members) < 2:
            continue
        best = min(members, key=lambda i: (energy[i], i))
        for i in members:
            if i != best:
                mean[i] = mean[best] + (energy[i] - energy[best])
                std[i] = std[best]
                moved[i] = True
    return mean, std, moved


def rescale_samples(samples: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Map `s x n` member samples affinely onto a new mean and spread per column.

    Each column becomes ``mean + std z`` with ``z`` its standardised members (std with
    ``ddof = 1``, as :meth:`Prediction.from_samples`); a column without spread (one member,
    or identical members) becomes ``mean`` plus ``std`` times a fixed symmetric pattern
    when ``s > 1``, else ``mean``.

    Args:
        samples: `s x n` member values.
        mean: `n` target means.
        std: `n` target standard deviations.

    Returns:
        `s x n` samples whose column mean and std (ddof 1) are ``mean`` and ``std``.
    """
    samples = np.asarray(samples, dtype=np.float64)
    s = samples.shape[0]
    if s == 1:
        return np.asarray(mean, dtype=np.float64)[None, :].copy()
    mu = samples.mean(axis=0)
    sd = samples.std(axis=0, ddof=1)
    pattern = np.linspace(-1.0, 1.0, s)
    pattern = pattern / pattern.std(ddof=1)
    flat = ~(sd > 1e-12)
    z = np.where(flat[None, :], pattern[:, None], (samples - mu) / np.where(flat, 1.0, sd))
    return np.asarray(mean)[None, :] + np.asarray(std)[None, :] * z
