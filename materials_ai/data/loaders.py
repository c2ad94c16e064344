"""Load a dataset file into typed :class:`~materials_ai.data.records.MaterialRecord` rows.

The loader reads the table named by a dataset card, parses each row's structure, takes
the requested targets as floats, and returns a
:class:`~materials_ai.data.records.MaterialsDataset`. Bad rows never stop a load: a row
whose structure does not parse, whose id is missing or repeated, or whose label is
missing, non-numeric or outside the card's ``valid_range`` is recorded as a
:class:`~materials_ai.data.records.SkippedRow` naming the row, id and column.

Parsing CIFs is slow (about 1.3 ms per structure), so a full load writes a compact cache
of the parsed structures (lattice, atomic numbers, fractional coordinates per row) to
``<cache dir>/structures/<dataset>-<sha256[:12]>.npz``. Later loads of any subset rebuild
the structures from it. Structures are canonicalised on both paths (rebuilt as
``Structure(Lattice(matrix), species, frac_coords)``), so a cached load gives exactly the
structures a parsing load gives. A dataset with a structure the compact arrays cannot
represent (partial occupancy, oxidation states, site properties) is never cached: it is
parsed every time and its structures are kept as parsed.

A card with ``structure_format: smiles`` describes molecules: each cell is parsed into a
:class:`~materials_ai.data.records.Molecule` (canonical SMILES), an invalid SMILES is a
skipped row like an unparsable CIF, and no structure cache is used (RDKit parses and
canonicalises a QM9 molecule in about 0.1 ms). A target whose card sets ``scale`` is
converted on load (QM9's Hartree values become eV).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from materials_ai.data.cards import DatasetCard
from materials_ai.data.records import (
    MaterialRecord,
    MaterialsDataset,
    Molecule,
    SkippedRow,
    TargetSpec,
)
from materials_ai.data.registry import dataset_path, get_card, sha256_file, verify_checksum
from materials_ai.data.structure_cache import (
    CACHE_FORMAT_VERSION,
    _Builder,
    _Compact,
    _read_cache,
    _StructureCache,
    _to_compact,
    _write_cache,
    parse_structure,
    structure_cache_path,
)
from materials_ai.errors import DataError

if TYPE_CHECKING:
    from pymatgen.core import Structure

__all__ = [
    "CACHE_FORMAT_VERSION",
    "load_dataset",
    "parse_structure",
    "structure_cache_path",
]

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------- table


def _selection(
    limit: int | None, rows: Sequence[int] | None
) -> tuple[list[int] | None, int | None]:
    """Validate ``limit``/``rows``; return (explicit rows or None, rows to read or None)."""
    if limit is not None and rows is not None:
        raise DataError("Pass either `limit` or `rows`, not both.")
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, int | np.integer) or limit < 0:
            raise DataError(f"`limit` must be a non-negative integer, got {limit!r}.")
        return None, int(limit)
    if rows is None:
        return None, None
    selected: list[int] = []
    for value in rows:
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
            raise DataError(f"`rows` must hold non-negative integer row indices, got {value!r}.")
        selected.append(int(value))
    duplicates = sorted(r for r, count in Counter(selected).items() if count > 1)
    if duplicates:
        raise DataError(f"`rows` repeats row indices {duplicates[:10]}.")
    return selected, (max(selected) + 1 if selected else 0)


def _read_table(
    path: Path, card: DatasetCard, columns: Sequence[str], nrows: int | None
) -> pd.DataFrame:
    try:
        return pd.read_csv(
            path,
            usecols=list(columns),
            dtype={card.id_column: str} if card.id_column else None,
            comment=card.comment,
            nrows=nrows,
        )
    except ValueError as exc:
        if "usecols" in str(exc).lower() or "columns" in str(exc).lower():
            raise DataError(
                f"Dataset {card.name!r}: {path} lacks columns named on its card "
                f"(wanted {list(columns)}): {exc}"
            ) from exc
        raise DataError(f"Dataset {card.name!r}: cannot read {path}: {exc}") from exc
    except (OSError, EOFError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise DataError(f"Dataset {card.name!r}: cannot read {path}: {exc}") from exc


def clean_id(raw: Any, card: DatasetCard) -> str:
    """Return the row id as a string ('' when missing), minus the card's suffix."""
    if raw is None or (isinstance(raw, float) and np.isnan(raw)) or raw is pd.NA:
        return ""
    text = str(raw).strip()
    suffix = card.id_strip_suffix
    if suffix and text.endswith(suffix) and len(text) > len(suffix):
        text = text[: -len(suffix)]
    return text


def _track(items: Sequence[Any], description: str, enabled: bool) -> Iterator[Any]:
    """Iterate ``items`` with a Rich progress bar when ``enabled``."""
    if not enabled:
        yield from items
        return
    from materials_ai.progress import rich_progress

    with rich_progress() as bar:
        task = bar.add_task(description, total=len(items))
        for item in items:
            yield item
            bar.advance(task)


