"""The result of a surrogate's prediction: mean, spread and member samples."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from materials_ai.surrogates.error_distribution import StandardizedErrors, central_interval

if TYPE_CHECKING:
    import pandas as pd


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
        target_units: `t` units (``eV``, ``eV/atom``; ``""``: dimensionless or unknown),
            or empty when not known. ``surrogate.predict`` fills them from the saved
            model (whose units come from the dataset card it was trained on).
        ids: `n` candidate ids (row labels of :meth:`to_dataframe`), or None.
    """

    mean: np.ndarray
    std: np.ndarray
    samples: np.ndarray | None
    target_names: tuple[str, ...]
    errors: Mapping[str, StandardizedErrors] = field(default_factory=dict)
    domain: np.ndarray | None = None
    target_units: tuple[str, ...] = ()
    ids: tuple[str, ...] | None = None

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
        if self.target_units and len(self.target_units) != len(self.target_names):
            raise ValueError(f"{len(self.target_units)} units for {len(self.target_names)} targets")
        if self.ids is not None and len(self.ids) != self.mean.shape[0]:
            raise ValueError(f"{len(self.ids)} ids for {self.mean.shape[0]} predictions")

    def outside_domain(self, limit: float = 1.0) -> np.ndarray:
        """`n` booleans: the candidate lies outside the training domain (False if unknown)."""
        if self.domain is None:
            return np.zeros(len(self), dtype=bool)
        return self.domain > limit

    def __len__(self) -> int:
        return int(self.mean.shape[0])

    def unit(self, target: str) -> str:
        """Unit of ``target`` (``""`` when dimensionless or not known)."""
        j = self.target_names.index(target)
        return self.target_units[j] if self.target_units else ""

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
            target_units=self.target_units,
            ids=None if self.ids is None else tuple(self.ids[int(i)] for i in indices),
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

    def to_dataframe(self, level: float | None = 0.9) -> pd.DataFrame:
        """One row per candidate (index: :attr:`ids` when known).

        Args:
            level: Probability of the central interval reported (see :meth:`interval`);
                None: no interval columns.

        Returns:
            Per target ``<target>_mean`` and ``<target>_std`` and, with ``level`` 0.9,
            ``<target>_lo90`` and ``<target>_hi90``; then ``domain_distance`` and
            ``outside_domain`` when the surrogate scores its domain. ``attrs["units"]``
            maps every column to its unit (``""`` for dimensionless ones).
        """
        import pandas as pd

        columns: dict[str, np.ndarray] = {}
        units: dict[str, str] = {}
        bounds = self.interval(level) if level is not None else None
        tag = f"{100 * level:g}" if level is not None else ""
        for j, target in enumerate(self.target_names):
            values = {"mean": self.mean[:, j], "std": self.std[:, j]}
            if bounds is not None:
                values |= {f"lo{tag}": bounds[0][:, j], f"hi{tag}": bounds[1][:, j]}
            for name, column in values.items():
                columns[f"{target}_{name}"] = column
                units[f"{target}_{name}"] = self.unit(target)
        if self.domain is not None:
            columns["domain_distance"] = self.domain
            columns["outside_domain"] = self.outside_domain()
            units |= {"domain_distance": "", "outside_domain": ""}
        index = pd.Index(self.ids, name="id") if self.ids is not None else None
        table = pd.DataFrame(columns, index=index)
        table.attrs["units"] = units
        return table

    @classmethod
    def from_samples(cls, samples: np.ndarray, target_names: tuple[str, ...]) -> Prediction:
        """Build a prediction from `s x n x t` member predictions (std with ddof=1)."""
        mean = samples.mean(axis=0)
        ddof = 1 if samples.shape[0] > 1 else 0
        std = samples.std(axis=0, ddof=ddof)
        return cls(mean=mean, std=std, samples=samples, target_names=target_names)
