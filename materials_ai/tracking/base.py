"""The :class:`Tracker` protocol and what every tracker shares.

A tracker records one run at a time: parameters, metric histories, dataset inputs and
artifacts. See the package docstring (:mod:`materials_ai.tracking`) for an example.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self, runtime_checkable

from materials_ai.errors import MaterialsAIError

__all__ = [
    "RUN_STATUSES",
    "DatasetInfo",
    "Tracker",
    "check_status",
    "finite_metrics",
]

logger = logging.getLogger("materials_ai.tracking")

#: Terminal statuses accepted by :meth:`Tracker.end_run` (MLflow's names).
RUN_STATUSES = ("FINISHED", "FAILED", "KILLED")


@dataclass(frozen=True)
class DatasetInfo:
    """A dataset a run used, described without reading its rows again.

    Logged to MLflow as a dataset input (the run's "Datasets used" in ``mlflow ui``).

    Attributes:
        name: Dataset name (as on its card, e.g. ``castelli_perovskites``).
        source: Where the data comes from: a local file path or a URI (the data file the
            card describes, or a file in the run directory for a generated pool).
        digest: Content fingerprint (e.g. the card's sha256); MLflow keeps 36 characters.
        rows: Rows the run used (the pool after screens and sampling).
        targets: Target columns with their units, ``{"band_gap": "eV"}``.
        context: What the run used it for (``pool``, ``training``).
        tags: More string tags for the input (e.g. the card's title, level of theory).
    """

    name: str
    source: str
    digest: str
    rows: int
    targets: Mapping[str, str] = field(default_factory=dict)
    context: str = "pool"
    tags: Mapping[str, str] = field(default_factory=dict)


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
        """Record parameters; nested mappings become dotted keys, values plain text.

        See :func:`~materials_ai.tracking.params.flatten_params`.
        """
        ...

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        """Record metric values at ``step`` (an iteration or epoch number).

        Non-finite values (NaN, ±inf) are skipped with a logged warning.
        """
        ...

    def log_dataset(self, dataset: DatasetInfo) -> None:
        """Record a dataset the run used (an MLflow dataset input)."""
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


def check_status(status: str) -> str:
    """Return ``status`` if it is one of :data:`RUN_STATUSES`.

    Raises:
        MaterialsAIError: If it is not.
    """
    if status not in RUN_STATUSES:
        raise MaterialsAIError(
            f"Unknown run status {status!r}; use one of {', '.join(RUN_STATUSES)}"
        )
    return status


class TrackerBase:
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
