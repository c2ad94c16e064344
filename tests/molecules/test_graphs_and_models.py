"""Molecular graphs through the dispatching builder, edge features, and the MolGNN."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch

from materials_ai.data import Molecule
from materials_ai.errors import GraphConstructionError
from materials_ai.graphs import GraphConfig, PackedGraphs, build_graphs, load_or_build_graphs
from materials_ai.graphs.builder import pool_kind
from materials_ai.graphs.cache import GRAPH_FORMAT_VERSION, graph_cache_key
from materials_ai.molecules.featurize import N_ATOM_FEATURES, N_BOND_FEATURES, molecule_to_arrays
from materials_ai.surrogates.config import CGCNNConfig, EnsembleConfig, MolGNNConfig, TrainingConfig
from materials_ai.surrogates.ensemble import GraphEnsembleSurrogate
from materials_ai.surrogates.training import build_model

SMILES = ["C", "CCO", "c1ccccc1", "OC(=O)C(F)(F)F", "C#N", "C1CC1"]


def _molecules() -> list[Molecule]:
    return [Molecule.from_smiles(s) for s in SMILES]


def test_molecule_arrays_are_the_heavy_atom_bond_graph() -> None:
    z, edges, dist, atoms, bonds = molecule_to_arrays(Molecule.from_smiles("CCO"))
    assert z.tolist() == [6, 6, 8]
    assert sorted(map(tuple, edges.T.tolist())) == [(0, 1), (1, 0), (1, 2), (2, 1)]
    assert (dist == 1.0).all()
    assert atoms.shape == (3, N_ATOM_FEATURES) and bonds.shape == (4, N_BOND_FEATURES)
    # Benzene: aromatic bonds flagged, conjugated, in a ring.
    *_, bonds = molecule_to_arrays(Molecule.from_smiles("c1ccccc1"))
    assert (bonds[:, 3] == 1).all() and (bonds[:, 4] == 1).all() and (bonds[:, 5] == 1).all()
    # Methane: one atom, no bonds, still a graph.
    z, edges, _, _, bonds = molecule_to_arrays(Molecule.from_smiles("C"))
    assert z.tolist() == [6] and edges.shape == (2, 0) and bonds.shape == (0, N_BOND_FEATURES)


def test_builder_dispatches_and_edge_attr_survives_every_operation(tmp_path: Path) -> None:
    mols = _molecules()
    graphs = build_graphs(mols, SMILES)
    assert pool_kind(mols) == "molecule"
    assert graphs.edge_attr is not None and graphs.node_features is not None
    assert graphs.edge_attr.shape == (graphs.edge_index.shape[1], N_BOND_FEATURES)
    sub = graphs.select([2, 0])
    assert sub.ids == ("c1ccccc1", "C") and sub.edge_attr.shape == (12, N_BOND_FEATURES)
    both = PackedGraphs.concat([graphs.select([0, 1]), graphs.select([2, 3, 4, 5])])
    np.testing.assert_array_equal(both.edge_attr, graphs.edge_attr)
    graphs.save(tmp_path / "g.npz")
    loaded = PackedGraphs.load(tmp_path / "g.npz")
    np.testing.assert_array_equal(loaded.edge_attr, graphs.edge_attr)
    batch = graphs.to_batch([1, 3])
    assert batch.edge_attr.shape[0] == batch.edge_index.shape[1]
    without = dataclasses.replace(graphs, edge_attr=None)
    with pytest.raises(ValueError, match="edge features"):
        PackedGraphs.concat([graphs, without])


def test_mixed_pool_is_refused(si_structure) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(GraphConstructionError, match="mixes structure kinds"):
        build_graphs([Molecule.from_smiles("C"), si_structure], ["a", "b"])


@pytest.fixture
def si_structure():  # type: ignore[no-untyped-def]
    from pymatgen.core import Lattice, Structure

    return Structure(Lattice.cubic(5.43), ["Si", "Si"], [[0, 0, 0], [0.25, 0.25, 0.25]])


def test_crystal_cache_key_is_unchanged_and_molecules_get_their_own() -> None:
    ids = ["a", "b"]
    config = GraphConfig()
    digest = hashlib.sha256()
    digest.update(f"v{GRAPH_FORMAT_VERSION}|src|{config.fingerprint()}|".encode())
    for i in ids:
        digest.update(i.encode() + b"\0")
    assert graph_cache_key("src", ids, config) == digest.hexdigest()[:20]
    assert graph_cache_key("src", ids, config, "molecule") != graph_cache_key("src", ids, config)


def test_load_or_build_caches_molecular_graphs(tmp_path: Path) -> None:
    mols = _molecules()
    first = load_or_build_graphs(mols, SMILES, GraphConfig(), source="t", cache_root=tmp_path)
    files = list((tmp_path / "graphs").glob("*.npz"))
    assert len(files) == 1
    again = load_or_build_graphs(mols, SMILES, GraphConfig(), source="t", cache_root=tmp_path)
    np.testing.assert_array_equal(first.edge_attr, again.edge_attr)


def test_model_registry_builds_either_network() -> None:
    assert EnsembleConfig.model_validate({"model": {"embedding_dim": 8}}).model.kind == "cgcnn"
    cfg = EnsembleConfig.model_validate({"model": {"kind": "mol_gnn", "hidden_dim": 8}})
    assert isinstance(cfg.model, MolGNNConfig)
    assert EnsembleConfig().model_dump(exclude_defaults=True) == {}  # fingerprints unchanged
    from materials_ai.molecules.gnn import MolGNN
    from materials_ai.surrogates.cgcnn import CGCNN

    assert isinstance(build_model(cfg.model, cfg.graph, 3), MolGNN)
    assert isinstance(build_model(CGCNNConfig(), GraphConfig(), 1), CGCNN)


@pytest.mark.parametrize("conv", ["gine", "gated"])
def test_mol_gnn_ensemble_trains_predicts_and_round_trips(conv: str, tmp_path: Path) -> None:
    torch.manual_seed(0)
    mols = _molecules() * 3
    ids = [f"m{i}" for i in range(len(mols))]
    graphs = build_graphs(mols, ids)
    y = np.array([[m.to_rdkit().GetNumAtoms(), 1.0] for m in mols], dtype=float)
    config = EnsembleConfig(
        n_members=2,
        model=MolGNNConfig(conv=conv, hidden_dim=8, n_layers=2, mlp_dim=8, n_mlp=1),  # type: ignore[arg-type]
        training=TrainingConfig(max_epochs=3, batch_size=4, min_val_size=2),
    )
    surrogate = GraphEnsembleSurrogate(config, ["n_heavy", "one"], ["", ""])
    report = surrogate.fit_graphs(graphs, y)
    assert report.n_train == len(mols)
    prediction = surrogate.predict_graphs(graphs)
    assert prediction.samples.shape == (2, len(mols), 2)
    assert np.isfinite(prediction.mean).all() and (prediction.std >= 0).all()
    surrogate.save(tmp_path / "model")
    loaded = GraphEnsembleSurrogate.load(tmp_path / "model")
    np.testing.assert_allclose(loaded.predict_graphs(graphs).mean, prediction.mean, rtol=1e-5)
    from materials_ai.data import Candidate

    via_candidates = loaded.predict([Candidate(i, m) for i, m in zip(ids, mols, strict=True)])
    np.testing.assert_allclose(via_candidates.mean, prediction.mean, rtol=1e-5)


def test_mol_gnn_refuses_crystal_graphs(si_structure) -> None:  # type: ignore[no-untyped-def]
    from materials_ai.molecules.gnn import MolGNN

    model = MolGNN(MolGNNConfig(hidden_dim=8, n_layers=1), 1)
    graphs = build_graphs([si_structure], ["si"])
    with pytest.raises(ValueError, match="molecular graphs"):
        model(graphs.to_batch())
