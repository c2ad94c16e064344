"""Experiment tracking: parameters, metrics and artifacts of training runs and campaigns.

Code records through the small :class:`Tracker` protocol; three implementations:

* :class:`NullTracker` — records nothing (``backend: none``);
* :class:`InMemoryTracker` — keeps everything in Python lists and dicts, for tests;
* :class:`MlflowTracker` — an MLflow tracking store, by default a SQLite file in the run
  directory (:func:`default_tracking_uri`), so a campaign's runs live beside its state and
  nothing touches the network.

::

    tracker = make_tracker(TrackingConfig(), run_dir)
    with tracker:                                 # ends the run; FAILED on an exception
        tracker.start_run("campaign", tags={"goal": "band-gap"})
        state.tracking_run_id = tracker.run_id    # persist it to resume later
        tracker.log_params({"surrogate": {"kind": "cgcnn", "ensemble": 5}})
        tracker.log_metrics({"best_gap_error_ev": 0.21}, step=iteration)

A resumed campaign passes the stored id back: ``tracker.start_run("campaign",
run_id=state.tracking_run_id)``; later metrics append to the same run's history.

MLflow is imported lazily (``import mlflow`` takes ~3 s), on the first call that needs it.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Protocol, Self, runtime_checkable

from pydantic import BaseModel, ConfigDict

from materials_ai.errors import MaterialsAIError

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = [
    "RUN_STATUSES",
    "InMemoryRun",
    "InMemoryTracker",
    "MlflowTracker",
    "NullTracker",
    "Tracker",
    "TrackingConfig",
    "default_tracking_uri",
    "finite_metrics",
    "flatten_params",
    "make_tracker",
]

logger = logging.getLogger(__name__)

#: Terminal statuses accepted by :meth:`Tracker.end_run` (MLflow's names).
RUN_STATUSES = ("FINISHED", "FAILED", "KILLED")

# MLflow's limits (mlflow.utils.validation): longest parameter value, entities per batch.
_MAX_PARAM_VALUE_LENGTH = 6000
_MAX_PARAMS_PER_BATCH = 100
_MAX_METRICS_PER_BATCH = 1000


# --------------------------------------------------------------------------------------
# Protocol and helpers
# --------------------------------------------------------------------------------------


@runtime_checkable
class Tracker(Protocol):
    """Records one run at a time: its parameters, metric histories and artifacts.

    Trackers are context managers: leaving the ``with`` block ends the active run, with
    status ``FAILED`` when an exception escapes (``KILLED`` for ``KeyboardInterrupt``).
    """

    @property
    def run_id(self) -> str | None:
        """Id of the active run; ``None`` when no run is active."""
        ...

    def start_run(
        self,
        name: str,
        tags: Mapping[str, str] | None = None,
        run_id: str | None = None,
    ) -> None:
        """Start a new run, or resume the run ``run_id``.

        Args:
            name: Human-readable run name (ignored when resuming).
            tags: String tags set on the run.
            run_id: Id of an existing run to resume; its history is kept and extended.

        Raises:
            MaterialsAIError: If a run is already active, or ``run_id`` is unknown.
        """
        ...

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Record parameters; nested mappings become dotted keys, values strings.

        See :func:`flatten_params`.
        """
        ...

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        """Record metric values at ``step`` (an iteration or epoch number).

        Non-finite values (NaN, ±inf) are skipped with a logged warning.
        """
        ...

    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None:
        """Copy a file or a folder into the run's artifacts, under ``artifact_path``."""
        ...

    def end_run(self, status: str = "FINISHED") -> None:
        """End the active run with a status from :data:`RUN_STATUSES`; no-op if none."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


def flatten_params(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Flatten nested mappings into dotted keys with string values.

    Pydantic models and dataclass-like objects are not expanded: pass
    ``model.model_dump()`` to log a config's fields.

    Args:
        params: Parameters, possibly nested (``{"gnn": {"layers": 3}}``).
        prefix: Key prefix of this level (used by the recursion).

    Returns:
        ``{"gnn.layers": "3"}``; ``None`` becomes ``"None"``, sequences their ``str()``.
        An empty nested mapping becomes ``"{}"``, so the key is not lost.
    """
    flat: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten_params(value, prefix=f"{name}."))
        else:
            flat[name] = str(value)
    return flat


