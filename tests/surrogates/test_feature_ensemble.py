"""The MLP-ensemble head on featurizer blocks: fit, calibrated spread, contract, save -> load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from materials_ai.data.records import Candidate
from materials_ai.errors import SurrogateError
from materials_ai.surrogates.base import PoolSurrogate
from materials_ai.surrogates.config import FeatureEnsembleConfig
from materials_ai.surrogates.feature_ensemble import FeatureEnsembleSurrogate
from materials_ai.surrogates.kinds import build_surrogate, load_surrogate, saved_kind
from materials_ai.testing.datasets import tiny_structures
from materials_ai.testing.models import mean_atomic_numbers


def _config(**overrides: object) -> FeatureEnsembleConfig:
    settings: dict[str, object] = {
        "kind": "feature_ensemble",
        "features": ["element_fractions", "composition"],
        "members": 3,
        "hidden": [32],
        "epochs": 40,
        "batch_size": 32,
    }
    settings.update(overrides)
    return FeatureEnsembleConfig.model_validate(settings)


def _synthetic(n: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(size=(n, 4))
    y = np.stack(
        [2.0 * x[:, 0] - x[:, 1] + 0.05 * rng.normal(size=n), np.sin(3 * x[:, 2]) + x[:, 3]],
        axis=1,
    )
    return x, y


def test_fit_beats_the_mean_and_spread_is_calibrated() -> None:
    x, y = _synthetic(400)
    surrogate = FeatureEnsembleSurrogate(_config(epochs=150), ["a", "b"])
    report = surrogate.fit_features(x[:300], y[:300])
    assert report.n_train == 300 and len(report.members) == 3
    prediction = surrogate.predict_features(x[300:])
    assert prediction.mean.shape == prediction.std.shape == (100, 2)
    assert prediction.samples is not None and prediction.samples.shape == (3, 100, 2)
    np.testing.assert_allclose(prediction.samples.mean(axis=0), prediction.mean, atol=1e-9)
    mae = np.abs(prediction.mean - y[300:]).mean(axis=0)
    baseline = np.abs(y[300:] - y[:300].mean(axis=0)).mean(axis=0)
    assert np.all(mae < 0.5 * baseline)
    assert np.all(prediction.std > 0)
    # The std factor makes 90 % intervals cover about 90 % of the calibration rows, so
    # held-out rows of the same distribution are covered roughly as often.
    covered = np.abs(y[300:] - prediction.mean) <= 1.645 * prediction.std
    assert 0.6 <= covered.mean() <= 1.0
    assert set(report.std_factors) == {"a", "b"}


def test_linear_baseline_carries_a_linear_target() -> None:
    x, y = _synthetic(300)
    linear = y[:, :1]
    with_baseline = FeatureEnsembleSurrogate(_config(epochs=1), ["a"])
    with_baseline.fit_features(x[:200], linear[:200])
    without = FeatureEnsembleSurrogate(_config(epochs=1, linear_baseline=False), ["a"])
    without.fit_features(x[:200], linear[:200])
    error = {
        name: float(np.abs(s.predict_features(x[200:]).mean - linear[200:]).mean())
        for name, s in (("with", with_baseline), ("without", without))
    }
    assert error["with"] < 0.1 < error["without"]


def test_missing_labels_are_masked() -> None:
    x, y = _synthetic(200)
    y[::2, 1] = np.nan
    surrogate = FeatureEnsembleSurrogate(_config(epochs=5), ["a", "b"])
    surrogate.fit_features(x, y)
    assert np.all(np.isfinite(surrogate.predict_features(x).mean))


def test_a_target_without_labels_is_an_error() -> None:
    x, y = _synthetic(50)
    y[:, 1] = np.nan
    with pytest.raises(SurrogateError, match="'b'"):
        FeatureEnsembleSurrogate(_config(), ["a", "b"]).fit_features(x, y)


def test_pool_contract_and_reload_give_the_same_numbers(tmp_path: Path) -> None:
    pool = [Candidate(id=f"c{i}", structure=s) for i, s in enumerate(tiny_structures(30))]
    surrogate = build_surrogate(_config(epochs=20), ["z"], [""])
    assert isinstance(surrogate, PoolSurrogate)
    features = surrogate.featurize_pool(pool, source=None)
    z = mean_atomic_numbers([c.crystal for c in pool])[:, None]
    surrogate.fit_pool(features.select(np.arange(25)), z[:25])
    before = surrogate.predict_pool(features)
    assert before.domain is not None and before.domain.shape == (30,)
    surrogate.save(tmp_path / "head")
    assert saved_kind(tmp_path / "head") == "feature_ensemble"
    loaded = load_surrogate(tmp_path / "head")
    after = loaded.predict_pool(features)
    np.testing.assert_allclose(after.mean, before.mean, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(after.std, before.std, rtol=1e-6, atol=1e-6)
    # Candidates go through the saved feature transform.
    np.testing.assert_allclose(
        loaded.predict(pool[:3]).mean,
        before.mean[:3],
        rtol=1e-6,
        atol=1e-6,  # type: ignore[attr-defined]
    )


def test_unknown_featurizer_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown featurizer"):
        _config(features=["no_such_block"])
