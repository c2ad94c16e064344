"""Deep ensembles: fit, predict, uncertainty, determinism, persistence, warm starts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from materials_ai.compute import SerialExecutor
from materials_ai.data.records import Candidate
from materials_ai.errors import SurrogateError
from materials_ai.graphs import PackedGraphs, build_graphs
from materials_ai.surrogates import Surrogate
from materials_ai.surrogates.ensemble import CONFIG_FILE, WEIGHTS_FILE, GraphEnsembleSurrogate
from materials_ai.testing.models import (
    TINY_GRAPH,
    binary_zincblende_cells,
    labelled_dataset,
    mean_atomic_numbers,
    tiny_ensemble_config,
    zincblende_cell,
)

TRAIN_ELEMENTS = ("C", "Si", "Ge")


def _graphs(structures: list) -> PackedGraphs:  # type: ignore[type-arg]
    return build_graphs(structures, [f"s{i}" for i in range(len(structures))], TINY_GRAPH)


@pytest.fixture(scope="module")
def toy() -> tuple[PackedGraphs, np.ndarray]:
    """27 C/Si/Ge zinc-blende cells (3 lattice constants); target: mean atomic number."""
    structures = binary_zincblende_cells(TRAIN_ELEMENTS, (5.0, 5.5, 6.0))
    return _graphs(structures), mean_atomic_numbers(structures)[:, None]


@pytest.fixture(scope="module")
def held_out() -> tuple[PackedGraphs, np.ndarray]:
    """The same chemistry at unseen lattice constants (training-like, not trained on)."""
    structures = binary_zincblende_cells(TRAIN_ELEMENTS, (5.25, 5.75))
    return _graphs(structures), mean_atomic_numbers(structures)[:, None]


@pytest.fixture(scope="module")
def out_of_distribution() -> PackedGraphs:
    """Elements absent from training: CsI, PbTe, Pb, SnSb, BaO cells."""
    cells = [("Cs", "I", 7.0), ("Pb", "Te", 6.5), ("Pb", "Pb", 6.0), ("Sn", "Sb", 6.4)]
    cells.append(("Ba", "O", 5.5))
    return _graphs([zincblende_cell(a, b, lat) for a, b, lat in cells])


@pytest.fixture(scope="module")
def trained(toy: tuple[PackedGraphs, np.ndarray]) -> GraphEnsembleSurrogate:
    """Five members trained to convergence on the toy task (a few seconds)."""
    graphs, y = toy
    config = tiny_ensemble_config(
        n_members=5, max_epochs=50, batch_size=7, learning_rate=1e-2, val_fraction=0.0
    )
    surrogate = GraphEnsembleSurrogate(config, ["mean_z"], ["e"])
    surrogate.fit_graphs(graphs, y)
    return surrogate


# -- learning --------------------------------------------------------------------------------


def test_fit_reduces_every_members_loss(trained: GraphEnsembleSurrogate) -> None:
    report = trained.last_fit
    assert report is not None
    assert report.n_train == 27 and not report.warm_start
    assert len(report.members) == 5
    assert [m.seed for m in report.members] == [0, 1, 2, 3, 4]
    for member in report.members:
        losses = member.history["train_loss"]
        assert len(losses) == 50
        assert losses[-1] < 0.1 * losses[0]
    assert np.isnan(report.val_mae["mean_z"])  # no validation split was made


def test_predictions_correlate_with_the_target(
    trained: GraphEnsembleSurrogate,
    toy: tuple[PackedGraphs, np.ndarray],
    held_out: tuple[PackedGraphs, np.ndarray],
) -> None:
    for graphs, y in (toy, held_out):
        prediction = trained.predict_graphs(graphs)
        assert prediction.mean.shape == (len(graphs), 1)
        assert prediction.samples is not None and prediction.samples.shape == (5, len(graphs), 1)
        assert np.corrcoef(prediction.mean[:, 0], y[:, 0])[0, 1] > 0.95
        assert np.abs(prediction.mean - y).mean() < 0.25 * y.std()


def test_prediction_is_the_member_mean_and_unbiased_std(
    trained: GraphEnsembleSurrogate, held_out: tuple[PackedGraphs, np.ndarray]
) -> None:
    prediction = trained.predict_graphs(held_out[0])
    assert prediction.samples is not None
    np.testing.assert_allclose(prediction.mean, prediction.samples.mean(axis=0))
    np.testing.assert_allclose(prediction.std, prediction.samples.std(axis=0, ddof=1))
    # Members are different networks: they disagree somewhere.
    assert prediction.std.max() > 0


def test_ensemble_is_more_uncertain_out_of_distribution(
    trained: GraphEnsembleSurrogate,
    held_out: tuple[PackedGraphs, np.ndarray],
    out_of_distribution: PackedGraphs,
) -> None:
    std_in = trained.predict_graphs(held_out[0]).std.mean()
    std_out = trained.predict_graphs(out_of_distribution).std.mean()
    assert std_out > 2.0 * std_in


def test_predict_candidates_equals_predict_graphs(trained: GraphEnsembleSurrogate) -> None:
    structures = [zincblende_cell("Si", "C", 5.3), zincblende_cell("Ge", "Ge", 5.9)]
    candidates = [Candidate(f"c{i}", s) for i, s in enumerate(structures)]
    direct = trained.predict(candidates)
    via_graphs = trained.predict_graphs(_graphs(structures))
    np.testing.assert_array_equal(direct.mean, via_graphs.mean)
    assert direct.target_names == ("mean_z",)
    # Batching does not change predictions.
    small_batches = trained.predict_graphs(_graphs(structures), batch_size=1)
    np.testing.assert_allclose(small_batches.mean, direct.mean, rtol=1e-5)


def test_predict_an_empty_pool(trained: GraphEnsembleSurrogate) -> None:
    prediction = trained.predict_graphs(PackedGraphs.empty())
    assert len(prediction) == 0
    assert prediction.samples is not None and prediction.samples.shape == (5, 0, 1)


def test_is_a_surrogate(trained: GraphEnsembleSurrogate) -> None:
    assert isinstance(trained, Surrogate)
    assert trained.is_fitted


# -- persistence ------------------------------------------------------------------------------


def test_save_load_gives_identical_predictions(
    trained: GraphEnsembleSurrogate,
    held_out: tuple[PackedGraphs, np.ndarray],
    tmp_path: Path,
) -> None:
    trained.save(tmp_path / "model")
    loaded = GraphEnsembleSurrogate.load(tmp_path / "model")
    assert loaded.config == trained.config
    assert loaded.target_names == ("mean_z",) and loaded.target_units == ("e",)
    before = trained.predict_graphs(held_out[0])
    after = loaded.predict_graphs(held_out[0])
    assert after.samples is not None and before.samples is not None
    np.testing.assert_array_equal(after.samples, before.samples)


def test_recalibration_survives_save_and_load(
    trained: GraphEnsembleSurrogate,
    toy: tuple[PackedGraphs, np.ndarray],
    held_out: tuple[PackedGraphs, np.ndarray],
    tmp_path: Path,
) -> None:
    trained.save(tmp_path / "raw")
    surrogate = GraphEnsembleSurrogate.load(tmp_path / "raw")  # leave the fixture alone
    assert surrogate.error_distributions == {}
    surrogate.recalibrate(*toy)  # 27 rows: enough for an error distribution
    assert set(surrogate.std_scales) == set(surrogate.error_distributions) == {"mean_z"}
    surrogate.save(tmp_path / "recalibrated")
    loaded = GraphEnsembleSurrogate.load(tmp_path / "recalibrated")
    before = surrogate.predict_graphs(held_out[0])
    after = loaded.predict_graphs(held_out[0])
    assert set(after.errors) == {"mean_z"}
    np.testing.assert_array_equal(after.std, before.std)
    for a, b in zip(after.interval(0.9), before.interval(0.9), strict=True):
        np.testing.assert_array_equal(a, b)
    # A damaged quantile list is an error naming the file and the target.
    meta = json.loads((tmp_path / "recalibrated" / CONFIG_FILE).read_text())
    meta["error_quantiles"]["mean_z"] = meta["error_quantiles"]["mean_z"][:-1]
    (tmp_path / "recalibrated" / CONFIG_FILE).write_text(json.dumps(meta))
    with pytest.raises(SurrogateError, match=r"surrogate\.json: error_quantiles of 'mean_z'"):
        GraphEnsembleSurrogate.load(tmp_path / "recalibrated")


def test_saved_files_are_json_and_tensors_only(
    trained: GraphEnsembleSurrogate, tmp_path: Path
) -> None:
    trained.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [CONFIG_FILE, WEIGHTS_FILE, "domain.npz"]
    )
    with np.load(tmp_path / "domain.npz", allow_pickle=False) as domain:  # arrays only
        assert domain["train"].shape == (27, domain["mean"].shape[0])
    meta = json.loads((tmp_path / CONFIG_FILE).read_text())
    assert meta["format_version"] == 1
    assert meta["class"] == "GraphEnsembleSurrogate"
    assert meta["target_names"] == ["mean_z"]
    assert meta["config"]["n_members"] == 5
    assert meta["fit"]["n_train"] == 27
    weights = torch.load(tmp_path / WEIGHTS_FILE, weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in weights.values())
    assert {k.split(".", 1)[0] for k in weights} == {f"member{i}" for i in range(5)}
    assert "member3.convs.0.target_linear.weight" in weights


def test_load_without_surrogate_json_raises(tmp_path: Path) -> None:
    (tmp_path / WEIGHTS_FILE).write_bytes(b"not a model")
    with pytest.raises(SurrogateError, match=r"surrogate\.json not found"):
        GraphEnsembleSurrogate.load(tmp_path)


def test_load_of_another_format_version_raises(
    trained: GraphEnsembleSurrogate, tmp_path: Path
) -> None:
    trained.save(tmp_path)
    meta = json.loads((tmp_path / CONFIG_FILE).read_text())
    meta["format_version"] = 99
    (tmp_path / CONFIG_FILE).write_text(json.dumps(meta))
    with pytest.raises(SurrogateError, match="format version 99"):
        GraphEnsembleSurrogate.load(tmp_path)


def test_unfitted_surrogate_cannot_predict_or_save(tmp_path: Path) -> None:
    surrogate = GraphEnsembleSurrogate(tiny_ensemble_config(), ["a"])
    assert not surrogate.is_fitted
    with pytest.raises(SurrogateError, match="not fitted"):
        surrogate.predict_graphs(PackedGraphs.empty())
    with pytest.raises(SurrogateError, match="unfitted"):
        surrogate.save(tmp_path)
    with pytest.raises(SurrogateError, match="at least one target"):
        GraphEnsembleSurrogate(tiny_ensemble_config(), [])


# -- labels and errors ---------------------------------------------------------------------------


def test_partly_nan_target_trains_and_fully_nan_raises(
    toy: tuple[PackedGraphs, np.ndarray],
) -> None:
    graphs, y = toy
    surrogate = GraphEnsembleSurrogate(tiny_ensemble_config(max_epochs=2), ["a", "b"])
    partly = np.column_stack([y[:, 0], np.where(np.arange(len(y)) < 10, y[:, 0] * 2, np.nan)])
    surrogate.fit_graphs(graphs, partly)
    prediction = surrogate.predict_graphs(graphs.select([0, 1]))
    assert np.isfinite(prediction.mean).all()
    fully = np.column_stack([y[:, 0], np.full(len(y), np.nan)])
    with pytest.raises(SurrogateError, match=r"no finite label for target\(s\) \['b'\]"):
        surrogate.fit_graphs(graphs, fully)


def test_too_few_examples_raise(toy: tuple[PackedGraphs, np.ndarray]) -> None:
    graphs, y = toy
    surrogate = GraphEnsembleSurrogate(tiny_ensemble_config(), ["a"])
    with pytest.raises(SurrogateError, match="at least 2"):
        surrogate.fit_graphs(graphs.select([0]), y[:1])
    assert not surrogate.is_fitted


def test_fit_on_a_dataset_and_missing_target() -> None:
    structures = binary_zincblende_cells(("C", "Si"), (5.2, 5.6))
    y = mean_atomic_numbers(structures)[:, None]
    dataset = labelled_dataset(structures, y, ["mean_z"])
    surrogate = GraphEnsembleSurrogate(tiny_ensemble_config(max_epochs=2), ["mean_z"])
    report = surrogate.fit(dataset, executor=SerialExecutor(progress=False))
    assert report.n_train == 8
    assert len(surrogate.predict([r.as_candidate() for r in dataset.records])) == 8
    other = GraphEnsembleSurrogate(tiny_ensemble_config(), ["band_gap"])
    with pytest.raises(SurrogateError, match=r"lacks target\(s\) \['band_gap'\]"):
        other.fit(dataset)


# -- determinism -------------------------------------------------------------------------------


def test_same_seed_gives_identical_predictions_and_members_differ(
    toy: tuple[PackedGraphs, np.ndarray], held_out: tuple[PackedGraphs, np.ndarray]
) -> None:
    graphs, y = toy
    config = tiny_ensemble_config(n_members=2, max_epochs=3, seed=11)
    a = GraphEnsembleSurrogate(config, ["a"])
    b = GraphEnsembleSurrogate(config, ["a"])
    a.fit_graphs(graphs, y)
    b.fit_graphs(graphs, y, executor=SerialExecutor(progress=False))
    pa, pb = a.predict_graphs(held_out[0]), b.predict_graphs(held_out[0])
    assert pa.samples is not None and pb.samples is not None
    np.testing.assert_array_equal(pa.samples, pb.samples)
    # Member seeds 11 and 12 give different networks.
    assert not np.allclose(pa.samples[0], pa.samples[1])
    # Another ensemble seed or a seed offset gives other members.
    c = GraphEnsembleSurrogate(tiny_ensemble_config(n_members=2, max_epochs=3, seed=12), ["a"])
    c.fit_graphs(graphs, y)
    pc = c.predict_graphs(held_out[0])
    assert pc.samples is not None
    np.testing.assert_array_equal(pc.samples[0], pa.samples[1])  # seed 12 = a's member 1
    a.fit_graphs(graphs, y, seed_offset=1)
    assert [m.seed for m in a.last_fit.members] == [1011, 1012]  # type: ignore[union-attr]
    assert not np.allclose(a.predict_graphs(held_out[0]).mean, pa.mean)


# -- warm start -----------------------------------------------------------------------------------


def test_warm_start_continues_from_the_existing_weights(
    toy: tuple[PackedGraphs, np.ndarray],
) -> None:
    graphs, y = toy
    config = tiny_ensemble_config(
        n_members=2,
        max_epochs=20,
        batch_size=7,
        learning_rate=1e-2,
        val_fraction=0.0,
        warm_start_epochs=3,
    )
    surrogate = GraphEnsembleSurrogate(config, ["mean_z"])
    cold = surrogate.fit_graphs(graphs, y, warm_start=True)  # nothing to continue from yet
    assert not cold.warm_start
    assert [m.epochs for m in cold.members] == [20, 20]
    warm = surrogate.fit_graphs(graphs, y, warm_start=True)
    assert warm.warm_start
    assert [m.epochs for m in warm.members] == [3, 3]
    for cold_member, warm_member in zip(cold.members, warm.members, strict=True):
        first_cold = cold_member.history["train_loss"][0]
        assert warm_member.history["train_loss"][0] < 0.25 * first_cold
        # Continuing does not undo the training: the loss stays far below a fresh start's.
        assert warm_member.history["train_loss"][-1] < 0.25 * first_cold
    fresh = surrogate.fit_graphs(graphs, y)  # warm_start=False: a fresh initialisation
    assert not fresh.warm_start and [m.epochs for m in fresh.members] == [20, 20]
    assert fresh.members[0].history["train_loss"] == cold.members[0].history["train_loss"]


# -- applicability domain (issue 15) ---------------------------------------------------------


def test_domain_scores_new_chemistry_above_training_chemistry(
    trained: GraphEnsembleSurrogate,
    held_out: tuple[PackedGraphs, np.ndarray],
    out_of_distribution: PackedGraphs,
) -> None:
    inside = trained.predict_graphs(held_out[0]).domain
    outside = trained.predict_graphs(out_of_distribution).domain
    assert inside is not None and outside is not None
    assert inside.shape == (len(held_out[0]),) and outside.shape == (len(out_of_distribution),)
    assert np.median(inside) < 1.0 < np.median(outside)
    assert outside.min() > inside.max()


def test_domain_is_saved_and_reloaded(
    trained: GraphEnsembleSurrogate, out_of_distribution: PackedGraphs, tmp_path: Path
) -> None:
    trained.save(tmp_path / "model")
    assert (tmp_path / "model" / "domain.npz").exists()
    loaded = GraphEnsembleSurrogate.load(tmp_path / "model")
    before = trained.predict_graphs(out_of_distribution).domain
    after = loaded.predict_graphs(out_of_distribution).domain
    assert before is not None and after is not None
    np.testing.assert_allclose(after, before, rtol=1e-4)


def test_domain_column_in_the_prediction_table(
    trained: GraphEnsembleSurrogate, out_of_distribution: PackedGraphs
) -> None:
    table = trained.predict_graphs(out_of_distribution).to_dataframe()
    assert "domain_distance" in table.columns
    assert table["outside_domain"].all()
