"""Configuration of graph surrogates: model architecture, training and ensembling."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

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


class MolGNNConfig(BaseModel):
    """A molecular message-passing network on 2D RDKit graphs (atom and bond features).

    Built by :class:`materials_ai.molecules.gnn.MolGNN`; needs graphs of molecules
    (``node_features`` and ``edge_attr``, see :mod:`materials_ai.molecules.featurize`).

    Attributes:
        kind: Registry name of the architecture.
        conv: Message-passing layer: ``gine`` (torch-geometric ``GINEConv``, Hu et al.
            2020, bond features added to neighbour states) or ``gated`` (the factorised
            CGCNN gate of :class:`~materials_ai.surrogates.cgcnn.GatedConv`, bond
            features in the gate).
        hidden_dim: Width of the atom states.
        n_layers: Message-passing layers (each with batch norm and a residual).
        readout: Graph pooling: ``mean``, ``sum`` or ``mean_sum`` (both, concatenated).
        mlp_dim: Width of the readout MLP.
        n_mlp: Hidden layers in the readout MLP.
        dropout: Dropout in the readout MLP.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["mol_gnn"] = "mol_gnn"
    conv: Literal["gine", "gated"] = "gine"
    hidden_dim: int = Field(128, ge=4, le=1024)
    n_layers: int = Field(4, ge=1, le=12)
    readout: Literal["mean", "sum", "mean_sum"] = "mean_sum"
    mlp_dim: int = Field(128, ge=4, le=4096)
    n_mlp: int = Field(2, ge=0, le=6)
    dropout: float = Field(0.0, ge=0.0, lt=1.0)


class MACEConfig(BaseModel):
    """An equivariant MACE network (Batatia et al. 2022) with an intensive readout.

    Built by :class:`materials_ai.surrogates.mace_net.MACENet` from ``mace-torch``
    blocks; needs graphs with edge vectors (``graph.edge_vectors: true``).

    Attributes:
        kind: Registry name of the architecture.
        channels: Multiplicity of each irrep in the hidden atom features.
        max_l: Highest angular order `L` of the hidden features (``0e + 1o + ...``).
        sh_max_l: Highest order of the spherical harmonics of edge directions.
        n_interactions: Message-passing layers.
        correlation: Body order of the symmetric contraction (``correlation + 1``-body).
        n_bessel: Bessel functions in the radial basis.
        n_polynomial_cutoff: Exponent of the smooth polynomial cutoff envelope.
        radial_mlp: Hidden widths of the MLP that maps the radial basis to weights.
        avg_num_neighbors: Message normaliser; default: the graph's ``max_neighbors``.
        readout_dim: Width of the per-atom readout MLP.
        n_readout: Hidden layers of the readout MLP.
        dropout: Dropout in the readout MLP.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["mace"] = "mace"
    channels: int = Field(32, ge=2, le=512)
    max_l: int = Field(1, ge=0, le=3)
    sh_max_l: int = Field(2, ge=1, le=4)
    n_interactions: int = Field(2, ge=1, le=6)
    correlation: int = Field(2, ge=1, le=4)
    n_bessel: int = Field(8, ge=2, le=64)
    n_polynomial_cutoff: int = Field(5, ge=2, le=12)
    radial_mlp: tuple[int, ...] = (64, 64)
    avg_num_neighbors: float | None = Field(None, gt=0)
    readout_dim: int = Field(64, ge=4, le=4096)
    n_readout: int = Field(1, ge=0, le=6)
    dropout: float = Field(0.0, ge=0.0, lt=1.0)


#: Architectures by ``kind`` (the model registry of :func:`training.build_model`).
ModelConfig = Annotated[CGCNNConfig | MolGNNConfig | MACEConfig, Field(discriminator="kind")]


LossKind = Literal["mse", "l1", "huber"]


class TrainingConfig(BaseModel):
    """Mini-batch training with early stopping on a validation split.

    Attributes:
        max_epochs: Upper bound on passes over the training data.
        batch_size: Graphs per mini-batch.
        learning_rate: Initial AdamW learning rate.
        weight_decay: AdamW weight decay.
        loss: ``mse``, ``l1`` or ``huber`` on standardised targets; or a list with one
            of them per target, in target order (e.g. ``[l1, mse]``: L1 for a formation
            energy, squared error for a band gap whose labels are mostly 0 eV metals,
            where L1 drives the prediction to the majority label, see
            ``materials_ai.surrogates.metals``).
        val_fraction: Share of the data held out for early stopping (per member).
        min_val_size: Below ``min_val_size / val_fraction`` examples, no split is made
            and the member trains for ``max_epochs``.
        patience: Epochs without validation improvement before stopping.
        lr_patience: Epochs without improvement before the learning rate is halved.
        warm_start_epochs: ``max_epochs`` used when continuing from earlier weights.
        device: Where members train: ``cpu``, ``cuda`` or ``auto`` (CUDA when torch
            sees a GPU). Weights are stored and saved on the CPU either way.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_epochs: int = Field(300, ge=1)
    batch_size: int = Field(64, ge=2)
    learning_rate: float = Field(2e-3, gt=0)
    weight_decay: float = Field(1e-5, ge=0)
    loss: LossKind | tuple[LossKind, ...] = "mse"
    val_fraction: float = Field(0.15, ge=0.0, lt=0.9)
    min_val_size: int = Field(8, ge=1)
    patience: int = Field(40, ge=1)
    lr_patience: int = Field(15, ge=1)
    warm_start_epochs: int = Field(100, ge=1)
    device: Literal["cpu", "cuda", "auto"] = "cpu"


