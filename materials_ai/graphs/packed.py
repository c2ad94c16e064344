"""Many crystal graphs stored as a few contiguous arrays.

Storing a pool as concatenated arrays with pointer offsets (the CSR layout that
torch-geometric uses inside a ``Batch``) makes three things cheap: saving and loading a
pool (one ``.npz``, no pickle), slicing out any subset, and assembling a mini-batch for a
model with vectorised NumPy instead of a Python loop over structures.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from torch_geometric.data import Data


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenate ``arange(s, s + l)`` for each (s, l) without a Python loop."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
    return offsets + np.arange(total, dtype=np.int64)


@dataclass(frozen=True)
class PackedGraphs:
    """`g` graphs with `N` atoms and `E` edges in total.

    Attributes:
        z: Atomic numbers, `N` int64.
        edge_index: `2 x E` int64; atom indices local to each graph (source, target).
        edge_dist: Edge lengths, `E` float32 (Å).
        node_ptr: `g + 1` int64 offsets of each graph's atoms in ``z``.
        edge_ptr: `g + 1` int64 offsets of each graph's edges.
        ids: `g` identifiers.
        node_features: Optional extra atom features, `N x f` float32 (e.g. oxidation
            states, see :mod:`materials_ai.graphs.oxidation`, or RDKit atom features of a
            molecular graph).
        edge_attr: Optional edge features, `E x f_e` float32 (e.g. RDKit bond features of
            a molecular graph, see :mod:`materials_ai.molecules.featurize`); handled like
            ``node_features`` by every method.
        edge_vec: Optional edge vectors, `E x 3` float32 (Å), from the centre atom
            (target) to the neighbour's periodic image (source); present when the graphs
            were built with ``GraphConfig(edge_vectors=True)``.
    """

    z: np.ndarray
    edge_index: np.ndarray
    edge_dist: np.ndarray
    node_ptr: np.ndarray
    edge_ptr: np.ndarray
    ids: tuple[str, ...]
    node_features: np.ndarray | None = None
    edge_attr: np.ndarray | None = None
    edge_vec: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def num_atoms(self) -> np.ndarray:
        """Atoms per graph, `g` int64."""
        return np.diff(self.node_ptr)

    @property
    def num_edges(self) -> np.ndarray:
        """Edges per graph, `g` int64."""
        return np.diff(self.edge_ptr)

    @classmethod
    def empty(cls) -> PackedGraphs:
        """Return a pool of zero graphs."""
        zero = np.zeros(1, dtype=np.int64)
        return cls(
            np.zeros(0, np.int64),
            np.zeros((2, 0), np.int64),
            np.zeros(0, np.float32),
            zero,
            zero.copy(),
            (),
        )

    @classmethod
    def from_arrays(
        cls,
        graphs: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
        ids: Sequence[str],
        node_features: Sequence[np.ndarray] | None = None,
        edge_attr: Sequence[np.ndarray] | None = None,
        edge_vec: Sequence[np.ndarray] | None = None,
    ) -> PackedGraphs:
        """Pack ``(z, edge_index, edge_dist)`` triples (see ``structure_to_arrays``).

        Args:
            graphs: One triple per graph.
            ids: One id per graph.
            node_features: Optionally one `n_i x f` array per graph.
            edge_attr: Optionally one `e_i x f_e` array per graph.
            edge_vec: Optionally one `e_i x 3` array of edge vectors per graph (Å).
        """
        if len(graphs) != len(ids):
            raise ValueError(f"{len(graphs)} graphs but {len(ids)} ids")
        if not graphs:
            return cls.empty()
        features = None
        if node_features is not None:
            features = np.concatenate(list(node_features)).astype(np.float32)
        edges = None
        if edge_attr is not None:
            edges = np.concatenate(list(edge_attr)).astype(np.float32)
        vectors = None
        if edge_vec is not None:
            vectors = np.concatenate(list(edge_vec)).reshape(-1, 3).astype(np.float32)
        n_nodes = np.array([len(g[0]) for g in graphs], dtype=np.int64)
        n_edges = np.array([g[1].shape[1] for g in graphs], dtype=np.int64)
        return cls(
            z=np.concatenate([g[0] for g in graphs]).astype(np.int64),
            edge_index=np.concatenate([g[1] for g in graphs], axis=1).astype(np.int64),
            edge_dist=np.concatenate([g[2] for g in graphs]).astype(np.float32),
            node_ptr=np.concatenate([[0], np.cumsum(n_nodes)]).astype(np.int64),
            edge_ptr=np.concatenate([[0], np.cumsum(n_edges)]).astype(np.int64),
            ids=tuple(str(i) for i in ids),
            node_features=features,
            edge_attr=edges,
            edge_vec=vectors,
        )

    @classmethod
    def concat(cls, parts: Sequence[PackedGraphs]) -> PackedGraphs:
        """Concatenate pools in order."""
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty()
        with_features = [p.node_features is not None for p in parts]
        if any(with_features) and not all(with_features):
            raise ValueError("cannot concatenate pools with and without node features")
        with_edges = [p.edge_attr is not None for p in parts]
        if any(with_edges) and not all(with_edges):
            raise ValueError("cannot concatenate pools with and without edge features")
        with_vectors = [p.edge_vec is not None for p in parts]
        if any(with_vectors) and not all(with_vectors):
            raise ValueError("cannot concatenate pools with and without edge vectors")
        node_off = np.cumsum([0] + [len(p.z) for p in parts[:-1]])
        edge_off = np.cumsum([0] + [p.edge_index.shape[1] for p in parts[:-1]])
        return cls(
            z=np.concatenate([p.z for p in parts]),
            edge_index=np.concatenate([p.edge_index for p in parts], axis=1),
            edge_dist=np.concatenate([p.edge_dist for p in parts]),
            node_ptr=np.concatenate(
                [[0]] + [p.node_ptr[1:] + off for p, off in zip(parts, node_off, strict=True)]
            ).astype(np.int64),
            edge_ptr=np.concatenate(
                [[0]] + [p.edge_ptr[1:] + off for p, off in zip(parts, edge_off, strict=True)]
            ).astype(np.int64),
            ids=tuple(i for p in parts for i in p.ids),
            node_features=np.concatenate([p.node_features for p in parts])  # type: ignore[misc]
            if all(with_features)
            else None,
            edge_attr=np.concatenate([p.edge_attr for p in parts])  # type: ignore[misc]
            if all(with_edges)
            else None,
            edge_vec=np.concatenate([p.edge_vec for p in parts])  # type: ignore[misc]
            if all(with_vectors)
            else None,
        )

    def _gather(
        self, indices: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        indices = np.asarray(indices, dtype=np.int64)
        n_nodes = self.num_atoms[indices]
        n_edges = self.num_edges[indices]
        node_sel = _ranges(self.node_ptr[indices], n_nodes)
        edge_sel = _ranges(self.edge_ptr[indices], n_edges)
        return indices, n_nodes, n_edges, node_sel, edge_sel

    def select(self, indices: Sequence[int] | np.ndarray) -> PackedGraphs:
        """Return the graphs at ``indices`` (in that order) as a new pool."""
        indices, n_nodes, n_edges, node_sel, edge_sel = self._gather(np.asarray(indices))
        return PackedGraphs(
            z=self.z[node_sel],
            edge_index=self.edge_index[:, edge_sel],
            edge_dist=self.edge_dist[edge_sel],
            node_ptr=np.concatenate([[0], np.cumsum(n_nodes)]).astype(np.int64),
            edge_ptr=np.concatenate([[0], np.cumsum(n_edges)]).astype(np.int64),
            ids=tuple(self.ids[i] for i in indices),
            node_features=None if self.node_features is None else self.node_features[node_sel],
            edge_attr=None if self.edge_attr is None else self.edge_attr[edge_sel],
            edge_vec=None if self.edge_vec is None else self.edge_vec[edge_sel],
        )

    def to_batch(self, indices: Sequence[int] | np.ndarray | None = None) -> Data:
        """Assemble graphs into one torch-geometric ``Data`` batch.

        Args:
            indices: Graphs to include (default: all), in batch order.

        Returns:
            ``Data`` with ``z`` `N` (long), ``edge_index`` `2 x E` (long, global),
            ``edge_dist`` `E` (float32, Å), ``batch`` `N` (long graph index) and
            ``num_graphs``; plus ``node_features`` `N x f`, ``edge_attr`` `E x f_e`
            and ``edge_vec`` `E x 3` (float32) when the pool has them.
        """
        import torch
        from torch_geometric.data import Data

        if indices is None:
            indices = np.arange(len(self))
        indices, n_nodes, n_edges, node_sel, edge_sel = self._gather(np.asarray(indices))
        new_node_start = (np.cumsum(n_nodes) - n_nodes).astype(np.int64)
        edge_shift = np.repeat(new_node_start, n_edges)
        edge_index = self.edge_index[:, edge_sel] + edge_shift
        batch = np.repeat(np.arange(len(indices), dtype=np.int64), n_nodes)
        extra = {}
        if self.node_features is not None:
            extra["node_features"] = torch.from_numpy(self.node_features[node_sel])
        if self.edge_attr is not None:
            extra["edge_attr"] = torch.from_numpy(self.edge_attr[edge_sel])
        if self.edge_vec is not None:
            extra["edge_vec"] = torch.from_numpy(self.edge_vec[edge_sel])
        return Data(
            z=torch.from_numpy(self.z[node_sel]),
            edge_index=torch.from_numpy(np.ascontiguousarray(edge_index)),
            edge_dist=torch.from_numpy(self.edge_dist[edge_sel]),
            batch=torch.from_numpy(batch),
            num_graphs=len(indices),
            num_nodes=int(n_nodes.sum()),
            **extra,
        )

    def save(self, path: str | Path) -> None:
        """Write the pool to ``path`` (``.npz``) atomically."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + f".tmp{os.getpid()}")
        with open(tmp, "wb") as fh:
            arrays: dict[str, Any] = {
                "z": self.z,
                "edge_index": self.edge_index,
                "edge_dist": self.edge_dist,
                "node_ptr": self.node_ptr,
                "edge_ptr": self.edge_ptr,
                "ids": np.array(self.ids, dtype=np.str_),
            }
            for name in ("node_features", "edge_attr", "edge_vec"):
                if getattr(self, name) is not None:
                    arrays[name] = getattr(self, name)
            np.savez(fh, **arrays)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | Path) -> PackedGraphs:
        """Read a pool written by :meth:`save` (no pickle involved)."""
        with np.load(Path(path), allow_pickle=False) as data:
            return cls(
                z=data["z"],
                edge_index=data["edge_index"],
                edge_dist=data["edge_dist"],
                node_ptr=data["node_ptr"],
                edge_ptr=data["edge_ptr"],
                ids=tuple(str(i) for i in data["ids"]),
                node_features=data.get("node_features", None),
                edge_attr=data.get("edge_attr", None),
                edge_vec=data.get("edge_vec", None),
            )
