"""Calibrate the two formation-energy estimates on relaxed candidates of known compositions.

:func:`~materials_ai.candidates.relaxed_stability.combine_formation_energies` weighs the
corrected CHGNet energy and the surrogate's prediction by their sigmas. Fitted on
Materials Project test entries, those sigmas describe DFT-relaxed structures of the
training distribution; a generated candidate relaxed by CHGNet is further from both
models' training data, and its geometry may not be its composition's ground state.

A generated pool usually holds candidates whose composition *is* known (new decorations
or substitutions that land on a known formula). Their DFT ground-state formation energy is
the truth the rediscovery of an unknown composition is judged against, so they measure
each estimate's error where it is used:

1. For every eligible known composition, take its candidate with the lowest relaxed
   CHGNet energy per atom (the composition's ground state in the pool, the candidate
   :func:`~materials_ai.candidates.relaxed_stability.anchor_polymorphs` keeps).
2. Residuals against the lowest DFT formation energy of that composition:
   ``r_s = mu_s - E_DFT`` (surrogate on the relaxed structure) and ``r_c = mu_c - E_DFT``
   (corrected CHGNet).
3. Offsets: the medians ``o_s``, ``o_c``. Sigmas at one level (68.27 % of the centred
   absolute residuals within one sigma): a factor ``k_s`` on the surrogate's own std
   (the quantile of ``|r_s - o_s| / std_s``) and a constant ``sigma_c`` for CHGNet (the
   quantile of ``|r_c - o_c|``).

:meth:`RelaxedCalibration.apply` subtracts the offsets from candidates of compositions
without a DFT anchor (an anchored candidate is placed relative to its known ground state,
which cancels any offset) and sets both sigmas. The caller chooses the eligible
compositions: they should be unseen by the surrogate's training, as a new composition is.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from materials_ai.errors import CandidateError

__all__ = ["ONE_SIGMA_QUANTILE", "RelaxedCalibration", "fit_relaxed_calibration"]

#: Fraction of a Gaussian's mass within one sigma of its mean.
ONE_SIGMA_QUANTILE = 0.6827


@dataclass(frozen=True)
class RelaxedCalibration:
    """Offsets and one-sigma levels of both estimates (eV/atom unless noted).

    Attributes:
        n_compositions: Known compositions the fit used.
        surrogate_offset: Median of ``mu_s - E_DFT``.
        chgnet_offset: Median of ``mu_c - E_DFT``.
        surrogate_std_scale: Factor on the surrogate's std (dimensionless).
        chgnet_sigma: CHGNet's sigma.
        surrogate_mae: Mean absolute centred residual of the surrogate.
        chgnet_mae: Mean absolute centred residual of CHGNet.
        residual_correlation: Pearson correlation of the two residuals (reported, not
            used).
    """

    n_compositions: int
    surrogate_offset: float
    chgnet_offset: float
    surrogate_std_scale: float
    chgnet_sigma: float
    surrogate_mae: float
    chgnet_mae: float
    residual_correlation: float

    def as_dict(self) -> dict[str, float | int]:
        """The fields, for a results file."""
        return asdict(self)

    def apply(
        self,
        surrogate_mean: np.ndarray,
        surrogate_std: np.ndarray,
        chgnet_mean: np.ndarray,
        anchored: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Calibrated estimates of `n` candidates.

        Args:
            surrogate_mean: `n` surrogate formation energies (eV/atom; DFT-anchored where
                ``anchored``).
            surrogate_std: `n` surrogate stds as the model gives them (eV/atom).
            chgnet_mean: `n` corrected CHGNet formation energies (eV/atom; DFT-anchored
                where ``anchored``).
            anchored: `n` booleans: the composition has a known DFT ground state.

        Returns:
            (`n` surrogate means, `n` surrogate stds, `n` CHGNet means, `n` CHGNet stds).
        """
        anchored = np.asarray(anchored, dtype=bool)
        mu_s = np.where(anchored, surrogate_mean, surrogate_mean - self.surrogate_offset)
        mu_c = np.where(anchored, chgnet_mean, chgnet_mean - self.chgnet_offset)
        sd_s = np.asarray(surrogate_std, dtype=np.float64) * self.surrogate_std_scale
        sd_c = np.full(len(mu_c), self.chgnet_sigma)
        return mu_s, sd_s, mu_c, sd_c


