"""The result of a surrogate's prediction: mean, spread and member samples."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from materials_ai.surrogates.error_distribution import StandardizedErrors, central_interval


@dataclass(frozen=True, slots=True)
class Prediction:
    """Predictions for `n` candidates and `t` targets.

    Attributes:
        mean: `n x t`, in each target's unit.
        std: `n x t`, same units (predictive standard deviation).
        samples: `s x n x t` ensemble members' predictions (or posterior draws), or None.
        target_names: `t` names, the column order of the arrays.
        errors: Target -> fitted distribution of the standardized error
            ``(y - mean) / std`` (see ``error_distribution.py``); targets not in it are
            Gaussian. Used for intervals and tail probabilities, not by acquisitions.
        domain: `n` distance-to-training scores (``domain.py``; > 1: farther from the
            training set than 95 % of its own rows are from each other), or None when
            the surrogate does not compute one.
    """

    mean: np.ndarray
    std: np.ndarray
    samples: np.ndarray | None
    target_names: tuple[str, ...]
    errors: Mapping[str, StandardizedErrors] = field(default_factory=dict)
    domain: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.mean.ndim != 2 or self.mean.shape != self.std.shape:
            raise ValueError(
                f"mean and std must both be n x t; got {self.mean.shape} and {self.std.shape}"
            )
        if self.mean.shape[1] != len(self.target_names):
            raise ValueError(
                f"{self.mean.shape[1]} target columns but {len(self.target_names)} names"
            )
        if self.samples is not None and self.samples.shape[1:] != self.mean.shape:
            raise ValueError(
                f"samples must be s x n x t with n x t = {self.mean.shape}; "
                f"got {self.samples.shape}"
            )
        if self.domain is not None and self.domain.shape != (self.mean.shape[0],):
            raise ValueError(f"domain must have n = {self.mean.shape[0]} scores")

    def outside_domain(self, limit: float = 1.0) -> np.ndarray:
        """`n` booleans: the candidate lies outside the training domain (False if unknown)."""
        if self.domain is None:
            return np.zeros(len(self), dtype=bool)
        return self.domain > limit

    def __len__(self) -> int:
        return int(self.mean.shape[0])

    def column(self, target: str) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(mean, std)`` of one target, each `n`."""
        j = self.target_names.index(target)
        return self.mean[:, j], self.std[:, j]

    def select(self, indices: np.ndarray) -> Prediction:
        """Return the predictions of candidates ``indices`` (in that order)."""
        return Prediction(
            mean=self.mean[indices],
            std=self.std[indices],
            samples=None if self.samples is None else self.samples[:, indices],
            target_names=self.target_names,
            errors=self.errors,
            domain=None if self.domain is None else self.domain[indices],
        )

    def interval(self, level: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
        """Central predictive interval of probability ``level``.

        Uses each target's fitted error distribution where there is one (its bounds may
        be asymmetric about the mean) and the Gaussian ``mean ± z * std`` otherwise.

        Returns:
            ``(lower, upper)``, each `n x t`, in target units.
        """
        lower = np.empty_like(self.mean, dtype=np.float64)
        upper = np.empty_like(self.mean, dtype=np.float64)
        for j, name in enumerate(self.target_names):
            lower[:, j], upper[:, j] = central_interval(
                self.mean[:, j], self.std[:, j], level, self.errors.get(name)
            )
        return lower, upper

    @classmethod
    def from_samples(cls, samples: np.ndarray, target_names: tuple[str, ...]) -> Prediction:
        """Build a prediction from `s x n x t` member predictions (std with ddof=1)."""
        mean = samples.mean(axis=0)
        ddof = 1 if samples.shape[0] > 1 else 0
        std = samples.std(axis=0, ddof=ddof)
        return cls(mean=mean, std=std, samples=samples, target_names=target_names)
