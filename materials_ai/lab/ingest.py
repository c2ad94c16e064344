"""Laboratory results back into a campaign: validate a results file, add observations.

A lab returns a CSV file (``results_template.csv`` of the hand-off bundle, filled in)::

    id,measured_band_gap_eV,phase_pure,synthesized,notes
    perov_5323,2.41,yes,yes,Tauc plot of diffuse reflectance
    perov_12035,,no,yes,second phase (SnO2) by XRD
    perov_901,,,no,did not form at 1200 C

Results schema (version :data:`~materials_ai.lab.schema.RESULTS_SCHEMA_VERSION`, names and
ranges in :mod:`materials_ai.lab.schema`), documented for labs in ``docs/lab_handoff.md``:

* ``id`` (required): a candidate of this campaign (an id of one of its ranked lists,
  selections or observations).
* ``measured_<target>_<unit>``: a measured value of campaign target ``<target>`` in the
  unit ``<unit>``, written as in :func:`~materials_ai.lab.schema.unit_token` (``eV``,
  ``eV_per_atom``). The unit must be the target's unit: a column with another unit
  (``measured_band_gap_meV``) or naming no target of the campaign is an error for the
  whole file, since its values cannot be read safely. Values must be numbers inside
  :data:`~materials_ai.lab.schema.PLAUSIBLE_RANGES` (finite numbers for targets without a
  range).
* ``phase_pure``, ``synthesized``: ``yes``/``no`` (also ``y``/``n``, ``true``/``false``,
  ``1``/``0``, ``sí``/``si``); empty means not reported.
* ``notes``: free text.
* Other columns are kept verbatim in each observation's provenance.

Rows are validated one by one. A row is rejected, with its row number (as a spreadsheet
shows it: the header is row 1) and the reason, for: a missing or unknown id, an id repeated
in the file (every repeat after the first is rejected), text in a numeric column, a value
out of range, a yes/no column holding something else, or measured values on a sample
marked ``synthesized = no``. Valid rows are kept.

Each valid row becomes one :class:`~materials_ai.data.records.Observation` of fidelity
``"experiment"`` whose provenance names the file, its sha256, the row and the lab fields:

* a measured, phase-pure (or unreported) sample: ``ok = True``, values = the measured
  targets; the campaign's next TRAIN stage trains on it (for a candidate that also has a
  computed value, the measured targets replace the computed ones and the others stay);
* ``synthesized = no``: ``ok = False`` (a failed synthesis; never proposed again);
* ``phase_pure = no``: ``ok = False``; the values are kept in the provenance
  (``measured``) but a mixed-phase sample does not label the candidate's structure.

Rows that add nothing are skipped and listed, not rejected: a template row left empty or
marked only ``synthesized = yes`` (nothing measured yet), and a row identical to an
experiment observation already in the state (same id, values and lab fields), so that a
corrected file can be ingested again without adding its good rows twice.

Each observation's provenance also holds an ``ingest_id`` (the file's sha256 prefix and
the row), which identifies it wherever it travels.

Concurrency: ingesting is safe at any time. The valid rows are first appended (fsynced)
to the run directory's inbox (``inbox.jsonl``); then, if no campaign is running there,
``ingest`` takes the run's lock and merges them into ``state.json`` itself. If a campaign
is running (``campaign run``/``resume`` holds the lock), the rows stay queued and that
campaign merges them at its next stage boundary, or at the latest when it stops. Merging
skips ``ingest_id`` values already in the state, so no row is added twice.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from materials_ai.campaign.inspect import campaign_target_units
from materials_ai.campaign.rundir import RunDirectory
from materials_ai.data.records import Observation
from materials_ai.errors import DataError, RunDirectoryLockedError
from materials_ai.lab.ingest_rows import (
    IngestReport,
    RejectedRow,
    SkippedRow,
    _parse_number,
    _parse_yes_no,
    _read_table,
    _signature,
    known_candidate_ids,
)
from materials_ai.lab.schema import (
    FIDELITY,
    ID_COLUMN,
    MEASURED_PREFIX,
    NOTES_COLUMN,
    RESULTS_SCHEMA_VERSION,
    YES_NO_COLUMNS,
    MeasuredColumn,
    measured_column,
    results_columns,
)

__all__ = ["IngestReport", "RejectedRow", "SkippedRow", "ingest_results", "parse_results"]


def parse_results(
    path: str | Path,
    *,
    targets: Sequence[str],
    units: Mapping[str, str],
    known_ids: set[str],
    existing: Sequence[Observation] = (),
    ingested_at: str | None = None,
) -> IngestReport:
    """Validate a results file and build its observations (nothing is written).

    Args:
        path: The CSV file.
        targets: Campaign targets.
        units: Target -> unit.
        known_ids: Ids the file may name.
        existing: Observations already in the campaign (rows identical to an experiment
            observation among them are skipped).
        ingested_at: Timestamp stored in the provenance (default: now, UTC).

    Raises:
        DataError: For problems of the whole file (unreadable, no ``id`` column, a
            ``measured_`` column with a wrong unit or no matching target, a repeated
            column); nothing is ingested then.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"results file {path} not found")
    raw = path.read_bytes()
    sha256 = hashlib.sha256(raw).hexdigest()
    header, rows, delimiter = _read_table(path)
    problems: list[str] = []
    if ID_COLUMN not in header:
        problems.append(f"no {ID_COLUMN!r} column (header: {header})")
    repeated = sorted({c for c in header if c and header.count(c) > 1})
    if repeated:
        problems.append(f"column(s) {repeated} appear more than once")
    allowed = {c.column: c for c in results_columns(targets, units)}
    measured: dict[str, MeasuredColumn] = {}
    extra: list[str] = []
    for column in header:
        if not column or column in (ID_COLUMN, NOTES_COLUMN, *YES_NO_COLUMNS):
            continue
        if column in allowed:
            measured[column] = allowed[column]
        elif column.startswith(MEASURED_PREFIX):
            rest = column[len(MEASURED_PREFIX) :]
            target = next(
                (
                    t
                    for t in sorted(targets, key=len, reverse=True)
                    if rest.startswith(f"{t}_") or rest == t
                ),
                None,
            )
            if target is None:
                problems.append(
                    f"column {column!r} names no target of this campaign; measured columns "
                    f"are {sorted(allowed)}"
                )
            else:
                given = rest[len(target) + 1 :] or "(none)"
                problems.append(
                    f"column {column!r}: unit {given!r} is not the unit of target {target!r} "
                    f"({units.get(target, '')!r}); name the column "
                    f"{measured_column(target, units.get(target, ''))!r} and give the values "
                    "in that unit"
                )
        else:
            extra.append(column)
    if problems:
        raise DataError(f"{path}: " + "; ".join(problems))

    index = {c: header.index(c) for c in header if c}
    when = ingested_at or datetime.now(UTC).isoformat(timespec="seconds")
    report = IngestReport(
        file=path,
        sha256=sha256,
        columns={c: m.target for c, m in measured.items()},
        extra_columns=extra,
    )
    previous: dict[str, str] = {}
    for obs in existing:
        if obs.fidelity == FIDELITY:
            prov = obs.provenance
            previous[_signature(obs.candidate_id, obs.values, prov)] = (
                f"{prov.get('file', '?')} row {prov.get('row', '?')}"
            )
    first_row: dict[str, int] = {}
    for k, cells in enumerate(rows):
        row = k + 2
        if not any(c.strip() for c in cells):
            continue  # blank line
        cells = cells + [""] * (len(header) - len(cells))
        if len(cells) > len(header) and any(c.strip() for c in cells[len(header) :]):
            report.rejected.append(
                RejectedRow(
                    row,
                    cells[index[ID_COLUMN]].strip() if ID_COLUMN in index else "",
                    "(row)",
                    f"{len(cells)} cells for {len(header)} columns",
                )
            )
            continue

        def cell(column: str, cells: list[str] = cells) -> str:
            return cells[index[column]].strip() if column in index else ""

        cid = cell(ID_COLUMN)
        errors: list[RejectedRow] = []
        if not cid:
            errors.append(RejectedRow(row, cid, ID_COLUMN, "missing id"))
        elif cid in first_row:
            errors.append(
                RejectedRow(
                    row,
                    cid,
                    ID_COLUMN,
                    f"duplicate id (first given in row {first_row[cid]}, which is kept)",
                )
            )
        elif cid not in known_ids:
            errors.append(
                RejectedRow(row, cid, ID_COLUMN, "unknown id: not a candidate of this campaign")
            )
        if cid and cid not in first_row:
            first_row[cid] = row
        values: dict[str, float] = {}
        for column, spec in measured.items():
            text = cell(column)
            if not text:
                continue
            value = _parse_number(text, decimal_comma=delimiter == ";")
            if value is None:
                errors.append(RejectedRow(row, cid, column, f"{text!r} is not a number"))
            elif not math.isfinite(value):
                errors.append(RejectedRow(row, cid, column, f"{text!r} is not a finite number"))
            elif spec.valid_range is not None and not (
                spec.valid_range[0] <= value <= spec.valid_range[1]
            ):
                lo, hi = spec.valid_range
                errors.append(
                    RejectedRow(
                        row,
                        cid,
                        column,
                        f"{value:g} {spec.unit} is outside the plausible range "
                        f"[{lo:g}, {hi:g}] {spec.unit}",
                    )
                )
            else:
                values[spec.target] = value
        flags: dict[str, bool | None] = {}
        for column in YES_NO_COLUMNS:
            try:
                flags[column] = _parse_yes_no(cell(column))
            except ValueError:
                errors.append(RejectedRow(row, cid, column, f"{cell(column)!r} is not yes or no"))
                flags[column] = None
        has_numbers = bool(values) or any(cell(c) for c in measured)
        if flags["synthesized"] is False and has_numbers:
            errors.append(
                RejectedRow(
                    row,
                    cid,
                    "synthesized",
                    "measured values given for a sample marked synthesized = no",
                )
            )
        if errors:
            report.rejected.extend(errors)
            continue
        if (
            not has_numbers
            and flags["synthesized"] is not False
            and flags["phase_pure"] is not False
        ):
            # A template row left empty, or "synthesized, not measured yet": nothing to add.
            report.skipped.append(SkippedRow(row, cid, "nothing measured in this row"))
            continue
        provenance: dict[str, Any] = {
            "source": "lab results file",
            "file": path.name,
            "sha256": sha256,
            "row": row,
            "results_schema_version": RESULTS_SCHEMA_VERSION,
            "columns": {c: measured[c].target for c in measured if cell(c)},
            "phase_pure": flags["phase_pure"],
            "synthesized": flags["synthesized"],
            "notes": cell(NOTES_COLUMN),
            "ingested_at": when,
            "ingest_id": f"{sha256[:16]}-r{row}",
        }
        if extra:
            provenance["extra"] = {c: cell(c) for c in extra}
        if flags["synthesized"] is False:
            obs = Observation(
                cid,
                {},
                FIDELITY,
                provenance,
                ok=False,
                reason="lab: synthesis failed (synthesized = no)",
            )
        elif flags["phase_pure"] is False:
            provenance["measured"] = values
            obs = Observation(
                cid,
                {},
                FIDELITY,
                provenance,
                ok=False,
                reason="lab: sample not phase pure; values kept in provenance",
            )
        else:
            obs = Observation(cid, values, FIDELITY, provenance)
        signature = _signature(cid, obs.values, provenance)
        if signature in previous:
            report.skipped.append(SkippedRow(row, cid, f"already ingested ({previous[signature]})"))
            continue
        previous[signature] = f"{path.name} row {row}"
        report.observations.append(obs)
    return report