# --------------------------------------------------------------------------- loader


def load_dataset(
    name: str | DatasetCard,
    *,
    targets: Sequence[str] | None = None,
    data_dir: str | Path | None = None,
    limit: int | None = None,
    rows: Sequence[int] | None = None,
    verify: bool = True,
    use_cache: bool = True,
    progress: bool = False,
    cache_dir: str | Path | None = None,
) -> MaterialsDataset:
    """Load a dataset as labelled records.

    Args:
        name: Dataset name (looked up with :func:`~materials_ai.data.registry.get_card`)
            or a card.
        targets: Target names to carry, in order; ``None`` for all of the card's targets.
            Rows missing any requested label are skipped.
        data_dir: Data directory; default ``MATERIALS_AI_DATA_DIR``.
        limit: Load only the first ``limit`` rows of the file.
        rows: Load only these 0-based row indices of the file, in this order.
        verify: Check the file's sha256 against the card first.
        use_cache: Read and write the parsed-structure cache.
        progress: Show a Rich progress bar while parsing structures.
        cache_dir: Cache root; default :func:`materials_ai.settings.cache_dir`.

    Returns:
        The records in row order (or in ``rows`` order), the target specs, and the
        skipped rows with their reasons. Target values are in the card's units
        (``eV``, ``eV/atom``).

    Raises:
        DatasetNotFoundError: Unknown dataset name or missing data file.
        ChecksumMismatchError: ``verify`` and the file's sha256 differs from the card's.
        ConfigError: An unknown target name.
        DataError: Bad ``limit``/``rows``, an out-of-range row, or an unreadable table.
    """
    card = name if isinstance(name, DatasetCard) else get_card(name)
    specs = card.target_specs(targets)
    selected, nrows = _selection(limit, rows)
    if verify:
        path = verify_checksum(card, data_dir)
        sha256 = card.sha256
    else:
        path = dataset_path(card, data_dir)
        sha256 = sha256_file(path) if use_cache else card.sha256

    cache_path: Path | None = None
    if use_cache and card.structure_format != "smiles":
        try:
            cache_path = structure_cache_path(card, sha256, cache_dir)
        except OSError as exc:  # e.g. a read-only home: load without the cache
            logger.warning("Structure cache disabled for %s: %s", card.name, exc)
    cache = _read_cache(cache_path, card, sha256) if cache_path is not None else None

    label_columns = list(dict.fromkeys(spec.column for spec in specs))
    columns = [*([card.id_column] if card.id_column else []), *label_columns]
    wanted = columns if cache is not None else [*columns, card.structure_column]
    table = _read_table(path, card, wanted, nrows)
    n_read = len(table)
    if selected is not None:
        out_of_range = [r for r in selected if r >= n_read]
        if out_of_range:
            raise DataError(
                f"Dataset {card.name!r}: row indices {out_of_range[:10]} are out of range; "
                f"{path} has {n_read} data rows."
            )
        positions = selected
    else:
        positions = list(range(n_read))
    if card.id_column:
        ids = [clean_id(raw, card) for raw in table[card.id_column].to_numpy()]
    else:  # no id column: the row number is the id (the file is pinned by its sha256)
        ids = [f"{card.name}-{row}" for row in range(n_read)]

    if cache is not None and not _cache_matches(cache, ids, positions):
        logger.warning("Structure cache %s does not match %s; parsing again", cache_path, path)
        cache = None
        table = _read_table(path, card, [*columns, card.structure_column], nrows)

    builder = _Builder()
    structures: dict[int, Structure | Molecule | str]
    if cache is not None:
        structures = {}
        for row in positions:
            reason = cache.reasons.get(row)
            structures[row] = reason if reason is not None else cache.build(row, builder)
        source = f"cache {cache_path}"
    else:
        covers_file = selected is None and (nrows is None or n_read < nrows)
        structures, compact = _parse_rows(card, table, positions, builder, progress)
        source = "parsed"
        if cache_path is not None and covers_file:
            if compact is None:
                logger.info(
                    "Not caching %s: a structure cannot be stored compactly "
                    "(partial occupancy, oxidation states or site properties)",
                    card.name,
                )
            else:
                _write_cache(cache_path, _StructureCache.arrays(card, sha256, ids, compact))

    records, skipped = _build_records(card, specs, table, ids, positions, structures)
    _log_summary(card, len(positions), records, skipped, source)
    return MaterialsDataset(name=card.name, targets=specs, records=records, skipped=skipped)


def _cache_matches(cache: _StructureCache, ids: Sequence[str], positions: Iterable[int]) -> bool:
    n = len(cache)
    return all(row < n and cache.ids[row] == ids[row] for row in positions)


