"""``campaign repair``: restore a damaged or missing ``state.json``.

Two sources, both kept by :class:`~materials_ai.campaign.rundir.RunDirectory`:

* ``journal``: the journal replayed (:func:`rebuild_from_journal`): the state of the last
  completed stage, the most recent one there is;
* ``backup``: ``state.json.bak``, the state one write earlier; the stage it lacks is redone
  on resume, like after a crash inside that stage.

Either way, lab observations the restored state lacks (in the journal or queued in the
inbox) are added back, since no lab can be asked to measure again.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Literal

from materials_ai.campaign import journal
from materials_ai.campaign.layout import STATE_FILE
from materials_ai.campaign.rundir import RunDirectory, ingest_ids
from materials_ai.campaign.state import CampaignState, ObservationRecord, parse_state
from materials_ai.errors import CampaignError, CorruptStateError

__all__ = ["rebuild_from_journal", "repair_state"]

logger = logging.getLogger(__name__)


def rebuild_from_journal(rundir: RunDirectory) -> CampaignState:
    """The state of the last completed stage, from the journal alone.

    Raises:
        CampaignError: No journal, or it holds no complete state.
    """
    path = rundir.journal_file
    if not path.exists():
        raise CampaignError(f"{path} not found: nothing to rebuild from")
    data = journal.replay(journal.read_lines(path), source=path)
    if data is None:
        raise CampaignError(f"{path} holds no complete state")
    return CampaignState.model_validate(data)


def repair_state(rundir: RunDirectory, source: Literal["backup", "journal"]) -> CampaignState:
    """Restore ``state.json`` from the backup or rebuild it from the journal.

    The damaged file (if any) is kept as ``state.json.damaged-<time>``.

    Args:
        rundir: The run directory.
        source: ``backup`` or ``journal``.

    Returns:
        The restored state (written).

    Raises:
        RunDirectoryLockedError: A campaign is running here.
        CampaignError: The chosen source is missing or unusable.
    """
    with rundir.lock("repair"):
        if source == "backup":
            path = rundir.backup_file
            if not path.exists():
                raise CampaignError(f"{path} not found: nothing to restore")
            state = parse_state(path.read_text(encoding="utf-8", errors="replace"), path)
        else:
            state = rebuild_from_journal(rundir)
        _add_back_lab_observations(rundir, state)
        if rundir.state_file.exists():
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
            kept = rundir.path / f"{STATE_FILE}.damaged-{stamp}"
            rundir.state_file.replace(kept)
            logger.warning("kept the damaged state as %s", kept)
        rundir.write_state(state, snapshot=True)  # the journal restarts from this state
    return state


def _add_back_lab_observations(rundir: RunDirectory, state: CampaignState) -> None:
    known = ingest_ids(state)
    try:
        data = journal.replay(journal.read_lines(rundir.journal_file), source=rundir.journal_file)
    except CorruptStateError:
        data = None
    for record in data["observations"] if data else []:
        ingest_id = (record["observation"].get("provenance") or {}).get("ingest_id")
        if ingest_id and ingest_id not in known:
            known.add(ingest_id)
            state.observations.append(ObservationRecord.model_validate(record))
    rundir.merge_inbox(state)