class EnsembleConfig(BaseModel):
    """A deep ensemble of graph networks, each trained from its own seed.

    Attributes:
        kind: Registry name of the surrogate.
        n_members: Ensemble size ``s``.
        seed: Member ``i`` uses seed ``seed + i`` (initialisation, split, shuffling).
        graph: Structure-to-graph settings (crystals; molecular graphs have a fixed,
            versioned feature set).
        model: Architecture of each member, chosen by its ``kind``: ``cgcnn`` (crystals,
            the default when ``kind`` is omitted), ``mace`` (crystals, equivariant; needs
            ``graph.edge_vectors``) or ``mol_gnn`` (molecules).
        training: Training settings of each member.
        init_from: A saved ensemble (folder) whose members initialise this one's
            (transfer learning from another dataset or level of theory, e.g. MP-2018 PBE
            to Castelli GLLB-SC): member ``i`` starts from pretrained member
            ``i mod k``; layers whose shapes match are copied, the output layer is new.
            The pretrained model must use the same graph settings and architecture.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["graph_ensemble"] = "graph_ensemble"
    n_members: int = Field(5, ge=1, le=64)
    seed: int = 0
    graph: GraphConfig = GraphConfig()
    model: ModelConfig = CGCNNConfig()
    training: TrainingConfig = TrainingConfig()
    init_from: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _default_model_kind(cls, data: Any) -> Any:
        # Configs written before the registry have no ``model.kind``: they mean CGCNN.
        model = data.get("model") if isinstance(data, dict) else None
        if isinstance(model, dict) and "kind" not in model:
            data = {**data, "model": {"kind": "cgcnn", **model}}
        return data

    @model_validator(mode="after")
    def _check_graph_for_model(self) -> EnsembleConfig:
        if self.model.kind == "mace" and not self.graph.edge_vectors:
            raise ValueError(
                "model kind 'mace' needs edge directions: set graph.edge_vectors: true"
            )
        return self


class FeatureBlockConfig(BaseModel):
    """One featurizer's columns in a GP's input.

    Attributes:
        featurizer: Registry name (``composition``, ``mp2018_embedding``, ``chgnet`` …).
        pca: Keep this many principal components of the block's standardised columns
            (None: every column).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    featurizer: str
    pca: int | None = Field(None, ge=1)


