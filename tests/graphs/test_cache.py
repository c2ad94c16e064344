"""Disk cache of packed graphs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from materials_ai.graphs import GraphConfig, PackedGraphs, load_or_build_graphs
from materials_ai.graphs import cache as cache_module
from materials_ai.graphs.cache import GRAPH_FORMAT_VERSION, graph_cache_key
from materials_ai.testing.datasets import tiny_structures

IDS = ["a", "b", "c"]


def _assert_same(a: PackedGraphs, b: PackedGraphs) -> None:
    assert a.ids == b.ids
    for name in ("z", "edge_index", "edge_dist", "node_ptr", "edge_ptr"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def _forbid_building(monkeypatch: pytest.MonkeyPatch) -> None:
    def _fail(*args: object, **kwargs: object) -> PackedGraphs:
        raise AssertionError("graphs were rebuilt instead of loaded from the cache")

    monkeypatch.setattr(cache_module, "build_graphs", _fail)


def test_second_call_loads_from_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    structures = tiny_structures(3)
    first = load_or_build_graphs(
        structures, IDS, GraphConfig(), source="tiny@abc", cache_root=tmp_path
    )
    files = list((tmp_path / "graphs").glob("*.npz"))
    assert len(files) == 1
    assert files[0].stem == graph_cache_key("tiny@abc", IDS, GraphConfig())
    _forbid_building(monkeypatch)
    second = load_or_build_graphs(
        structures, IDS, GraphConfig(), source="tiny@abc", cache_root=tmp_path
    )
    _assert_same(first, second)


def test_use_cache_false_neither_reads_nor_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    structures = tiny_structures(3)
    load_or_build_graphs(
        structures, IDS, GraphConfig(), source="s", cache_root=tmp_path, use_cache=False
    )
    assert list(tmp_path.rglob("*.npz")) == []
    load_or_build_graphs(structures, IDS, GraphConfig(), source="s", cache_root=tmp_path)
    _forbid_building(monkeypatch)
    with pytest.raises(AssertionError, match="rebuilt"):
        load_or_build_graphs(
            structures, IDS, GraphConfig(), source="s", cache_root=tmp_path, use_cache=False
        )


def test_cache_root_defaults_to_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MATERIALS_AI_CACHE_DIR", str(tmp_path / "env-cache"))
    load_or_build_graphs(tiny_structures(3), IDS, GraphConfig(), source="env")
    assert len(list((tmp_path / "env-cache" / "graphs").glob("*.npz"))) == 1


def test_a_different_config_source_or_ids_gives_a_different_key() -> None:
    base = graph_cache_key("ds@sha", IDS, GraphConfig())
    assert base == graph_cache_key("ds@sha", IDS, GraphConfig())
    others = {
        graph_cache_key("ds@sha", IDS, GraphConfig(cutoff_angstrom=5.0)),
        graph_cache_key("ds@sha", IDS, GraphConfig(max_neighbors=8)),
        graph_cache_key("ds@other", IDS, GraphConfig()),
        graph_cache_key("ds@sha", ["a", "c", "b"], GraphConfig()),
        graph_cache_key("ds@sha", ["ab", "c"], GraphConfig()),  # no ambiguity in joining
        graph_cache_key("ds@sha", ["a", "bc"], GraphConfig()),
    }
    assert base not in others
    assert len(others) == 6
    assert len(base) == 20
    assert GRAPH_FORMAT_VERSION >= 1


def test_a_different_config_is_built_and_cached_separately(tmp_path: Path) -> None:
    structures = tiny_structures(3)
    wide = load_or_build_graphs(structures, IDS, GraphConfig(), source="s", cache_root=tmp_path)
    narrow = load_or_build_graphs(
        structures, IDS, GraphConfig(max_neighbors=4), source="s", cache_root=tmp_path
    )
    assert len(list((tmp_path / "graphs").glob("*.npz"))) == 2
    assert int(narrow.num_edges.sum()) < int(wide.num_edges.sum())
    assert narrow.num_edges.tolist() == [8, 20, 8]  # 4 per atom


def test_a_cache_file_with_other_ids_is_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    structures = tiny_structures(3)
    config = GraphConfig()
    key = graph_cache_key("s", IDS, config)
    # A stale file under the right key but holding other graphs (e.g. a hash collision).
    stale = load_or_build_graphs(
        tiny_structures(2), ["x", "y"], config, source="s", use_cache=False
    )
    stale.save(tmp_path / "graphs" / f"{key}.npz")
    graphs = load_or_build_graphs(structures, IDS, config, source="s", cache_root=tmp_path)
    assert graphs.ids == tuple(IDS)
    assert PackedGraphs.load(tmp_path / "graphs" / f"{key}.npz").ids == tuple(IDS)
