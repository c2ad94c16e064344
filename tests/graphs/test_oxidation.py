"""Oxidation-state site features."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from materials_ai.graphs import GraphConfig, PackedGraphs, build_graphs
from materials_ai.graphs.oxidation import site_oxidation_features, valence_electrons_left
from materials_ai.testing.datasets import srtio3_cubic


@pytest.mark.parametrize(
    ("symbol", "state", "left"),
    [
        ("Ti", 4, 0),
        ("Nb", 5, 0),
        ("Fe", 3, 5),
        ("Ga", 3, 0),
        ("Sn", 4, 0),
        ("Sn", 2, 2),
        ("Bi", 3, 2),
        ("Cu", 1, 10),
        ("Zn", 2, 10),
        ("Sr", 2, 0),
        ("O", -2, 0),
        ("La", 3, 0),
    ],
)
def test_valence_electrons_left(symbol: str, state: int, left: int) -> None:
    assert valence_electrons_left(symbol, state) == left


def _perovskite(a: str, b: str, x: str = "O") -> Structure:
    return Structure(
        Lattice.cubic(3.9),
        [a, b, x, x, x],
        [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]],
    )


def test_srtio3_is_closed_shell_and_balanced() -> None:
    features = site_oxidation_features(srtio3_cubic())
    np.testing.assert_array_equal(features[:, 0], [2, 4, -2, -2, -2])
    np.testing.assert_array_equal(features[:, 1], [0, 0, 0, 0, 0])
    assert (features[:, 2] == 1).all()


def test_open_shell_b_cation_keeps_d_electrons() -> None:
    features = site_oxidation_features(_perovskite("La", "Fe"))  # La3+ Fe3+: d5
    assert features[1, 0] == 3 and features[1, 1] == 5


def test_unbalanceable_composition_is_flagged() -> None:
    features = site_oxidation_features(_perovskite("Na", "K"))  # Na+ K+ cannot balance O3
    assert (features[:, 2] == 0).all()
    assert (features[:, 1] == -1).all()


def test_graphs_carry_site_features_through_select_batch_and_disk(tmp_path: Path) -> None:
    config = GraphConfig(site_features=("oxidation",))
    assert config.n_site_features == 3
    graphs = build_graphs([srtio3_cubic(), _perovskite("La", "Fe")], ["a", "b"], config)
    assert graphs.node_features is not None and graphs.node_features.shape == (10, 3)
    batch = graphs.to_batch([1])
    assert batch.node_features.shape == (5, 3)
    assert float(batch.node_features[1, 1]) == 5.0
    assert graphs.select([1]).node_features.shape == (5, 3)
    graphs.save(tmp_path / "g.npz")
    np.testing.assert_array_equal(
        PackedGraphs.load(tmp_path / "g.npz").node_features, graphs.node_features
    )
    plain = build_graphs([srtio3_cubic()], ["c"], GraphConfig())
    assert plain.node_features is None
    with pytest.raises(ValueError, match="with and without node features"):
        PackedGraphs.concat([graphs, plain])
    assert config.fingerprint() != GraphConfig().fingerprint()


def test_model_refuses_graphs_without_the_features_it_was_built_for() -> None:
    from materials_ai.surrogates.config import CGCNNConfig
    from materials_ai.surrogates.training import build_model

    config = GraphConfig(site_features=("oxidation",))
    model = build_model(
        CGCNNConfig(embedding_dim=8, n_conv=1, n_gaussians=8, hidden_dim=8), config, 1
    )
    with_features = build_graphs([srtio3_cubic()], ["a"], config)
    assert model(with_features.to_batch()).shape == (1, 1)
    without = build_graphs([srtio3_cubic()], ["a"], GraphConfig())
    with pytest.raises(ValueError, match="site features"):
        model(without.to_batch())