def fit_relaxed_calibration(
    keys: Sequence[str],
    energy_per_atom: Sequence[float] | np.ndarray,
    surrogate_mean: np.ndarray,
    surrogate_std: np.ndarray,
    chgnet_mean: np.ndarray,
    dft_ground_state: Mapping[str, float],
    eligible: Collection[str],
    min_compositions: int = 10,
) -> RelaxedCalibration:
    """Fit :class:`RelaxedCalibration` on the eligible known compositions of a relaxed pool.

    Args:
        keys: `n` composition keys of the relaxed candidates.
        energy_per_atom: `n` relaxed CHGNet energies (eV/atom), which pick each
            composition's ground state in the pool.
        surrogate_mean: `n` surrogate formation energies on the relaxed structures, not
            anchored (eV/atom).
        surrogate_std: `n` surrogate stds as the model gives them (eV/atom, > 0).
        chgnet_mean: `n` corrected CHGNet formation energies, not anchored (eV/atom; NaN:
            none).
        dft_ground_state: Lowest DFT formation energy of each known composition (eV/atom).
        eligible: Composition keys the fit may use (known, and unseen by the surrogate).
        min_compositions: Fewest compositions a fit needs.

    Returns:
        The calibration.

    Raises:
        CandidateError: When the inputs disagree in length or fewer than
            ``min_compositions`` eligible compositions have both estimates.
    """
    energy = np.asarray(energy_per_atom, dtype=np.float64)
    mu_s = np.asarray(surrogate_mean, dtype=np.float64)
    sd_s = np.asarray(surrogate_std, dtype=np.float64)
    mu_c = np.asarray(chgnet_mean, dtype=np.float64)
    if not (len(keys) == len(energy) == len(mu_s) == len(sd_s) == len(mu_c)):
        raise CandidateError(
            "keys, energies, surrogate means and stds and CHGNet means need one entry per "
            f"candidate; got {len(keys)}, {len(energy)}, {len(mu_s)}, {len(sd_s)}, {len(mu_c)}"
        )
    allowed = set(eligible) & set(dft_ground_state)
    best: dict[str, int] = {}
    for i, key in enumerate(keys):
        usable = np.isfinite(energy[i]) and np.isfinite(mu_c[i]) and sd_s[i] > 0
        if key in allowed and usable and (key not in best or energy[i] < energy[best[key]]):
            best[key] = i
    if len(best) < min_compositions:
        raise CandidateError(
            f"a relaxed calibration needs at least {min_compositions} eligible known "
            f"compositions with both estimates; the pool has {len(best)}"
        )
    rows = np.array(sorted(best.values()))
    truth = np.array([dft_ground_state[keys[i]] for i in rows])
    r_s = mu_s[rows] - truth
    r_c = mu_c[rows] - truth
    o_s, o_c = float(np.median(r_s)), float(np.median(r_c))
    return RelaxedCalibration(
        n_compositions=len(rows),
        surrogate_offset=o_s,
        chgnet_offset=o_c,
        surrogate_std_scale=float(np.quantile(np.abs(r_s - o_s) / sd_s[rows], ONE_SIGMA_QUANTILE)),
        chgnet_sigma=float(np.quantile(np.abs(r_c - o_c), ONE_SIGMA_QUANTILE)),
        surrogate_mae=float(np.mean(np.abs(r_s - o_s))),
        chgnet_mae=float(np.mean(np.abs(r_c - o_c))),
        residual_correlation=float(np.corrcoef(r_s, r_c)[0, 1]),
    )