def _parse_rows(
    card: DatasetCard,
    table: pd.DataFrame,
    positions: Sequence[int],
    builder: _Builder,
    progress: bool,
) -> tuple[dict[int, Structure | Molecule | str], list[_Compact | str] | None]:
    """Parse the structures of ``positions``.

    Returns:
        Row -> structure (or skip reason), and, when every parsed structure is
        compactable, the per-row compact forms in table order (for the cache).
    """
    column = table[card.structure_column].to_numpy()
    structures: dict[int, Structure | Molecule | str] = {}
    compact: dict[int, _Compact | str] = {}
    all_compact = True
    description = f"Parsing {card.name} structures"
    for row in _track(positions, description, progress):
        try:
            parsed = parse_structure(column[row], card.structure_format)
        except DataError as exc:
            structures[row] = compact[row] = str(exc)
            continue
        if isinstance(parsed, Molecule):  # molecules are never cached
            all_compact = False
            structures[row] = parsed
            continue
        packed = _to_compact(parsed)
        if packed is None:
            all_compact = False
            structures[row] = parsed
        else:
            structures[row] = builder(packed.lattice, packed.numbers, packed.frac_coords)
            compact[row] = packed
    if not all_compact:
        return structures, None
    return structures, [compact[row] for row in range(len(table)) if row in compact]


def _build_records(
    card: DatasetCard,
    specs: Sequence[TargetSpec],
    table: pd.DataFrame,
    ids: Sequence[str],
    positions: Sequence[int],
    structures: dict[int, Structure | Molecule | str],
) -> tuple[list[MaterialRecord], list[SkippedRow]]:
    labels = {spec.name: table[spec.column].to_numpy() for spec in specs}
    records: list[MaterialRecord] = []
    skipped: list[SkippedRow] = []
    first_row: dict[str, int] = {}
    for row in positions:
        row_id = ids[row]
        if not row_id:
            skipped.append(SkippedRow(row, "", card.id_column or "", "missing id"))
            continue
        if row_id in first_row:
            skipped.append(
                SkippedRow(
                    row,
                    row_id,
                    card.id_column or "",
                    f"duplicate id (first at row {first_row[row_id]})",
                )
            )
            continue
        structure = structures[row]
        if isinstance(structure, str):
            skipped.append(SkippedRow(row, row_id, card.structure_column, structure))
            continue
        values: dict[str, float] = {}
        problem: SkippedRow | None = None
        for spec in specs:
            raw = labels[spec.name][row]
            value = _as_float(raw)
            if value is None:
                problem = SkippedRow(row, row_id, spec.column, f"{spec.name}: {_describe(raw)}")
                break
            value *= card.targets[spec.name].scale  # file unit -> card unit (e.g. Ha -> eV)
            if not card.targets[spec.name].contains(value):
                low, high = card.targets[spec.name].valid_range or (value, value)
                problem = SkippedRow(
                    row,
                    row_id,
                    spec.column,
                    f"{spec.name} value {value} {spec.unit} is outside the card's valid range "
                    f"[{low}, {high}]",
                )
                break
            threshold = card.targets[spec.name].indicator_above
            values[spec.name] = value if threshold is None else float(value > threshold)
        if problem is not None:
            skipped.append(problem)
            continue
        first_row[row_id] = row
        records.append(MaterialRecord(id=row_id, structure=structure, targets=values, row=row))
    return records, skipped


def _as_float(raw: Any) -> float | None:
    """Return ``raw`` as a finite float, or None (missing, non-numeric, inf, bool)."""
    if isinstance(raw, bool | np.bool_):
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    return value if np.isfinite(value) else None


def _describe(raw: Any) -> str:
    """Say why ``raw`` is not a usable label."""
    if raw is None or raw is pd.NA or (isinstance(raw, float) and np.isnan(raw)):
        return "missing value"
    if isinstance(raw, bool | np.bool_):
        return f"boolean value {bool(raw)} is not a number"
    text = str(raw)
    try:
        float(text)
    except ValueError:
        return f"non-numeric value {text!r}"
    return f"non-finite value {text}"


def _log_summary(
    card: DatasetCard,
    n_rows: int,
    records: Sequence[MaterialRecord],
    skipped: Sequence[SkippedRow],
    source: str,
) -> None:
    if not skipped:
        logger.info(
            "%s: %d records from %d rows (structures: %s)", card.name, len(records), n_rows, source
        )
        return
    by_field = Counter(s.field for s in skipped)
    detail = ", ".join(f"{field}: {count}" for field, count in by_field.most_common())
    logger.warning(
        "%s: %d records from %d rows; skipped %d rows (%s; first: %s) (structures: %s)",
        card.name,
        len(records),
        n_rows,
        len(skipped),
        detail,
        skipped[0],
        source,
    )
