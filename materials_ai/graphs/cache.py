"""Disk cache of packed graphs, keyed by the structures' ids, source and graph settings."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from materials_ai.graphs.builder import build_graphs
from materials_ai.graphs.config import GraphConfig
from materials_ai.graphs.packed import PackedGraphs
from materials_ai.settings import cache_dir

if TYPE_CHECKING:
    from pymatgen.core import Structure

    from materials_ai.compute import Executor
    from materials_ai.data.records import Molecule

logger = logging.getLogger(__name__)

#: Bump when the graph construction changes, so old caches are not reused.
GRAPH_FORMAT_VERSION = 1


def graph_cache_key(
    source: str, ids: Sequence[str], config: GraphConfig, kind: str = "crystal"
) -> str:
    """Return the cache key for graphs of ``ids`` from ``source`` under ``config``.

    Args:
        source: Something that identifies the structures' origin uniquely, e.g. a dataset
            name with its file's sha256.
        ids: Structure ids, in order.
        config: Graph settings.
        kind: Structure kind; every kind but ``crystal`` (whose keys are unchanged) adds
            its name and featurizer version to the key.
    """
    digest = hashlib.sha256()
    if kind != "crystal":
        from materials_ai.graphs.builder import GRAPH_FEATURIZERS

        digest.update(f"{kind}-v{GRAPH_FEATURIZERS.get(kind).version}|".encode())
    digest.update(f"v{GRAPH_FORMAT_VERSION}|{source}|{config.fingerprint()}|".encode())
    for i in ids:
        digest.update(i.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:20]


def load_or_build_graphs(
    structures: Sequence[Structure | Molecule],
    ids: Sequence[str],
    config: GraphConfig,
    *,
    source: str,
    cache_root: str | Path | None = None,
    executor: Executor | None = None,
    use_cache: bool = True,
) -> PackedGraphs:
    """Return the graphs of ``structures``, from the disk cache when present.

    Graphs are built by the featurizer of the structures' kind (crystal or molecule, see
    :func:`materials_ai.graphs.builder.build_graphs`).

    Args:
        structures: `n` structures (crystals or molecules).
        ids: `n` ids (part of the cache key).
        config: Graph settings (part of the cache key).
        source: Origin of the structures (part of the cache key; include a checksum).
        cache_root: Cache folder; default ``settings.cache_dir()``.
        executor: Optional parallel executor for building.
        use_cache: Read and write the cache.
    """
    from materials_ai.graphs.builder import pool_kind

    key = graph_cache_key(source, ids, config, pool_kind(structures))
    path = cache_dir(cache_root) / "graphs" / f"{key}.npz"
    if use_cache and path.exists():
        graphs = PackedGraphs.load(path)
        if graphs.ids == tuple(ids):
            logger.info("loaded %d graphs from %s", len(graphs), path)
            return graphs
        logger.warning("graph cache %s does not match the requested ids; rebuilding", path)
    graphs = build_graphs(structures, ids, config, executor=executor)
    if use_cache:
        graphs.save(path)
        logger.info("cached %d graphs in %s", len(graphs), path)
    return graphs
