"""Crystal graphs: periodic neighbour lists packed into contiguous tensors.

Importing this package does not import torch-geometric; :meth:`PackedGraphs.to_batch`
does, when a model needs a :class:`torch_geometric.data.Data` batch.
"""

from __future__ import annotations

from materials_ai.graphs.builder import build_graphs, structure_to_arrays
from materials_ai.graphs.cache import load_or_build_graphs
from materials_ai.graphs.config import GraphConfig
from materials_ai.graphs.packed import PackedGraphs

__all__ = [
    "GraphConfig",
    "PackedGraphs",
    "build_graphs",
    "load_or_build_graphs",
    "structure_to_arrays",
]
