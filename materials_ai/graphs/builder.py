"""Structure -> graph arrays, one structure at a time or a whole pool.

:func:`build_graphs` dispatches on the kind of the structures (see
:func:`materials_ai.data.records.structure_kind`) through a registry of featurizers:
``crystal`` builds periodic neighbour graphs here; ``molecule`` builds RDKit atom/bond
graphs (:mod:`materials_ai.molecules.featurize`). Featurizers are named by import path and
resolved on first use, so importing this module never imports RDKit.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from materials_ai.errors import GraphConstructionError
from materials_ai.graphs.config import GraphConfig
from materials_ai.graphs.packed import PackedGraphs
from materials_ai.registry import Registry

if TYPE_CHECKING:
    from pymatgen.core import Structure

    from materials_ai.compute import Executor

#: Arrays of one graph: atomic numbers `n`, edge index `2 x e` (local), distances `e` (Å).
GraphArrays = tuple[np.ndarray, np.ndarray, np.ndarray]


def _neighbor_arrays(
    structure: Structure, cutoff: float, max_neighbors: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return (center, neighbour, image, distance) of the ``max_neighbors`` nearest per atom.

    ``image`` (`e x 3`, integer lattice translations) places the neighbour's periodic copy.
    """
    centers, neighbors, images, distances = structure.get_neighbor_list(r=cutoff)
    centers = np.asarray(centers, dtype=np.int64)
    neighbors = np.asarray(neighbors, dtype=np.int64)
    images = np.asarray(images, dtype=np.float64).reshape(-1, 3)
    distances = np.asarray(distances, dtype=np.float64)
    if centers.size == 0:
        return centers, neighbors, images, distances
    # Sort by center, then distance, then neighbour index: deterministic truncation.
    order = np.lexsort((neighbors, np.round(distances, 8), centers))
    centers, neighbors, distances = centers[order], neighbors[order], distances[order]
    images = images[order]
    starts = np.searchsorted(centers, centers, side="left")
    rank = np.arange(centers.size) - starts
    keep = rank < max_neighbors
    return centers[keep], neighbors[keep], images[keep], distances[keep]


def structure_to_arrays(
    structure: Structure, config: GraphConfig | None = None, structure_id: str = ""
) -> GraphArrays:
    """Convert one structure to graph arrays (see :func:`structure_to_graph`)."""
    return structure_to_graph(structure, config, structure_id)[0]


