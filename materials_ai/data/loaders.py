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

import ast
import logging
import os
import tempfile
import warnings
import zipfile
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from materials_ai import settings
from materials_ai.data.cards import DatasetCard, StructureFormat
from materials_ai.data.records import (
    MaterialRecord,
    MaterialsDataset,
    Molecule,
    SkippedRow,
    TargetSpec,
)
from materials_ai.data.registry import dataset_path, get_card, sha256_file, verify_checksum
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

#: Bump when the layout of the ``.npz`` structure cache changes.
CACHE_FORMAT_VERSION = 1


# --------------------------------------------------------------------------- parsing


def parse_structure(text: Any, structure_format: StructureFormat) -> Structure | Molecule:
    """Parse one structure cell of a dataset table.

    Args:
        text: The cell's content (CIF text, a ``Structure.as_dict()`` Python literal, or
            a SMILES string).
        structure_format: ``"cif"``, ``"pymatgen_dict_literal"`` or ``"smiles"``.

    Returns:
        The structure, exactly as pymatgen parses it (CIF parser warnings are silenced),
        or, for ``"smiles"``, a :class:`Molecule` holding the canonical SMILES.

    Raises:
        DataError: If the cell is empty, does not parse, or holds no sites (no atoms).
    """
    if not isinstance(text, str) or not text.strip():
        raise DataError("empty structure cell")
    if structure_format == "smiles":
        return Molecule.from_smiles(text)
    from pymatgen.core import Structure

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if structure_format == "cif":
                structure = Structure.from_str(text, fmt="cif")
            elif structure_format == "pymatgen_dict_literal":
                structure = Structure.from_dict(ast.literal_eval(text))
            else:  # pragma: no cover - the card model forbids other values
                raise DataError(f"unknown structure format {structure_format!r}")
    except DataError:
        raise
    except Exception as exc:  # pymatgen raises many types on bad input
        message = " ".join(str(exc).split())[:200] or "no details"
        raise DataError(
            f"{structure_format} parse failed: {type(exc).__name__}: {message}"
        ) from exc
    if len(structure) == 0:
        raise DataError(f"{structure_format} parsed to a structure with no sites")
    return structure


@dataclass(frozen=True, slots=True)
class _Compact:
    """A structure as plain arrays: ``3 x 3`` lattice (Å), ``m`` atomic numbers,
    ``m x 3`` fractional coordinates."""

    lattice: np.ndarray
    numbers: np.ndarray
    frac_coords: np.ndarray


def _to_compact(structure: Structure) -> _Compact | None:
    """Return the compact form of an ordered, plain structure, or None if it would lose
    information (partial occupancy, oxidation states, site or structure properties)."""
    from pymatgen.core import Element

    if not structure.is_ordered or structure.site_properties or structure.properties:
        return None
    species = structure.species
    if any(type(sp) is not Element for sp in species):
        return None
    return _Compact(
        lattice=np.array(structure.lattice.matrix, dtype=np.float64),
        numbers=np.array([sp.Z for sp in species], dtype=np.uint8),
        frac_coords=np.array(structure.frac_coords, dtype=np.float64),
    )


class _Builder:
    """Rebuilds structures from compact arrays.

    Sites get one shared single-element ``Composition`` per atomic number (pymatgen's
    preferred site species, and immutable), which makes rebuilding about 1.5x faster than
    passing elements; the result is the same structure.
    """

    def __init__(self) -> None:
        from pymatgen.core import Composition, Element, Lattice, Structure

        self._structure = Structure
        self._lattice = Lattice
        self._species = {z: Composition({Element.from_Z(z): 1}) for z in range(1, 119)}

    def __call__(self, lattice: np.ndarray, numbers: np.ndarray, frac: np.ndarray) -> Structure:
        """Return ``Structure(Lattice(lattice), species, frac)``.

        Args:
            lattice: ``3 x 3`` lattice vectors as rows (Å).
            numbers: ``m`` atomic numbers.
            frac: ``m x 3`` fractional coordinates.
        """
        species = [self._species[int(z)] for z in numbers]
        return self._structure(self._lattice(lattice), species, frac)


# --------------------------------------------------------------------------- cache


