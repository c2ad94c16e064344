"""The readout MLP shared by the graph networks (CGCNN, MACE, MolGNN)."""

from __future__ import annotations

from torch import nn


def readout_mlp(
    width: int, hidden_dim: int, n_hidden: int, dropout: float, n_out: int
) -> nn.Sequential:
    """``n_hidden`` x (Linear -> SiLU [-> Dropout]) then a Linear to ``n_out`` outputs.

    Args:
        width: Input features.
        hidden_dim: Width of each hidden layer.
        n_hidden: Hidden layers (0: one linear map).
        dropout: Dropout after each hidden activation (none when 0).
        n_out: Outputs (targets).

    The layer order fixes the ``state_dict`` keys (``0.weight``, ...) of saved models.
    """
    layers: list[nn.Module] = []
    for _ in range(n_hidden):
        layers += [nn.Linear(width, hidden_dim), nn.SiLU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = hidden_dim
    layers.append(nn.Linear(width, n_out))
    return nn.Sequential(*layers)