def ingest_results(
    run_dir: str | Path, results: str | Path, *, dry_run: bool = False
) -> IngestReport:
    """Validate a lab results file and add its valid rows to a campaign's observations.

    The observations get the campaign's current iteration. They are queued in the run's
    inbox first; with no campaign running there, they are then merged into the state at
    once (under the run's lock), otherwise the running campaign merges them at its next
    stage boundary (``report.queued_for`` names it). The next TRAIN stage trains on the
    ``ok`` ones.

    Args:
        run_dir: The campaign's run directory.
        results: The results CSV file.
        dry_run: Validate and report only; write nothing.

    Returns:
        What was (or would be) added, and the rejected rows with their reasons.

    Raises:
        CampaignError: If ``run_dir`` holds no campaign.
        DataError: For problems of the whole file (see :func:`parse_results`).
    """
    rundir = RunDirectory(run_dir)
    state = rundir.read_state()
    config = rundir.read_workflow(state)
    units = campaign_target_units(rundir.path, config)
    report = parse_results(
        results,
        targets=config.targets,
        units=units,
        known_ids=known_candidate_ids(rundir.path, state),
        existing=state.typed_observations() + rundir.queued_observations(state),
    )
    report.dry_run = dry_run
    report.campaign_done = state.done
    if report.observations and not dry_run:
        rundir.queue_observations(state, report.observations)
        try:
            # Owning the run, the lock's release merges the inbox into the state.
            with rundir.lock("ingest"):
                pass
        except RunDirectoryLockedError as busy:
            owner = rundir.owner()
            report.queued_for = owner.describe() if owner is not None else str(busy)
    return report
