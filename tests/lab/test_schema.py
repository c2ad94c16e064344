"""The hand-off format (``materials_ai.lab.schema``): column names carry the unit; the
results schema written into the bundle lists what ingest accepts."""

from __future__ import annotations

from materials_ai.lab.schema import (
    ID_COLUMN,
    NOTES_COLUMN,
    PLAUSIBLE_RANGES,
    RESULTS_SCHEMA_VERSION,
    YES_NO_COLUMNS,
    measured_column,
    results_columns,
    results_schema,
    unit_token,
)


def test_column_names_carry_the_unit() -> None:
    assert unit_token("eV") == "eV"
    assert unit_token("eV/atom") == "eV_per_atom"
    assert measured_column("band_gap", "eV") == "measured_band_gap_eV"
    assert measured_column("formation_energy", "eV/atom") == "measured_formation_energy_eV_per_atom"


def test_results_schema_lists_every_column_with_its_range() -> None:
    units = {"band_gap": "eV", "formation_energy": "eV/atom"}
    schema = results_schema(["band_gap", "formation_energy"], units)
    assert schema["results_schema_version"] == RESULTS_SCHEMA_VERSION
    names = [c["name"] for c in schema["columns"]]
    measured = [m.column for m in results_columns(["band_gap", "formation_energy"], units)]
    assert names == [ID_COLUMN, *measured, *YES_NO_COLUMNS, NOTES_COLUMN]
    gap = schema["columns"][1]
    assert gap["target"] == "band_gap" and gap["unit"] == "eV"
    assert gap["valid_range"] == list(PLAUSIBLE_RANGES["band_gap"])
    assert set(schema["plausible_ranges"]) == {"band_gap", "formation_energy"}
