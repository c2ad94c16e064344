"""The MACE network: symmetry, use of directions, training in an ensemble, persistence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from pydantic import ValidationError
from pymatgen.core.operations import SymmOp

from materials_ai.errors import SurrogateError
from materials_ai.graphs import GraphConfig, PackedGraphs, build_graphs
from materials_ai.surrogates.config import EnsembleConfig, MACEConfig
from materials_ai.surrogates.ensemble import GraphEnsembleSurrogate
from materials_ai.surrogates.training import build_model
from materials_ai.testing.datasets import gaas_zincblende, srtio3_cubic, tiny_structures
from materials_ai.testing.models import (
    TINY_MACE,
    TINY_MACE_GRAPH,
    binary_zincblende_cells,
    mean_atomic_numbers,
    tiny_ensemble_config,
    zincblende_cell,
)


def _graphs(structures: list, config: GraphConfig = TINY_MACE_GRAPH) -> PackedGraphs:  # type: ignore[type-arg]
    return build_graphs(structures, [f"s{i}" for i in range(len(structures))], config)


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    torch.manual_seed(0)
    net = build_model(TINY_MACE, TINY_MACE_GRAPH, n_targets=2).double()
    net.eval()
    return net


def _predict(model: torch.nn.Module, graphs: PackedGraphs) -> np.ndarray:
    batch = graphs.to_batch()
    batch.edge_vec = batch.edge_vec.double()
    batch.edge_dist = batch.edge_dist.double()
    with torch.no_grad():
        return model(batch).numpy()  # type: ignore[no-any-return]


def test_output_shape_and_batch_independence(model: torch.nn.Module) -> None:
    structures = tiny_structures(5)
    together = _predict(model, _graphs(structures))
    assert together.shape == (5, 2)
    alone = np.vstack([_predict(model, _graphs([s])) for s in structures])
    np.testing.assert_allclose(together, alone, rtol=1e-10, atol=1e-12)


def test_predictions_are_invariant_to_rotation_translation_and_site_order(
    model: torch.nn.Module,
) -> None:
    structure = srtio3_cubic()
    structure.perturb(0.15, min_distance=0.05)  # break the cubic symmetry
    moved = structure.copy()
    moved.apply_operation(SymmOp.from_axis_angle_and_translation([1, -2, 0.5], 71.0))
    moved.translate_sites(list(range(len(moved))), [0.13, 0.29, 0.41])
    shuffled = structure.copy()
    shuffled = shuffled.get_sorted_structure(key=lambda site: -site.specie.Z)
    reference = _predict(model, _graphs([structure]))
    for other in (moved, shuffled):
        np.testing.assert_allclose(_predict(model, _graphs([other])), reference, rtol=1e-8)


def test_directions_matter_not_only_distances(model: torch.nn.Module) -> None:
    """Same distances, different angles: a distance-only network cannot tell them apart."""
    graphs = _graphs([gaas_zincblende()])
    assert graphs.edge_vec is not None
    reflected = PackedGraphs(
        **{**graphs.__dict__, "edge_vec": graphs.edge_vec * np.array([1, 1, -1], np.float32)}
    )
    # A mirror keeps every angle: the output must not change.
    np.testing.assert_allclose(_predict(model, reflected), _predict(model, graphs), rtol=1e-8)
    rng = np.random.default_rng(0)
    scrambled_vec = graphs.edge_vec.copy()
    for k in range(len(scrambled_vec)):  # rotate each edge on its own: angles change
        q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
        scrambled_vec[k] = q @ scrambled_vec[k]
    scrambled = PackedGraphs(**{**graphs.__dict__, "edge_vec": scrambled_vec})
    np.testing.assert_allclose(np.linalg.norm(scrambled_vec, axis=1), graphs.edge_dist, rtol=1e-5)
    assert np.abs(_predict(model, scrambled) - _predict(model, graphs)).max() > 1e-6


def test_graphs_without_vectors_are_refused(model: torch.nn.Module) -> None:
    graphs = _graphs([gaas_zincblende()], GraphConfig(cutoff_angstrom=5.0, max_neighbors=8))
    with pytest.raises(SurrogateError, match="edge_vectors"):
        model(graphs.to_batch())


def test_config_requires_edge_vectors_and_rejects_unknown_keys() -> None:
    with pytest.raises(ValidationError, match="edge_vectors"):
        EnsembleConfig(model=TINY_MACE, graph=GraphConfig())
    with pytest.raises(ValidationError):
        MACEConfig.model_validate({"kind": "mace", "chanels": 8})


@pytest.fixture(scope="module")
def trained() -> tuple[GraphEnsembleSurrogate, PackedGraphs, np.ndarray]:
    structures = binary_zincblende_cells(("C", "Si", "Ge"), (5.0, 5.5, 6.0))
    graphs = _graphs(structures)
    y = mean_atomic_numbers(structures)[:, None]
    config = tiny_ensemble_config(
        n_members=3,
        max_epochs=40,
        batch_size=9,
        learning_rate=1e-2,
        val_fraction=0.0,
        graph=TINY_MACE_GRAPH,
        model=TINY_MACE,
    )
    surrogate = GraphEnsembleSurrogate(config, ["mean_z"], ["e"])
    surrogate.fit_graphs(graphs, y)
    return surrogate, graphs, y


def test_an_ensemble_of_mace_members_learns_the_toy_target(
    trained: tuple[GraphEnsembleSurrogate, PackedGraphs, np.ndarray],
) -> None:
    surrogate, graphs, y = trained
    prediction = surrogate.predict_graphs(graphs)
    assert np.corrcoef(prediction.mean[:, 0], y[:, 0])[0, 1] > 0.95
    assert np.abs(prediction.mean - y).mean() < 0.25 * y.std()
    unseen = _graphs([zincblende_cell("Pb", "Te", 6.5), zincblende_cell("Cs", "I", 7.0)])
    assert surrogate.predict_graphs(unseen).std.mean() > 2.0 * prediction.std.mean()


def test_mace_ensemble_save_load_gives_identical_predictions(
    trained: tuple[GraphEnsembleSurrogate, PackedGraphs, np.ndarray], tmp_path: Path
) -> None:
    surrogate, graphs, _ = trained
    surrogate.save(tmp_path / "mace")
    loaded = GraphEnsembleSurrogate.load(tmp_path / "mace")
    assert loaded.config.model.kind == "mace"
    before, after = surrogate.predict_graphs(graphs), loaded.predict_graphs(graphs)
    assert before.samples is not None and after.samples is not None
    np.testing.assert_array_equal(after.samples, before.samples)
