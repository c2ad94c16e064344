"""The known-structure index: datasets, on-disk cache, space groups, hold-outs, parents."""

from __future__ import annotations

from pathlib import Path

import pytest

from materials_ai.candidates import KnownMaterials
from materials_ai.candidates.known import INDEX_FORMAT_VERSION
from materials_ai.testing.datasets import TinyDataset, write_tiny_dataset


@pytest.fixture
def tiny_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TinyDataset:
    """12 synthetic rows (Si, SrTiO3, GaAs repeated; row 5 corrupted) registered as ``tiny``."""
    tiny = write_tiny_dataset(tmp_path / "tiny", n_rows=12, corrupt_rows=[5])
    monkeypatch.setenv("MATERIALS_AI_CARDS_DIR", str(tiny.cards_dir))
    monkeypatch.setenv("MATERIALS_AI_DATA_DIR", str(tiny.data_dir))
    return tiny


def test_from_datasets_caches_index_and_spacegroups(
    tiny_registry: TinyDataset, tmp_path: Path
) -> None:
    known = KnownMaterials.from_datasets(spacegroups=0.1)
    assert len(known) == 11  # the corrupted row is skipped by the loader
    assert known.sources == {"tiny": tiny_registry.card.sha256}
    assert known.formula_keys() == {"Si1", "O3Sr1Ti1", "As1Ga1"}
    files = list((tmp_path / "cache" / "candidates").glob("known-*.npz"))
    assert len(files) == 1
    again = KnownMaterials.from_datasets()
    assert [e.label for e in again.entries] == [e.label for e in known.entries]
    assert again._spacegroups == known._spacegroups  # read back, not recomputed
    index = again.bucket("O3Sr1Ti1")[0]
    assert again.spacegroup(index) == 221
    assert again.structure(index).composition.reduced_formula == "SrTiO3"
    assert INDEX_FORMAT_VERSION >= 1


def test_without_and_select(tiny_registry: TinyDataset) -> None:
    known = KnownMaterials.from_datasets(use_cache=False)
    first = known.entries[0]
    held = known.without(formula_keys={"O3Sr1Ti1"}, labels={first.label})
    assert "O3Sr1Ti1" not in held.formula_keys()
    assert first.label not in {e.label for e in held.entries}
    assert len(held) == len(known) - 1 - len(known.bucket("O3Sr1Ti1"))
    parents = known.select(anonymous_formulas=["ABC3"], required_elements=["Ti"], max_sites=5)
    assert parents and all(s.composition.reduced_formula == "SrTiO3" for _, s in parents)
    assert known.select(max_sites=1) == []
    assert {pid.split(":")[0] for pid, _ in known.select(max_elements=1)} == {"tiny"}
    assert known.exclusion_set().excludes("Si1", None)


def test_molecular_datasets_are_not_known_structures(
    tiny_registry: TinyDataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from materials_ai.data.cards import dump_card
    from materials_ai.errors import DataError

    # A second card in the registry that holds molecules (SMILES): never a known crystal.
    molecular = tiny_registry.card.model_copy(
        update={"name": "tiny_molecules", "structure_format": "smiles"}
    )
    dump_card(molecular, tiny_registry.cards_dir / "tiny_molecules.yaml")
    known = KnownMaterials.from_datasets(use_cache=False)
    assert set(known.sources) == {"tiny"}
    with pytest.raises(DataError, match="tiny_molecules"):
        KnownMaterials.from_datasets(["tiny", "tiny_molecules"], use_cache=False)
