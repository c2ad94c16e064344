"""PackedGraphs: packing, slicing, concatenation, batching and the .npz round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from materials_ai.graphs import GraphConfig, PackedGraphs, build_graphs, structure_to_arrays
from materials_ai.testing.datasets import tiny_structures

FIELDS = ("z", "edge_index", "edge_dist", "node_ptr", "edge_ptr")


def _assert_same(a: PackedGraphs, b: PackedGraphs) -> None:
    assert a.ids == b.ids
    for name in FIELDS:
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype, name
        np.testing.assert_array_equal(x, y, err_msg=name)


@pytest.fixture(scope="module")
def arrays() -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Graphs of Si, SrTiO3, GaAs, Si', SrTiO3' (2, 5, 2, 2, 5 atoms)."""
    config = GraphConfig(cutoff_angstrom=5.0, max_neighbors=6)
    return [structure_to_arrays(s, config) for s in tiny_structures(5)]


@pytest.fixture(scope="module")
def pool(arrays: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> PackedGraphs:
    return PackedGraphs.from_arrays(arrays, ids=[f"g{i}" for i in range(len(arrays))])


def test_from_arrays_pointers_and_counts(
    pool: PackedGraphs, arrays: list[tuple[np.ndarray, np.ndarray, np.ndarray]]
) -> None:
    assert len(pool) == 5
    assert pool.num_atoms.tolist() == [2, 5, 2, 2, 5]
    assert pool.num_edges.tolist() == [a[1].shape[1] for a in arrays]
    assert pool.node_ptr.tolist() == [0, 2, 7, 9, 11, 16]
    assert pool.edge_ptr[-1] == pool.edge_index.shape[1] == len(pool.edge_dist)
    assert pool.z.dtype == np.int64 and pool.edge_dist.dtype == np.float32
    # Edge indices stay local: each graph's indices are below its own atom count.
    for g in range(5):
        e = pool.edge_index[:, pool.edge_ptr[g] : pool.edge_ptr[g + 1]]
        assert e.min() >= 0 and e.max() < pool.num_atoms[g]


def test_from_arrays_rejects_mismatched_ids(
    arrays: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
) -> None:
    with pytest.raises(ValueError, match="5 graphs but 2 ids"):
        PackedGraphs.from_arrays(arrays, ids=["a", "b"])


def test_select_returns_the_graphs_in_the_requested_order(
    pool: PackedGraphs, arrays: list[tuple[np.ndarray, np.ndarray, np.ndarray]]
) -> None:
    order = [3, 1, 1, 0]
    sub = pool.select(order)
    assert sub.ids == ("g3", "g1", "g1", "g0")
    expected = PackedGraphs.from_arrays([arrays[i] for i in order], ids=sub.ids)
    _assert_same(sub, expected)


def test_select_nothing_gives_an_empty_pool(pool: PackedGraphs) -> None:
    sub = pool.select(np.zeros(0, dtype=np.int64))
    assert len(sub) == 0
    assert sub.node_ptr.tolist() == [0] and sub.edge_ptr.tolist() == [0]
    assert sub.z.size == 0 and sub.edge_index.shape == (2, 0)


def test_concat_of_parts_equals_the_whole(pool: PackedGraphs) -> None:
    parts = [pool.select([0, 1]), PackedGraphs.empty(), pool.select([2]), pool.select([3, 4])]
    _assert_same(PackedGraphs.concat(parts), pool)


def test_concat_of_nothing_or_empties_is_empty() -> None:
    assert len(PackedGraphs.concat([])) == 0
    merged = PackedGraphs.concat([PackedGraphs.empty(), PackedGraphs.empty()])
    _assert_same(merged, PackedGraphs.empty())


def test_from_arrays_of_nothing_is_empty() -> None:
    _assert_same(PackedGraphs.from_arrays([], ids=[]), PackedGraphs.empty())


def test_to_batch_matches_graphs_built_one_by_one(
    pool: PackedGraphs, arrays: list[tuple[np.ndarray, np.ndarray, np.ndarray]]
) -> None:
    import torch

    order = [4, 0, 2]
    batch = pool.to_batch(order)
    assert batch.num_graphs == 3
    assert batch.num_nodes == 5 + 2 + 2
    assert batch.batch.tolist() == [0] * 5 + [1] * 2 + [2] * 2
    assert batch.z.dtype == torch.long and batch.edge_index.dtype == torch.long
    assert batch.edge_dist.dtype == torch.float32
    node_start = 0
    edge_start = 0
    for g, i in enumerate(order):
        z, edge_index, dist = arrays[i]
        n, e = len(z), edge_index.shape[1]
        np.testing.assert_array_equal(batch.z[node_start : node_start + n].numpy(), z)
        got = batch.edge_index[:, edge_start : edge_start + e].numpy()
        # Global indices: local ones shifted by the graph's first atom in the batch.
        np.testing.assert_array_equal(got, edge_index + node_start)
        assert (batch.batch[got.ravel()] == g).all()  # edges never cross graphs
        np.testing.assert_array_equal(batch.edge_dist[edge_start : edge_start + e].numpy(), dist)
        node_start += n
        edge_start += e
    assert edge_start == batch.edge_index.shape[1]


def test_to_batch_defaults_to_every_graph(pool: PackedGraphs) -> None:
    batch = pool.to_batch()
    assert batch.num_graphs == len(pool)
    assert batch.num_nodes == int(pool.num_atoms.sum())
    assert batch.edge_index.shape[1] == int(pool.num_edges.sum())
    # The last graph's atoms are reached: indices span the whole batch.
    assert int(batch.edge_index.min()) == 0
    assert int(batch.edge_index.max()) == batch.num_nodes - 1


def test_to_batch_of_an_empty_selection_is_an_empty_batch(pool: PackedGraphs) -> None:
    batch = pool.to_batch(np.zeros(0, dtype=np.int64))
    assert batch.num_graphs == 0
    assert batch.edge_index.shape == (2, 0)


def test_save_load_round_trip_without_pickle(pool: PackedGraphs, tmp_path: Path) -> None:
    path = tmp_path / "sub" / "pool.npz"
    pool.save(path)
    assert path.exists()
    assert not list(path.parent.glob("*.tmp*"))  # the atomic write left no temporary file
    with np.load(path, allow_pickle=False) as data:  # would raise on object arrays
        assert set(data.files) == {*FIELDS, "ids"}
        assert data["ids"].dtype.kind == "U"
    _assert_same(PackedGraphs.load(path), pool)


def test_save_load_empty_pool(tmp_path: Path) -> None:
    path = tmp_path / "empty.npz"
    PackedGraphs.empty().save(path)
    loaded = PackedGraphs.load(path)
    _assert_same(loaded, PackedGraphs.empty())
    assert len(loaded) == 0


def test_built_pool_round_trips(tmp_path: Path) -> None:
    graphs = build_graphs(tiny_structures(4), ["mp-1", "mp-2", "odd id with spaces", "é"])
    graphs.save(tmp_path / "g.npz")
    _assert_same(PackedGraphs.load(tmp_path / "g.npz"), graphs)


def test_edge_vectors_follow_select_concat_batch_and_round_trip(tmp_path: Path) -> None:
    config = GraphConfig(cutoff_angstrom=5.0, max_neighbors=6, edge_vectors=True)
    graphs = build_graphs(tiny_structures(5), [f"g{i}" for i in range(5)], config)
    assert graphs.edge_vec is not None
    order = np.array([3, 0, 4])
    part = graphs.select(order)
    assert part.edge_vec is not None
    for j, i in enumerate(order):
        a, b = graphs.edge_ptr[i], graphs.edge_ptr[i + 1]
        c, d = part.edge_ptr[j], part.edge_ptr[j + 1]
        np.testing.assert_array_equal(part.edge_vec[c:d], graphs.edge_vec[a:b])
    whole = PackedGraphs.concat([graphs.select([0, 1]), graphs.select([2, 3, 4])])
    np.testing.assert_array_equal(whole.edge_vec, graphs.edge_vec)  # type: ignore[arg-type]
    batch = graphs.to_batch(order)
    np.testing.assert_array_equal(batch.edge_vec.numpy(), part.edge_vec)
    graphs.save(tmp_path / "v.npz")
    loaded = PackedGraphs.load(tmp_path / "v.npz")
    np.testing.assert_array_equal(loaded.edge_vec, graphs.edge_vec)  # type: ignore[arg-type]
    plain = build_graphs(tiny_structures(2), ["x", "y"], GraphConfig(cutoff_angstrom=5.0))
    with pytest.raises(ValueError, match="edge vectors"):
        PackedGraphs.concat([graphs, plain])
