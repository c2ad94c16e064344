"""Every known structure, indexed by a fast pre-hash for novelty checks and parents.

Structures from all the datasets (about 72,000 rows) are kept as compact arrays (lattice,
atomic numbers, fractional coordinates) and bucketed by reduced composition. A candidate is
compared with ``StructureMatcher`` only against the known structures of its bucket (and,
optionally, of its space group; the space group of a known structure is computed with
spglib the first time a candidate needs it, then kept). Most generated compositions share
no bucket with any known structure, so most candidates never reach ``StructureMatcher``.

The index of a set of datasets is cached on disk (``<cache>/candidates/known-<hash>.npz``,
keyed by the datasets' sha256s), so only the first build reads the tables.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import zipfile
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from materials_ai import settings
from materials_ai.candidates.base import ExclusionSet
from materials_ai.candidates.chemistry import formula_key
from materials_ai.data.records import as_crystal
from materials_ai.errors import DataError

if TYPE_CHECKING:
    from pymatgen.analysis.structure_matcher import StructureMatcher
    from pymatgen.core import Structure

__all__ = ["KnownEntry", "KnownMaterials", "anonymous_formula", "parse_formula_key"]

logger = logging.getLogger(__name__)

#: Bump when the layout of the on-disk index changes.
INDEX_FORMAT_VERSION = 2

_SYMBOLS: list[str] = []


def _symbol(z: int) -> str:
    if not _SYMBOLS:
        from pymatgen.core import Element

        _SYMBOLS.extend(["X"] + [Element.from_Z(i).symbol for i in range(1, 119)])
    return _SYMBOLS[z]


def _spglib_number(
    lattice: np.ndarray, frac: np.ndarray, numbers: np.ndarray, symprec: float
) -> int | None:
    """Space-group number of a cell given as arrays (spglib; None when it fails)."""
    import spglib

    try:
        cell: Any = (lattice, frac, numbers.astype(np.int64))
        dataset = spglib.get_symmetry_dataset(cell, symprec=symprec)
    except Exception:  # spglib raises on a few degenerate cells
        return None
    return None if dataset is None else int(dataset.number)


def parse_formula_key(key: str) -> dict[str, int]:
    """Inverse of :func:`~materials_ai.candidates.chemistry.formula_key` (``O3Sr1Ti1``)."""
    import re

    return {s: int(n) for s, n in re.findall(r"([A-Z][a-z]?)(\d+)", key)}


def anonymous_formula(key: str) -> str:
    """Return the anonymised formula of a composition key, as pymatgen writes it.

    Amounts are sorted ascending and named A, B, C, ... (``O3Sr1Ti1`` -> ``ABC3``).
    """
    amounts = sorted(parse_formula_key(key).values())
    return "".join(f"{chr(ord('A') + i)}{n if n != 1 else ''}" for i, n in enumerate(amounts))


@dataclass(frozen=True, slots=True)
class KnownEntry:
    """One known structure.

    Attributes:
        dataset: Dataset name.
        id: Row id in that dataset.
        formula_key: Reduced-composition key.
        n_sites: Sites in the stored cell.
    """

    dataset: str
    id: str
    formula_key: str
    n_sites: int

    @property
    def label(self) -> str:
        """``dataset:id``."""
        return f"{self.dataset}:{self.id}"


class KnownMaterials:
    """Known structures bucketed by reduced composition.

    Build with :meth:`from_datasets` (every dataset card with structures) or
    :meth:`from_structures` (tests, custom sets).
    """

    def __init__(self) -> None:
        self.entries: list[KnownEntry] = []
        self._lattices: list[np.ndarray] = []
        self._numbers: list[np.ndarray] = []
        self._frac: list[np.ndarray] = []
        self._by_formula: dict[str, list[int]] = {}
        self._spacegroups: dict[tuple[int, float], int | None] = {}
        self._structures: dict[int, Structure] = {}
        self.sources: dict[str, str] = {}

    # -- building ---------------------------------------------------------------------

    def add(self, dataset: str, entry_id: str, structure: Structure) -> None:
        """Add one structure (its site species must be plain elements or ions)."""
        numbers = np.array([site.specie.Z for site in structure], dtype=np.uint8)
        self._append(
            dataset,
            entry_id,
            np.array(structure.lattice.matrix, dtype=np.float64),
            numbers,
            np.array(structure.frac_coords, dtype=np.float64),
        )

    def _append(
        self,
        dataset: str,
        entry_id: str,
        lattice: np.ndarray,
        numbers: np.ndarray,
        frac: np.ndarray,
    ) -> None:
        counts = Counter(int(z) for z in numbers)
        key = formula_key({_symbol(z): n for z, n in counts.items()})
        index = len(self.entries)
        self.entries.append(KnownEntry(dataset, entry_id, key, len(numbers)))
        self._lattices.append(lattice)
        self._numbers.append(numbers)
        self._frac.append(frac)
        self._by_formula.setdefault(key, []).append(index)

    @classmethod
    def from_structures(cls, items: Iterable[tuple[str, str, Structure]]) -> KnownMaterials:
        """Build from (dataset, id, structure) triples."""
        known = cls()
        for dataset, entry_id, structure in items:
            known.add(dataset, entry_id, structure)
        return known

    @classmethod
    def from_datasets(
        cls,
        names: Sequence[str] | None = None,
        *,
        data_dir: str | Path | None = None,
        cache_dir: str | Path | None = None,
        use_cache: bool = True,
        progress: bool = False,
        spacegroups: float | None = None,
    ) -> KnownMaterials:
        """Index every structure of the named datasets (default: every card).

        Args:
            names: Dataset names; None for every crystal dataset in the registry.
            data_dir: Data directory; default ``MATERIALS_AI_DATA_DIR``.
            cache_dir: Cache root; default :func:`materials_ai.settings.cache_dir`.
            use_cache: Read and write the on-disk index.
            progress: Show progress while parsing structures.
            spacegroups: When set, the spglib tolerance (Å) at which every entry's space
                group is computed up front (:meth:`precompute_spacegroups`) and stored
                in the on-disk index; otherwise space groups are computed on demand.

        Raises:
            DatasetNotFoundError: A dataset file is missing.
            ChecksumMismatchError: A file differs from its card.
        """
        from materials_ai.data import get_card, list_cards, load_dataset

        if names is None:  # every crystal dataset (molecular ones hold no structures)
            cards = [c for c in list_cards() if c.structure_format != "smiles"]
        else:
            cards = [get_card(n) for n in names]
            molecular = [c.name for c in cards if c.structure_format == "smiles"]
            if molecular:
                raise DataError(
                    f"known-structure datasets must hold crystals; {molecular} hold molecules"
                )
        digest = hashlib.sha256(f"v{INDEX_FORMAT_VERSION}".encode())
        for card in sorted(cards, key=lambda c: c.name):
            digest.update(f"|{card.name}:{card.sha256}".encode())
        path: Path | None = None
        if use_cache:
            try:
                root = settings.cache_dir(cache_dir) / "candidates"
                path = root / f"known-{digest.hexdigest()[:16]}.npz"
            except OSError as exc:
                logger.warning("known-structure index cache disabled: %s", exc)
        known: KnownMaterials | None = None
        if path is not None and path.is_file():
            known = cls._load(path)
        dirty = False
        if known is None:
            known = cls()
            for card in cards:
                dataset = load_dataset(
                    card, targets=[], data_dir=data_dir, cache_dir=cache_dir, progress=progress
                )
                for record in dataset.records:
                    where = f"{card.name} row {record.row} ({record.id})"
                    known.add(card.name, record.id, as_crystal(record.structure, where))
                known.sources[card.name] = card.sha256
                logger.info("indexed %d known structures of %s", len(dataset.records), card.name)
            dirty = True
        if spacegroups is not None:
            missing = sum((i, spacegroups) not in known._spacegroups for i in range(len(known)))
            if missing:
                known.precompute_spacegroups(spacegroups, progress=progress)
                dirty = True
        if path is not None and dirty:
            known._save(path)
        return known

    # -- persistence ------------------------------------------------------------------

    def _save(self, path: Path) -> None:
        n = len(self.entries)
        sizes = np.array([e.n_sites for e in self.entries], dtype=np.int64)
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(sizes, out=offsets[1:])
        arrays: dict[str, Any] = {
            "format_version": np.array(INDEX_FORMAT_VERSION),
            "datasets": np.array([e.dataset for e in self.entries], dtype=str),
            "ids": np.array([e.id for e in self.entries], dtype=str),
            "offsets": offsets,
            "lattices": np.array(self._lattices).reshape(n, 3, 3),
            "numbers": np.concatenate(self._numbers) if n else np.zeros(0, np.uint8),
            "frac": np.concatenate(self._frac) if n else np.zeros((0, 3)),
            "sg_index": np.array([k[0] for k in self._spacegroups], dtype=np.int64),
            "sg_symprec": np.array([k[1] for k in self._spacegroups], dtype=np.float64),
            "sg_number": np.array(
                [-1 if v is None else v for v in self._spacegroups.values()], dtype=np.int64
            ),
            "source_names": np.array(list(self.sources), dtype=str),
            "source_sha256": np.array(list(self.sources.values()), dtype=str),
        }
        tmp_name = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            with os.fdopen(fd, "wb") as handle:
                np.savez(handle, allow_pickle=False, **arrays)
            os.chmod(tmp_name, 0o644)
            os.replace(tmp_name, path)
            tmp_name = None
        except OSError as exc:
            logger.warning("could not write known-structure index %s: %s", path, exc)
        finally:
            if tmp_name is not None and os.path.exists(tmp_name):
                os.unlink(tmp_name)

    @classmethod
    def _load(cls, path: Path) -> KnownMaterials | None:
        try:
            with np.load(path, allow_pickle=False) as npz:
                if int(npz["format_version"]) != INDEX_FORMAT_VERSION:
                    return None
                datasets, ids = npz["datasets"], npz["ids"]
                offsets, lattices = npz["offsets"], npz["lattices"]
                numbers, frac = npz["numbers"], npz["frac"]
                sources = dict(
                    zip(npz["source_names"].tolist(), npz["source_sha256"].tolist(), strict=True)
                )
                sg = (npz["sg_index"], npz["sg_symprec"], npz["sg_number"])
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            logger.warning("ignoring unreadable known-structure index %s: %s", path, exc)
            return None
        known = cls()
        for i in range(len(ids)):
            a, b = offsets[i], offsets[i + 1]
            known._append(str(datasets[i]), str(ids[i]), lattices[i], numbers[a:b], frac[a:b])
        known.sources = sources
        for i, eps, number in zip(*sg, strict=True):
            known._spacegroups[(int(i), float(eps))] = None if number < 0 else int(number)
        return known

    # -- queries ----------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.entries)

    def formula_keys(self) -> frozenset[str]:
        """Reduced-composition keys of every known structure."""
        return frozenset(self._by_formula)

    def bucket(self, key: str) -> list[int]:
        """Indices of the known structures with this composition key."""
        return self._by_formula.get(key, [])

    def structure(self, index: int) -> Structure:
        """Rebuild known structure ``index`` (kept in memory once built)."""
        cached = self._structures.get(index)
        if cached is not None:
            return cached
        from pymatgen.core import Lattice, Structure

        structure = Structure(
            Lattice(self._lattices[index]),
            [_symbol(int(z)) for z in self._numbers[index]],
            self._frac[index],
        )
        self._structures[index] = structure
        return structure

    def spacegroup(self, index: int, symprec: float = 0.1) -> int | None:
        """Space-group number of known structure ``index`` (spglib, computed once)."""
        key = (index, symprec)
        if key not in self._spacegroups:
            self._spacegroups[key] = _spglib_number(
                self._lattices[index], self._frac[index], self._numbers[index], symprec
            )
        return self._spacegroups[key]

    def precompute_spacegroups(self, symprec: float = 0.1, progress: bool = False) -> None:
        """Compute the space group of every entry now (about 3 ms each, once).

        :meth:`from_datasets` stores them in its on-disk index, so later runs skip this.
        """
        indices: Iterable[int] = range(len(self.entries))
        if progress:
            from rich.progress import track

            indices = track(indices, description="space groups of known structures")
        for i in indices:
            self.spacegroup(i, symprec)

    def exclusion_set(self) -> ExclusionSet:
        """Every known composition, as an :class:`ExclusionSet` for generators."""
        return ExclusionSet(formulas=self.formula_keys())

    def without(
        self, formula_keys: Collection[str] = (), labels: Collection[str] = ()
    ) -> KnownMaterials:
        """Return a copy without these compositions and ``dataset:id`` labels.

        Used to hold materials out (the rediscovery benchmark).
        """
        drop_keys = set(formula_keys)
        drop_labels = set(labels)
        known = KnownMaterials()
        new_index: dict[int, int] = {}
        for i, e in enumerate(self.entries):
            if e.formula_key in drop_keys or e.label in drop_labels:
                continue
            new_index[i] = len(known.entries)
            known._append(e.dataset, e.id, self._lattices[i], self._numbers[i], self._frac[i])
        known.sources = dict(self.sources)
        for (i, eps), number in self._spacegroups.items():
            if i in new_index:
                known._spacegroups[(new_index[i], eps)] = number
        return known

    def select(
        self,
        *,
        datasets: Collection[str] | None = None,
        anonymous_formulas: Collection[str] | None = None,
        ids: Collection[str] | None = None,
        required_elements: Collection[str] | None = None,
        max_sites: int | None = None,
        max_elements: int | None = None,
    ) -> list[tuple[str, Structure]]:
        """Return (``dataset:id``, structure) of the entries passing every given filter."""
        anon = set(anonymous_formulas) if anonymous_formulas is not None else None
        id_set = set(ids) if ids is not None else None
        out: list[tuple[str, Structure]] = []
        for i, e in enumerate(self.entries):
            if datasets is not None and e.dataset not in datasets:
                continue
            if max_sites is not None and e.n_sites > max_sites:
                continue
            if id_set is not None and e.id not in id_set and e.label not in id_set:
                continue
            if max_elements is not None or anon is not None or required_elements:
                composition = parse_formula_key(e.formula_key)
                if max_elements is not None and len(composition) > max_elements:
                    continue
                if required_elements and not set(required_elements) <= set(composition):
                    continue
                if anon is not None and anonymous_formula(e.formula_key) not in anon:
                    continue
            out.append((e.label, self.structure(i)))
        return out

    def find_match(
        self,
        structure: Structure,
        key: str,
        spacegroup: int | None,
        matcher: StructureMatcher,
        *,
        use_spacegroup: bool = True,
        symprec: float = 0.1,
    ) -> tuple[KnownEntry | None, int]:
        """Return the first known structure that ``matcher`` finds equal to ``structure``.

        Args:
            structure: The candidate.
            key: Its composition key (the pre-hash's first part).
            spacegroup: Its space group (None: not used to filter).
            matcher: A configured ``StructureMatcher``.
            use_spacegroup: Compare only with known structures of the same space group.
            symprec: spglib tolerance for the known structures' space groups.

        Returns:
            (matching entry or None, number of ``StructureMatcher.fit`` calls made).
        """
        calls = 0
        for index in self.bucket(key):
            if (
                use_spacegroup
                and spacegroup is not None
                and self.spacegroup(index, symprec) != spacegroup
            ):
                continue
            calls += 1
            if matcher.fit(structure, self.structure(index)):
                return self.entries[index], calls
        return None, calls
