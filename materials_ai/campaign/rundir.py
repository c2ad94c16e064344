"""The run directory: the one object that owns a campaign's paths, state, lock and journals.

The campaign loop, the lab hand-off (export, ingest), the report and the CLI reach a run
only through :class:`RunDirectory`::

    workflow.yaml        the exact settings the run started with (never rewritten)
    state.json           campaign state; state.json.bak: the previous one
    journal.jsonl        every state change, written ahead of state.json (journal.py)
    inbox.jsonl          lab observations ingested into the run (journal.py)
    campaign.lock        the owner's lock: pid, host, start time (lock.py)
    iterations/iter_NNN/ ranked list (CSV/JSON, carrying the campaign id) and CIFs
    final/               the same for the finished campaign
    models/, scores/     latest surrogate, latest pool scores
    skipped_rows.csv     dataset rows that could not be used, and why
    (../mlflow.db)       the default MLflow store, shared with the folder's other runs

**One owner.** ``campaign run``/``resume`` hold the lock for the whole run; ``ingest``
and ``export`` into the run take it when free; ``status`` and ``report`` never take it.

**Nothing a lab sends is lost.** ``ingest`` appends its observations to the inbox
(fsynced) before it answers, then tries the lock: free, it merges the inbox into the
state itself; held, the owner merges it at its next stage boundary and, at the latest,
when it releases the lock. Merging skips ``ingest_id`` values already in the state, so a
row is never added twice.
"""

from __future__ import annotations

import logging
import shutil
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from materials_ai.campaign import journal, layout
from materials_ai.campaign.lock import LockOwner, hold_lock, read_owner
from materials_ai.campaign.state import (
    CampaignState,
    ObservationRecord,
    load_state,
    recovery_hint,
    save_state,
)
from materials_ai.data.records import Observation
from materials_ai.errors import CampaignError, StaleOutputsError

if TYPE_CHECKING:
    import pandas as pd

    from materials_ai.campaign.config import WorkflowConfig

__all__ = ["RunDirectory", "ingest_ids", "new_campaign_id"]

logger = logging.getLogger(__name__)

#: What a campaign leaves in its run directory besides state and workflow: found in a
#: directory without state, they belong to another campaign.
CAMPAIGN_OUTPUTS = (
    layout.FINAL_DIR,
    layout.ITERATIONS_DIR,
    "models",
    "scores",
    "oracle_jobs",
    layout.JOURNAL_FILE,
    layout.INBOX_FILE,
    layout.BACKUP_FILE,
    "generative_state.json",
)


def new_campaign_id() -> str:
    """A fresh campaign id."""
    return uuid.uuid4().hex


