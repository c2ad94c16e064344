"""Names of the files in a run directory that several layers read or write.

The campaign owns its run directory's layout: the RECORD stage writes ranked lists and
their CIFs there (through :mod:`materials_ai.report.ranked`), and
:mod:`materials_ai.campaign.inspect`, the report and the lab hand-off read them back. This
module imports nothing, so that writers and readers of every layer can share the names.
"""

from __future__ import annotations

import re

__all__ = [
    "BACKUP_FILE",
    "FINAL_DIR",
    "INBOX_FILE",
    "ITERATIONS_DIR",
    "JOURNAL_FILE",
    "LOCK_FILE",
    "STATE_FILE",
    "WORKFLOW_FILE",
    "cif_file_name",
    "cif_stem",
]

#: Campaign state (rewritten atomically after every stage).
STATE_FILE = "state.json"
#: The previous ``state.json``, kept on every write.
BACKUP_FILE = "state.json.bak"
#: The exact settings the run started with.
WORKFLOW_FILE = "workflow.yaml"
#: Append-only journal of every state change (observations one per line).
JOURNAL_FILE = "journal.jsonl"
#: Lab observations queued for the running campaign (append-only).
INBOX_FILE = "inbox.jsonl"
#: The owner's advisory lock (pid, host, start time as JSON while held).
LOCK_FILE = "campaign.lock"
#: Ranked list of the finished campaign.
FINAL_DIR = "final"
#: Ranked lists of each iteration (``iter_NNN``).
ITERATIONS_DIR = "iterations"


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)


def cif_stem(candidate_id: str, formula: str) -> str:
    """The ``<id>_<formula>`` part of a candidate's CIF file name (unsafe characters → ``_``)."""
    return f"{_safe_name(str(candidate_id))}_{_safe_name(str(formula))}"


def cif_file_name(rank: int, candidate_id: str, formula: str) -> str:
    """CIF file name of a ranked candidate: ``<rank:03d>_<id>_<formula>.cif``."""
    return f"{int(rank):03d}_{cif_stem(candidate_id, formula)}.cif"
