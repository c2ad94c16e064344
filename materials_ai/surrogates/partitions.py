"""Partition files of compact structures: the on-disk form of pools too large for memory.

One Parquet file per partition, one row per candidate:

==============  ========================  ==================================================
column          type                      meaning
==============  ========================  ==================================================
``id``          string                    candidate id (unique within the pool)
``lattice``     fixed_size_list<f64, 9>   lattice vectors as rows, flattened (Å)
``numbers``     list<uint8>               `m` atomic numbers
``frac``        list<f64>                 `m x 3` fractional coordinates, flattened
==============  ========================  ==================================================

:func:`replicate_structures` makes large synthetic pools from real structures (strained
lattices, swapped cation sites) for benchmarks.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from materials_ai.errors import DataError

if TYPE_CHECKING:
    pass


@dataclass(frozen=True)
class CompactStructures:
    """`n` ordered structures as flat arrays (the content of one partition file).

    Attributes:
        ids: `n` candidate ids.
        lattices: `n x 3 x 3` lattice vectors as rows (Å).
        offsets: `n + 1` offsets of each structure's sites in ``numbers``/``frac``.
        numbers: `N` atomic numbers (uint8).
        frac: `N x 3` fractional coordinates.
    """

    ids: np.ndarray
    lattices: np.ndarray
    offsets: np.ndarray
    numbers: np.ndarray
    frac: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def from_structures(cls, structures: Sequence[Any], ids: Sequence[str]) -> CompactStructures:
        """Pack ordered pymatgen structures (no partial occupancy)."""
        if len(structures) != len(ids):
            raise ValueError(f"{len(structures)} structures but {len(ids)} ids")
        sizes = np.array([len(s) for s in structures], dtype=np.int64)
        return cls(
            ids=np.array([str(i) for i in ids], dtype=object),
            lattices=np.array([s.lattice.matrix for s in structures], dtype=np.float64).reshape(
                -1, 3, 3
            ),
            offsets=np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
            numbers=np.array([sp.Z for s in structures for sp in s.species], dtype=np.uint8),
            frac=np.concatenate([s.frac_coords for s in structures]).astype(np.float64)
            if structures
            else np.zeros((0, 3)),
        )

    def structures(self) -> list[Any]:
        """Rebuild pymatgen structures (``Structure(Lattice(m), species, frac)``)."""
        from materials_ai.data.structure_cache import _Builder

        builder = _Builder()
        o = self.offsets
        return [
            builder(self.lattices[i], self.numbers[o[i] : o[i + 1]], self.frac[o[i] : o[i + 1]])
            for i in range(len(self))
        ]


def write_partition(path: str | Path, structures: CompactStructures) -> Path:
    """Write one partition file (Parquet, see the module docstring) atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = len(structures)
    offsets = pa.array(structures.offsets.astype(np.int32))
    table = pa.table(
        {
            "id": pa.array(list(structures.ids), type=pa.string()),
            "lattice": pa.FixedSizeListArray.from_arrays(
                pa.array(structures.lattices.reshape(n * 9)), 9
            ),
            "numbers": pa.ListArray.from_arrays(offsets, pa.array(structures.numbers)),
            "frac": pa.ListArray.from_arrays(
                pa.array((structures.offsets * 3).astype(np.int32)),
                pa.array(structures.frac.reshape(-1)),
            ),
        }
    )
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, path)
    return path


def read_partition(path: str | Path) -> CompactStructures:
    """Read a partition file written by :func:`write_partition`.

    Raises:
        DataError: If the file is missing, not Parquet, or lacks a column.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    try:
        table = pq.read_table(path, columns=["id", "lattice", "numbers", "frac"])
    except (OSError, pa.ArrowInvalid, KeyError) as exc:
        raise DataError(f"{path}: cannot read candidate partition: {exc}") from exc
    n = table.num_rows
    numbers = table.column("numbers").combine_chunks()
    frac = table.column("frac").combine_chunks()
    lattice = table.column("lattice").combine_chunks()
    offsets = np.asarray(numbers.offsets, dtype=np.int64)
    if not np.array_equal(np.asarray(frac.offsets, dtype=np.int64), 3 * offsets):
        raise DataError(f"{path}: 'frac' does not hold 3 coordinates per site")
    return CompactStructures(
        ids=np.array(table.column("id").to_pylist(), dtype=object),
        lattices=np.asarray(lattice.flatten(), dtype=np.float64).reshape(n, 3, 3),
        offsets=offsets - offsets[0],
        numbers=np.asarray(numbers.flatten(), dtype=np.uint8),
        frac=np.asarray(frac.flatten(), dtype=np.float64).reshape(-1, 3),
    )


def replicate_structures(
    base: CompactStructures,
    n: int,
    *,
    seed: int,
    start: int = 0,
    max_strain: float = 0.03,
    swap_probability: float = 0.5,
    id_prefix: str = "rep",
) -> CompactStructures:
    """Make `n` new candidates from real structures: strained, with cation sites swapped.

    Candidate ``j`` (global number ``start + j``) copies base structure
    ``(start + j) % len(base)``, multiplies its lattice by ``I + ε`` with ``ε`` a random
    symmetric strain (entries uniform in ``±max_strain``) and, with probability
    ``swap_probability``, exchanges the species of its first two sites (the A and B
    cations of an ABX₃ perovskite cell). Fractional coordinates are kept. The result
    depends only on ``(seed, start + j)``, so a pool can be generated partition by
    partition, in parallel, in any order.

    Args:
        base: The structures to replicate.
        n: Candidates to make.
        seed: Random seed of the pool.
        start: Global number of the first candidate (partition offset).
        max_strain: Largest strain component.
        swap_probability: Chance of swapping the first two sites' species.
        id_prefix: Ids are ``f"{id_prefix}-{number:08d}"``.
    """
    if len(base) == 0:
        raise ValueError("no base structures to replicate")
    numbers_global = np.arange(start, start + n, dtype=np.int64)
    source = numbers_global % len(base)
    rng = np.random.default_rng([seed, start])
    eps = rng.uniform(-max_strain, max_strain, size=(n, 3, 3))
    eps = 0.5 * (eps + eps.transpose(0, 2, 1))
    deform = np.eye(3)[None] + eps
    lattices = base.lattices[source] @ deform
    swap = rng.random(n) < swap_probability
    sizes = np.diff(base.offsets)[source]
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    site = np.arange(int(offsets[-1])) - np.repeat(offsets[:-1], sizes)
    src_sites = np.repeat(base.offsets[:-1][source], sizes) + site
    numbers = base.numbers[src_sites].copy()
    frac = base.frac[src_sites].copy()
    can_swap = swap & (sizes >= 2)
    first = offsets[:-1][can_swap]
    numbers[first], numbers[first + 1] = numbers[first + 1], numbers[first].copy()
    return CompactStructures(
        ids=np.array([f"{id_prefix}-{j:08d}" for j in numbers_global], dtype=object),
        lattices=lattices,
        offsets=offsets,
        numbers=numbers,
        frac=frac,
    )