def finite_metrics(metrics: Mapping[str, float], step: int) -> dict[str, float]:
    """The metrics as floats, without non-finite values (each skipped one is logged).

    Raises:
        TypeError: If a value cannot be converted to ``float``.
    """
    finite: dict[str, float] = {}
    for key, value in metrics.items():
        number = float(value)
        if math.isfinite(number):
            finite[key] = number
        else:
            logger.warning("Skipping non-finite metric %r = %s at step %d", key, number, step)
    return finite


def _check_status(status: str) -> str:
    if status not in RUN_STATUSES:
        raise MaterialsAIError(
            f"Unknown run status {status!r}; use one of {', '.join(RUN_STATUSES)}"
        )
    return status


class _TrackerBase:
    """Context-manager behaviour shared by the trackers."""

    @property
    def run_id(self) -> str | None:
        raise NotImplementedError

    def end_run(self, status: str = "FINISHED") -> None:
        raise NotImplementedError

    def _require_run(self) -> str:
        run_id = self.run_id
        if run_id is None:
            raise MaterialsAIError("No active run: call start_run() first")
        return run_id

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.run_id is None:
            return
        if exc_type is None:
            self.end_run("FINISHED")
        elif issubclass(exc_type, KeyboardInterrupt):
            self.end_run("KILLED")
        else:
            self.end_run("FAILED")


# --------------------------------------------------------------------------------------
# Null and in-memory trackers
# --------------------------------------------------------------------------------------


