"""The lab hand-off format in one place: column names, units, ranges and schema versions.

Two files cross the boundary between a campaign and a laboratory:

* the bundle's ``candidates.csv`` / ``candidates.json`` / ``schema.json``, written by
  :mod:`materials_ai.lab.export` (layout version :data:`BUNDLE_SCHEMA_VERSION`; columns
  :data:`LEADING_COLUMNS`, :data:`TARGET_COLUMNS`, :data:`STRUCTURE_COLUMNS`);
* the lab's results file, read by :mod:`materials_ai.lab.ingest` (layout version
  :data:`RESULTS_SCHEMA_VERSION`; columns :data:`ID_COLUMN`, ``measured_<target>_<unit>``
  (:func:`measured_column`), :data:`YES_NO_COLUMNS`, :data:`NOTES_COLUMN`; values checked
  against :data:`PLAUSIBLE_RANGES`).

``docs/lab_handoff.md`` documents both for people. A change that renames or removes a
column, or changes its meaning or unit, increments the version.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from materials_ai.report.i18n import MEASURED_DESCRIPTIONS

__all__ = [
    "BUNDLE_SCHEMA_VERSION",
    "FIDELITY",
    "ID_COLUMN",
    "LEADING_COLUMNS",
    "MEASURED_PREFIX",
    "NOTES_COLUMN",
    "PLAUSIBLE_RANGES",
    "RESULTS_SCHEMA_VERSION",
    "STRUCTURE_COLUMNS",
    "TARGET_COLUMNS",
    "YES_NO_COLUMNS",
    "Column",
    "MeasuredColumn",
    "candidate_columns",
    "measured_column",
    "results_columns",
    "results_schema",
    "unit_token",
]

# --------------------------------------------------------------------------------------
# The results file (lab -> campaign)
# --------------------------------------------------------------------------------------

#: Version of the results-file layout (``docs/lab_handoff.md``, :mod:`materials_ai.lab.ingest`).
RESULTS_SCHEMA_VERSION = 1

ID_COLUMN = "id"
MEASURED_PREFIX = "measured_"
YES_NO_COLUMNS = ("phase_pure", "synthesized")
NOTES_COLUMN = "notes"
FIDELITY = "experiment"

#: Plausible measured values per target (inclusive, target units). Values outside are
#: rejected as typos (a gap of 24 eV is a misplaced decimal point, not a discovery).
PLAUSIBLE_RANGES: dict[str, tuple[float, float]] = {
    "band_gap": (0.0, 15.0),
    "heat_of_formation": (-10.0, 10.0),
    "formation_energy": (-10.0, 10.0),
    "vbm": (0.0, 15.0),
    "cbm": (0.0, 15.0),
}


def unit_token(unit: str) -> str:
    """A unit as written in column names: ``eV`` -> ``eV``, ``eV/atom`` -> ``eV_per_atom``."""
    token = unit.strip().replace("/", "_per_")
    return re.sub(r"[^A-Za-z0-9_]+", "_", token).strip("_")


def measured_column(target: str, unit: str) -> str:
    """Results column of a target: ``measured_<target>_<unit token>``."""
    token = unit_token(unit)
    return f"{MEASURED_PREFIX}{target}_{token}" if token else f"{MEASURED_PREFIX}{target}"


@dataclass(frozen=True)
class MeasuredColumn:
    """A results column mapped to a campaign target.

    Attributes:
        column: Column name (``measured_band_gap_eV``).
        target: Campaign target (``band_gap``).
        unit: The target's unit (``eV``).
        valid_range: Inclusive plausible range, or None (any finite value).
    """

    column: str
    target: str
    unit: str
    valid_range: tuple[float, float] | None


def results_columns(targets: Sequence[str], units: Mapping[str, str]) -> list[MeasuredColumn]:
    """The measured columns a results file may have for a campaign's targets."""
    return [
        MeasuredColumn(
            column=measured_column(t, units.get(t, "")),
            target=t,
            unit=units.get(t, ""),
            valid_range=PLAUSIBLE_RANGES.get(t),
        )
        for t in targets
    ]


# --------------------------------------------------------------------------------------
# The bundle (campaign -> lab)
# --------------------------------------------------------------------------------------

#: Version of the bundle layout (files, columns, JSON keys).
BUNDLE_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Column:
    """One documented column.

    Attributes:
        name: Column name (``{target}`` and ``{unit}`` are placeholders in per-target
            columns, e.g. ``{target}_pred_mean_{unit}``).
        type: ``int``, ``float``, ``bool`` or ``str``.
        unit: Unit, or ``""``.
        description: What it holds.
    """

    name: str
    type: str
    unit: str
    description: str

    def as_dict(self) -> dict[str, str]:
        """Plain dict."""
        return {
            "name": self.name,
            "type": self.type,
            "unit": self.unit,
            "description": self.description,
        }


