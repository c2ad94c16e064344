"""GP heads on featurizer blocks: posterior shapes, the campaign contract, save -> load."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from materials_ai.data.records import Candidate
from materials_ai.surrogates.base import PoolSurrogate
from materials_ai.surrogates.config import GPConfig
from materials_ai.surrogates.kinds import build_surrogate, load_surrogate, saved_kind
from materials_ai.testing.datasets import tiny_structures
from materials_ai.testing.models import labelled_dataset, mean_atomic_numbers

CONFIG = GPConfig.model_validate(
    {
        "kind": "gp",
        "features": [{"featurizer": "composition", "pca": 5}, "mp2018_predictions"],
        "n_samples": 8,
        "max_iter": 30,
    }
)


def _pool(n: int = 18) -> list[Candidate]:
    return [Candidate(id=f"c{i}", structure=s) for i, s in enumerate(tiny_structures(n))]


def test_pool_contract_shapes() -> None:
    pool = _pool()
    surrogate = build_surrogate(CONFIG, ["z", "v"], ["", "A^3"])
    assert isinstance(surrogate, PoolSurrogate)
    features = surrogate.featurize_pool(pool, source=None)
    assert len(features) == 18 and features.values.shape == (18, 5 + 2)
    z = mean_atomic_numbers([c.crystal for c in pool])
    volume = np.array([c.crystal.volume / len(c.crystal) for c in pool])
    y = np.stack([z, volume], axis=1)[:10]
    y[2, 1] = np.nan
    report = surrogate.fit_pool(features.select(np.arange(10)), y, seed_offset=1)
    assert report.n_train == 10 and [m.n_train for m in report.members] == [10, 9]
    prediction = surrogate.predict_pool(features)
    assert prediction.mean.shape == prediction.std.shape == (18, 2)
    assert prediction.samples is not None and prediction.samples.shape == (8, 18, 2)
    assert np.all(prediction.std >= 0)
    # Labelled rows are predicted closely; the samples carry the posterior's moments.
    assert np.abs(prediction.mean[:10, 0] - z[:10]).max() < 1.0
    np.testing.assert_allclose(prediction.samples.mean(axis=0), prediction.mean, atol=1e-9)


def test_saved_campaign_surrogate_reloads_and_predicts_the_same(tmp_path: Path) -> None:
    pool = _pool()
    surrogate = build_surrogate(CONFIG, ["z"], [""])
    features = surrogate.featurize_pool(pool, source=None)
    surrogate.fit_pool(
        features.select(np.arange(12)), mean_atomic_numbers([c.crystal for c in pool[:12]])[:, None]
    )
    surrogate.save(tmp_path / "gp")
    assert saved_kind(tmp_path / "gp") == "gp"
    loaded = load_surrogate(tmp_path / "gp")
    np.testing.assert_allclose(
        loaded.predict_pool(features).mean, surrogate.predict_pool(features).mean, atol=1e-10
    )
    # Outside a campaign: new structures go through the saved feature transform.
    new = _pool(21)[18:]
    np.testing.assert_allclose(
        loaded.predict(new).mean,  # type: ignore[attr-defined]
        surrogate.predict(new).mean,  # type: ignore[attr-defined]
        atol=1e-10,
    )


def test_fit_on_a_dataset_then_predict_structures() -> None:
    structures = tiny_structures(15)
    dataset = labelled_dataset(structures, mean_atomic_numbers(structures), ["z"])
    surrogate = build_surrogate(CONFIG, ["z"], [""])
    surrogate.fit(dataset)  # type: ignore[attr-defined]
    prediction = surrogate.predict(  # type: ignore[attr-defined]
        [Candidate(id="x", structure=structures[0])]
    )
    assert prediction.mean.shape == (1, 1)
    assert abs(float(prediction.mean[0, 0]) - float(mean_atomic_numbers(structures[:1])[0])) < 1.5


def test_domain_score_flags_a_far_candidate() -> None:
    from materials_ai.surrogates.domain import ApplicabilityDomain

    rng = np.random.default_rng(0)
    train = rng.uniform(0.0, 0.3, size=(40, 3))
    domain = ApplicabilityDomain.fit(train)
    scores = domain.score(np.vstack([train[:5] + 0.01, [[0.9, 0.9, 0.9]]]))
    assert np.all(scores[:5] < 1.0) and scores[5] > 3.0
    # 95 % of the training rows lie within their own threshold.
    own = domain.score(train)
    assert np.mean(own <= 1.0 + 1e-9) >= 0.95


def test_gp_predictions_carry_domain_scores_through_save_and_load(tmp_path: Path) -> None:
    pool = _pool()
    surrogate = build_surrogate(CONFIG, ["z"], [""])
    features = surrogate.featurize_pool(pool, source=None)
    z = mean_atomic_numbers([c.crystal for c in pool])[:, None]
    surrogate.fit_pool(features.select(np.arange(9)), z[:9])
    prediction = surrogate.predict_pool(features)
    assert prediction.domain is not None and prediction.domain.shape == (18,)
    assert prediction.select(np.array([0, 1])).domain is not None
    surrogate.save(tmp_path / "gp")
    again = load_surrogate(tmp_path / "gp").predict_pool(features)
    np.testing.assert_allclose(again.domain, prediction.domain)  # type: ignore[arg-type]


def test_saved_gp_names_what_its_features_were_pretrained_on(tmp_path: Path) -> None:
    import json

    pool = _pool(9)
    surrogate = build_surrogate(CONFIG, ["z"], [""])
    features = surrogate.featurize_pool(pool, source=None)
    surrogate.fit_pool(features, mean_atomic_numbers([c.crystal for c in pool])[:, None])
    surrogate.save(tmp_path / "gp")
    meta = json.loads((tmp_path / "gp" / "surrogate.json").read_text())
    provenance = meta["feature_provenance"]
    assert set(provenance) == {"mp2018_predictions"}  # composition has no pretrained part
    assert "MP-2018" in provenance["mp2018_predictions"]["pretraining_data"]


def test_predict_files_with_a_gp_reports_domain_and_unusable_files(tmp_path: Path) -> None:
    from pymatgen.core import Lattice, Structure

    from materials_ai.surrogates.files import predict_files

    pool = _pool(12)
    surrogate = build_surrogate(CONFIG, ["z"], [""])
    features = surrogate.featurize_pool(pool, source=None)
    surrogate.fit_pool(features, mean_atomic_numbers([c.crystal for c in pool])[:, None])
    surrogate.save(tmp_path / "gp")
    good = tmp_path / "si.cif"
    pool[0].crystal.to(filename=str(good))
    far = tmp_path / "far.cif"  # an element no training structure has, far away in features
    Structure(Lattice.cubic(4.2), ["Cs", "I"], [[0, 0, 0], [0.5, 0.5, 0.5]]).to(filename=str(far))
    broken = tmp_path / "broken.cif"
    broken.write_text("data_x\n_cell_length_a 3\n")
    table, errors = predict_files(tmp_path / "gp", [good, far, broken])
    assert table["file"].tolist() == [str(good), str(far)]
    assert [e[0] for e in errors] == [str(broken)]
    assert {"z_mean", "z_lo90", "domain_distance", "outside_domain"} <= set(table.columns)
    assert table["domain_distance"].iloc[1] > table["domain_distance"].iloc[0]
