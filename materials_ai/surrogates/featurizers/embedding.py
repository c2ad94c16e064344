"""The learned crystal embedding of a trained graph-network ensemble as features.

For each structure, every member of a saved CGCNN ensemble computes its pooled crystal
embedding (the mean over atoms of the last convolution's output, i.e. the readout's
input); ``mp2018_embedding`` returns the average over members (64 columns for the
shipped ``models/mp2018_cgcnn``: 6 members trained on the MP-2018 training split's PBE
formation energies and band gaps) and ``mp2018_predictions`` the ensemble's mean
prediction of each of its targets (the readout's output, in target units; 2 columns).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from materials_ai.settings import PROJECT_ROOT
from materials_ai.surrogates.featurizers.base import FeatureProvenance, model_fingerprint

if TYPE_CHECKING:
    from pymatgen.core import Structure

    from materials_ai.surrogates.ensemble import GraphEnsembleSurrogate

#: Bump when the embedding's definition changes.
EMBEDDING_VERSION = 1

#: The shipped MP-2018 ensemble (relative to the checkout).
MP2018_MODEL = Path("models") / "mp2018_cgcnn"

PROVENANCE = FeatureProvenance(
    model="materials-ai CGCNN ensemble models/mp2018_cgcnn (6 members)",
    pretraining_data="MP-2018 training split (PBE formation energies and band gaps; "
    "datasets/splits/mp2018/random_80_10_10_seed0)",
    overlaps=("mp2018 (validation/test parts excluded)",),
    licence="MIT (this project)",
    label_datasets=("mp2018",),
)


@dataclass
class EnsembleEmbeddingFeaturizer:
    """Member-averaged pooled embeddings, or mean predictions, of a saved ensemble.

    Args:
        model_dir: Folder of a saved :class:`GraphEnsembleSurrogate` (CGCNN members).
        name: Registry name.
        part: ``embedding`` (the pooled embedding, `embedding_dim` columns) or
            ``predictions`` (the ensemble's mean prediction of each target, target units).
        batch_size: Graphs per forward pass.
    """

    model_dir: Path
    name: str = "mp2018_embedding"
    part: Literal["embedding", "predictions"] = "embedding"
    batch_size: int = 64

    @cached_property
    def ensemble(self) -> GraphEnsembleSurrogate:
        """The loaded ensemble."""
        from materials_ai.surrogates.ensemble import GraphEnsembleSurrogate

        return GraphEnsembleSurrogate.load(self.model_dir)

    def feature_names(self) -> tuple[str, ...]:
        """``<name>_000`` … (embedding) or ``<name>_<target>`` (predictions)."""
        if self.part == "predictions":
            return tuple(f"{self.name}_{t}" for t in self.ensemble.target_names)
        dim = int(self.ensemble.config.model.embedding_dim)  # type: ignore[union-attr]
        return tuple(f"{self.name}_{i:03d}" for i in range(dim))

    def fingerprint(self) -> str:
        """Featurizer version and the sha256 of the ensemble's weights and settings."""
        return model_fingerprint(
            self.model_dir, f"v{EMBEDDING_VERSION}|{self.part}", (".pt", ".json"), ("metrics.json",)
        )

    def featurize(self, structures: Sequence[Structure]) -> np.ndarray:
        """`n x embedding_dim` member-mean embeddings, or `n x t` mean predictions."""
        import torch

        from materials_ai.graphs.builder import build_graphs

        ensemble = self.ensemble
        graphs = build_graphs(
            list(structures), [str(i) for i in range(len(structures))], ensemble.config.graph
        )
        models = ensemble._member_models()
        n = len(graphs)
        dim = int(models[0].embedding.embedding_dim)
        embedding = np.zeros((n, dim))
        predictions = np.zeros((n, len(ensemble.target_names)))
        with torch.no_grad():
            for model in models:
                model.eval()
                for start in range(0, n, self.batch_size):
                    index = np.arange(start, min(n, start + self.batch_size))
                    batch = graphs.to_batch(index)
                    pooled = model.embed(batch)
                    embedding[index] += pooled.numpy()
                    out = model.readout(pooled) * model.y_std + model.y_mean
                    predictions[index] += out.numpy()
        if self.part == "predictions":
            return predictions / len(models)
        return embedding / len(models)


def mp2018_embedding() -> EnsembleEmbeddingFeaturizer:
    """The embedding of the shipped MP-2018 CGCNN ensemble."""
    return EnsembleEmbeddingFeaturizer(PROJECT_ROOT / MP2018_MODEL)


def mp2018_predictions() -> EnsembleEmbeddingFeaturizer:
    """The shipped MP-2018 ensemble's mean formation energy (eV/atom) and PBE gap (eV)."""
    return EnsembleEmbeddingFeaturizer(
        PROJECT_ROOT / MP2018_MODEL, name="mp2018_predictions", part="predictions"
    )
