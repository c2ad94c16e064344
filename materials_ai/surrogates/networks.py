"""The network-model registry: ``model.kind`` -> how to build a member network.

Every network takes a torch-geometric ``Data`` batch, returns standardised `g x t`
outputs and carries ``y_mean`` / ``y_std`` buffers (set by training). Registered here:

=========  =====================================================  =====================
kind       network                                                registered by
=========  =====================================================  =====================
``cgcnn``  :class:`materials_ai.surrogates.cgcnn.CGCNN`            this module
``mace``   :class:`materials_ai.surrogates.mace_net.MACENet`       this module
``mol_gnn`` :class:`materials_ai.molecules.gnn.MolGNN`             the molecular plugin
=========  =====================================================  =====================

Add one with ``NETWORKS.add("name", build)`` (or ``NETWORKS.register_lazy("name",
"module:build")``), plus its config class in
:mod:`materials_ai.surrogates.config`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from materials_ai.errors import SurrogateError
from materials_ai.graphs.config import GraphConfig
from materials_ai.registry import Registry

if TYPE_CHECKING:
    from torch import nn

__all__ = ["NETWORKS", "NetworkBuilder"]

#: ``(model_config, graph_config, n_targets) -> untrained network``.
NetworkBuilder = Callable[[Any, GraphConfig, int], "nn.Module"]


def _build_cgcnn(model_config: Any, graph_config: GraphConfig, n_targets: int) -> nn.Module:
    from materials_ai.surrogates.cgcnn import CGCNN  # torch-geometric: ~6 s to import

    return CGCNN(
        model_config,
        n_targets=n_targets,
        cutoff_angstrom=graph_config.cutoff_angstrom,
        n_site_features=graph_config.n_site_features,
    )


def _build_mace(model_config: Any, graph_config: GraphConfig, n_targets: int) -> nn.Module:
    from materials_ai.surrogates.mace_net import MACENet  # mace-torch: ~9 s to import

    if graph_config.site_features:
        raise SurrogateError("model kind 'mace' does not use site features; remove them")
    return MACENet(
        model_config,
        n_targets=n_targets,
        cutoff_angstrom=graph_config.cutoff_angstrom,
        avg_num_neighbors=model_config.avg_num_neighbors or float(graph_config.max_neighbors),
    )


#: ``model.kind`` -> :data:`NetworkBuilder`.
NETWORKS: Registry[NetworkBuilder] = Registry("network model")
NETWORKS.add("cgcnn", _build_cgcnn)
NETWORKS.add("mace", _build_mace)