#: Columns of candidates.csv before the per-target columns.
LEADING_COLUMNS = (
    Column("rank", "int", "", "1 = best; validated values rank before predictions."),
    Column("id", "str", "", "Candidate id in the campaign's pool (use it in results files)."),
    Column("formula", "str", "", "Reduced chemical formula."),
    Column(
        "status",
        "str",
        "",
        "validated (value computed or measured), selected (chosen for validation, "
        "pending) or candidate (prediction only).",
    ),
    Column(
        "score",
        "float",
        "",
        "Ranking key: validated desirability if validated, else predicted desirability.",
    ),
    Column(
        "predicted_desirability",
        "float",
        "",
        "Ensemble-mean desirability: the worst criterion margin in units of the "
        "criterion's scale; >= 0 when every criterion is met.",
    ),
    Column(
        "p_all_criteria",
        "float",
        "",
        "Share of ensemble members predicting that every criterion is met (0-1).",
    ),
    Column("validated_desirability", "float", "", "Desirability of the validated values."),
    Column(
        "satisfies_all",
        "bool",
        "",
        "The validated values meet every criterion; empty (null) for a candidate not "
        "validated yet (unknown, not false).",
    ),
    Column(
        "fidelity",
        "str",
        "",
        "Where validated values come from: replay (DFT table), dft, experiment; joined "
        "with ' + ' when several; empty if not validated.",
    ),
)

#: Per-target columns ({target}, {unit} replaced by each target and its unit token).
TARGET_COLUMNS = (
    Column("{target}_pred_mean_{unit}", "float", "{unit}", "Surrogate ensemble mean."),
    Column(
        "{target}_pred_std_{unit}",
        "float",
        "{unit}",
        "Surrogate ensemble standard deviation (uncertainty).",
    ),
    Column(
        "{target}_validated_{unit}",
        "float",
        "{unit}",
        "Validated value (computed or measured); empty if not validated.",
    ),
)

#: Structure columns (from the candidate's structure; conventional standard cell).
STRUCTURE_COLUMNS = (
    Column("prototype", "str", "", "Structure type guessed from stoichiometry and space group."),
    Column("spacegroup_symbol", "str", "", "Hermann-Mauguin symbol (spglib, symprec 0.1 Å)."),
    Column("spacegroup_number", "int", "", "International Tables number (1-230)."),
    Column("crystal_system", "str", "", "cubic, tetragonal, orthorhombic, ..."),
    Column("a_angstrom", "float", "Å", "Conventional lattice length a."),
    Column("b_angstrom", "float", "Å", "Conventional lattice length b."),
    Column("c_angstrom", "float", "Å", "Conventional lattice length c."),
    Column("alpha_deg", "float", "°", "Conventional lattice angle alpha."),
    Column("beta_deg", "float", "°", "Conventional lattice angle beta."),
    Column("gamma_deg", "float", "°", "Conventional lattice angle gamma."),
    Column("volume_per_atom_angstrom3", "float", "Å³", "Cell volume per atom."),
    Column("n_sites", "int", "", "Atoms in the cell as stored in the pool."),
    Column(
        "cif_file",
        "str",
        "",
        "CIF file of the candidate (an MDL molfile for a molecule), relative to the bundle.",
    ),
)


def candidate_columns(targets: Sequence[str], units: Mapping[str, str]) -> list[Column]:
    """The core columns of candidates.csv for a campaign's targets (pass-through excluded)."""
    cols = list(LEADING_COLUMNS)
    for target in targets:
        token = unit_token(units.get(target, ""))
        for c in TARGET_COLUMNS:
            name = c.name.replace("{target}", target).replace("{unit}", token).rstrip("_")
            cols.append(Column(name, c.type, units.get(target, ""), f"{c.description} ({target})"))
    return cols + list(STRUCTURE_COLUMNS)


def results_schema(targets: Sequence[str], units: Mapping[str, str]) -> dict[str, Any]:
    """The results-file schema (what :mod:`materials_ai.lab.ingest` accepts)."""
    columns = [
        Column(
            ID_COLUMN, "str", "", "Candidate id exactly as in candidates.csv (required)."
        ).as_dict()
    ]
    for m in results_columns(targets, units):
        entry: dict[str, Any] = Column(
            m.column,
            "float",
            m.unit,
            MEASURED_DESCRIPTIONS["en"].get(m.target, f"measured {m.target}, {m.unit}"),
        ).as_dict()
        entry["target"] = m.target
        entry["valid_range"] = list(m.valid_range) if m.valid_range else None
        columns.append(entry)
    columns += [
        Column("phase_pure", "bool", "", "yes/no: single phase by XRD.").as_dict(),
        Column("synthesized", "bool", "", "yes/no: the intended compound formed.").as_dict(),
        Column(NOTES_COLUMN, "str", "", "Free text (method, instrument, conditions).").as_dict(),
    ]
    return {
        "results_schema_version": RESULTS_SCHEMA_VERSION,
        "columns": columns,
        "rules": [
            "The unit is part of each measured column's name; another unit is an error.",
            "Empty cell: not measured. yes/no also accept y/n, true/false, 1/0, sí/si.",
            "synthesized = no: recorded as a failed synthesis; no measured values allowed.",
            "phase_pure = no: values recorded, not used for training.",
            "Rows are rejected (and listed with row number and reason) for a missing or "
            "unknown id, a repeated id, text in a numeric column, a value out of range; "
            "the other rows are kept.",
        ],
        "plausible_ranges": {t: list(r) for t, r in PLAUSIBLE_RANGES.items() if t in targets},
    }
