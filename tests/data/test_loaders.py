"""Tests of materials_ai.data.loaders."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from materials_ai.data import loaders
from materials_ai.data.cards import DatasetCard
from materials_ai.data.loaders import load_dataset, parse_structure, structure_cache_path
from materials_ai.data.records import MaterialsDataset
from materials_ai.data.registry import get_card
from materials_ai.errors import (
    ChecksumMismatchError,
    ConfigError,
    DataError,
    DatasetNotFoundError,
)
from materials_ai.testing.datasets import (
    BAND_GAP_COLUMN,
    BROKEN_CIF,
    TinyDataset,
    srtio3_cubic,
    tiny_structures,
    write_tiny_dataset,
)


def _load(tiny: TinyDataset, **kwargs: object) -> MaterialsDataset:
    return load_dataset(tiny.card, data_dir=tiny.data_dir, **kwargs)  # type: ignore[arg-type]


def _forbid_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("structures were parsed although the cache should serve them")

    monkeypatch.setattr(loaders, "parse_structure", fail)


def _same_structure(a: Structure, b: Structure) -> bool:
    return (
        a.species == b.species
        and np.array_equal(a.lattice.matrix, b.lattice.matrix)
        and np.array_equal(a.frac_coords, b.frac_coords)
        and [s.label for s in a] == [s.label for s in b]
        and a.site_properties == b.site_properties
    )


# ------------------------------------------------------------------ parse_structure


def test_parse_structure_cif_and_dict_literal() -> None:
    from pymatgen.io.cif import CifWriter

    reference = srtio3_cubic()
    from_cif = parse_structure(str(CifWriter(reference)), "cif")
    from_dict = parse_structure(repr(reference.as_dict()), "pymatgen_dict_literal")
    for parsed in (from_cif, from_dict):
        assert parsed.composition.reduced_formula == "SrTiO3"
        assert len(parsed) == 5
        assert parsed.lattice.a == pytest.approx(3.905, abs=1e-6)


@pytest.mark.parametrize(
    ("text", "fmt", "fragment"),
    [
        ("", "cif", "empty structure cell"),
        (float("nan"), "cif", "empty structure cell"),
        (BROKEN_CIF, "cif", "cif parse failed"),
        ("{'lattice': [1, 2", "pymatgen_dict_literal", "pymatgen_dict_literal parse failed"),
        ("__import__('os')", "pymatgen_dict_literal", "parse failed"),
    ],
)
def test_parse_structure_rejects_bad_cells(text: object, fmt: str, fragment: str) -> None:
    with pytest.raises(DataError, match=fragment):
        parse_structure(text, fmt)  # type: ignore[arg-type]


# ------------------------------------------------------------------ loading


def test_load_clean_dataset(tiny: TinyDataset) -> None:
    ds = _load(tiny)
    assert ds.name == "tiny"
    assert ds.target_names == ("band_gap", "formation_energy")
    assert ds.ids == list(tiny.ids)
    assert ds.skipped == []
    for i, record in enumerate(ds.records):
        assert record.row == i
        assert record.targets == {
            "band_gap": tiny.band_gaps[i],
            "formation_energy": tiny.formation_energies[i],
        }
        original = tiny.structures[i]
        assert record.structure.species == original.species
        # A CIF stores cell lengths and angles, so compare those (the orientation may change).
        assert np.allclose(record.structure.lattice.abc, original.lattice.abc, atol=1e-6)
        assert np.allclose(record.structure.lattice.angles, original.lattice.angles, atol=1e-6)
        assert np.allclose(record.structure.frac_coords, original.frac_coords, atol=1e-7)
    assert ds.target_matrix().shape == (6, 2)
    assert [len(r.structure) for r in ds.records] == [2, 5, 2, 2, 5, 2]


def test_load_by_name_uses_settings(tiny: TinyDataset, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MATERIALS_AI_CARDS_DIR", str(tiny.cards_dir))
    monkeypatch.setenv("MATERIALS_AI_DATA_DIR", str(tiny.data_dir))
    ds = load_dataset("tiny", targets=["formation_energy"])
    assert len(ds) == 6
    assert ds.target_names == ("formation_energy",)
    with pytest.raises(DatasetNotFoundError, match="known datasets: tiny"):
        load_dataset("nope")


def test_unknown_target_is_a_config_error(tiny: TinyDataset) -> None:
    with pytest.raises(ConfigError, match="valid targets: band_gap, formation_energy"):
        _load(tiny, targets=["gap"])


def test_corrupted_cif_row_is_skipped_and_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tiny = write_tiny_dataset(tmp_path / "t", corrupt_rows=[2])
    with caplog.at_level(logging.WARNING, logger="materials_ai.data"):
        ds = _load(tiny)
    assert ds.ids == ["tiny-0", "tiny-1", "tiny-3", "tiny-4", "tiny-5"]
    [skip] = ds.skipped
    assert (skip.row, skip.id, skip.field) == (2, "tiny-2", "cif")
    assert "parse failed" in skip.reason
    assert "row 2 (id 'tiny-2'), field 'cif'" in str(skip)
    assert "skipped 1 rows" in caplog.text and "cif: 1" in caplog.text


def test_missing_and_non_numeric_labels_are_skipped_naming_the_column(tmp_path: Path) -> None:
    tiny = write_tiny_dataset(tmp_path / "t", missing_label_rows=[1], non_numeric_label_rows=[4])
    ds = _load(tiny)
    assert ds.ids == ["tiny-0", "tiny-2", "tiny-3", "tiny-5"]
    assert [(s.row, s.id, s.field) for s in ds.skipped] == [
        (1, "tiny-1", BAND_GAP_COLUMN),
        (4, "tiny-4", BAND_GAP_COLUMN),
    ]
    assert "missing value" in ds.skipped[0].reason
    assert "non-numeric value 'not-computed'" in ds.skipped[1].reason
    assert all(math.isfinite(v) for r in ds.records for v in r.targets.values())
    # Without the band gap, those rows are usable.
    only_e_form = _load(tiny, targets=["formation_energy"])
    assert len(only_e_form) == 6 and only_e_form.skipped == []


def test_valid_range_drops_outliers(tmp_path: Path) -> None:
    tiny = write_tiny_dataset(tmp_path / "t", band_gap_range=(0.0, 1.0))
    ds = _load(tiny)
    assert ds.ids == ["tiny-0", "tiny-1", "tiny-2"]
    assert {s.field for s in ds.skipped} == {BAND_GAP_COLUMN}
    assert "outside the card's valid range [0.0, 1.0]" in ds.skipped[0].reason


def test_indicator_target_is_derived_from_its_column(tiny: TinyDataset) -> None:
    gap = tiny.card.targets["band_gap"]
    indicator = gap.model_copy(update={"unit": "1", "indicator_above": 0.5})
    card = tiny.card.model_copy(update={"targets": {"band_gap": gap, "gapped": indicator}})
    ds = load_dataset(card, data_dir=tiny.data_dir, targets=["band_gap", "gapped"])
    assert len(ds) > 0
    for record in ds.records:
        assert record.targets["gapped"] == float(record.targets["band_gap"] > 0.5)
    assert {r.targets["gapped"] for r in ds.records} == {0.0, 1.0}


def test_duplicate_and_missing_ids_are_skipped(tiny: TinyDataset) -> None:
    text = tiny.path.read_text()
    text = text.replace("tiny-3.cif,", "tiny-0.cif,").replace("tiny-5.cif,", ",")
    tiny.path.write_text(text)
    ds = _load(tiny, verify=False)
    assert ds.ids == ["tiny-0", "tiny-1", "tiny-2", "tiny-4"]
    assert [(s.row, s.id, s.field) for s in ds.skipped] == [
        (3, "tiny-0", "material_id"),
        (5, "", "material_id"),
    ]
    assert "first at row 0" in ds.skipped[0].reason


def test_card_column_missing_from_file(tiny: TinyDataset) -> None:
    target = tiny.card.targets["band_gap"].model_copy(update={"column": "gap_nowhere"})
    card = tiny.card.model_copy(update={"targets": {"band_gap": target}})
    with pytest.raises(DataError, match="lacks columns"):
        load_dataset(card, data_dir=tiny.data_dir)


def test_checksum_is_verified_unless_disabled(tiny: TinyDataset) -> None:
    with tiny.path.open("a") as handle:
        handle.write("tiny-6.cif,Si,1.0,-1.0,\n")
    with pytest.raises(ChecksumMismatchError):
        _load(tiny)
    ds = _load(tiny, verify=False)
    assert len(ds) == 6
    [skip] = ds.skipped
    assert (skip.row, skip.field, skip.reason) == (6, "cif", "empty structure cell")


# ------------------------------------------------------------------ limit and rows


def test_limit_reads_the_first_rows(tiny: TinyDataset) -> None:
    assert _load(tiny, limit=2).ids == ["tiny-0", "tiny-1"]
    assert len(_load(tiny, limit=0)) == 0
    assert len(_load(tiny, limit=100)) == 6


def test_rows_selects_in_given_order(tiny: TinyDataset) -> None:
    ds = _load(tiny, rows=[4, 0, 2])
    assert ds.ids == ["tiny-4", "tiny-0", "tiny-2"]
    assert [r.row for r in ds.records] == [4, 0, 2]
    assert ds.records[0].targets["band_gap"] == tiny.band_gaps[4]
    assert len(_load(tiny, rows=np.array([5]))) == 1
    assert len(_load(tiny, rows=[])) == 0


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"rows": [10]}, "out of range; .* has 6 data rows"),
        ({"rows": [-1]}, "non-negative"),
        ({"rows": [1, 1]}, "repeats"),
        ({"rows": [1.5]}, "non-negative integer"),
        ({"limit": -3}, "non-negative integer"),
        ({"limit": 2, "rows": [1]}, "either `limit` or `rows`"),
    ],
)
def test_bad_selection_is_a_data_error(
    tiny: TinyDataset, kwargs: dict[str, object], fragment: str
) -> None:
    with pytest.raises(DataError, match=fragment):
        _load(tiny, **kwargs)


# ------------------------------------------------------------------ cache


def test_full_load_writes_cache_and_cached_load_is_identical(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tiny = write_tiny_dataset(tmp_path / "t", corrupt_rows=[3], missing_label_rows=[5])
    cache_file = structure_cache_path(tiny.card)
    assert cache_file.name == f"tiny-{tiny.card.sha256[:12]}.npz"
    assert cache_file.parent.name == "structures"
    assert not cache_file.exists()
    parsed = _load(tiny)
    assert cache_file.is_file()

    with np.load(cache_file, allow_pickle=False) as npz:
        assert npz["ids"].tolist() == list(tiny.ids)
        assert npz["rows"].tolist() == list(range(6))
        assert npz["lattices"].shape == (6, 3, 3)
        assert npz["skip_rows"].tolist() == [3]
        assert len(npz["numbers"]) == len(npz["frac_coords"]) == 2 + 5 + 2 + 5 + 2  # row 3 bad

    _forbid_parsing(monkeypatch)
    cached = _load(tiny)
    assert cached.ids == parsed.ids
    assert cached.skipped == parsed.skipped
    for a, b in zip(parsed.records, cached.records, strict=True):
        assert _same_structure(a.structure, b.structure)
        assert a.targets == b.targets and a.row == b.row
    subset = _load(tiny, rows=[4, 1])
    assert subset.ids == ["tiny-4", "tiny-1"]
    assert _same_structure(subset.records[0].structure, parsed.records[3].structure)


def test_cache_gives_the_same_structures_as_plain_parsing(tiny: TinyDataset) -> None:
    no_cache = _load(tiny, use_cache=False)
    assert not structure_cache_path(tiny.card).exists()
    _load(tiny)  # writes the cache
    cached = _load(tiny)
    for a, b in zip(no_cache.records, cached.records, strict=True):
        assert _same_structure(a.structure, b.structure)
        assert a.structure == b.structure


def test_partial_loads_do_not_write_the_cache(tiny: TinyDataset) -> None:
    _load(tiny, limit=3)
    _load(tiny, rows=[0, 1, 2, 3, 4, 5])
    assert not structure_cache_path(tiny.card).exists()


def test_unreadable_cache_is_rebuilt(tiny: TinyDataset, caplog: pytest.LogCaptureFixture) -> None:
    cache_file = structure_cache_path(tiny.card)
    cache_file.parent.mkdir(parents=True)
    cache_file.write_bytes(b"not a zip file")
    with caplog.at_level(logging.WARNING, logger="materials_ai.data"):
        ds = _load(tiny)
    assert len(ds) == 6
    assert "unreadable structure cache" in caplog.text
    with np.load(cache_file, allow_pickle=False) as npz:
        assert npz["ids"].tolist() == list(tiny.ids)


def test_cache_of_other_ids_is_not_trusted(tiny: TinyDataset) -> None:
    _load(tiny)
    keep_suffix = tiny.card.model_copy(update={"id_strip_suffix": None})
    ds = load_dataset(keep_suffix, data_dir=tiny.data_dir)
    assert ds.ids[0] == "tiny-0.cif"


def test_unusable_cache_dir_falls_back_to_parsing(
    tiny: TinyDataset, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    not_a_folder = tmp_path / "cache-file"
    not_a_folder.write_text("occupied")
    with caplog.at_level(logging.WARNING, logger="materials_ai.data"):
        ds = _load(tiny, cache_dir=not_a_folder)
    assert len(ds) == 6
    assert "Structure cache disabled" in caplog.text


def test_disordered_dataset_is_parsed_not_cached(tmp_path: Path) -> None:
    structures = tiny_structures(3)
    structures[1] = Structure(
        Lattice.cubic(3.95),
        [{"Sr": 0.5, "Ba": 0.5}, "Ti", "O", "O", "O"],
        np.array([[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]),
    )
    tiny = write_tiny_dataset(tmp_path / "t", n_rows=3, structures=structures)
    ds = _load(tiny)
    assert len(ds) == 3
    assert not ds.records[1].structure.is_ordered
    assert ds.records[1].structure[0].species.get_el_amt_dict() == {"Sr": 0.5, "Ba": 0.5}
    assert not structure_cache_path(tiny.card).exists()


def test_dict_literal_gzip_with_comment_line(tmp_path: Path) -> None:
    tiny = write_tiny_dataset(
        tmp_path / "t",
        structure_format="pymatgen_dict_literal",
        comment_line="ref: synthetic",
        gzip_file=True,
    )
    assert tiny.card.comment == "#" and tiny.card.structure_column == "structure"
    ds = _load(tiny)
    assert ds.ids == list(tiny.ids)
    for record, original in zip(ds.records, tiny.structures, strict=True):
        assert np.array_equal(record.structure.frac_coords, original.frac_coords)
        assert np.array_equal(record.structure.lattice.matrix, original.lattice.matrix)


def test_site_properties_are_kept_and_not_cached(tmp_path: Path) -> None:
    structures = tiny_structures(2)
    structures[0].add_site_property("magmom", [0.5, -0.5])
    tiny = write_tiny_dataset(
        tmp_path / "t", n_rows=2, structures=structures, structure_format="pymatgen_dict_literal"
    )
    ds = _load(tiny)
    assert ds.records[0].structure.site_properties == {"magmom": [0.5, -0.5]}
    assert not structure_cache_path(tiny.card).exists()


def test_progress_bar(tiny: TinyDataset) -> None:
    assert len(_load(tiny, progress=True, use_cache=False)) == 6


# ------------------------------------------------------------------ real data


def _finite(ds: MaterialsDataset) -> bool:
    return bool(np.isfinite(ds.target_matrix()).all())


@pytest.mark.integration
def test_castelli_first_200(real_data_dir: Path) -> None:
    ds = load_dataset("castelli_perovskites", data_dir=real_data_dir, limit=200)
    assert len(ds) == 200 and ds.skipped == []
    assert ds.target_names == ("heat_of_formation", "band_gap", "vbm", "cbm", "semiconductor")
    assert all(r.targets["semiconductor"] == float(r.targets["band_gap"] > 0) for r in ds.records)
    assert all(len(r.structure) == 5 for r in ds.records)
    assert all(r.id.startswith("perov_") and not r.id.endswith(".cif") for r in ds.records)
    assert ds.records[0].id == "perov_0"
    assert ds.records[0].formula == "TeRhN3"
    assert _finite(ds)
    gaps = ds.target_matrix(["band_gap"])
    assert (gaps >= 0).all()


@pytest.mark.integration
def test_mp2018_first_100(real_data_dir: Path) -> None:
    ds = load_dataset("mp2018", data_dir=real_data_dir, limit=100)
    assert len(ds) == 100 and ds.skipped == []
    assert ds.records[0].id == "mp-1" and ds.records[0].formula == "Cs"
    assert all(r.id.startswith("mp-") for r in ds.records)
    assert _finite(ds)


@pytest.mark.integration
@pytest.mark.parametrize("name", ["mp_abx3_perovskites", "oqmd_abx3_perovskites", "matminer_flla"])
def test_other_cards_load(real_data_dir: Path, name: str) -> None:
    ds = load_dataset(name, data_dir=real_data_dir, limit=20)
    assert len(ds) == 20 and ds.skipped == []
    assert _finite(ds)
    assert all(len(r.structure) > 0 for r in ds.records)


@pytest.mark.integration
def test_oqmd_outlier_rule(real_data_dir: Path) -> None:
    ds = load_dataset("oqmd_abx3_perovskites", data_dir=real_data_dir, rows=[5410, 9497, 9701])
    assert ds.ids == ["6011720"]
    assert [(s.row, s.id, s.field) for s in ds.skipped] == [
        (5410, "4831941", "formation_energy_per_atom_eV"),
        (9497, "6009326", "band_gap_eV"),
    ]


@pytest.mark.integration
def test_card_object_loads_the_file_it_names(real_data_dir: Path) -> None:
    card = DatasetCard.model_validate(
        {**get_card("castelli_perovskites").model_dump(), "name": "castelli_copy"}
    )
    ds = load_dataset(card, data_dir=real_data_dir, rows=[0])
    assert ds.name == "castelli_copy" and ds.ids == ["perov_0"]
