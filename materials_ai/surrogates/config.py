"""Configuration of graph surrogates: model architecture, training and ensembling."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from materials_ai.graphs.config import GraphConfig


class CGCNNConfig(BaseModel):
    """A crystal graph convolutional network (Xie & Grossman, PRL 120, 145301, 2018).

    Attributes:
        kind: Registry name of the architecture.
        embedding_dim: Width of the atom features.
        n_conv: Number of CGConv layers.
        n_gaussians: Gaussians in the distance expansion of edge lengths.
        hidden_dim: Width of the readout MLP.
        n_hidden: Hidden layers in the readout MLP.
        dropout: Dropout in the readout MLP.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["cgcnn"] = "cgcnn"
    embedding_dim: int = Field(64, ge=4, le=1024)
    n_conv: int = Field(3, ge=1, le=12)
    n_gaussians: int = Field(40, ge=4, le=256)
    hidden_dim: int = Field(128, ge=4, le=4096)
    n_hidden: int = Field(1, ge=0, le=6)
    dropout: float = Field(0.0, ge=0.0, lt=1.0)


class TrainingConfig(BaseModel):
    """Mini-batch training with early stopping on a validation split.

    Attributes:
        max_epochs: Upper bound on passes over the training data.
        batch_size: Graphs per mini-batch.
        learning_rate: Initial AdamW learning rate.
        weight_decay: AdamW weight decay.
        loss: ``mse``, ``l1`` or ``huber`` on standardised targets.
        val_fraction: Share of the data held out for early stopping (per member).
        min_val_size: Below ``min_val_size / val_fraction`` examples, no split is made
            and the member trains for ``max_epochs``.
        patience: Epochs without validation improvement before stopping.
        lr_patience: Epochs without improvement before the learning rate is halved.
        warm_start_epochs: ``max_epochs`` used when continuing from earlier weights.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_epochs: int = Field(300, ge=1)
    batch_size: int = Field(64, ge=2)
    learning_rate: float = Field(2e-3, gt=0)
    weight_decay: float = Field(1e-5, ge=0)
    loss: Literal["mse", "l1", "huber"] = "mse"
    val_fraction: float = Field(0.15, ge=0.0, lt=0.9)
    min_val_size: int = Field(8, ge=1)
    patience: int = Field(40, ge=1)
    lr_patience: int = Field(15, ge=1)
    warm_start_epochs: int = Field(100, ge=1)


class EnsembleConfig(BaseModel):
    """A deep ensemble of graph networks, each trained from its own seed.

    Attributes:
        kind: Registry name of the surrogate.
        n_members: Ensemble size ``s``.
        seed: Member ``i`` uses seed ``seed + i`` (initialisation, split, shuffling).
        graph: Structure-to-graph settings.
        model: Architecture of each member.
        training: Training settings of each member.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["graph_ensemble"] = "graph_ensemble"
    n_members: int = Field(5, ge=1, le=64)
    seed: int = 0
    graph: GraphConfig = GraphConfig()
    model: CGCNNConfig = CGCNNConfig()
    training: TrainingConfig = TrainingConfig()