def structure_to_graph(
    structure: Structure, config: GraphConfig | None = None, structure_id: str = ""
) -> tuple[GraphArrays, np.ndarray | None]:
    """Convert one structure to graph arrays.

    Edges point from neighbour (source, row 0) to centre atom (target, row 1), the
    torch-geometric convention for messages flowing into the centre.

    Args:
        structure: An ordered crystal structure.
        config: Graph settings; defaults to :class:`GraphConfig` ().
        structure_id: Used in error messages only.

    Returns:
        ``((z, edge_index, edge_dist), edge_vec)``: atomic numbers `n` (int64), edge
        index `2 x e` (int64, local atom indices), distances `e` (float32, Å); and, when
        ``config.edge_vectors``, the edge vectors `e x 3` (float32, Å, centre to
        neighbour image), else None.

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
        centers, neighbors, images, distances = _neighbor_arrays(
            structure, cutoff, config.max_neighbors
        )
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
    vectors = None
    if config.edge_vectors:
        cart = structure.cart_coords
        vectors = (cart[neighbors] + images @ structure.lattice.matrix - cart[centers]).astype(
            np.float32
        )
    return (z, edge_index, distances.astype(np.float32)), vectors


def site_features(structure: Structure, config: GraphConfig) -> np.ndarray | None:
    """Extra atom features asked for by ``config.site_features`` (`n x f`), or None."""
    if not config.site_features:
        return None
    from materials_ai.graphs.oxidation import site_oxidation_features

    return site_oxidation_features(structure)


def crystal_graphs(
    structures: Sequence[Structure],
    ids: Sequence[str],
    config: GraphConfig,
    *,
    failures: list[tuple[int, str, str]] | None = None,
) -> PackedGraphs:
    """Build the graphs of crystals in this process (edge vectors, site features included).

    Args:
        structures: `n` ordered structures.
        ids: `n` identifiers.
        config: Graph settings.
        failures: If given, a structure whose graph cannot be built is skipped and
            ``(row, id, reason)`` appended here; otherwise the error propagates.

    Returns:
        The graphs of the structures that were built, in input order.
    """
    arrays: list[GraphArrays] = []
    vectors: list[np.ndarray] = []
    kept: list[str] = []
    built: list[Structure] = []
    for row, (structure, structure_id) in enumerate(zip(structures, ids, strict=True)):
        try:
            graph, vec = structure_to_graph(structure, config, structure_id)
        except GraphConstructionError as exc:
            if failures is None:
                raise
            failures.append((row, str(structure_id), str(exc)))
            continue
        arrays.append(graph)
        if vec is not None:
            vectors.append(vec)
        kept.append(structure_id)
        built.append(structure)
    features = None
    if config.site_features:
        features = [site_features(s, config) for s in built]
    return PackedGraphs.from_arrays(
        arrays,
        ids=kept,
        node_features=features,  # type: ignore[arg-type]
        edge_vec=vectors if config.edge_vectors else None,
    )


def _build_chunk(args: tuple[Sequence[Structure], Sequence[str], GraphConfig]) -> PackedGraphs:
    structures, ids, config = args
    return crystal_graphs(structures, ids, config)


@dataclass(frozen=True)
class Featurizer:
    """How structures of one kind become graphs.

    Attributes:
        target: ``"module:function"``; the function takes one chunk
            ``(structures, ids, config)`` and returns its :class:`PackedGraphs`.
        version: Bumped when the featurizer's output changes; part of the graph cache key
            of every kind except ``crystal`` (whose key predates the registry).
    """

    target: str
    version: int = 1

    def load(self) -> Callable[[tuple[Sequence[Any], Sequence[str], GraphConfig]], PackedGraphs]:
        """Import and return the chunk function."""
        module, _, name = self.target.partition(":")
        return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


#: Structure kind -> featurizer. Register another kind with :func:`register_featurizer`;
#: the molecular plugin (:mod:`materials_ai.molecules.registration`) registers ``molecule``.
GRAPH_FEATURIZERS: Registry[Featurizer] = Registry("graph featurizer")
GRAPH_FEATURIZERS.add("crystal", Featurizer("materials_ai.graphs.builder:_build_chunk"))


def register_featurizer(kind: str, target: str, version: int = 1) -> None:
    """Register (or replace) the featurizer of structures of ``kind``."""
    GRAPH_FEATURIZERS.add(kind, Featurizer(target, version), replace=True)


def pool_kind(structures: Sequence[Any]) -> str:
    """Return the one kind (``crystal``, ``molecule``) of ``structures``.

    Raises:
        GraphConstructionError: If the pool mixes kinds or the kind has no featurizer.
    """
    from materials_ai.data.records import structure_kind

    kinds = {structure_kind(s) for s in structures} or {"crystal"}
    if len(kinds) > 1:
        raise GraphConstructionError(
            f"a pool mixes structure kinds {sorted(kinds)}; build each kind separately"
        )
    kind = kinds.pop()
    if kind not in GRAPH_FEATURIZERS:
        raise GraphConstructionError(
            f"no graph featurizer for structures of kind {kind!r}; "
            f"registered: {', '.join(GRAPH_FEATURIZERS.names())}"
        )
    return kind


def build_graphs(
    structures: Sequence[Any],
    ids: Sequence[str],
    config: GraphConfig | None = None,
    *,
    executor: Executor | None = None,
    chunk_size: int = 2000,
) -> PackedGraphs:
    """Build the graphs of many structures (crystals or molecules), optionally in parallel.

    Args:
        structures: `n` ordered crystal structures, or `n`
            :class:`~materials_ai.data.records.Molecule` records (one kind per call).
        ids: `n` identifiers (kept on the result, used in error messages).
        config: Graph settings (crystals; molecular graphs have a fixed, versioned
            feature set).
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
    build_chunk = GRAPH_FEATURIZERS.get(pool_kind(structures)).load()
    if executor is None:
        parts = [build_chunk(chunk) for chunk in chunks]
    else:
        parts = executor.map(build_chunk, chunks, desc="building graphs")
    return PackedGraphs.concat(parts)
