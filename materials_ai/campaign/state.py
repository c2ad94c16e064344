"""Campaign state: everything needed to resume, written atomically after each stage.

:func:`save_state` keeps the previous file as ``state.json.bak``; :func:`load_state` turns a
missing or damaged file into an error that gives the command restoring it. The run
directory (:class:`~materials_ai.campaign.rundir.RunDirectory`) adds the journal and the
lock around these two functions.
"""

from __future__ import annotations

import json
import os
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from materials_ai.campaign.layout import BACKUP_FILE, JOURNAL_FILE, STATE_FILE
from materials_ai.config_errors import config_error
from materials_ai.data.records import Observation
from materials_ai.errors import CampaignError, CorruptStateError
from materials_ai.oracles.base import Ticket

__all__ = [
    "STATE_FILE",
    "CampaignState",
    "ObservationRecord",
    "SelectionRecord",
    "Stage",
    "load_state",
    "recovery_hint",
    "save_state",
]
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

    iteration: int = Field(ge=0)
    strategy: str
    candidate_ids: list[str]
    acquisition_values: list[float | None]
    predicted_mean: dict[str, list[float]] = Field(default_factory=dict)
    predicted_std: dict[str, list[float]] = Field(default_factory=dict)


class ObservationRecord(BaseModel):
    """An observation plus the iteration whose batch produced it."""

    model_config = ConfigDict(extra="forbid")

    iteration: int = Field(ge=0)
    observation: dict[str, Any]

    def to_observation(self) -> Observation:
        """Return the typed observation."""
        return Observation.from_dict(self.observation)


class CampaignState(BaseModel):
    """The persisted state of a campaign.

    Attributes:
        format_version: Layout version of this file.
        workflow_fingerprint: Hash of the workflow settings it was started with.
        campaign_id: Identifies the campaign (a UUID set at start; None in runs started
            before it existed). Its ranked lists carry it, so outputs of another campaign
            left in the directory are recognised.
        iterations: Selection rounds in total set by ``campaign resume --iterations``
            (None: the stored workflow's ``loop.iterations``).
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
    campaign_id: str | None = None
    iterations: int | None = Field(None, ge=0)
    iteration: int = Field(0, ge=0)
    completed: list[Stage] = Field(default_factory=list)
    done: bool = False
    final_iteration: int | None = Field(None, ge=0)
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


def recovery_hint(run_dir: Path) -> str:
    """The commands that restore a run directory's state, from what it holds."""
    run_dir = Path(run_dir)
    ways = []
    if (run_dir / JOURNAL_FILE).exists():
        ways.append(
            f"rebuild it from the journal with `materials-ai campaign repair {run_dir} "
            "--from-journal` (the state of the last completed stage)"
        )
    if (run_dir / BACKUP_FILE).exists():
        ways.append(
            f"restore the previous state with `materials-ai campaign repair {run_dir} "
            "--from-backup` (one stage earlier; that stage is redone on resume)"
        )
    return "; or ".join(ways)


def save_state(state: CampaignState, run_dir: Path) -> None:
    """Write ``state.json`` atomically (temporary file, fsync, rename), keeping the previous
    file as ``state.json.bak`` (a hard link, swapped in atomically)."""
    run_dir = Path(run_dir)
    path = run_dir / STATE_FILE
    tmp = path.with_name(f".{STATE_FILE}.tmp{os.getpid()}")
    payload = state.model_dump(mode="json")
    with open(tmp, "w") as fh:
        json.dump(payload, fh, indent=1, allow_nan=True)
        fh.flush()
        os.fsync(fh.fileno())
    if path.exists():
        backup_tmp = run_dir / f".{BACKUP_FILE}.tmp{os.getpid()}"
        backup_tmp.unlink(missing_ok=True)
        try:
            os.link(path, backup_tmp)
        except OSError:  # no hard links on this file system: copy
            import shutil

            shutil.copyfile(path, backup_tmp)
        os.replace(backup_tmp, run_dir / BACKUP_FILE)
    os.replace(tmp, path)
    try:
        dir_fd = os.open(run_dir, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def parse_state(text: str, path: Path) -> CampaignState:
    """A state from the text of a state file.

    Raises:
        CampaignError: Not a valid state (no recovery hint; see :func:`load_state`).
    """
    try:
        state = CampaignState.model_validate(json.loads(text))
    except ValidationError as error:  # one line per bad field, e.g. a negative iteration
        raise CampaignError(str(config_error(error, CampaignState, str(path), "state"))) from None
    except (json.JSONDecodeError, ValueError) as error:
        raise CampaignError(f"{path} is not a valid campaign state: {error}") from None
    if state.format_version != STATE_FORMAT_VERSION:
        raise CampaignError(
            f"{path}: state format {state.format_version}, expected {STATE_FORMAT_VERSION}"
        )
    return state


def load_state(run_dir: Path) -> CampaignState:
    """Read ``state.json`` of a run directory.

    Raises:
        CampaignError: If the directory holds no campaign.
        CorruptStateError: If the file is missing or unreadable while a backup or the
            journal exists; the message gives the command that restores it.
    """
    run_dir = Path(run_dir)
    path = run_dir / STATE_FILE
    hint = recovery_hint(run_dir)
    if not path.exists():
        if hint:
            raise CorruptStateError(f"{path} is missing; {hint}")
        raise CampaignError(f"{path} not found: {run_dir} is not a campaign run directory")
    try:
        return parse_state(path.read_text(encoding="utf-8"), path)
    except (CampaignError, UnicodeDecodeError, OSError) as error:
        message = str(error) if isinstance(error, CampaignError) else f"{path}: {error}"
        if hint:
            message += f". To recover: {hint}"
        raise CorruptStateError(message) from None
