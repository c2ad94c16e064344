"""The exact-GP surrogate on descriptors: shapes, uncertainty, determinism, persistence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from materials_ai.errors import SurrogateError
from materials_ai.surrogates.config import GPConfig
from materials_ai.surrogates.descriptors import (
    DescriptorTable,
    descriptor_names,
    perovskite_descriptor,
    scale_unit_cube,
)
from materials_ai.surrogates.gp import GPSurrogate, moment_matched_samples
from materials_ai.testing.datasets import si_diamond, srtio3_cubic

CONFIG = GPConfig(kind="gp", n_samples=16, max_iter=50)


def _toy(n: int = 30, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """`n x 3` inputs in [0, 0.5]^3 and two targets (smooth functions, one NaN)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 0.5, size=(n, 3))
    y = np.stack([np.sin(6 * x[:, 0]) + x[:, 1], 2.0 * x[:, 2] - x[:, 0]], axis=1)
    y[3, 1] = np.nan
    return x, y


def test_fit_predict_shapes_and_report() -> None:
    x, y = _toy()
    surrogate = GPSurrogate(CONFIG, ["a", "b"], ["eV", "eV/atom"])
    report = surrogate.fit_descriptors(x, y)
    assert report.n_train == 30 and set(report.val_mae) == {"a", "b"}
    assert [m.n_train for m in report.members] == [30, 29]  # the NaN is masked
    assert all(len(m.lengthscales) == 3 for m in report.members)
    prediction = surrogate.predict_descriptors(np.random.default_rng(1).uniform(size=(7, 3)))
    assert prediction.mean.shape == prediction.std.shape == (7, 2)
    assert prediction.samples is not None and prediction.samples.shape == (16, 7, 2)
    assert prediction.target_names == ("a", "b")


def test_fits_the_data_and_is_uncertain_away_from_it() -> None:
    x, y = _toy()
    surrogate = GPSurrogate(CONFIG, ["a", "b"])
    surrogate.fit_descriptors(x, y)
    near = surrogate.predict_descriptors(x[:5])
    far = surrogate.predict_descriptors(np.full((1, 3), 1.0))
    np.testing.assert_allclose(near.mean[:, 0], y[:5, 0], atol=0.1)
    assert (far.std > 0).all()
    assert (far.std > 3 * near.std.max(axis=0)).all()


def test_samples_match_the_posterior_moments() -> None:
    mean = np.array([[1.0, -2.0], [0.5, 3.0]])
    std = np.array([[0.1, 0.0], [2.0, 1.0]])
    samples = moment_matched_samples(mean, std, 8, seed=3)
    np.testing.assert_allclose(samples.mean(axis=0), mean, atol=1e-12)
    np.testing.assert_allclose(samples.std(axis=0, ddof=1), std, atol=1e-12)


def test_deterministic_for_a_seed_and_seed_dependent_draws() -> None:
    x, y = _toy()
    grid = np.random.default_rng(2).uniform(size=(5, 3))
    one = GPSurrogate(CONFIG, ["a", "b"])
    two = GPSurrogate(CONFIG, ["a", "b"])
    one.fit_descriptors(x, y, seed_offset=4)
    two.fit_descriptors(x, y, seed_offset=4)
    a, b = one.predict_descriptors(grid), two.predict_descriptors(grid)
    np.testing.assert_array_equal(a.samples, b.samples)
    np.testing.assert_array_equal(a.mean, b.mean)
    other = GPSurrogate(CONFIG, ["a", "b"])
    other.fit_descriptors(x, y, seed_offset=5)
    assert not np.array_equal(other.predict_descriptors(grid).samples, a.samples)


def test_save_load_roundtrip_and_warm_start(tmp_path: Path) -> None:
    x, y = _toy()
    surrogate = GPSurrogate(CONFIG, ["a", "b"])
    surrogate.fit_descriptors(x[:25], y[:25])
    report = surrogate.fit_descriptors(x, y, warm_start=True)
    assert report.warm_start
    surrogate.save(tmp_path / "gp")
    loaded = GPSurrogate.load(tmp_path / "gp")
    grid = np.random.default_rng(3).uniform(size=(6, 3))
    a, b = surrogate.predict_descriptors(grid), loaded.predict_descriptors(grid)
    np.testing.assert_allclose(a.mean, b.mean, atol=1e-10)
    np.testing.assert_allclose(a.samples, b.samples, atol=1e-10)


def test_errors() -> None:
    surrogate = GPSurrogate(CONFIG, ["a"])
    with pytest.raises(SurrogateError, match="not fitted"):
        surrogate.predict_descriptors(np.zeros((1, 2)))
    with pytest.raises(SurrogateError, match="no observation"):
        surrogate.fit_descriptors(np.zeros((3, 2)), np.full((3, 1), np.nan))
    with pytest.raises(SurrogateError, match="labels"):
        surrogate.fit_descriptors(np.zeros((3, 2)), np.zeros((2, 1)))


