"""Tiny, fully synthetic datasets (a CSV file plus its card) for tests and examples.

The structures are built in code, so nothing depends on the real data mirror::

    tiny = write_tiny_dataset(tmp_path, corrupt_rows=[2], missing_label_rows=[4])
    ds = load_dataset(tiny.card, data_dir=tiny.data_dir, cache_dir=tmp_path / "cache")
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from materials_ai.data.cards import DatasetCard, StructureFormat, card_from_mapping, dump_card

if TYPE_CHECKING:
    from pymatgen.core import Structure

__all__ = [
    "BAND_GAP_COLUMN",
    "BROKEN_CIF",
    "FORMATION_ENERGY_COLUMN",
    "TinyDataset",
    "gaas_zincblende",
    "si_diamond",
    "srtio3_cubic",
    "tiny_structures",
    "write_tiny_dataset",
]

#: Column names of the tiny table's labels.
BAND_GAP_COLUMN = "band_gap_eV"
FORMATION_ENERGY_COLUMN = "formation_energy_per_atom_eV"

#: A CIF with a cell but no atoms: pymatgen refuses to parse it.
BROKEN_CIF = (
    "# corrupted on purpose\ndata_broken\n_cell_length_a 3.0\n_cell_length_b 3.0\n"
    "_cell_length_c 3.0\n_cell_angle_alpha 90\n_cell_angle_beta 90\n_cell_angle_gamma 90\n"
)


def si_diamond(a_angstrom: float = 5.431) -> Structure:
    """Return the 2-atom primitive cell of diamond-cubic Si (lattice constant in Å)."""
    from pymatgen.core import Lattice, Structure

    half = a_angstrom / 2
    lattice = Lattice([[0.0, half, half], [half, 0.0, half], [half, half, 0.0]])
    return Structure(lattice, ["Si", "Si"], [[0.0, 0.0, 0.0], [0.25, 0.25, 0.25]])


def gaas_zincblende(a_angstrom: float = 5.653) -> Structure:
    """Return the 2-atom primitive cell of zinc-blende GaAs (lattice constant in Å)."""
    from pymatgen.core import Lattice, Structure

    half = a_angstrom / 2
    lattice = Lattice([[0.0, half, half], [half, 0.0, half], [half, half, 0.0]])
    return Structure(lattice, ["Ga", "As"], [[0.0, 0.0, 0.0], [0.25, 0.25, 0.25]])


def srtio3_cubic(a_angstrom: float = 3.905) -> Structure:
    """Return the 5-atom cubic perovskite SrTiO3 (Pm-3m, lattice constant in Å)."""
    from pymatgen.core import Lattice, Structure

    return Structure(
        Lattice.cubic(a_angstrom),
        ["Sr", "Ti", "O", "O", "O"],
        [[0.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, 0.5, 0.0], [0.5, 0.0, 0.5], [0.0, 0.5, 0.5]],
    )


def tiny_structures(n: int) -> list[Structure]:
    """Return ``n`` distinct small structures: Si, SrTiO3 and GaAs in turn, each repeat
    with a lattice constant 1 % larger than the previous one."""
    makers = ((si_diamond, 5.431), (srtio3_cubic, 3.905), (gaas_zincblende, 5.653))
    out = []
    for i in range(n):
        make, a0 = makers[i % len(makers)]
        out.append(make(a0 * (1.0 + 0.01 * (i // len(makers)))))
    return out


@dataclass(frozen=True)
class TinyDataset:
    """A written tiny dataset.

    Attributes:
        card: The dataset's card (also written to ``card_path``).
        card_path: The card's YAML file, inside ``cards_dir``.
        cards_dir: Folder holding only this card (usable as ``MATERIALS_AI_CARDS_DIR``).
        data_dir: Data directory (usable as ``MATERIALS_AI_DATA_DIR``).
        path: The data file, ``data_dir / card.file``.
        ids: Row ids as the loader reports them (without the ``.cif`` suffix).
        structures: The structure written in each row (also for corrupted rows).
        band_gaps: Band gap written in each row, eV (NaN where left empty).
        formation_energies: Formation energy written in each row, eV/atom.
    """

    card: DatasetCard
    card_path: Path
    cards_dir: Path
    data_dir: Path
    path: Path
    ids: tuple[str, ...]
    structures: tuple[Structure, ...]
    band_gaps: tuple[float, ...]
    formation_energies: tuple[float, ...]


def _csv_field(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def write_tiny_dataset(
    folder: str | Path,
    *,
    name: str = "tiny",
    n_rows: int = 6,
    corrupt_rows: Collection[int] = (),
    missing_label_rows: Collection[int] = (),
    non_numeric_label_rows: Collection[int] = (),
    structures: Sequence[Structure] | None = None,
    structure_format: StructureFormat = "cif",
    comment_line: str | None = None,
    gzip_file: bool = False,
    band_gap_range: tuple[float, float] | None = None,
) -> TinyDataset:
    """Write a tiny labelled dataset and its card under ``folder``.

    Layout: ``folder/data/inorganic/<name>.csv[.gz]`` and ``folder/cards/<name>.yaml``.
    Columns: ``material_id`` (``tiny-<i>.cif``, the card strips ``.cif``), ``formula``,
    :data:`BAND_GAP_COLUMN` (``0.5 + 0.25 i`` eV), :data:`FORMATION_ENERGY_COLUMN`
    (``-1 - 0.1 i`` eV/atom) and ``cif`` or ``structure``. The card's targets are
    ``band_gap`` and ``formation_energy``; its sha256 and row count match the file.

    Args:
        folder: Where to write (created if needed).
        name: Dataset name, also the file stem.
        n_rows: Number of rows.
        corrupt_rows: Rows whose structure cell is replaced by :data:`BROKEN_CIF`.
        missing_label_rows: Rows whose band gap cell is left empty.
        non_numeric_label_rows: Rows whose band gap cell holds ``not-computed``.
        structures: Structures to write instead of :func:`tiny_structures`.
        structure_format: ``"cif"`` (column ``cif``) or ``"pymatgen_dict_literal"``
            (column ``structure``, written as ``repr(structure.as_dict())``).
        comment_line: A line written first, prefixed with ``#`` (the card then sets
            ``comment: "#"``).
        gzip_file: Write ``<name>.csv.gz`` instead of ``<name>.csv``.
        band_gap_range: Optional ``valid_range`` of the ``band_gap`` target, eV.
    """
    from pymatgen.io.cif import CifWriter

    folder = Path(folder)
    structs = list(structures) if structures is not None else tiny_structures(n_rows)
    if len(structs) != n_rows:
        raise ValueError(f"got {len(structs)} structures for {n_rows} rows")
    column = "cif" if structure_format == "cif" else "structure"

    lines = []
    if comment_line is not None:
        lines.append(f"# {comment_line}")
    lines.append(f"material_id,formula,{BAND_GAP_COLUMN},{FORMATION_ENERGY_COLUMN},{column}")
    gaps: list[float] = []
    e_forms: list[float] = []
    for i, structure in enumerate(structs):
        gap = 0.5 + 0.25 * i
        e_form = -1.0 - 0.1 * i
        gap_text = repr(gap)
        if i in missing_label_rows:
            gap, gap_text = float("nan"), ""
        elif i in non_numeric_label_rows:
            gap, gap_text = float("nan"), "not-computed"
        if i in corrupt_rows:
            cell = BROKEN_CIF
        elif structure_format == "cif":
            cell = str(CifWriter(structure))
        else:
            cell = repr(structure.as_dict())
        gaps.append(gap)
        e_forms.append(e_form)
        lines.append(
            f"tiny-{i}.cif,{structure.composition.reduced_formula},{gap_text},{e_form!r},"
            + _csv_field(cell)
        )
    payload = ("\n".join(lines) + "\n").encode("utf-8")

    data_dir = folder / "data"
    relative = f"inorganic/{name}.csv" + (".gz" if gzip_file else "")
    path = data_dir / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    if gzip_file:
        payload = gzip.compress(payload, mtime=0)
    path.write_bytes(payload)

    band_gap: dict[str, object] = {
        "column": BAND_GAP_COLUMN,
        "unit": "eV",
        "description": "Synthetic band gap, 0.5 + 0.25 i.",
    }
    if band_gap_range is not None:
        band_gap["valid_range"] = list(band_gap_range)
    card = card_from_mapping(
        {
            "name": name,
            "title": f"Synthetic test dataset {name!r}",
            "file": relative,
            "sha256": hashlib.sha256(payload).hexdigest(),
            "rows": n_rows,
            "upstream": {
                "source": "written by materials_ai.testing.datasets.write_tiny_dataset",
                "urls": ["https://example.invalid/tiny"],
                "licence": "not stated upstream",
                "citation": "none (synthetic)",
            },
            "level_of_theory": "none (synthetic labels)",
            "id_column": "material_id",
            "id_strip_suffix": ".cif",
            "structure_column": column,
            "structure_format": structure_format,
            "comment": "#" if comment_line is not None else None,
            "targets": {
                "band_gap": band_gap,
                "formation_energy": {
                    "column": FORMATION_ENERGY_COLUMN,
                    "unit": "eV/atom",
                    "description": "Synthetic formation energy, -1 - 0.1 i.",
                },
            },
            "notes": ["Synthetic; for tests only."],
        },
        where=f"<tiny dataset {name}>",
    )
    cards_dir = folder / "cards"
    cards_dir.mkdir(parents=True, exist_ok=True)
    card_path = dump_card(card, cards_dir / f"{name}.yaml")
    return TinyDataset(
        card=card,
        card_path=card_path,
        cards_dir=cards_dir,
        data_dir=data_dir,
        path=path,
        ids=tuple(f"tiny-{i}" for i in range(n_rows)),
        structures=tuple(structs),
        band_gaps=tuple(gaps),
        formation_energies=tuple(e_forms),
    )