def structure_cache_path(
    card: DatasetCard, sha256: str | None = None, cache_dir: str | Path | None = None
) -> Path:
    """Return where the parsed-structure cache of ``card`` lives.

    Args:
        card: The dataset card.
        sha256: sha256 of the data file the cache belongs to; default the card's.
        cache_dir: Cache root; default :func:`materials_ai.settings.cache_dir`.
    """
    digest = (sha256 or card.sha256)[:12]
    return settings.cache_dir(cache_dir) / "structures" / f"{card.name}-{digest}.npz"


class _StructureCache:
    """Parsed structures of every row of one data file, as compact arrays."""

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        self.ids = arrays["ids"]
        self.rows = arrays["rows"]
        self.offsets = arrays["offsets"]
        self.lattices = arrays["lattices"]
        self.numbers = arrays["numbers"]
        self.frac_coords = arrays["frac_coords"]
        self.reasons = {
            int(r): str(m) for r, m in zip(arrays["skip_rows"], arrays["skip_reasons"], strict=True)
        }
        n = len(self.ids)
        if not (
            len(self.rows) == n
            and len(self.offsets) == n + 1
            and len(self.lattices) == n
            and self.offsets[-1] == len(self.numbers) == len(self.frac_coords)
            and np.array_equal(self.rows, np.arange(n))
        ):
            raise ValueError("inconsistent array lengths")

    def __len__(self) -> int:
        return len(self.ids)

    def build(self, row: int, builder: _Builder) -> Structure:
        start, stop = self.offsets[row], self.offsets[row + 1]
        return builder(self.lattices[row], self.numbers[start:stop], self.frac_coords[start:stop])

    @staticmethod
    def arrays(
        card: DatasetCard, sha256: str, ids: Sequence[str], parsed: Sequence[_Compact | str]
    ) -> dict[str, np.ndarray]:
        """Pack per-row results (a compact structure, or a skip reason) into arrays."""
        n = len(parsed)
        sizes = np.array(
            [len(p.numbers) if isinstance(p, _Compact) else 0 for p in parsed], dtype=np.int64
        )
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(sizes, out=offsets[1:])
        lattices = np.zeros((n, 3, 3), dtype=np.float64)
        compact = [p for p in parsed if isinstance(p, _Compact)]
        for i, p in enumerate(parsed):
            if isinstance(p, _Compact):
                lattices[i] = p.lattice
        skip_rows = [i for i, p in enumerate(parsed) if isinstance(p, str)]
        return {
            "format_version": np.array(CACHE_FORMAT_VERSION, dtype=np.int64),
            "dataset": np.array(card.name),
            "sha256": np.array(sha256),
            "structure_column": np.array(card.structure_column),
            "structure_format": np.array(card.structure_format),
            "ids": np.array(list(ids), dtype=str),
            "rows": np.arange(n, dtype=np.int64),
            "offsets": offsets,
            "lattices": lattices,
            "numbers": (
                np.concatenate([p.numbers for p in compact])
                if compact
                else np.zeros(0, dtype=np.uint8)
            ),
            "frac_coords": (
                np.concatenate([p.frac_coords for p in compact])
                if compact
                else np.zeros((0, 3), dtype=np.float64)
            ),
            "skip_rows": np.array(skip_rows, dtype=np.int64),
            "skip_reasons": np.array([parsed[i] for i in skip_rows], dtype=str),
        }


def _read_cache(path: Path, card: DatasetCard, sha256: str) -> _StructureCache | None:
    """Return the cache at ``path`` if it exists and belongs to this file and card."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
        expected = {
            "format_version": CACHE_FORMAT_VERSION,
            "dataset": card.name,
            "sha256": sha256,
            "structure_column": card.structure_column,
            "structure_format": card.structure_format,
        }
        for key, value in expected.items():
            if arrays[key].item() != value:
                logger.info("Ignoring structure cache %s: %s differs", path, key)
                return None
        return _StructureCache(arrays)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        logger.warning("Ignoring unreadable structure cache %s: %s", path, exc)
        return None


def _write_cache(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` to ``path`` atomically (temporary file + ``os.replace``)."""
    tmp_name = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, allow_pickle=False, **arrays)  # type: ignore[arg-type]
        os.chmod(tmp_name, 0o644)  # mkstemp creates 0600; the cache is not secret
        os.replace(tmp_name, path)
        tmp_name = None
        logger.info("Wrote structure cache %s", path)
    except OSError as exc:
        logger.warning("Could not write structure cache %s: %s", path, exc)
    finally:
        if tmp_name is not None and os.path.exists(tmp_name):
            os.unlink(tmp_name)


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
            values[spec.name] = value
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
