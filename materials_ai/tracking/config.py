"""Which tracker a run uses: :class:`TrackingConfig` and :func:`make_tracker`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from materials_ai.tracking.base import Tracker
from materials_ai.tracking.memory import NullTracker
from materials_ai.tracking.mlflow_tracker import MlflowTracker
from materials_ai.tracking.store import resolve_tracking_uri

__all__ = ["TrackingConfig", "make_tracker"]


class TrackingConfig(BaseModel):
    """Which tracker a run uses.

    Attributes:
        backend: ``mlflow`` or ``none`` (:class:`NullTracker`).
        tracking_uri: MLflow tracking URI; ``None`` uses ``MLFLOW_TRACKING_URI`` when set,
            else the project store ``mlflow.db`` in the folder that holds the run
            directory (:func:`~materials_ai.tracking.store.resolve_tracking_uri`).
        experiment: MLflow experiment name.
        artifact_location: Artifact root of a newly created experiment; ``None`` puts
            artifacts in ``mlartifacts/`` beside a SQLite store, under MLflow's proxied
            root (``mlflow-artifacts:/<experiment>``), so the folder can move.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: Literal["mlflow", "none"] = "mlflow"
    tracking_uri: str | None = None
    experiment: str = "materials-ai"
    artifact_location: str | None = None

    def resolved_uri(self, run_dir: Path) -> str | None:
        """The tracking URI a run in ``run_dir`` uses; ``None`` for ``backend: none``."""
        if self.backend == "none":
            return None
        return resolve_tracking_uri(self.tracking_uri, run_dir)


def make_tracker(config: TrackingConfig | None, run_dir: Path) -> Tracker:
    """Build the tracker a config describes.

    Args:
        config: The tracking config; ``None`` (nothing configured) gives a
            :class:`NullTracker`, like ``backend: none``.
        run_dir: The run directory (or a training job's output folder); the default
            store is ``mlflow.db`` in the folder that holds it.

    Returns:
        A :class:`NullTracker` or an :class:`MlflowTracker` (nothing is opened yet).
    """
    if config is None or config.backend == "none":
        return NullTracker()
    return MlflowTracker(
        resolve_tracking_uri(config.tracking_uri, run_dir),
        config.experiment,
        artifact_location=config.artifact_location,
    )
