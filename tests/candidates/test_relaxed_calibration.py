"""Offsets and sigmas of both estimates fitted on relaxed candidates of known compositions."""

from __future__ import annotations

import numpy as np
import pytest

from materials_ai.candidates.relaxed_calibration import (
    ONE_SIGMA_QUANTILE,
    fit_relaxed_calibration,
)
from materials_ai.errors import CandidateError


def _pool(n_comp: int, seed: int = 0) -> dict:
    """Two polymorphs per composition; the surrogate is biased by +0.1 eV/atom with noise
    0.05, CHGNet by -0.02 with noise 0.02 (eV/atom), both on the lower-energy polymorph."""
    rng = np.random.default_rng(seed)
    keys, energy, mu_s, sd_s, mu_c = [], [], [], [], []
    truth = {}
    for c in range(n_comp):
        key = f"A{c}BO3"
        truth[key] = -2.0 - 0.01 * c
        for polymorph in (0, 1):
            keys.append(key)
            energy.append(-7.0 + 0.3 * polymorph)  # polymorph 0 is the pool's ground state
            shift = 0.3 * polymorph  # the second polymorph lies higher in both estimates
            mu_s.append(truth[key] + 0.1 + shift + rng.normal(0, 0.05))
            sd_s.append(0.1)
            mu_c.append(truth[key] - 0.02 + shift + rng.normal(0, 0.02))
    return {
        "keys": keys,
        "energy_per_atom": np.array(energy),
        "surrogate_mean": np.array(mu_s),
        "surrogate_std": np.array(sd_s),
        "chgnet_mean": np.array(mu_c),
        "dft_ground_state": truth,
    }


def test_fit_recovers_offsets_and_sigmas_from_each_composition_ground_state() -> None:
    pool = _pool(400)
    cal = fit_relaxed_calibration(**pool, eligible=set(pool["dft_ground_state"]))
    assert cal.n_compositions == 400  # one row per composition: its lowest-energy polymorph
    assert cal.surrogate_offset == pytest.approx(0.1, abs=0.01)
    assert cal.chgnet_offset == pytest.approx(-0.02, abs=0.004)
    # a Gaussian's centred |residual| has its 68.27 % quantile at one sigma
    assert cal.surrogate_std_scale == pytest.approx(0.05 / 0.1, rel=0.12)
    assert cal.chgnet_sigma == pytest.approx(0.02, rel=0.12)
    assert abs(cal.residual_correlation) < 0.2
    assert pytest.approx(0.6827) == ONE_SIGMA_QUANTILE


def test_only_eligible_compositions_enter_the_fit() -> None:
    pool = _pool(40)
    eligible = {f"A{c}BO3" for c in range(20)}
    cal = fit_relaxed_calibration(**pool, eligible=eligible | {"NotInPool"})
    assert cal.n_compositions == 20
    # a composition without a DFT ground state cannot be eligible
    pool["dft_ground_state"] = {k: v for k, v in pool["dft_ground_state"].items() if k != "A0BO3"}
    assert fit_relaxed_calibration(**pool, eligible=eligible).n_compositions == 19


def test_apply_shifts_only_candidates_without_an_anchor() -> None:
    pool = _pool(30)
    cal = fit_relaxed_calibration(**pool, eligible=set(pool["dft_ground_state"]))
    anchored = np.array([True, False])
    mu_s, sd_s, mu_c, sd_c = cal.apply(
        np.array([-1.0, -1.0]), np.array([0.2, 0.4]), np.array([-1.5, -1.5]), anchored
    )
    assert mu_s.tolist() == pytest.approx([-1.0, -1.0 - cal.surrogate_offset])
    assert mu_c.tolist() == pytest.approx([-1.5, -1.5 - cal.chgnet_offset])
    assert sd_s.tolist() == pytest.approx(
        [0.2 * cal.surrogate_std_scale, 0.4 * cal.surrogate_std_scale]
    )
    assert sd_c.tolist() == [cal.chgnet_sigma, cal.chgnet_sigma]


def test_too_few_compositions_or_ragged_inputs_are_refused() -> None:
    pool = _pool(5)
    with pytest.raises(CandidateError, match=r"at least 10 eligible known compositions.*has 5"):
        fit_relaxed_calibration(**pool, eligible=set(pool["dft_ground_state"]))
    pool = _pool(20)
    pool["chgnet_mean"] = pool["chgnet_mean"][:-1]
    with pytest.raises(CandidateError, match="one entry per candidate"):
        fit_relaxed_calibration(**pool, eligible=set(pool["dft_ground_state"]))