class GPConfig(BaseModel):
    """Exact Gaussian processes on fixed-length descriptors (one GP per target).

    For campaigns with a few hundred labels, where a graph network is data-starved. Each
    target gets a BoTorch ``SingleTaskGP`` (ARD kernel on descriptors scaled to the unit
    cube, standardised outcome, learned noise) fitted by ``fit_gpytorch_mll``; the pool's
    posterior marginals are handed to acquisition as ``n_samples`` moment-matched draws,
    so every strategy works unchanged (see ``docs/architecture.md``).

    Attributes:
        kind: Registry name of the surrogate (required: ``gp``).
        seed: Seeds the posterior draws (``seed``, iteration) and any optimiser restart.
        descriptor: ``perovskite`` (A/B element properties, anion set, oxidation states,
            tolerance factor; 5-atom ABX3 cells) or ``composition`` (any structure); used
            when ``features`` is empty.
        features: Featurizer blocks of the input, in order (a name, or ``{featurizer,
            pca}``), e.g. ``[composition, {featurizer: chgnet, pca: 16}]``; see
            :mod:`materials_ai.surrogates.featurizers`. Empty: ``[descriptor]``.
        kernel: ``rbf`` or ``matern52`` (both with one lengthscale per descriptor).
        n_samples: Posterior draws per candidate and target (the ``s`` of the samples).
        warm_start: In a campaign with ``loop.warm_start``, start each fit's optimiser
            from the previous iteration's hyperparameters (3-10x fewer L-BFGS steps).
        max_iter: L-BFGS-B iterations per hyperparameter fit (the marginal likelihood of
            an ARD kernel is flat near its optimum; capping the steps bounds the fit time).
        hyper_subsample: Fit the hyperparameters on at most this many labelled rows
            (seeded sample), then condition the posterior on all of them with those
            hyperparameters: bounds the fit time of large label sets (the marginal
            likelihood's optimum moves little once a few hundred rows are in). None: all.
        calibrate_std: Report the predictive std (noise included) times a per-target
            factor fitted on the closed-form leave-one-out residuals, so that 90 %
            intervals cover 90 % of held-out labels; acquisition then reads that std. False:
            the latent function's posterior std (under-covers on new chemistry,
            ``docs/benchmarks.md``).
        threads: Torch intra-op threads for fitting and scoring. One by default: the
            work is many small matrix operations, which more threads slow down by an order
            of magnitude as soon as another process shares the cores (docs/benchmarks.md).
        predict_chunk: Pool candidates per posterior evaluation (memory bound).
        conditional_on: Target -> 0/1 indicator target (e.g. ``{vbm: semiconductor}``):
            that target's GP learns only from labelled rows whose indicator is 1 and
            predicts the target *given* the indicator, while the indicator has its own GP
            (a hurdle model for zero-inflated properties: band gaps and band edges of
            semiconductors are not those of metals). With a criterion on the indicator
            (``{target: semiconductor, min: 0.5}``) acquisition multiplies P(semiconductor)
            by the conditional criteria. Until ``min_conditional_labels`` rows have the
            indicator at 1, the target learns from every row.
        min_conditional_labels: Indicator-1 rows a conditional target needs before it
            learns from them alone.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["gp"]
    seed: int = 0
    descriptor: Literal["perovskite", "composition"] = "perovskite"
    features: tuple[FeatureBlockConfig, ...] = ()
    kernel: Literal["rbf", "matern52"] = "rbf"
    n_samples: int = Field(64, ge=2, le=4096)
    warm_start: bool = True
    max_iter: int = Field(100, ge=1)
    hyper_subsample: int | None = Field(None, ge=2)
    calibrate_std: bool = False
    threads: int = Field(1, ge=1)
    predict_chunk: int = Field(4096, ge=1)
    conditional_on: dict[str, str] = Field(default_factory=dict)
    min_conditional_labels: int = Field(3, ge=2)

    @field_validator("features", mode="before")
    @classmethod
    def _names_as_blocks(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return [{"featurizer": v} if isinstance(v, str) else v for v in value]
        return value

    @field_validator("features")
    @classmethod
    def _known_featurizers(
        cls, value: tuple[FeatureBlockConfig, ...]
    ) -> tuple[FeatureBlockConfig, ...]:
        from materials_ai.surrogates.featurizers import FEATURIZERS

        unknown = [b.featurizer for b in value if b.featurizer not in FEATURIZERS]
        if unknown:
            raise ValueError(f"unknown featurizer(s) {unknown}; known: {list(FEATURIZERS)}")
        return value

    def feature_blocks(self) -> tuple[FeatureBlockConfig, ...]:
        """The input's blocks (``features``, or the one ``descriptor`` block)."""
        return self.features or (FeatureBlockConfig(featurizer=self.descriptor),)