class NullTracker(_TrackerBase):
    """A tracker that records nothing; its :attr:`run_id` is always ``None``."""

    @property
    def run_id(self) -> str | None:
        return None

    def start_run(
        self,
        name: str,
        tags: Mapping[str, str] | None = None,
        run_id: str | None = None,
    ) -> None:
        """Do nothing."""

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Do nothing."""

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        """Do nothing."""

    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None:
        """Do nothing."""

    def end_run(self, status: str = "FINISHED") -> None:
        """Check ``status``; nothing else."""
        _check_status(status)

    def __repr__(self) -> str:
        return "NullTracker()"


@dataclass
class InMemoryRun:
    """Everything an :class:`InMemoryTracker` recorded for one run.

    Attributes:
        run_id: ``"run-0"``, ``"run-1"``, … in creation order.
        name: The name given to ``start_run``.
        tags: Tags, merged over resumes.
        params: Flattened parameters (see :func:`flatten_params`).
        metrics: Per metric key, the ``(step, value)`` history in logging order.
        artifacts: ``(path, artifact_path)`` per logged artifact.
        status: ``RUNNING`` or the status given to ``end_run``.
        starts: How many times the run was started or resumed.
    """

    run_id: str
    name: str
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    artifacts: list[tuple[Path, str | None]] = field(default_factory=list)
    status: str = "RUNNING"
    starts: int = 1

    def metric_values(self, key: str) -> list[float]:
        """The values of metric ``key`` in logging order (empty if never logged)."""
        return [value for _, value in self.metrics.get(key, [])]


class InMemoryTracker(_TrackerBase):
    """Records runs in memory, in the same way :class:`MlflowTracker` stores them.

    Meant for tests: inspect :attr:`runs` (by id) or :attr:`last_run` afterwards.
    Parameters follow MLflow's rule that a logged value cannot change; metrics skip
    non-finite values.
    """

    def __init__(self) -> None:
        self.runs: dict[str, InMemoryRun] = {}
        self._active: str | None = None
        self._last: str | None = None

    @property
    def run_id(self) -> str | None:
        return self._active

    @property
    def last_run(self) -> InMemoryRun:
        """The most recently started or resumed run.

        Raises:
            MaterialsAIError: If no run was ever started.
        """
        if self._last is None:
            raise MaterialsAIError("InMemoryTracker has recorded no run")
        return self.runs[self._last]

    def start_run(
        self,
        name: str,
        tags: Mapping[str, str] | None = None,
        run_id: str | None = None,
    ) -> None:
        """Start a new run, or resume a recorded one (see :meth:`Tracker.start_run`)."""
        if self._active is not None:
            raise MaterialsAIError(f"Run {self._active!r} is still active: end it first")
        if run_id is None:
            run_id = f"run-{len(self.runs)}"
            self.runs[run_id] = InMemoryRun(run_id=run_id, name=name)
        elif run_id in self.runs:
            run = self.runs[run_id]
            run.status = "RUNNING"
            run.starts += 1
        else:
            raise MaterialsAIError(f"Cannot resume run {run_id!r}: no such run")
        self.runs[run_id].tags.update(tags or {})
        self._active = self._last = run_id

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Record flattened parameters (see :meth:`Tracker.log_params`).

        Raises:
            MaterialsAIError: If a parameter was logged before with another value.
        """
        run = self.runs[self._require_run()]
        for key, value in flatten_params(params).items():
            old = run.params.get(key)
            if old is not None and old != value:
                raise MaterialsAIError(
                    f"Parameter {key!r} was logged as {old!r}; cannot change it to {value!r}"
                )
            run.params[key] = value

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        """Append finite metric values at ``step`` (see :meth:`Tracker.log_metrics`)."""
        run = self.runs[self._require_run()]
        for key, value in finite_metrics(metrics, step).items():
            run.metrics.setdefault(key, []).append((int(step), value))

    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None:
        """Record the artifact's path (the file is not copied).

        Raises:
            MaterialsAIError: If ``path`` does not exist.
        """
        run = self.runs[self._require_run()]
        path = Path(path)
        if not path.exists():
            raise MaterialsAIError(f"Artifact not found: {path}")
        run.artifacts.append((path, artifact_path))

    def end_run(self, status: str = "FINISHED") -> None:
        """End the active run (see :meth:`Tracker.end_run`)."""
        _check_status(status)
        if self._active is None:
            return
        self.runs[self._active].status = status
        self._active = None

    def __repr__(self) -> str:
        return f"InMemoryTracker(runs={len(self.runs)}, active={self._active!r})"


# --------------------------------------------------------------------------------------
# MLflow
# --------------------------------------------------------------------------------------


def default_tracking_uri(run_dir: Path) -> str:
    """The default tracking store of a run directory: ``sqlite:///<abs run_dir>/mlflow.db``."""
    return f"sqlite:///{Path(run_dir).expanduser().resolve() / 'mlflow.db'}"


