"""An equivariant MACE network with an intensive readout, built from ``mace-torch`` blocks.

MACE (Batatia et al., NeurIPS 2022) passes messages made of tensor products of neighbour
features with spherical harmonics of the edge directions, then forms many-body features
with symmetric contractions of order ``correlation``: angular information enters the
atom states directly, which a distance-only network (CGCNN) cannot see.

``mace.modules.models.MACE`` is an interatomic potential: it sums per-atom energies and
differentiates them for forces. Band gaps and per-atom formation energies are intensive,
so :class:`MACENet` reuses MACE's embedding, radial, interaction and product blocks and
replaces the readout: the scalar (``0e``) channels of every layer are concatenated, a
per-atom MLP maps them to `t` targets, and the result is averaged over each crystal's
atoms (mean pooling). No forces are computed, so inference needs no autograd.

Inputs are the project's periodic graphs built with ``GraphConfig(edge_vectors=True)``:
edge vectors give the directions, edge lengths the radial basis (cut off smoothly at the
graph cutoff). Importing this module imports ``mace``, which sets
``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` for the process (see ``../shared/STACK.md``); the
project always passes ``weights_only=True`` when it loads its own checkpoints.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn
from torch_geometric.utils import scatter

from materials_ai.errors import SurrogateError
from materials_ai.graphs.features import MAX_Z, element_feature_table
from materials_ai.surrogates.heads import readout_mlp

if TYPE_CHECKING:
    from torch_geometric.data import Data

    from materials_ai.surrogates.config import MACEConfig


def hidden_irreps(channels: int, max_l: int) -> str:
    """The hidden features ``channels x (0e + 1o + 2e + ...)`` up to ``max_l``."""
    parity = {0: "e", 1: "o"}
    return " + ".join(f"{channels}x{ell}{parity[ell % 2]}" for ell in range(max_l + 1))


class MACENet(nn.Module):
    """MACE message passing with a mean-pooled per-atom readout.

    Args:
        config: Architecture (channels, angular orders, interactions, correlation order).
        n_targets: Outputs `t` per crystal.
        cutoff_angstrom: Radial cutoff `r_max` (Å), the graph cutoff.
        avg_num_neighbors: Normaliser of the summed messages (about the mean in-degree).

    Shapes: a batch of `g` graphs with `N` atoms and `E` edges gives `g x t`
    standardised outputs; ``y_mean`` / ``y_std`` (`t`) turn them into target units.
    """

    y_mean: torch.Tensor
    y_std: torch.Tensor
    element_features: torch.Tensor

    def __init__(
        self,
        config: MACEConfig,
        n_targets: int,
        cutoff_angstrom: float,
        avg_num_neighbors: float,
    ) -> None:
        super().__init__()
        # mace first: e3nn 0.4.4 loads its constants only after ``import mace`` has set
        # TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD (see the module docstring).
        from materials_ai.extras import requires_extra

        with requires_extra("MACE members (model.kind: mace)"):
            from mace.modules.blocks import (
                EquivariantProductBasisBlock,
                LinearNodeEmbeddingBlock,
                RadialEmbeddingBlock,
                RealAgnosticResidualInteractionBlock,
            )
            from e3nn import o3  # isort: skip

        channels = config.channels
        self.channels = channels
        self.n_elements = MAX_Z
        node_attr_irreps = o3.Irreps(f"{self.n_elements}x0e")
        scalar_irreps = o3.Irreps(f"{channels}x0e")
        hidden = o3.Irreps(hidden_irreps(channels, config.max_l))
        sh_irreps = o3.Irreps.spherical_harmonics(config.sh_max_l)
        interaction_irreps = (sh_irreps * channels).sort()[0].simplify()

        self.node_embedding = LinearNodeEmbeddingBlock(node_attr_irreps, scalar_irreps)
        table = torch.tensor(element_feature_table())
        self.register_buffer("element_features", table)
        self.descriptor_projection = nn.Linear(table.shape[1], channels)
        self.radial_embedding = RadialEmbeddingBlock(
            r_max=cutoff_angstrom,
            num_bessel=config.n_bessel,
            num_polynomial_cutoff=config.n_polynomial_cutoff,
        )
        edge_feats_irreps = o3.Irreps(f"{self.radial_embedding.out_dim}x0e")
        self.spherical_harmonics = o3.SphericalHarmonics(
            sh_irreps, normalize=True, normalization="component"
        )
        self.interactions = nn.ModuleList()
        self.products = nn.ModuleList()
        features_in = scalar_irreps
        for layer in range(config.n_interactions):
            last = layer == config.n_interactions - 1
            features_out = scalar_irreps if last else hidden  # the last layer: scalars only
            self.interactions.append(
                RealAgnosticResidualInteractionBlock(
                    node_attrs_irreps=node_attr_irreps,
                    node_feats_irreps=features_in,
                    edge_attrs_irreps=sh_irreps,
                    edge_feats_irreps=edge_feats_irreps,
                    target_irreps=interaction_irreps,
                    hidden_irreps=features_out,
                    avg_num_neighbors=avg_num_neighbors,
                    radial_MLP=list(config.radial_mlp),
                )
            )
            self.products.append(
                EquivariantProductBasisBlock(
                    node_feats_irreps=interaction_irreps,
                    target_irreps=features_out,
                    correlation=config.correlation,
                    num_elements=self.n_elements,
                    use_sc=True,
                )
            )
            features_in = features_out
        self.readout = readout_mlp(
            channels * config.n_interactions,
            config.readout_dim,
            config.n_readout,
            config.dropout,
            n_targets,
        )
        self.register_buffer("y_mean", torch.zeros(n_targets))
        self.register_buffer("y_std", torch.ones(n_targets))

    def forward(self, data: Data) -> torch.Tensor:
        """Return standardised predictions, `g x t` for a batch of ``g`` graphs."""
        z = data.z
        if int(z.max()) > self.n_elements or int(z.min()) < 1:
            raise SurrogateError(f"atomic numbers must lie in 1..{self.n_elements}")
        vectors = getattr(data, "edge_vec", None)
        if vectors is None:
            raise SurrogateError(
                "the mace model needs edge vectors: build the graphs with "
                "GraphConfig(edge_vectors=True)"
            )
        node_attrs = torch.nn.functional.one_hot(z - 1, self.n_elements).to(vectors.dtype)
        edge_index = data.edge_index
        # MACE's convention: the vector points from the sender (neighbour) to the receiver.
        edge_attrs = self.spherical_harmonics(-vectors)
        edge_feats, cutoff = self.radial_embedding(
            data.edge_dist.unsqueeze(-1), node_attrs, edge_index, z
        )
        features = self.node_embedding(node_attrs) + self.descriptor_projection(
            self.element_features[z]
        )
        scalars = []
        for interaction, product in zip(self.interactions, self.products, strict=True):
            features, skip = interaction(
                node_attrs=node_attrs,
                node_feats=features,
                edge_attrs=edge_attrs,
                edge_feats=edge_feats,
                edge_index=edge_index,
                cutoff=cutoff,
            )
            features = product(node_feats=features, sc=skip, node_attrs=node_attrs)
            scalars.append(features[:, : self.channels])  # the 0e channels come first
        per_atom = self.readout(torch.cat(scalars, dim=-1))
        return scatter(per_atom, data.batch, dim=0, dim_size=int(data.num_graphs), reduce="mean")

    def predict(self, data: Data) -> torch.Tensor:
        """Return predictions in target units, `g x t`."""
        return self.forward(data) * self.y_std + self.y_mean
