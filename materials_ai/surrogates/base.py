"""The surrogate contract every model honours."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
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