def _sqlite_path(tracking_uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI, or ``None`` for another store."""
    prefix = "sqlite:///"
    if not tracking_uri.startswith(prefix):
        return None
    return Path(tracking_uri[len(prefix) :])


class MlflowTracker(_TrackerBase):
    """Records runs in an MLflow tracking store through its own :class:`mlflow.MlflowClient`.

    No global MLflow state (``mlflow.start_run``, ``MLFLOW_*`` environment) is used or
    changed, so several trackers — on one store or on different ones — can work side by
    side in one process.

    Args:
        tracking_uri: MLflow tracking URI; ``sqlite:///<abs path>/mlflow.db`` (see
            :func:`default_tracking_uri`) or an ``http(s)://`` server.
        experiment: Experiment name; created on first use.
        artifact_location: Where a *newly created* experiment stores artifacts. ``None``
            uses ``mlartifacts/`` beside a SQLite database (MLflow's own default is
            ``./mlruns`` of the current directory) and the server's default otherwise.

    Note:
        A new SQLite store takes ~5 s to create; ``import mlflow`` ~3 s. Both happen on
        the first :meth:`start_run`, not in the constructor.
    """

    def __init__(
        self,
        tracking_uri: str,
        experiment: str = "materials-ai",
        *,
        artifact_location: str | None = None,
    ) -> None:
        self.tracking_uri = tracking_uri
        self.experiment = experiment
        self.artifact_location = artifact_location
        self._client: MlflowClient | None = None
        self._experiment_id: str | None = None
        self._run_id: str | None = None

    @property
    def run_id(self) -> str | None:
        return self._run_id

    @property
    def client(self) -> MlflowClient:
        """The tracker's own MLflow client (created on first use)."""
        if self._client is None:
            from mlflow import MlflowClient

            database = _sqlite_path(self.tracking_uri)
            if database is not None:
                database.parent.mkdir(parents=True, exist_ok=True)
            self._client = MlflowClient(tracking_uri=self.tracking_uri)
        return self._client

    @property
    def experiment_id(self) -> str:
        """Id of :attr:`experiment` in the store, created if missing."""
        if self._experiment_id is None:
            from mlflow.exceptions import MlflowException

            found = self.client.get_experiment_by_name(self.experiment)
            if found is None:
                try:
                    self._experiment_id = self.client.create_experiment(
                        self.experiment, artifact_location=self._default_artifact_location()
                    )
                except MlflowException:  # created concurrently by another tracker
                    found = self.client.get_experiment_by_name(self.experiment)
                    if found is None:
                        raise
            if found is not None:
                if found.lifecycle_stage == "deleted":
                    raise MaterialsAIError(
                        f"MLflow experiment {self.experiment!r} is deleted in "
                        f"{self.tracking_uri}: restore it or choose another name"
                    )
                self._experiment_id = found.experiment_id
        assert self._experiment_id is not None
        return self._experiment_id

    def _default_artifact_location(self) -> str | None:
        if self.artifact_location is not None:
            return self.artifact_location
        database = _sqlite_path(self.tracking_uri)
        if database is None:
            return None
        return (database.parent.resolve() / "mlartifacts").as_uri()

    def start_run(
        self,
        name: str,
        tags: Mapping[str, str] | None = None,
        run_id: str | None = None,
    ) -> None:
        """Create a run, or resume run ``run_id`` (see :meth:`Tracker.start_run`).

        Raises:
            MaterialsAIError: If a run is active, ``run_id`` is not in this store, or it
                belongs to another experiment.
        """
        from mlflow.exceptions import MlflowException

        if self._run_id is not None:
            raise MaterialsAIError(f"Run {self._run_id!r} is still active: end it first")
        tag_dict = {str(k): str(v) for k, v in (tags or {}).items()}
        if run_id is None:
            run = self.client.create_run(self.experiment_id, run_name=name, tags=tag_dict)
            self._run_id = run.info.run_id
            logger.info(
                "MLflow run %s (%s) in experiment %r at %s",
                self._run_id,
                name,
                self.experiment,
                self.tracking_uri,
            )
            return
        try:
            run = self.client.get_run(run_id)
        except MlflowException as exc:
            raise MaterialsAIError(
                f"Cannot resume MLflow run {run_id!r}: not found in {self.tracking_uri}"
            ) from exc
        if run.info.experiment_id != self.experiment_id:
            raise MaterialsAIError(
                f"Cannot resume MLflow run {run_id!r}: it belongs to experiment id "
                f"{run.info.experiment_id}, not {self.experiment!r} ({self.experiment_id})"
            )
        self.client.update_run(run_id, status="RUNNING")
        for key, value in tag_dict.items():
            self.client.set_tag(run_id, key, value)
        self._run_id = run_id
        logger.info("Resumed MLflow run %s at %s", run_id, self.tracking_uri)

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Record flattened parameters in batches (see :meth:`Tracker.log_params`).

        MLflow parameters cannot change once logged. On a resumed run, parameters logged
        before with the same value are skipped; a changed value is not logged and a
        warning names it (the run keeps its first value). Values longer than 6,000
        characters are truncated with a warning.
        """
        from mlflow.entities import Param

        run_id = self._require_run()
        existing = self.client.get_run(run_id).data.params
        batch: list[Param] = []
        for key, value in flatten_params(params).items():
            if len(value) > _MAX_PARAM_VALUE_LENGTH:
                logger.warning(
                    "Truncating parameter %r from %d to %d characters",
                    key,
                    len(value),
                    _MAX_PARAM_VALUE_LENGTH,
                )
                value = value[:_MAX_PARAM_VALUE_LENGTH]
            if key in existing:
                if existing[key] != value:
                    logger.warning(
                        "Parameter %r of run %s stays %r; not changed to %r (MLflow "
                        "parameters are immutable)",
                        key,
                        run_id,
                        existing[key],
                        value,
                    )
                continue
            batch.append(Param(key, value))
        for start in range(0, len(batch), _MAX_PARAMS_PER_BATCH):
            self.client.log_batch(run_id, params=batch[start : start + _MAX_PARAMS_PER_BATCH])

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        """Record finite metric values at ``step`` in batches (see :meth:`Tracker.log_metrics`)."""
        from mlflow.entities import Metric

        run_id = self._require_run()
        timestamp_ms = int(time.time() * 1000)
        batch = [
            Metric(key, value, timestamp_ms, int(step))
            for key, value in finite_metrics(metrics, step).items()
        ]
        for start in range(0, len(batch), _MAX_METRICS_PER_BATCH):
            self.client.log_batch(run_id, metrics=batch[start : start + _MAX_METRICS_PER_BATCH])

    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None:
        """Copy a file or a folder's contents into the run's artifacts.

        Raises:
            MaterialsAIError: If ``path`` does not exist.
        """
        run_id = self._require_run()
        path = Path(path)
        if path.is_dir():
            self.client.log_artifacts(run_id, str(path), artifact_path)
        elif path.is_file():
            self.client.log_artifact(run_id, str(path), artifact_path)
        else:
            raise MaterialsAIError(f"Artifact not found: {path}")

    def end_run(self, status: str = "FINISHED") -> None:
        """Mark the active run terminated (see :meth:`Tracker.end_run`)."""
        _check_status(status)
        if self._run_id is None:
            return
        run_id, self._run_id = self._run_id, None
        self.client.set_terminated(run_id, status=status)

    def __repr__(self) -> str:
        return (
            f"MlflowTracker(tracking_uri={self.tracking_uri!r}, experiment={self.experiment!r}, "
            f"run_id={self._run_id!r})"
        )


# --------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------


class TrackingConfig(BaseModel):
    """Which tracker a run uses.

    Attributes:
        backend: ``mlflow`` or ``none`` (:class:`NullTracker`).
        tracking_uri: MLflow tracking URI; ``None`` uses a SQLite file in the run directory
            (:func:`default_tracking_uri`).
        experiment: MLflow experiment name.
        artifact_location: Artifact root of a newly created experiment; ``None`` puts
            artifacts in ``mlartifacts/`` beside a SQLite store.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: Literal["mlflow", "none"] = "mlflow"
    tracking_uri: str | None = None
    experiment: str = "materials-ai"
    artifact_location: str | None = None


def make_tracker(config: TrackingConfig | None, run_dir: Path) -> Tracker:
    """Build the tracker a config describes.

    Args:
        config: The tracking config; ``None`` (nothing configured) gives a
            :class:`NullTracker`, like ``backend: none``.
        run_dir: The run directory; holds ``mlflow.db`` when ``tracking_uri`` is ``None``.

    Returns:
        A :class:`NullTracker` or an :class:`MlflowTracker` (nothing is opened yet).
    """
    if config is None or config.backend == "none":
        return NullTracker()
    return MlflowTracker(
        config.tracking_uri or default_tracking_uri(run_dir),
        config.experiment,
        artifact_location=config.artifact_location,
    )
