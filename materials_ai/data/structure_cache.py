"""Structure parsing and the compact structure cache of dataset loads.

Parsing CIFs is slow (about 1.3 ms per structure), so a full load writes a compact cache
of the parsed structures (lattice, atomic numbers, fractional coordinates per row) to
``<cache dir>/structures/<dataset>-<sha256[:12]>.npz``. Later loads of any subset rebuild
the structures from it. Structures are canonicalised on both paths (rebuilt as
``Structure(Lattice(matrix), species, frac_coords)``), so a cached load gives exactly the
structures a parsing load gives. A structure the compact arrays cannot represent
(partial occupancy, oxidation states, site properties) is never cached.
"""

from __future__ import annotations

import ast
import logging
import os
import tempfile
import warnings
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from materials_ai import settings
from materials_ai.data.cards import DatasetCard, StructureFormat
from materials_ai.data.records import (
    Molecule,
)
from materials_ai.errors import DataError

if TYPE_CHECKING:
    from pymatgen.core import Structure

__all__ = ["CACHE_FORMAT_VERSION", "parse_structure", "structure_cache_path"]

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
