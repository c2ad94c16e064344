"""Applicability domain: how far a candidate lies from what the surrogate was trained on.

A Gaussian process extrapolates towards its prior mean far from its training data; its
posterior std grows there too, but a number that a chemist can read on its own is more
useful in a ranked list: the mean Euclidean distance from a candidate's feature vector to
its ``k`` nearest training rows, divided by the same distance's ``quantile`` among the
training rows themselves (each measured against the others). A score above 1 means the
candidate is farther from the training set than 95 % of the training rows are from
each other: outside the domain.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Rows per distance block (memory: block x m float64).
BLOCK = 2048


def _knn_mean_distance(
    x: np.ndarray, train: np.ndarray, k: int, *, exclude_self: bool = False
) -> np.ndarray:
    """Mean distance of each row of ``x`` to its ``k`` nearest rows of ``train``, `n`."""
    out = np.empty(len(x))
    train_sq = (train**2).sum(axis=1)
    kk = min(k + int(exclude_self), len(train))
    for start in range(0, len(x), BLOCK):
        block = x[start : start + BLOCK]
        sq = (block**2).sum(axis=1)[:, None] + train_sq[None, :] - 2.0 * block @ train.T
        dist = np.sqrt(np.clip(sq, 0.0, None))
        nearest = np.partition(dist, kk - 1, axis=1)[:, :kk]
        nearest.sort(axis=1)
        if exclude_self:
            nearest = nearest[:, 1:]
        out[start : start + BLOCK] = nearest.mean(axis=1)
    return out


@dataclass
class ApplicabilityDomain:
    """The training rows' feature vectors and their own typical neighbour distance.

    Attributes:
        train: `m x d` training feature rows (the surrogate's input space).
        threshold: The ``quantile`` of the training rows' leave-self-out k-NN distance.
        k: Neighbours averaged.
    """

    train: np.ndarray
    threshold: float
    k: int = 5

    @classmethod
    def fit(cls, train: np.ndarray, k: int = 5, quantile: float = 0.95) -> ApplicabilityDomain:
        """Fit on `m x d` training rows (m ≥ 2)."""
        train = np.asarray(train, dtype=np.float64)
        k = max(1, min(k, len(train) - 1))
        own = _knn_mean_distance(train, train, k, exclude_self=True)
        threshold = float(np.quantile(own, quantile)) if len(own) else 1.0
        return cls(train=train, threshold=max(threshold, 1e-12), k=k)

    def score(self, x: np.ndarray) -> np.ndarray:
        """Distance-to-training score of `n x d` rows, `n` (> 1: outside the domain)."""
        x = np.asarray(x, dtype=np.float64)
        return _knn_mean_distance(x, self.train, self.k) / self.threshold
