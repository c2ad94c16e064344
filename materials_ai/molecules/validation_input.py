"""Input rows of molecular validation: a run's ranked list, a CSV or a SMILES file.

Invalid or duplicate SMILES are reported by row (:class:`~materials_ai.data.records.SkippedRow`)
and the other rows proceed, in file order.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from materials_ai.data.records import Molecule, SkippedRow
from materials_ai.errors import DataError

__all__ = ["RANKED_FILE", "InputRow", "find_ranked_list", "parse_rows", "read_molecule_rows"]

RANKED_FILE = "ranked_candidates.csv"


@dataclass(frozen=True)
class InputRow:
    """One parsed input row.

    Attributes:
        row: 0-based row in the input file.
        id: Candidate id (from the ``id`` column, else ``row<k>``).
        molecule: The canonical molecule.
        fields: The row's other columns (kept in the output).
    """

    row: int
    id: str
    molecule: Molecule
    fields: Mapping[str, Any]


def find_ranked_list(path: str | Path) -> Path:
    """The ranked list of a run directory (``final/``, else the latest iteration), or ``path``.

    Raises:
        DataError: If no ranked list is found.
    """
    path = Path(path)
    if path.is_file():
        return path
    for candidate in (path / "final" / RANKED_FILE, path / RANKED_FILE):
        if candidate.is_file():
            return candidate
    iterations = sorted((path / "iterations").glob(f"iter_*/{RANKED_FILE}"))
    if iterations:
        return iterations[-1]
    raise DataError(f"no {RANKED_FILE} in {path} (final/ or iterations/iter_NNN/)")


def read_molecule_rows(path: str | Path) -> tuple[list[InputRow], list[SkippedRow]]:
    """Read molecules from a CSV with a ``smiles`` column, or a text file of SMILES.

    A text file (``.smi``/``.txt``) holds one SMILES per line, optionally followed by an id;
    blank lines and ``#`` comments are ignored. Invalid or duplicate SMILES are skipped and
    reported by row; the other rows are returned in file order.

    Raises:
        DataError: If the file cannot be read or has no ``smiles`` column.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} does not exist")
    if path.suffix.lower() in (".csv", ".gz"):
        table = pd.read_csv(path, dtype={"id": str})
        if "smiles" not in table.columns:
            raise DataError(f"{path} has no 'smiles' column (columns: {list(table.columns)})")
        records = table.to_dict("records")
    else:
        records = []
        for line in path.read_text().splitlines():
            text = line.split("#", 1)[0].strip()
            if not text:
                continue
            parts = text.split()
            records.append({"smiles": parts[0], **({"id": parts[1]} if len(parts) > 1 else {})})
    return parse_rows(records)


def parse_rows(records: Sequence[Mapping[str, Any]]) -> tuple[list[InputRow], list[SkippedRow]]:
    """Parse ``{"smiles": ..., "id": ..., ...}`` records; bad rows are reported, not raised."""
    rows: list[InputRow] = []
    skipped: list[SkippedRow] = []
    seen: dict[str, str] = {}
    for k, record in enumerate(records):
        raw_id = record.get("id")
        cid = str(raw_id) if raw_id is not None and not _is_nan(raw_id) else f"row{k}"
        smiles = record.get("smiles")
        try:
            molecule = Molecule.from_smiles(smiles if isinstance(smiles, str) else "")
        except DataError as exc:
            skipped.append(SkippedRow(k, cid, "smiles", str(exc)))
            continue
        if cid in seen:
            skipped.append(SkippedRow(k, cid, "id", f"duplicate id (first: {seen[cid]})"))
            continue
        seen[cid] = molecule.smiles
        fields = {key: value for key, value in record.items() if key not in ("id", "smiles")}
        rows.append(InputRow(k, cid, molecule, fields))
    return rows, skipped


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)
