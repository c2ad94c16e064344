"""Tests of materials_ai.data.cards."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from materials_ai.data.cards import DatasetCard, card_from_mapping, dump_card, load_card
from materials_ai.data.records import TargetSpec
from materials_ai.errors import ConfigError
from materials_ai.settings import PROJECT_ROOT
from materials_ai.testing.datasets import TinyDataset

REAL_CARDS = PROJECT_ROOT / "datasets"


def _card_dict(tiny: TinyDataset) -> dict:
    return yaml.safe_load(tiny.card_path.read_text())


def _write(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_load_card_round_trips_dump(tiny: TinyDataset) -> None:
    card = load_card(tiny.card_path)
    assert card == tiny.card
    again = load_card(dump_card(card, tiny.card_path.with_name("copy.yaml")))
    assert again == card
    assert card.target_names == ("band_gap", "formation_energy")
    assert card.id_strip_suffix == ".cif"


def test_unknown_top_level_key_names_key_and_file(tiny: TinyDataset, tmp_path: Path) -> None:
    data = _card_dict(tiny)
    data["licence"] = "MIT"  # belongs under upstream
    path = _write(tmp_path / "bad.yaml", data)
    with pytest.raises(ConfigError, match=r"unknown key 'licence'") as info:
        load_card(path)
    assert str(path) in str(info.value)


def test_unknown_nested_key_names_dotted_path(tiny: TinyDataset, tmp_path: Path) -> None:
    data = _card_dict(tiny)
    data["targets"]["band_gap"]["units"] = "eV"
    path = _write(tmp_path / "bad.yaml", data)
    with pytest.raises(ConfigError, match=r"unknown key 'targets\.band_gap\.units'"):
        load_card(path)


def test_missing_key_names_key(tiny: TinyDataset, tmp_path: Path) -> None:
    data = _card_dict(tiny)
    del data["sha256"]
    del data["upstream"]["licence"]
    path = _write(tmp_path / "bad.yaml", data)
    with pytest.raises(ConfigError) as info:
        load_card(path)
    message = str(info.value)
    assert "missing key 'sha256'" in message
    assert "missing key 'upstream.licence'" in message
    assert str(path) in message


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        ("sha256", "abc123", "'sha256'"),
        ("sha256", "A" * 64, "'sha256'"),
        ("file", "/abs/data.csv", "'file'"),
        ("file", "../outside.csv", "'file'"),
        ("name", "Bad-Name", "'name'"),
        ("rows", -1, "bad.yaml: invalid dataset card: 'rows'"),
        ("structure_format", "xyz", "'structure_format'"),
        ("targets", {}, "'targets'"),
    ],
)
def test_invalid_values_name_the_key(
    tiny: TinyDataset, tmp_path: Path, key: str, value: object, fragment: str
) -> None:
    data = _card_dict(tiny)
    data[key] = value
    with pytest.raises(ConfigError, match=fragment):
        load_card(_write(tmp_path / "bad.yaml", data))


def test_valid_range_must_be_ordered(tiny: TinyDataset) -> None:
    data = _card_dict(tiny)
    data["targets"]["band_gap"]["valid_range"] = [3.0, 1.0]
    with pytest.raises(ConfigError, match=r"targets\.band_gap\.valid_range"):
        card_from_mapping(data)


def test_missing_or_malformed_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"dataset card file .*absent\.yaml not found"):
        load_card(tmp_path / "absent.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_card(broken)
    listing = tmp_path / "list.yaml"
    listing.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_card(listing)


def test_target_specs_all_in_card_order(tiny: TinyDataset) -> None:
    specs = tiny.card.target_specs()
    assert specs == (
        TargetSpec("band_gap", "band_gap_eV", "eV", "Synthetic band gap, 0.5 + 0.25 i."),
        TargetSpec(
            "formation_energy",
            "formation_energy_per_atom_eV",
            "eV/atom",
            "Synthetic formation energy, -1 - 0.1 i.",
        ),
    )


def test_target_specs_subset_keeps_requested_order(tiny: TinyDataset) -> None:
    specs = tiny.card.target_specs(["formation_energy", "band_gap"])
    assert [s.name for s in specs] == ["formation_energy", "band_gap"]
    assert tiny.card.target_specs("band_gap")[0].unit == "eV"
    assert tiny.card.target_specs([]) == ()


def test_target_specs_unknown_lists_valid_names(tiny: TinyDataset) -> None:
    with pytest.raises(ConfigError) as info:
        tiny.card.target_specs(["band_gap", "gap"])
    message = str(info.value)
    assert "'gap'" in message
    assert "band_gap, formation_energy" in message


def test_target_specs_rejects_repeats(tiny: TinyDataset) -> None:
    with pytest.raises(ConfigError, match="twice"):
        tiny.card.target_specs(["band_gap", "band_gap"])


def test_card_is_frozen(tiny: TinyDataset) -> None:
    with pytest.raises(Exception, match="frozen"):
        tiny.card.rows = 3  # type: ignore[misc]


EXPECTED_TARGETS = {
    "castelli_perovskites": ("heat_of_formation", "band_gap", "vbm", "cbm", "semiconductor"),
    "mp2018": ("formation_energy", "band_gap", "semiconductor"),
    "mp_abx3_perovskites": ("formation_energy", "e_above_hull", "band_gap"),
    "oqmd_abx3_perovskites": ("formation_energy", "band_gap"),
    "matminer_flla": ("formation_energy", "e_above_hull"),
}


@pytest.mark.parametrize("name", sorted(EXPECTED_TARGETS))
def test_shipped_cards_are_valid(name: str) -> None:
    card = load_card(REAL_CARDS / f"{name}.yaml")
    assert isinstance(card, DatasetCard)
    assert card.name == name
    assert card.target_names == EXPECTED_TARGETS[name]
    assert card.file.startswith("inorganic/")
    assert card.upstream.licence and card.upstream.citation and card.notes
    units = {spec.unit for spec in card.target_specs()}
    assert units <= {"eV", "eV/atom", "1"}  # 1: a 0/1 indicator target


def test_castelli_card_columns_and_units() -> None:
    card = load_card(REAL_CARDS / "castelli_perovskites.yaml")
    specs = {s.name: s for s in card.target_specs()}
    assert specs["heat_of_formation"].column == "heat_of_formation_eV"
    assert specs["heat_of_formation"].unit == "eV/atom"
    assert specs["band_gap"].column == "gap_gllbsc_eV"
    assert (specs["vbm"].column, specs["cbm"].column) == ("vbm_eV", "cbm_eV")
    assert card.id_strip_suffix == ".cif"
    assert card.structure_format == "cif"


def test_flla_card_reads_dict_literals_with_comment() -> None:
    card = load_card(REAL_CARDS / "matminer_flla.yaml")
    assert card.structure_format == "pymatgen_dict_literal"
    assert card.comment == "#"
