"""Experiment tracking: parameters, metrics, datasets and artifacts of training runs and
campaigns.

Code records through the small :class:`Tracker` protocol; three implementations:

* :class:`NullTracker` — records nothing (``backend: none``);
* :class:`InMemoryTracker` — keeps everything in Python lists and dicts, for tests;
* :class:`MlflowTracker` — an MLflow tracking store, by default one SQLite file shared by
  every campaign of a project folder (``runs/mlflow.db`` for ``runs/ws``; see
  :mod:`materials_ai.tracking.store`), so ``mlflow ui`` compares them and nothing touches
  the network.

::

    tracker = make_tracker(TrackingConfig(), run_dir)
    with tracker:                                 # ends the run; FAILED on an exception
        tracker.start_run("campaign", tags={"goal": "band-gap"})
        state.tracking_run_id = tracker.run_id    # persist it to resume later
        tracker.log_params(config_params(config.model_dump(mode="json")))
        tracker.log_metrics(metrics_with_units({"val_mae_band_gap": 0.21}, units), step=1)

A resumed campaign passes the stored id back: ``tracker.start_run("campaign",
run_id=state.tracking_run_id)``; later metrics append to the same run's history.

MLflow is imported lazily (``import mlflow`` takes ~3 s), on the first call that needs it.

Modules: :mod:`~materials_ai.tracking.base` (protocol), :mod:`~materials_ai.tracking.params`
(what is logged), :mod:`~materials_ai.tracking.memory` (null and in-memory trackers),
:mod:`~materials_ai.tracking.store` (default store, artifact locations),
:mod:`~materials_ai.tracking.mlflow_tracker`, :mod:`~materials_ai.tracking.config`.
"""

from __future__ import annotations

from materials_ai.tracking.base import RUN_STATUSES, DatasetInfo, Tracker, finite_metrics
from materials_ai.tracking.config import TrackingConfig, make_tracker
from materials_ai.tracking.memory import InMemoryRun, InMemoryTracker, NullTracker
from materials_ai.tracking.mlflow_tracker import MlflowTracker
from materials_ai.tracking.params import (
    config_params,
    flatten_params,
    metric_with_unit,
    metrics_with_units,
)
from materials_ai.tracking.store import (
    default_tracking_uri,
    local_artifact_path,
    project_dir,
    resolve_tracking_uri,
    ui_command,
)

__all__ = [
    "RUN_STATUSES",
    "DatasetInfo",
    "InMemoryRun",
    "InMemoryTracker",
    "MlflowTracker",
    "NullTracker",
    "Tracker",
    "TrackingConfig",
    "config_params",
    "default_tracking_uri",
    "finite_metrics",
    "flatten_params",
    "local_artifact_path",
    "make_tracker",
    "metric_with_unit",
    "metrics_with_units",
    "project_dir",
    "resolve_tracking_uri",
    "ui_command",
]
