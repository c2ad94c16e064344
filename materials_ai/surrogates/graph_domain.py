"""Applicability domain of a graph ensemble: k-NN distance in its learned embedding.

A graph network has no hand-made feature vector, but its pooled crystal embedding (the
readout's input) is the space in which it compares materials. After a fit, the first
member embeds a seeded sample of the training graphs; each embedding dimension is
standardised with the sample's mean and std (dimensions differ in scale by orders of
magnitude); :class:`~materials_ai.surrogates.domain.ApplicabilityDomain` then scores a
candidate by its mean distance to the ``k`` nearest training embeddings divided by the
same distance's 95th percentile among the training rows (> 1: outside the domain).

Models without an ``embed`` method (the molecular networks) get no domain score.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from materials_ai.errors import SurrogateError
from materials_ai.graphs.packed import PackedGraphs
from materials_ai.surrogates.domain import ApplicabilityDomain

#: Training graphs embedded for the domain (its k-NN search is quadratic in them).
MAX_DOMAIN_ROWS = 5000
#: File of a saved surrogate folder holding the domain arrays.
DOMAIN_FILE = "domain.npz"
#: Graphs per embedding mini-batch.
EMBED_BATCH_SIZE = 128


def embed_graphs(model: Any, graphs: PackedGraphs, indices: np.ndarray) -> np.ndarray:
    """Pooled embeddings of graphs ``indices``, `n x d` float64 (``model.embed``)."""
    model.eval()
    device = next(model.parameters()).device
    out: list[np.ndarray] = []
    with torch.no_grad():
        for start in range(0, len(indices), EMBED_BATCH_SIZE):
            batch = graphs.to_batch(indices[start : start + EMBED_BATCH_SIZE]).to(device)
            out.append(model.embed(batch).cpu().numpy().astype(np.float64))
    return np.concatenate(out) if out else np.zeros((0, 0))


@dataclass
class GraphDomain:
    """Standardisation of the embedding plus the k-NN domain fitted in that space.

    Attributes:
        mean: `d` embedding means over the fitted sample.
        scale: `d` embedding stds over the fitted sample (1 where constant).
        domain: The k-NN domain over the standardised sample embeddings.
    """

    mean: np.ndarray
    scale: np.ndarray
    domain: ApplicabilityDomain

    @staticmethod
    def supported(model: Any) -> bool:
        """Whether ``model`` exposes a pooled embedding."""
        return callable(getattr(model, "embed", None))

    @classmethod
    def fit(cls, model: Any, graphs: PackedGraphs, seed: int = 0) -> GraphDomain | None:
        """Fit on (a seeded sample of at most :data:`MAX_DOMAIN_ROWS` of) ``graphs``.

        Returns:
            The domain, or None when the model has no embedding or fewer than 2 graphs.
        """
        if not cls.supported(model) or len(graphs) < 2:
            return None
        indices = np.arange(len(graphs))
        if len(indices) > MAX_DOMAIN_ROWS:
            rng = np.random.default_rng(seed)
            indices = np.sort(rng.choice(indices, MAX_DOMAIN_ROWS, replace=False))
        z = embed_graphs(model, graphs, indices)
        mean, scale = z.mean(axis=0), z.std(axis=0)
        scale[scale < 1e-8] = 1.0
        # Stored as float32 (save): fit on the rounded rows, so a reloaded domain scores
        # exactly as the fitted one (a resumed campaign reproduces its ranked lists).
        train = ((z - mean) / scale).astype(np.float32).astype(np.float64)
        return cls(mean=mean, scale=scale, domain=ApplicabilityDomain.fit(train))

    def score(self, model: Any, graphs: PackedGraphs) -> np.ndarray:
        """Distance-to-training scores of every graph, `n` (> 1: outside)."""
        z = embed_graphs(model, graphs, np.arange(len(graphs)))
        if len(z) == 0:
            return np.zeros(0)
        return self.domain.score((z - self.mean) / self.scale)

    def save(self, folder: Path) -> None:
        """Write :data:`DOMAIN_FILE` into a surrogate folder (float32 embeddings)."""
        tmp = folder / (DOMAIN_FILE + ".tmp.npz")
        np.savez(
            tmp,
            mean=self.mean,
            scale=self.scale,
            train=self.domain.train.astype(np.float32),
            threshold=np.array(self.domain.threshold),
            k=np.array(self.domain.k),
        )
        tmp.replace(folder / DOMAIN_FILE)

    @classmethod
    def load(cls, folder: Path) -> GraphDomain | None:
        """Read :data:`DOMAIN_FILE` from a surrogate folder (None if the folder has none).

        Raises:
            SurrogateError: If the file exists but is not a readable domain.
        """
        path = folder / DOMAIN_FILE
        if not path.exists():
            return None
        try:
            with np.load(path) as arrays:
                return cls(
                    mean=arrays["mean"].astype(np.float64),
                    scale=arrays["scale"].astype(np.float64),
                    domain=ApplicabilityDomain(
                        train=arrays["train"].astype(np.float64),
                        threshold=float(arrays["threshold"]),
                        k=int(arrays["k"]),
                    ),
                )
        except (OSError, KeyError, ValueError) as error:
            raise SurrogateError(f"{path}: not a readable applicability domain ({error})") from None
