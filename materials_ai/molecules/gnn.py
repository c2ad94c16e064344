"""A molecular graph network: message passing with bond features, pooled readout.

Registered as ``model.kind: mol_gnn`` (:data:`materials_ai.surrogates.networks.NETWORKS`, by the
molecular plugin :mod:`materials_ai.molecules.registration`),
so :class:`~materials_ai.surrogates.ensemble.GraphEnsembleSurrogate`, its training,
calibration, persistence and pool scoring work on molecules unchanged.
"""

from __future__ import annotations

import torch
from torch import nn
from torch_geometric.data import Data
from torch_geometric.nn import GINEConv, global_add_pool, global_mean_pool

from materials_ai.graphs.features import MAX_Z
from materials_ai.molecules.featurize import N_ATOM_FEATURES, N_BOND_FEATURES
from materials_ai.surrogates.cgcnn import GatedConv
from materials_ai.surrogates.config import MolGNNConfig
from materials_ai.surrogates.heads import readout_mlp


class _GINELayer(nn.Module):
    """``GINEConv`` (sum of ``relu(x_j + W e_ji)``, then an MLP) + batch norm + residual."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        mlp = nn.Sequential(
            nn.Linear(dim, dim), nn.BatchNorm1d(dim), nn.SiLU(), nn.Linear(dim, dim)
        )
        self.conv = GINEConv(mlp, train_eps=True, edge_dim=dim)
        self.norm = nn.BatchNorm1d(dim)

    def forward(
        self, x: torch.Tensor, edge_index: torch.Tensor, edge_attr: torch.Tensor
    ) -> torch.Tensor:
        return x + nn.functional.silu(self.norm(self.conv(x, edge_index, edge_attr)))


class MolGNN(nn.Module):
    """Message-passing network over 2D molecular graphs.

    Atom states start as a learned element embedding plus a projection of the RDKit atom
    features (:data:`~materials_ai.molecules.featurize.ATOM_FEATURE_NAMES`); bond
    features are embedded once and enter every layer. After ``n_layers`` layers the atom
    states are pooled (mean, sum or both) and an MLP maps them to the `t` standardised
    targets.

    Args:
        config: Architecture settings.
        n_targets: Outputs ``t``.
    """

    y_mean: torch.Tensor
    y_std: torch.Tensor

    def __init__(self, config: MolGNNConfig, n_targets: int) -> None:
        super().__init__()
        dim = config.hidden_dim
        self.config = config
        self.embedding = nn.Embedding(MAX_Z + 1, dim)
        self.atom_projection = nn.Linear(N_ATOM_FEATURES, dim)
        self.bond_projection = nn.Linear(N_BOND_FEATURES, dim)
        layers: list[nn.Module] = []
        for _ in range(config.n_layers):
            layers.append(_GINELayer(dim) if config.conv == "gine" else GatedConv(dim, dim))
        self.layers = nn.ModuleList(layers)
        width = dim * (2 if config.readout == "mean_sum" else 1)
        self.readout = readout_mlp(width, config.mlp_dim, config.n_mlp, config.dropout, n_targets)
        self.register_buffer("y_mean", torch.zeros(n_targets))
        self.register_buffer("y_std", torch.ones(n_targets))

    def forward(self, data: Data) -> torch.Tensor:
        """Return standardised predictions, `g x t` for a batch of ``g`` molecules."""
        atoms = getattr(data, "node_features", None)
        bonds = getattr(data, "edge_attr", None)
        if atoms is None or bonds is None or atoms.shape[-1] != N_ATOM_FEATURES:
            raise ValueError(
                "MolGNN needs molecular graphs (RDKit atom and bond features); build them "
                "from Molecule candidates (materials_ai.molecules.featurize)"
            )
        z = data.z
        x = self.embedding(z) + self.atom_projection(atoms)
        e = self.bond_projection(bonds)
        for layer in self.layers:
            x = layer(x, data.edge_index, e)
        size = int(data.num_graphs)
        if self.config.readout == "mean":
            pooled = global_mean_pool(x, data.batch, size=size)
        elif self.config.readout == "sum":
            pooled = global_add_pool(x, data.batch, size=size)
        else:
            pooled = torch.cat(
                [
                    global_mean_pool(x, data.batch, size=size),
                    global_add_pool(x, data.batch, size=size) / 10.0,
                ],
                dim=-1,
            )
        return self.readout(pooled)

    def predict(self, data: Data) -> torch.Tensor:
        """Return predictions in target units, `g x t`."""
        return self.forward(data) * self.y_std + self.y_mean


def build_mol_gnn(model_config: MolGNNConfig, graph_config: object, n_targets: int) -> MolGNN:
    """The ``mol_gnn`` entry of :data:`materials_ai.surrogates.networks.NETWORKS`."""
    return MolGNN(model_config, n_targets=n_targets)
