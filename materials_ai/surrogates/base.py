"""The surrogate contracts.

:class:`Surrogate` is what a notebook uses (fit a dataset, predict candidates).
:class:`PoolSurrogate` is what the campaign loop uses: it featurizes a candidate pool once
(graphs, descriptors, learned features: whatever the model reads, cached on disk), then
fits on the labelled rows of those features and scores the whole pool every iteration.
The loop knows only these methods; which model stands behind them is decided by the
surrogate-kind registry (:mod:`materials_ai.surrogates.kinds`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from materials_ai.compute import Executor
    from materials_ai.data.records import Candidate, MaterialsDataset
    from materials_ai.surrogates.prediction import Prediction


@runtime_checkable
class Surrogate(Protocol):
    """A model of material properties with uncertainty.

    ``predict`` returns a :class:`~materials_ai.surrogates.prediction.Prediction` whose
    ``samples`` (when present) are what acquisition functions integrate over.
    """

    target_names: tuple[str, ...]

    def fit(self, dataset: MaterialsDataset) -> Any:
        """Train on a labelled dataset; return a fit report."""
        ...

    def predict(self, candidates: Sequence[Candidate]) -> Prediction:
        """Predict unlabelled candidates."""
        ...

    def save(self, path: Path) -> None:
        """Persist to a folder."""
        ...


@runtime_checkable
class PoolFeatures(Protocol):
    """A featurized pool: graphs or a feature table, row ``i`` for candidate ``i``."""

    ids: tuple[str, ...]

    def __len__(self) -> int: ...

    def select(self, indices: np.ndarray) -> PoolFeatures:
        """The rows ``indices`` (`m` pool indices), in that order."""
        ...


@runtime_checkable
class PoolFitReport(Protocol):
    """What the campaign records of a fit."""

    n_train: int
    val_mae: dict[str, float]
    members: Sequence[Any]  # per ensemble member / per GP target; each has ``epochs``
    seconds: float
    warm_start: bool


@runtime_checkable
class PoolSurrogate(Protocol):
    """A surrogate as the campaign loop drives it.

    Attributes:
        target_names: The `t` targets, in the column order of labels and predictions.
    """

    target_names: tuple[str, ...]

    def featurize_pool(
        self,
        candidates: Sequence[Candidate],
        *,
        source: str | None,
        executor: Executor | None = None,
    ) -> PoolFeatures:
        """Featurize `n` candidates once (cached on disk under ``source`` when given).

        Args:
            candidates: The pool.
            source: Identifies the pool's origin (dataset name and checksum) for the
                disk cache; None: no cache.
            executor: Optional parallel executor.
        """
        ...

    def fit_pool(
        self,
        features: PoolFeatures,
        y: np.ndarray,
        *,
        warm_start: bool = False,
        executor: Executor | None = None,
        seed_offset: int = 0,
    ) -> PoolFitReport:
        """Fit on `m` labelled rows; ``y`` is `m x t` in target units (NaN: unobserved)."""
        ...

    def predict_pool(
        self, features: PoolFeatures, *, executor: Executor | None = None
    ) -> Prediction:
        """Score `n` rows: mean, std (`n x t`) and samples (`s x n x t`)."""
        ...

    def save(self, path: Path) -> None:
        """Persist to a folder (``surrogate.json`` names the kind)."""
        ...