class RunDirectory:
    """A campaign's run directory.

    Args:
        path: The directory.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        #: List lengths of the state on disk as this object last read or wrote it.
        self._base: journal.Counts | None = None
        #: (inode, mtime) of state.json as this object last read or wrote it.
        self._seen: tuple[int, int] | None = None

    def __repr__(self) -> str:
        return f"RunDirectory({str(self.path)!r})"

    # -- paths --------------------------------------------------------------------------

    @property
    def state_file(self) -> Path:
        """``state.json``."""
        return self.path / layout.STATE_FILE

    @property
    def backup_file(self) -> Path:
        """``state.json.bak``: the state before the latest write."""
        return self.path / layout.BACKUP_FILE

    @property
    def workflow_file(self) -> Path:
        """``workflow.yaml``."""
        return self.path / layout.WORKFLOW_FILE

    @property
    def journal_file(self) -> Path:
        """``journal.jsonl``."""
        return self.path / layout.JOURNAL_FILE

    @property
    def inbox_file(self) -> Path:
        """``inbox.jsonl``."""
        return self.path / layout.INBOX_FILE

    @property
    def lock_file(self) -> Path:
        """``campaign.lock``."""
        return self.path / layout.LOCK_FILE

    @property
    def final_dir(self) -> Path:
        """``final/``."""
        return self.path / layout.FINAL_DIR

    @property
    def iterations_dir(self) -> Path:
        """``iterations/``."""
        return self.path / layout.ITERATIONS_DIR

    def iteration_dir(self, iteration: int) -> Path:
        """``iterations/iter_NNN``."""
        return self.iterations_dir / f"iter_{iteration:03d}"

    def contains(self, path: str | Path) -> bool:
        """Whether ``path`` lies inside this run directory."""
        try:
            Path(path).resolve().relative_to(self.path.resolve())
        except ValueError:
            return False
        return True

    # -- the owner's lock ---------------------------------------------------------------

    @contextmanager
    def lock(self, purpose: str, *, wait_s: float = 0.0, hint: str = "") -> Iterator[LockOwner]:
        """Own the run directory for the duration of the block.

        On release, lab observations still queued in the inbox are merged into the state
        (the inbox's own lock is held across the release, so an ``ingest`` that queued
        while this process owned the run either is merged here or finds the run free).

        Args:
            purpose: What this process does (written into the lock file).
            wait_s: Seconds to wait for a busy lock.
            hint: What the error message suggests instead.

        Raises:
            RunDirectoryLockedError: Another process owns the run; the message names it.
        """
        if not self.path.is_dir():
            raise CampaignError(f"{self.path} is not a directory")
        with ExitStack() as stack:
            # Exits run last-in first-out: the inbox lock taken below is released only
            # after the run directory's lock.
            inbox = stack.enter_context(ExitStack())
            me = stack.enter_context(
                hold_lock(
                    self.lock_file, purpose=purpose, label=str(self.path), wait_s=wait_s, hint=hint
                )
            )
            try:
                yield me
            finally:
                if self.state_file.exists():
                    inbox.enter_context(journal.inbox_locked(self.inbox_file))
                    self._merge_on_release()

    def _merge_on_release(self) -> None:
        if not self.inbox_file.stat().st_size:
            return
        try:
            state = self.read_state()
            if self._merge(state, self._read_inbox()):
                self.write_state(state)
        except CampaignError as error:  # leave the rows queued for the next owner
            logger.warning("queued lab observations not merged: %s", error)

    def owner(self) -> LockOwner | None:
        """The running owner as its lock file names it (None: nobody, or one that ended).

        Never takes the lock: read-only commands cannot block on it.
        """
        owner = read_owner(self.lock_file)
        if owner is None or owner.is_alive() is False:
            return None
        return owner

    # -- state --------------------------------------------------------------------------

    def read_state(self) -> CampaignState:
        """The state on disk.

        Raises:
            CampaignError: The directory holds no campaign.
            CorruptStateError: ``state.json`` is missing or damaged; the message gives the
                command that restores it from the backup or the journal.
        """
        state = load_state(self.path)
        self._remember(state)
        return state

    def write_state(self, state: CampaignState, *, snapshot: bool = False) -> None:
        """Journal the change, then write ``state.json`` atomically (keeping a backup).

        Only the owner (the holder of :meth:`lock`) may call this.

        Args:
            state: The state.
            snapshot: Journal the whole state (the journal replays from here on).
        """
        data = state.model_dump(mode="json")
        # A journal begins with a snapshot (also in runs started before journals existed).
        started = self.journal_file.exists() and self.journal_file.stat().st_size > 0
        base = self._base if started and not snapshot else None
        journal.append_lines(self.journal_file, journal.journal_group(data, base))
        save_state(state, self.path)
        self._remember(state)

    def changed_on_disk(self) -> bool:
        """Whether another process wrote ``state.json`` since this object read or wrote it."""
        return self._seen != _stat_key(self.state_file)

    def _remember(self, state: CampaignState) -> None:
        self._base = (len(state.observations), len(state.selections), len(state.metrics))
        self._seen = _stat_key(self.state_file)

    def create(self, config: WorkflowConfig, *, clear_old_outputs: bool = False) -> CampaignState:
        """Make this directory a new campaign's: write its workflow and first state.

        Args:
            config: The workflow.
            clear_old_outputs: Delete what another campaign left here (ranked lists,
                models, journals) instead of refusing.

        Raises:
            CampaignError: The directory already holds a campaign.
            StaleOutputsError: It holds another campaign's outputs (and no state).
        """
        from materials_ai.campaign.config import dump_workflow

        self.path.mkdir(parents=True, exist_ok=True)
        with self.lock("start"):
            if self.state_file.exists():
                raise CampaignError(
                    f"{self.path} already holds a campaign; resume it with "
                    f"`materials-ai campaign resume {self.path}` or choose another --run-dir"
                )
            old = self.old_outputs()
            if old and not clear_old_outputs:
                names = ", ".join(p.name + ("/" if p.is_dir() else "") for p in old)
                restore = recovery_hint(self.path)
                raise StaleOutputsError(
                    f"{self.path} holds outputs of another campaign ({names}) but no "
                    f"state.json: a new campaign here would present them as its own; choose "
                    f"another --run-dir, or pass --clear-old-outputs to delete them"
                    + (f". If its state.json was removed by mistake, {restore}" if restore else "")
                )
            for path in old:
                logger.warning("removing %s (left by another campaign)", path)
                if path.is_dir():
                    shutil.rmtree(path)
                else:
                    path.unlink()
            dump_workflow(config, self.workflow_file)
            state = CampaignState(
                workflow_fingerprint=config.fingerprint(), campaign_id=new_campaign_id()
            )
            self.write_state(state, snapshot=True)
        return state

    def old_outputs(self) -> list[Path]:
        """What another campaign left here (see ``CAMPAIGN_OUTPUTS``)."""
        paths = [self.path / name for name in CAMPAIGN_OUTPUTS]
        return [p for p in paths if p.is_dir() or (p.exists() and p.stat().st_size > 0)]

    def read_workflow(self, state: CampaignState | None = None) -> WorkflowConfig:
        """The stored workflow; with ``state``, as the campaign runs it (the selection rounds
        set by ``resume --iterations`` applied).

        Raises:
            ConfigError: The workflow file is invalid.
        """
        from materials_ai.campaign.config import load_workflow

        config = load_workflow(self.workflow_file)
        if state is not None and state.iterations is not None:
            config = config.with_overrides(**{"loop.iterations": state.iterations})
        return config

    # -- the lab inbox ------------------------------------------------------------------

    def queue_observations(self, state: CampaignState, observations: list[Observation]) -> None:
        """Append lab observations to the inbox (fsynced) for the owner to merge.

        Each observation's provenance must hold its ``ingest_id``.
        """
        now = datetime.now(UTC).isoformat(timespec="seconds")
        lines = [
            {
                "ingest_id": o.provenance["ingest_id"],
                "campaign_id": state.campaign_id,
                "queued_at": now,
                "observation": o.to_dict(),
            }
            for o in observations
        ]
        with journal.inbox_locked(self.inbox_file) as fd:
            journal.append_lines(self.inbox_file, lines, fd=fd)

    def queued_observations(self, state: CampaignState) -> list[Observation]:
        """Inbox observations of this campaign not yet in ``state`` (read without any lock)."""
        entries = self._read_inbox()
        known = ingest_ids(state)
        out = []
        for entry in entries:
            if entry.get("campaign_id") == state.campaign_id and entry["ingest_id"] not in known:
                known.add(entry["ingest_id"])
                out.append(Observation.from_dict(entry["observation"]))
        return out

    def merge_inbox(self, state: CampaignState) -> int:
        """Add the queued lab observations that ``state`` lacks (the owner calls this).

        Returns:
            How many were added (the caller writes the state).
        """
        if not self.inbox_file.exists() or not self.inbox_file.stat().st_size:
            return 0  # a row queued just now is merged at the next boundary
        with journal.inbox_locked(self.inbox_file):
            return self._merge(state, self._read_inbox())

    def _read_inbox(self) -> list[dict[str, Any]]:
        return journal.read_lines(self.inbox_file)

    def _merge(self, state: CampaignState, entries: list[dict[str, Any]]) -> int:
        known = ingest_ids(state)
        added = 0
        for entry in entries:
            ingest_id = entry.get("ingest_id")
            if entry.get("campaign_id") != state.campaign_id or ingest_id in known:
                continue
            known.add(str(ingest_id))
            state.observations.append(
                ObservationRecord(iteration=state.iteration, observation=entry["observation"])
            )
            added += 1
        if added:
            logger.info("%s: merged %d queued lab observation(s)", self.path, added)
        return added

    # -- outputs ------------------------------------------------------------------------

    def latest_output_dir(self) -> Path:
        """The folder of the most recent complete ranked list (``final/`` once finished).

        A folder whose list is still being written (or was cut short by a kill: the CSV
        without the JSON) is passed over for the one before.

        Raises:
            CampaignError: No iteration has been recorded yet.
        """
        for folder in [self.final_dir, *sorted(self.iterations_dir.glob("iter_*"), reverse=True)]:
            if all((folder / f"ranked_candidates.{ext}").is_file() for ext in ("csv", "json")):
                return folder
        raise CampaignError(f"{self.path} has no ranked list yet (no iteration was recorded)")

    def latest_ranked_list(
        self, state: CampaignState | None = None
    ) -> tuple[pd.DataFrame, dict[str, Any], Path]:
        """The latest ranked list, checked to belong to this run's campaign.

        Returns:
            ``(table, payload, folder)``: the CSV, the JSON payload without its
            ``candidates``, and the folder that holds both and ``cifs/``.

        Raises:
            CampaignError: No iteration has been recorded yet.
            StaleOutputsError: The list was written by another campaign.
        """
        import json

        import pandas as pd

        folder = self.latest_output_dir()
        state = state if state is not None else self.read_state()
        payload = json.loads((folder / "ranked_candidates.json").read_text())
        payload.pop("candidates", None)
        self.check_owned(payload, folder / "ranked_candidates.json", state)
        table = pd.read_csv(folder / "ranked_candidates.csv", dtype={"id": str})
        return table, payload, folder

    def check_owned(self, payload: dict[str, Any], path: Path, state: CampaignState) -> None:
        """Raise if a ranked list's payload names another campaign than ``state``'s.

        Runs started before campaign ids existed (``state.campaign_id`` None) are not
        checked.

        Raises:
            StaleOutputsError: The list belongs to another campaign.
        """
        if state.campaign_id is None:
            return
        found = (payload.get("metadata") or {}).get("campaign_id")
        if found != state.campaign_id:
            raise StaleOutputsError(
                f"{path} belongs to another campaign (campaign id {found or 'none'}; this "
                f"run's state.json: {state.campaign_id}): it is an output left by an earlier "
                f"campaign in {self.path}. Start new campaigns in a new --run-dir"
            )


def ingest_ids(state: CampaignState) -> set[str]:
    """The ``ingest_id`` of every lab observation in ``state``."""
    out = set()
    for record in state.observations:
        ingest_id = (record.observation.get("provenance") or {}).get("ingest_id")
        if ingest_id:
            out.add(str(ingest_id))
    return out


def _stat_key(path: Path) -> tuple[int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return (info.st_ino, info.st_mtime_ns)
