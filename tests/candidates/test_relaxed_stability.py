"""Combining the corrected CHGNet formation energy with the surrogate's prediction."""

from __future__ import annotations

import numpy as np
import pytest

from materials_ai.candidates.energy_correction import EnergyCorrection
from materials_ai.candidates.relaxed_stability import (
    anchor_polymorphs,
    combine_formation_energies,
    relaxed_formation_energies,
    rescale_samples,
)
from materials_ai.errors import CandidateError


def test_inverse_variance_combination_and_fallbacks() -> None:
    out = combine_formation_energies(
        np.array([-1.0, -1.0, -2.0]),
        np.array([0.1, 0.1, 0.2]),
        np.array([-1.2, np.nan, -2.0]),
        np.array([0.05, 0.05, 0.2]),
    )
    # Weights 100 and 400: mean -1.16; variance 1/500 plus the weighted scatter.
    assert out.mean[0] == pytest.approx(-1.16)
    scatter = (100 * 0.16**2 + 400 * 0.04**2) / 500
    assert out.std[0] == pytest.approx(np.sqrt(1 / 500 + scatter))
    assert out.source == ["combined", "surrogate", "combined"]
    assert (out.mean[1], out.std[1]) == (-1.0, 0.1)  # no CHGNet value: the surrogate alone
    assert out.mean[2] == -2.0 and out.std[2] == pytest.approx(0.2 / np.sqrt(2))
    only = combine_formation_energies(
        np.array([-1.0]), np.array([0.1]), np.array([-1.2]), np.array([0.05]), "chgnet"
    )
    assert (only.mean[0], only.std[0], only.source) == (-1.2, 0.05, ["chgnet"])


def test_correlated_errors_move_weight_to_the_precise_estimate() -> None:
    mu_s, sd_s, mu_c, sd_c = np.array([-1.0]), np.array([0.1]), np.array([-1.2]), np.array([0.05])
    plain = combine_formation_energies(mu_s, sd_s, mu_c, sd_c, correlation=0.0)
    rho = combine_formation_energies(mu_s, sd_s, mu_c, sd_c, correlation=0.3)
    # BLUE: w_c = (s^2 - rho s c) / (s^2 + c^2 - 2 rho s c) = 0.0085 / 0.0095
    w_c = 0.0085 / 0.0095
    assert rho.mean[0] == pytest.approx(w_c * -1.2 + (1 - w_c) * -1.0)
    assert rho.mean[0] < plain.mean[0] < -1.0
    # the variance of the weighted sum, checked against correlated draws
    rng = np.random.default_rng(0)
    cov = [[0.1**2, 0.3 * 0.1 * 0.05], [0.3 * 0.1 * 0.05, 0.05**2]]
    err = rng.multivariate_normal([0.0, 0.0], cov, size=200_000)
    scatter = (1 - w_c) * (-1.0 - rho.mean[0]) ** 2 + w_c * (-1.2 - rho.mean[0]) ** 2
    empirical = np.var((1 - w_c) * err[:, 0] + w_c * err[:, 1])
    assert rho.std[0] ** 2 - scatter == pytest.approx(empirical, rel=0.02)
    # rho above c / s would extrapolate past CHGNet: the weight is clipped at 1
    high = combine_formation_energies(mu_s, sd_s, mu_c, sd_c, correlation=0.9)
    assert (high.mean[0], high.std[0]) == pytest.approx((-1.2, 0.05))
    with pytest.raises(CandidateError, match="correlation"):
        combine_formation_energies(mu_s, sd_s, mu_c, sd_c, correlation=1.0)


def test_rescaled_samples_carry_the_combined_mean_and_spread() -> None:
    rng = np.random.default_rng(0)
    samples = rng.normal(size=(5, 4))
    samples[:, 3] = 0.7  # no spread at all
    mean, std = np.array([1.0, 2.0, 3.0, 4.0]), np.array([0.1, 0.2, 0.3, 0.4])
    out = rescale_samples(samples, mean, std)
    assert np.allclose(out.mean(axis=0), mean) and np.allclose(out.std(axis=0, ddof=1), std)
    assert np.allclose(rescale_samples(samples[:1], mean, std), mean[None, :])


def test_relaxed_formation_energies_use_the_correction() -> None:
    correction = EnergyCorrection(references={"Sr": -2.0, "O": -5.0}, residual_std_ev_per_atom=0.05)
    samples = np.array([[-1.9, -2.0], [-2.1, -2.2]])  # 2 members x 2 candidates (eV/atom)
    out, combined = relaxed_formation_energies(
        [{"Sr": 1, "O": 1}, {"Sr": 1, "O": 1}], [-5.5, np.nan], samples, correction
    )
    assert combined.chgnet_mean[0] == pytest.approx(-5.5 + 3.5)
    assert np.isnan(combined.chgnet_mean[1])
    assert combined.source == ["combined", "surrogate"]
    assert np.allclose(out.mean(axis=0), combined.mean)
    assert np.allclose(out[:, 1], samples[:, 1])  # unchanged where CHGNet has no value


def test_polymorphs_are_placed_by_their_chgnet_energy_differences() -> None:
    keys = ["O3Sr1Ti1", "O3Sr1Ti1", "O3Sr1Ti1", "Ga1As1"]
    mean = np.array([-3.50, -3.60, -3.40, -0.40])  # eV/atom, combined estimates
    std = np.array([0.03, 0.05, 0.04, 0.02])
    energy = np.array([-8.40, -8.35, np.nan, -4.0])  # CHGNet eV/atom; the first is lowest
    out_mean, out_std, moved = anchor_polymorphs(keys, mean, std, energy)
    assert out_mean[0] == -3.50 and out_std[0] == 0.03  # the pool's ground state
    assert out_mean[1] == pytest.approx(-3.50 + 0.05) and out_std[1] == 0.03
    assert out_mean[2] == -3.40 and out_mean[3] == -0.40  # not relaxed / alone
    assert moved.tolist() == [False, True, False, False]
