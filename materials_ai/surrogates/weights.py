"""The scattered model of pool scoring: an ensemble's configs and member weights.

:class:`EnsembleWeights` is what :func:`~materials_ai.surrogates.scoring.score_pool` and
:func:`~materials_ai.surrogates.streaming.stream_score` send to the workers, once per call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import torch

from materials_ai.errors import SurrogateError
from materials_ai.graphs.config import GraphConfig
from materials_ai.graphs.packed import PackedGraphs
from materials_ai.surrogates.calibration import recalibrated
from materials_ai.surrogates.config import EnsembleConfig, ModelConfig
from materials_ai.surrogates.error_distribution import StandardizedErrors
from materials_ai.surrogates.prediction import Prediction
from materials_ai.surrogates.training import (
    INFERENCE_BATCH_SIZE,
    StateDict,
    _batches,
    build_model,
)

if TYPE_CHECKING:
    from materials_ai.surrogates.cgcnn import CGCNN


# --------------------------------------------------------------------------------------
# The scattered model
# --------------------------------------------------------------------------------------


class FittedEnsemble(Protocol):
    """What scoring takes from a surrogate: its configs, targets and member weights.

    :class:`~materials_ai.surrogates.ensemble.GraphEnsembleSurrogate` is one. Scoring names
    this protocol rather than the class so that it never imports the ensemble module,
    which imports this one to score pools (no import cycle; checked by ``lint-imports``).
    Optional ``std_scales`` and ``error_distributions`` attributes are used when present.
    """

    @property
    def config(self) -> EnsembleConfig:
        """Ensemble settings (``model`` and ``graph`` are read)."""
        ...

    @property
    def target_names(self) -> Sequence[str]:
        """The `t` target names, in output order."""
        ...

    @property
    def is_fitted(self) -> bool:
        """Whether the members have weights."""
        ...

    @property
    def member_states(self) -> Sequence[StateDict]:
        """The `s` members' state dicts."""
        ...


@dataclass
class EnsembleWeights:
    """Everything a worker needs to run an ensemble's members: configs and weights.

    This is what ``score_pool`` and ``stream_score`` scatter to the workers, once
    per call (a few MB for the workflow's 5-member ensemble). The member networks are
    built from it on first use in each process and kept on the object, so the tasks of
    a worker share them; they are not pickled.

    Attributes:
        model_config: Architecture of each member.
        graph_config: Graph settings (the distance expansion uses the cutoff).
        target_names: `t` target names, the output columns.
        states: `s` member state dicts.
        std_scales: Target -> recalibration factor of the spread (empty: none).
        error_distributions: Target -> fitted standardized-error distribution (empty:
            Gaussian).
    """

    model_config: ModelConfig
    graph_config: GraphConfig
    target_names: tuple[str, ...]
    states: list[StateDict]
    std_scales: dict[str, float] = field(default_factory=dict)
    error_distributions: dict[str, StandardizedErrors] = field(default_factory=dict)
    _models: list[CGCNN] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_surrogate(cls, surrogate: FittedEnsemble) -> EnsembleWeights:
        """Take the weights of a fitted ensemble (shared, not copied)."""
        if not surrogate.is_fitted:
            raise SurrogateError("the surrogate is not fitted; call fit() or load() first")
        return cls(
            model_config=surrogate.config.model,
            graph_config=surrogate.config.graph,
            target_names=tuple(surrogate.target_names),
            states=list(surrogate.member_states),
            std_scales=dict(getattr(surrogate, "std_scales", {}) or {}),
            error_distributions=dict(getattr(surrogate, "error_distributions", {}) or {}),
        )

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_models"] = None
        return state

    def models(self) -> list[CGCNN]:
        """The member networks in eval mode (built once per process)."""
        if self._models is None:
            models = []
            for state in self.states:
                model = build_model(self.model_config, self.graph_config, len(self.target_names))
                model.load_state_dict(state)
                model.eval()
                models.append(model)
            self._models = models
        return self._models

    @torch.no_grad()
    def predict_samples(
        self, graphs: PackedGraphs, batches: Sequence[np.ndarray] | None = None
    ) -> np.ndarray:
        """Member predictions in target units, `s x n x t` (float64).

        Args:
            graphs: `n` graphs.
            batches: Index arrays of the mini-batches, covering ``range(n)`` in order;
                default: batches of :data:`INFERENCE_BATCH_SIZE` split as the serial path
                splits them.
        """
        if batches is None:
            batches = _batches(np.arange(len(graphs)), INFERENCE_BATCH_SIZE)
        models = self.models()
        samples = np.empty((len(models), len(graphs), len(self.target_names)), np.float64)
        if len(graphs) == 0:
            return samples
        data = [graphs.to_batch(b) for b in batches]
        for k, model in enumerate(models):
            pred = torch.cat([model(batch) for batch in data])
            samples[k] = (pred * model.y_std + model.y_mean).numpy()
        return samples

    def prediction(self, samples: np.ndarray) -> Prediction:
        """Mean, std and samples from `s x n x t` member predictions (recalibrated)."""
        prediction = Prediction.from_samples(samples, self.target_names)
        return recalibrated(prediction, self.std_scales, self.error_distributions)


def _limit_torch_threads() -> None:
    """On a Dask worker, use as many torch threads as the worker has (not every core)."""
    from materials_ai.compute import worker_threads

    threads = worker_threads()
    if threads is not None and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
