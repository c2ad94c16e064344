"""Trackers that keep nothing (:class:`NullTracker`) or keep it in memory, for tests
(:class:`InMemoryTracker`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from materials_ai.errors import MaterialsAIError
from materials_ai.tracking.base import DatasetInfo, TrackerBase, check_status, finite_metrics
from materials_ai.tracking.params import flatten_params

__all__ = ["InMemoryRun", "InMemoryTracker", "NullTracker"]


class NullTracker(TrackerBase):
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

    def log_dataset(self, dataset: DatasetInfo) -> None:
        """Do nothing."""

    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None:
        """Do nothing."""

    def end_run(self, status: str = "FINISHED") -> None:
        """Check ``status``; nothing else."""
        check_status(status)

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
        datasets: Dataset inputs, in logging order.
        artifacts: ``(path, artifact_path)`` per logged artifact.
        status: ``RUNNING`` or the status given to ``end_run``.
        starts: How many times the run was started or resumed.
    """

    run_id: str
    name: str
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    datasets: list[DatasetInfo] = field(default_factory=list)
    artifacts: list[tuple[Path, str | None]] = field(default_factory=list)
    status: str = "RUNNING"
    starts: int = 1

    def metric_values(self, key: str) -> list[float]:
        """The values of metric ``key`` in logging order (empty if never logged)."""
        return [value for _, value in self.metrics.get(key, [])]


class InMemoryTracker(TrackerBase):
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

    def log_dataset(self, dataset: DatasetInfo) -> None:
        """Record a dataset input (see :meth:`Tracker.log_dataset`)."""
        self.runs[self._require_run()].datasets.append(dataset)

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
        check_status(status)
        if self._active is None:
            return
        self.runs[self._active].status = status
        self._active = None

    def __repr__(self) -> str:
        return f"InMemoryTracker(runs={len(self.runs)}, active={self._active!r})"
