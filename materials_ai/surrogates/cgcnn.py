"""A CGCNN-class crystal graph network written with torch-geometric."""

from __future__ import annotations

import torch
from torch import nn
from torch_geometric.data import Data
from torch_geometric.nn import global_mean_pool
from torch_geometric.utils import scatter

from materials_ai.graphs.features import MAX_Z, element_feature_table
from materials_ai.surrogates.config import CGCNNConfig
from materials_ai.surrogates.heads import readout_mlp


class GaussianDistanceExpansion(nn.Module):
    """Expand edge lengths on a grid of Gaussians.

    ``out[e, k] = exp(-((d[e] - mu_k) / width)^2)`` with ``mu_k`` evenly spaced on
    ``[0, cutoff]`` and ``width`` the grid spacing.
    """

    centers: torch.Tensor

    def __init__(self, cutoff_angstrom: float, n_gaussians: int) -> None:
        super().__init__()
        centers = torch.linspace(0.0, cutoff_angstrom, n_gaussians)
        self.register_buffer("centers", centers)
        self.width = float(centers[1] - centers[0]) if n_gaussians > 1 else cutoff_angstrom

    def forward(self, distances: torch.Tensor) -> torch.Tensor:
        """Map `E` distances (Å) to `E x n_gaussians` features."""
        return torch.exp(-(((distances[:, None] - self.centers[None, :]) / self.width) ** 2))


class GatedConv(nn.Module):
    """The CGCNN gated convolution, with its first linear map factorised.

    Mathematically the convolution of Xie & Grossman (and of torch-geometric's
    ``CGConv`` with ``batch_norm=True``, mean aggregation)::

        z_ij = W [x_i, x_j, e_ij] + b
        x_i' = x_i + BN(mean_j sigmoid(z_ij^f) * softplus(z_ij^s))

    but ``W [x_i, x_j, e_ij]`` is computed as ``W_i x_i + W_j x_j + W_e e_ij``: the two
    node terms once per atom instead of once per edge. With ~12 edges per atom this
    cuts the work of the layer about threefold on a CPU.

    Args:
        dim: Width of the atom features.
        edge_dim: Width of the edge features.
    """

    def __init__(self, dim: int, edge_dim: int) -> None:
        super().__init__()
        self.dim = dim
        self.target_linear = nn.Linear(dim, 2 * dim, bias=False)
        self.source_linear = nn.Linear(dim, 2 * dim, bias=False)
        self.edge_linear = nn.Linear(edge_dim, 2 * dim)
        self.norm = nn.BatchNorm1d(dim)

    def forward(
        self, x: torch.Tensor, edge_index: torch.Tensor, edge_attr: torch.Tensor
    ) -> torch.Tensor:
        """Update `N x dim` atom features from `2 x E` edges with `E x edge_dim` features."""
        source, target = edge_index
        # index_select (not fancy indexing): its backward is a fast index_add.
        z = (
            self.target_linear(x).index_select(0, target)
            + self.source_linear(x).index_select(0, source)
            + self.edge_linear(edge_attr)
        )
        gate, core = z.chunk(2, dim=-1)
        messages = torch.sigmoid(gate) * nn.functional.softplus(core)
        aggregated = scatter(messages, target, dim=0, dim_size=x.shape[0], reduce="mean")
        return x + self.norm(aggregated)


class CGCNN(nn.Module):
    """Crystal graph network with gated convolutions and a mean-pooled readout.

    Atom features are a learned per-element embedding plus a learned projection of
    physical element descriptors (:func:`element_feature_table`). The mean-pooled
    readout makes predictions intensive (per atom / per cell independent of size),
    the right inductive bias for band gaps and formation energies per atom.

    Args:
        config: Architecture settings.
        n_targets: Outputs ``t`` (one per target, standardised units).
        cutoff_angstrom: Upper end of the distance expansion (Å).
        n_site_features: Width of extra per-atom features (``data.node_features``).
    """

    element_features: torch.Tensor
    y_mean: torch.Tensor
    y_std: torch.Tensor

    def __init__(
        self,
        config: CGCNNConfig,
        n_targets: int,
        cutoff_angstrom: float,
        n_site_features: int = 0,
    ) -> None:
        super().__init__()
        table = torch.tensor(element_feature_table())
        self.register_buffer("element_features", table)
        dim = config.embedding_dim
        self.embedding = nn.Embedding(MAX_Z + 1, dim)
        self.descriptor_projection = nn.Linear(table.shape[1], dim)
        self.n_site_features = n_site_features
        self.site_projection = nn.Linear(n_site_features, dim) if n_site_features > 0 else None
        self.expansion = GaussianDistanceExpansion(cutoff_angstrom, config.n_gaussians)
        self.convs = nn.ModuleList(
            [GatedConv(dim, config.n_gaussians) for _ in range(config.n_conv)]
        )
        self.readout = readout_mlp(
            dim, config.hidden_dim, config.n_hidden, config.dropout, n_targets
        )
        self.register_buffer("y_mean", torch.zeros(n_targets))
        self.register_buffer("y_std", torch.ones(n_targets))

    def forward(self, data: Data) -> torch.Tensor:
        """Return standardised predictions, `g x t` for a batch of ``g`` graphs."""
        return self.readout(self.embed(data))

    def embed(self, data: Data) -> torch.Tensor:
        """Return the pooled crystal embedding (the readout's input), `g x embedding_dim`."""
        z = data.z
        if int(z.max()) > MAX_Z:
            raise ValueError(f"atomic number {int(z.max())} above the supported {MAX_Z}")
        x = self.embedding(z) + self.descriptor_projection(self.element_features[z])
        if self.site_projection is not None:
            features = getattr(data, "node_features", None)
            if features is None or features.shape[-1] != self.n_site_features:
                raise ValueError(
                    f"the model expects {self.n_site_features} site features per atom; build "
                    "the graphs with the same GraphConfig.site_features it was trained with"
                )
            x = x + self.site_projection(features)
        edge_attr = self.expansion(data.edge_dist)
        for conv in self.convs:
            x = conv(x, data.edge_index, edge_attr)
        return global_mean_pool(x, data.batch, size=int(data.num_graphs))

    def predict(self, data: Data) -> torch.Tensor:
        """Return predictions in target units, `g x t`."""
        return self.forward(data) * self.y_std + self.y_mean