def test_perovskite_descriptor_of_srtio3() -> None:
    names = descriptor_names("perovskite")
    values = dict(zip(names, perovskite_descriptor(srtio3_cubic()), strict=True))
    assert values["A_Z"] == 38 and values["B_Z"] == 22  # Sr on A, Ti on B
    assert (values["A_oxidation"], values["B_oxidation"]) == (2, 4)
    assert values["balanced_closed_shell"] == 1.0 and values["anion_O"] == 3.0
    assert 0.9 < values["tolerance_factor"] < 1.1
    with pytest.raises(SurrogateError, match="5-atom"):
        perovskite_descriptor(si_diamond())


def test_descriptor_table_scales_to_unit_cube() -> None:
    table = DescriptorTable.build(
        [srtio3_cubic(3.9), srtio3_cubic(4.0), si_diamond()], ["a", "b", "c"], "composition"
    )
    assert table.values.shape == (3, len(table.names))
    assert table.values.min() >= 0.0 and table.values.max() <= 1.0
    assert table.select([2, 0]).ids == ("c", "a")
    raw = np.array([[1.0, np.nan], [3.0, 5.0]])
    np.testing.assert_allclose(scale_unit_cube(raw), [[0.0, 0.5], [1.0, 0.5]])


def test_marginals_equal_botorch_posterior() -> None:
    import torch

    x, y = _toy()
    surrogate = GPSurrogate(CONFIG.model_copy(update={"predict_chunk": 4}), ["a", "b"])
    surrogate.fit_descriptors(x, y)
    grid = np.random.default_rng(4).uniform(size=(9, 3))
    mean, std = surrogate.predict_marginals(grid)
    for j, model in enumerate(surrogate.models):
        with torch.no_grad():
            posterior = model.posterior(torch.as_tensor(grid))
        np.testing.assert_allclose(mean[:, j], posterior.mean.reshape(-1).numpy(), atol=1e-9)
        np.testing.assert_allclose(
            std[:, j], posterior.variance.reshape(-1).sqrt().numpy(), atol=1e-9
        )


def test_hyper_subsample_conditions_on_every_row() -> None:
    x, y = _toy(n=60)
    capped = GPSurrogate(CONFIG.model_copy(update={"hyper_subsample": 25}), ["a", "b"])
    report = capped.fit_descriptors(x, y)
    # Hyperparameters from 25 rows, but the posterior uses all 60 (59 for target b).
    assert [m.n_train for m in report.members] == [60, 59]
    assert [len(t[0]) for t in capped._train] == [60, 59]
    again = GPSurrogate(CONFIG.model_copy(update={"hyper_subsample": 25}), ["a", "b"])
    again.fit_descriptors(x, y)
    query = np.random.default_rng(3).uniform(0.0, 0.5, size=(10, 3))
    np.testing.assert_array_equal(
        capped.predict_marginals(query)[0], again.predict_marginals(query)[0]
    )
    full = GPSurrogate(CONFIG, ["a", "b"])
    full.fit_descriptors(x, y)
    # Same smooth functions: the capped fit predicts them about as well.
    truth = np.stack([np.sin(6 * query[:, 0]) + query[:, 1], 2.0 * query[:, 2] - query[:, 0]], 1)
    capped_err = np.abs(capped.predict_marginals(query)[0] - truth).mean()
    full_err = np.abs(full.predict_marginals(query)[0] - truth).mean()
    assert capped_err < max(2.0 * full_err, 0.05)


def test_calibrate_std_covers_held_out_labels() -> None:
    rng = np.random.default_rng(5)

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        x = rng.uniform(0.0, 1.0, size=(n, 2))
        y = np.sin(5 * x[:, 0]) * np.cos(3 * x[:, 1]) + 0.1 * rng.standard_normal(n)
        return x, y[:, None]

    x, y = draw(120)
    x_test, y_test = draw(400)
    calibrated = GPSurrogate(CONFIG.model_copy(update={"calibrate_std": True}), ["a"])
    report = calibrated.fit_descriptors(x, y)
    assert 0.5 < report.members[0].loo_std_factor < 2.0
    mean, std = calibrated.predict_marginals(x_test)
    coverage = np.mean(np.abs(y_test - mean) <= 1.6449 * std)
    assert 0.82 <= coverage <= 0.97
    # Without it, the latent std (no noise) is narrower and covers less.
    latent = GPSurrogate(CONFIG, ["a"])
    latent.fit_descriptors(x, y)
    _, latent_std = latent.predict_marginals(x_test)
    assert np.all(latent_std < std)
    assert np.mean(np.abs(y_test - mean) <= 1.6449 * latent_std) < coverage
