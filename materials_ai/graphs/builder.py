"""Structure -> neighbour arrays, one structure at a time or a whole pool."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from materials_ai.errors import GraphConstructionError
from materials_ai.graphs.config import GraphConfig
from materials_ai.graphs.packed import PackedGraphs

if TYPE_CHECKING:
    from pymatgen.core import Structure

    from materials_ai.compute import Executor

#: Arrays of one graph: atomic numbers `n`, edge index `2 x e` (local), distances `e` (Å).
GraphArrays = tuple[np.ndarray, np.ndarray, np.ndarray]


def _neighbor_arrays(
    structure: Structure, cutoff: float, max_neighbors: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (center, neighbour, distance) of the ``max_neighbors`` nearest per atom."""
    centers, neighbors, _images, distances = structure.get_neighbor_list(r=cutoff)
    centers = np.asarray(centers, dtype=np.int64)
    neighbors = np.asarray(neighbors, dtype=np.int64)
    distances = np.asarray(distances, dtype=np.float64)
    if centers.size == 0:
        return centers, neighbors, distances
    # Sort by center, then distance, then neighbour index: deterministic truncation.
    order = np.lexsort((neighbors, np.round(distances, 8), centers))
    centers, neighbors, distances = centers[order], neighbors[order], distances[order]
    starts = np.searchsorted(centers, centers, side="left")
    rank = np.arange(centers.size) - starts
    keep = rank < max_neighbors
    return centers[keep], neighbors[keep], distances[keep]


def structure_to_arrays(
    structure: Structure, config: GraphConfig | None = None, structure_id: str = ""
) -> GraphArrays:
    """Convert one structure to graph arrays.

    Edges point from neighbour (source, row 0) to centre atom (target, row 1), the
    torch-geometric convention for messages flowing into the centre.

    Args:
        structure: An ordered crystal structure.
        config: Graph settings; defaults to :class:`GraphConfig` ().
        structure_id: Used in error messages only.

    Returns:
        ``(z, edge_index, edge_dist)``: atomic numbers `n` (int64), edge index `2 x e`
        (int64, local atom indices), distances `e` (float32, Å).

    Raises:
        GraphConstructionError: If the structure is disordered, empty, or keeps an
            isolated atom under the configured policy.
    """
    config = config or GraphConfig()
    label = f"structure {structure_id!r}" if structure_id else "structure"
    if len(structure) == 0:
        raise GraphConstructionError(f"{label} has no sites")
    if not structure.is_ordered:
        raise GraphConstructionError(
            f"{label} is disordered (partial occupancies); order it before building a graph"
        )
    z = np.array([site.specie.Z for site in structure], dtype=np.int64)
    cutoff = config.cutoff_angstrom
    while True:
        centers, neighbors, distances = _neighbor_arrays(structure, cutoff, config.max_neighbors)
        isolated = np.setdiff1d(np.arange(len(structure)), centers)
        if isolated.size == 0:
            break
        if config.isolated_atom_policy == "error" or cutoff >= config.max_cutoff_angstrom:
            sites = ", ".join(f"{i} ({structure[int(i)].specie})" for i in isolated[:5])
            raise GraphConstructionError(
                f"{label}: atom(s) {sites} have no neighbour within {cutoff:.2f} Å "
                f"(policy {config.isolated_atom_policy!r}, max cutoff "
                f"{config.max_cutoff_angstrom} Å)"
            )
        cutoff = min(cutoff * config.expansion_factor, config.max_cutoff_angstrom)
    edge_index = np.stack([neighbors, centers]).astype(np.int64)
    return z, edge_index, distances.astype(np.float32)


def site_features(structure: Structure, config: GraphConfig) -> np.ndarray | None:
    """Extra atom features asked for by ``config.site_features`` (`n x f`), or None."""
    if not config.site_features:
        return None
    from materials_ai.graphs.oxidation import site_oxidation_features

    return site_oxidation_features(structure)


def _build_chunk(args: tuple[Sequence[Structure], Sequence[str], GraphConfig]) -> PackedGraphs:
    structures, ids, config = args
    arrays = [structure_to_arrays(s, config, i) for s, i in zip(structures, ids, strict=True)]
    features = None
    if config.site_features:
        features = [site_features(s, config) for s in structures]
    return PackedGraphs.from_arrays(arrays, ids=list(ids), node_features=features)  # type: ignore[arg-type]


def build_graphs(
    structures: Sequence[Structure],
    ids: Sequence[str],
    config: GraphConfig | None = None,
    *,
    executor: Executor | None = None,
    chunk_size: int = 2000,
) -> PackedGraphs:
    """Build the graphs of many structures, optionally in parallel.

    Args:
        structures: `n` ordered structures.
        ids: `n` identifiers (kept on the result, used in error messages).
        config: Graph settings.
        executor: Runs chunks in parallel when given (e.g. a Dask executor).
        chunk_size: Structures per task.

    Returns:
        The packed graphs, in input order.
    """
    if len(structures) != len(ids):
        raise ValueError(f"{len(structures)} structures but {len(ids)} ids")
    config = config or GraphConfig()
    chunks = [
        (structures[i : i + chunk_size], ids[i : i + chunk_size], config)
        for i in range(0, len(structures), chunk_size)
    ]
    if not chunks:
        return PackedGraphs.empty()
    if executor is None:
        parts = [_build_chunk(chunk) for chunk in chunks]
    else:
        parts = executor.map(_build_chunk, chunks, desc="building graphs")
    return PackedGraphs.concat(parts)