class FeatureEnsembleConfig(BaseModel):
    """A deep ensemble of MLP heads on featurizer blocks (large label sets).

    For training sets too large for an exact GP (a whole MP-2018 split); see
    :mod:`materials_ai.surrogates.feature_ensemble`.

    Attributes:
        kind: Registry name (required: ``feature_ensemble``).
        seed: Seeds the calibration split, the initialisations and the batch order.
        features: Featurizer blocks of the input, e.g. ``[chgnet, element_fractions]``.
        members: Networks in the ensemble (their spread is the uncertainty).
        hidden: Widths of the hidden layers (SiLU activations).
        epochs: Passes over the training rows per member (one-cycle learning rate).
        batch_size: Rows per optimiser step.
        learning_rate: AdamW base learning rate (the one-cycle peak is twice this).
        weight_decay: AdamW weight decay.
        linear_baseline: Fit a ridge regression per target on the inputs first; the
            networks learn its residual.
        baseline_ridge: Ridge penalty per row (standardised inputs).
        calibration_fraction: Training rows held out to fit each target's std factor (90 %
            coverage) and report ``val_mae``; 0: no calibration.
        threads: Torch intra-op threads.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["feature_ensemble"]
    seed: int = 0
    features: tuple[FeatureBlockConfig, ...] = (
        FeatureBlockConfig(featurizer="chgnet"),
        FeatureBlockConfig(featurizer="element_fractions"),
    )
    members: int = Field(5, ge=2)
    hidden: tuple[int, ...] = (256, 256)
    epochs: int = Field(100, ge=1)
    batch_size: int = Field(256, ge=1)
    learning_rate: float = Field(1e-3, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    linear_baseline: bool = True
    baseline_ridge: float = Field(1e-3, ge=0)
    calibration_fraction: float = Field(0.1, ge=0, lt=0.5)
    threads: int = Field(1, ge=1)

    _names_as_blocks = field_validator("features", mode="before")(
        GPConfig._names_as_blocks.__func__  # type: ignore[attr-defined]
    )
    _known_featurizers = field_validator("features")(
        GPConfig._known_featurizers.__func__  # type: ignore[attr-defined]
    )


def _surrogate_kind(data: Any) -> str:
    kind = data.get("kind") if isinstance(data, dict) else getattr(data, "kind", None)
    return kind or "graph_ensemble"


#: Surrogates by ``kind`` (``graph_ensemble`` when omitted): the surrogate registry of a
#: workflow's ``surrogate:`` section.
SurrogateConfig = Annotated[
    Annotated[EnsembleConfig, Tag("graph_ensemble")]
    | Annotated[GPConfig, Tag("gp")]
    | Annotated[FeatureEnsembleConfig, Tag("feature_ensemble")],
    Discriminator(_surrogate_kind),
]
