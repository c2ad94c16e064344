"""Campaign state: everything needed to resume, written atomically after each stage."""

from __future__ import annotations

import json
import os
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from materials_ai.data.records import Observation
from materials_ai.errors import CampaignError
from materials_ai.oracles.base import Ticket

STATE_FILE = "state.json"
STATE_FORMAT_VERSION = 1


class Stage(StrEnum):
    """Stages of the loop, in execution order within an iteration.

    Iteration 0 has the single stage ``SEED`` (random seed labels are submitted).
    Iterations ``1..N`` run ``COLLECT, TRAIN, SCORE, SELECT, SUBMIT, RECORD``. The final
    iteration ``N+1`` runs ``COLLECT, TRAIN, SCORE, RECORD`` (or ``COLLECT, RECORD``
    without ``final_retrain``), after which the campaign is ``DONE``.
    """

    SEED = "seed"
    COLLECT = "collect"
    TRAIN = "train"
    SCORE = "score"
    SELECT = "select"
    SUBMIT = "submit"
    RECORD = "record"
    DONE = "done"


class SelectionRecord(BaseModel):
    """One batch chosen by the campaign.

    Attributes:
        iteration: Iteration that chose it (0 = seed labels).
        strategy: Acquisition strategy (``random`` for the seed labels).
        candidate_ids: Picks in order.
        acquisition_values: Value of each pick at pick time (NaN for random).
        predicted_mean: Target -> surrogate mean of each pick at pick time (empty for the
            seed labels). With the later observation this gives honest parity plots:
            predictions made before the label was known.
        predicted_std: Target -> surrogate std of each pick at pick time.
    """

    model_config = ConfigDict(extra="forbid")

    iteration: int
    strategy: str
    candidate_ids: list[str]
    acquisition_values: list[float | None]
    predicted_mean: dict[str, list[float]] = Field(default_factory=dict)
    predicted_std: dict[str, list[float]] = Field(default_factory=dict)


class ObservationRecord(BaseModel):
    """An observation plus the iteration whose batch produced it."""

    model_config = ConfigDict(extra="forbid")

    iteration: int
    observation: dict[str, Any]

    def to_observation(self) -> Observation:
        """Return the typed observation."""
        return Observation.from_dict(self.observation)


class CampaignState(BaseModel):
    """The persisted state of a campaign.

    Attributes:
        format_version: Layout version of this file.
        workflow_fingerprint: Hash of the workflow settings it was started with.
        iteration: Current iteration.
        completed: Stages of the current iteration already completed, in order.
        done: The campaign has finished.
        final_iteration: The iteration that collects the last batch and ranks (set when
            the selection budget is spent).
        oracle_calls: Validations requested so far (seed labels included).
        observations: Every observation collected.
        pending: Tickets submitted and not yet collected.
        selections: Every batch chosen.
        metrics: Per-iteration metrics (what was logged to the tracker).
        fit: Summary of the latest surrogate fit.
        tracking_run_id: Tracker run to append to on resume.
        model_dir: Folder (relative to the run directory) of the latest surrogate.
        scores_file: File (relative) of the latest pool scores.
    """

    model_config = ConfigDict(extra="forbid")

    format_version: int = STATE_FORMAT_VERSION
    workflow_fingerprint: str
    iteration: int = 0
    completed: list[Stage] = Field(default_factory=list)
    done: bool = False
    final_iteration: int | None = None
    oracle_calls: int = 0
    observations: list[ObservationRecord] = Field(default_factory=list)
    pending: list[dict[str, Any]] = Field(default_factory=list)
    selections: list[SelectionRecord] = Field(default_factory=list)
    metrics: list[dict[str, float]] = Field(default_factory=list)
    fit: dict[str, Any] | None = None
    tracking_run_id: str | None = None
    model_dir: str | None = None
    scores_file: str | None = None

    def pending_tickets(self) -> list[Ticket]:
        """The pending tickets, typed."""
        return [Ticket.from_dict(t) for t in self.pending]

    def typed_observations(self) -> list[Observation]:
        """All observations, typed, in collection order."""
        return [r.to_observation() for r in self.observations]

    def labelled_ids(self) -> set[str]:
        """Ids with a successful observation."""
        return {r.observation["candidate_id"] for r in self.observations if r.observation["ok"]}

    def requested_ids(self) -> set[str]:
        """Ids ever submitted (observed, failed or pending)."""
        ids = {r.observation["candidate_id"] for r in self.observations}
        return ids | {t["candidate_id"] for t in self.pending}


def save_state(state: CampaignState, run_dir: Path) -> None:
    """Write ``state.json`` atomically (temporary file, fsync, rename)."""
    path = Path(run_dir) / STATE_FILE
    tmp = path.with_name(f".{STATE_FILE}.tmp{os.getpid()}")
    payload = state.model_dump(mode="json")
    with open(tmp, "w") as fh:
        json.dump(payload, fh, indent=1, allow_nan=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def load_state(run_dir: Path) -> CampaignState:
    """Read ``state.json`` of a run directory.

    Raises:
        CampaignError: If the file is missing or unreadable.
    """
    path = Path(run_dir) / STATE_FILE
    if not path.exists():
        raise CampaignError(f"{path} not found: {run_dir} is not a campaign run directory")
    try:
        state = CampaignState.model_validate(json.loads(path.read_text()))
    except (json.JSONDecodeError, ValueError) as error:
        raise CampaignError(f"{path} is not a valid campaign state: {error}") from None
    if state.format_version != STATE_FORMAT_VERSION:
        raise CampaignError(
            f"{path}: state format {state.format_version}, expected {STATE_FORMAT_VERSION}"
        )
    return state
