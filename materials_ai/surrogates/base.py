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
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

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

    def predict(self, candidates: Sequence[Candidate] | Any) -> Prediction:
        """Predict unlabelled candidates, or pymatgen ``Structure``/``Molecule``, ASE
        ``Atoms`` or structure file paths, one or many (converted by
        :func:`~materials_ai.surrogates.inputs.model_inputs`). The prediction carries
        the inputs' ids and the target units (:meth:`Prediction.to_dataframe`)."""
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

    @property
    def n_train(self) -> int:
        """Labelled candidates given."""
        ...

    @property
    def val_mae(self) -> dict[str, float]:
        """Target -> held-out (or leave-one-out) MAE, target unit."""
        ...

    @property
    def members(self) -> Sequence[Any]:
        """Per ensemble member or per GP target; each has ``epochs``."""
        ...

    @property
    def seconds(self) -> float:
        """Wall time of the fit."""
        ...

    @property
    def warm_start(self) -> bool:
        """Whether the fit started from the previous one."""
        ...


F = TypeVar("F", bound=PoolFeatures)


@runtime_checkable
class PoolSurrogate(Protocol[F]):
    """A surrogate as the campaign loop drives it, generic over its featurized pool ``F``
    (``PackedGraphs`` for graph networks, a feature table for GPs).

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
    ) -> F:
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
        features: F,
        y: np.ndarray,
        *,
        warm_start: bool = False,
        executor: Executor | None = None,
        seed_offset: int = 0,
    ) -> PoolFitReport:
        """Fit on `m` labelled rows; ``y`` is `m x t` in target units (NaN: unobserved)."""
        ...

    def predict_pool(self, features: F, *, executor: Executor | None = None) -> Prediction:
        """Score `n` rows: mean, std (`n x t`) and samples (`s x n x t`)."""
        ...

    def save(self, path: str | Path) -> None:
        """Persist to a folder (``surrogate.json`` names the kind)."""
        ...
