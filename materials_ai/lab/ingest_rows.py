"""The rows of an ingest: the report types and the cell parsers of :mod:`materials_ai.lab.ingest`.

:class:`IngestReport` holds what one results file gives (observations, rejected and
skipped rows); the parsers read numbers (decimal comma or point), yes/no cells (English
and Spanish) and the CSV table itself (``,`` or ``;``, UTF-8 with or without BOM).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from materials_ai.campaign.rundir import RunDirectory
from materials_ai.campaign.state import CampaignState
from materials_ai.data.records import Observation
from materials_ai.errors import DataError

__all__ = ["IngestReport", "RejectedRow", "SkippedRow", "known_candidate_ids"]

_YES = {"yes", "y", "true", "1", "sí", "si", "s"}
_NO = {"no", "n", "false", "0"}


@dataclass(frozen=True)
class RejectedRow:
    """A problem with one row of a results file.

    Attributes:
        row: Row number as a spreadsheet shows it (header = 1).
        id: The row's id cell (may be empty).
        field: Column at fault.
        reason: What is wrong.
    """

    row: int
    id: str
    field: str
    reason: str

    def __str__(self) -> str:
        return f"row {self.row} (id {self.id!r}), column {self.field!r}: {self.reason}"


@dataclass(frozen=True)
class SkippedRow:
    """A valid row that adds nothing: already ingested, or nothing measured in it.

    Attributes:
        row: Row number as a spreadsheet shows it (header = 1).
        id: The row's id.
        reason: Why it adds nothing.
    """

    row: int
    id: str
    reason: str

    def __str__(self) -> str:
        return f"row {self.row} (id {self.id!r}): {self.reason}"


@dataclass
class IngestReport:
    """What an ingest did.

    Attributes:
        file: The results file.
        sha256: Its checksum.
        columns: Measured column -> campaign target.
        observations: Observations added (or that would be, on a dry run).
        rejected: Problems, one per row and column at fault.
        skipped: Valid rows that add nothing (already ingested, nothing measured).
        extra_columns: Columns kept verbatim in the provenance.
        dry_run: Nothing was written.
        campaign_done: The campaign had already finished.
        queued_for: The running campaign that will merge the observations (its owner,
            described); None when they were added to the state at once.
    """

    file: Path
    sha256: str
    columns: dict[str, str]
    observations: list[Observation] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)
    skipped: list[SkippedRow] = field(default_factory=list)
    extra_columns: list[str] = field(default_factory=list)
    dry_run: bool = False
    campaign_done: bool = False
    queued_for: str | None = None

    @property
    def rejected_rows(self) -> list[int]:
        """Row numbers with at least one problem, sorted."""
        return sorted({r.row for r in self.rejected})

    @property
    def n_measured(self) -> int:
        """Observations that will train the surrogate (``ok``)."""
        return sum(1 for o in self.observations if o.ok)


def known_candidate_ids(run_dir: Path, state: CampaignState) -> set[str]:
    """Ids a results file may name: ranked, selected, submitted or observed by the campaign."""
    import pandas as pd

    rundir = RunDirectory(run_dir)
    ids: set[str] = set(state.requested_ids())
    for selection in state.selections:
        ids.update(selection.candidate_ids)
    lists = [rundir.final_dir / "ranked_candidates.csv"]
    lists += sorted(rundir.iterations_dir.glob("iter_*/ranked_candidates.csv"))
    for path in lists:
        if path.exists():
            ids.update(pd.read_csv(path, usecols=["id"], dtype={"id": str})["id"].tolist())
    return ids


def _parse_number(text: str, decimal_comma: bool) -> float | None:
    text = text.strip()
    if decimal_comma and text.count(",") == 1 and "." not in text:
        text = text.replace(",", ".")
    try:
        return float(text)
    except ValueError:
        return None


def _parse_yes_no(text: str) -> bool | None:
    """True/False, or None when empty; raises ValueError on anything else."""
    value = text.strip().lower()
    if not value:
        return None
    if value in _YES:
        return True
    if value in _NO:
        return False
    raise ValueError(value)


def _signature(candidate_id: str, values: Mapping[str, float], prov: Mapping[str, Any]) -> str:
    measured = dict(values) or dict(prov.get("measured", {}))
    return repr(
        (
            candidate_id,
            sorted((k, round(float(v), 9)) for k, v in measured.items()),
            prov.get("phase_pure"),
            prov.get("synthesized"),
            str(prov.get("notes", "")),
        )
    )


def _read_table(path: Path) -> tuple[list[str], list[list[str]], str]:
    """Header, rows and delimiter of a CSV file (``,`` or ``;``, UTF-8 with or without BOM)."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not UTF-8 text ({error}); save it as CSV UTF-8") from None
    first = text.splitlines()[0] if text.strip() else ""
    delimiter = ";" if first.count(";") > first.count(",") else ","
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise DataError(f"{path}: empty file (a header row with an 'id' column is required)")
    return [c.strip() for c in rows[0]], rows[1:], delimiter
