"""Molecules as records: the Molecule record, SMILES cards and the loader."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from materials_ai.data import Candidate, Molecule, load_card, load_dataset, structure_kind
from materials_ai.data.records import structure_from_dict
from materials_ai.errors import DataError
from materials_ai.testing.molecules import INVALID_ROW, TINY_SMILES, TinyMolecules

REAL_CARDS = Path(__file__).resolve().parents[2] / "datasets"
HARTREE_EV = 27.211386245988


def test_molecule_canonicalises_and_rejects_bad_smiles() -> None:
    a = Molecule.from_smiles("OC1=CC=CC=C1")
    b = Molecule.from_smiles("c1ccc(O)cc1")
    assert a == b and a.smiles == "Oc1ccccc1"
    assert a.formula == "C6H6O"
    assert len(a) == 13  # hydrogens included
    assert {str(e) for e in a.composition.elements} == {"C", "H", "O"}
    for bad in ("", "   ", "C1CC(", "not a smiles"):
        with pytest.raises(DataError):
            Molecule.from_smiles(bad)


def test_molecule_is_a_candidate_structure_and_round_trips() -> None:
    m = Molecule.from_smiles("CC(=O)O")
    c = Candidate("acetic", m, "test")
    assert c.kind == "molecule" and structure_kind(m) == "molecule"
    assert c.formula == "C2H4O2"
    assert structure_from_dict(m.as_dict()) == m
    assert pickle.loads(pickle.dumps(c)) == c
    assert m.to_rdkit() is not m.to_rdkit()  # a fresh Mol each call: no shared state


def test_shipped_molecular_cards() -> None:
    qm9 = load_card(REAL_CARDS / "qm9.yaml")
    assert qm9.structure_format == "smiles" and qm9.id_column == "qm9_index"
    assert qm9.target_names == ("homo", "lumo", "gap")
    for target in qm9.targets.values():
        assert target.unit == "eV" and target.source_unit == "Hartree"
        assert target.scale == pytest.approx(HARTREE_EV)
    cep = load_card(REAL_CARDS / "cep.yaml")
    assert cep.id_column is None and cep.structure_format == "smiles"
    assert cep.targets["pce"].unit == "%" and cep.targets["pce"].scale == 1.0


def test_invalid_smiles_is_skipped_by_row_and_the_rest_load(tiny_mol: TinyMolecules) -> None:
    ds = load_dataset("tiny_mol")
    assert len(ds) == len(TINY_SMILES) - 1
    assert len(ds.skipped) == 1
    skipped = ds.skipped[0]
    assert (skipped.row, skipped.id, skipped.field) == (INVALID_ROW, f"m{INVALID_ROW}", "smiles")
    assert "invalid SMILES" in skipped.reason
    assert all(isinstance(r.structure, Molecule) for r in ds.records)


def test_hartree_labels_are_converted_to_ev(tiny_mol: TinyMolecules) -> None:
    import pandas as pd

    raw = pd.read_csv(tiny_mol.path)
    ds = load_dataset("tiny_mol", targets=["gap", "homo"])
    y = ds.target_matrix()
    np.testing.assert_allclose(y[0], raw.loc[0, ["gap_ha", "homo_ha"]].to_numpy() * HARTREE_EV)
    assert {t.unit for t in ds.targets} == {"eV"}


def test_table_without_id_column_names_rows(tiny_mol: TinyMolecules) -> None:
    card = tiny_mol.card.model_copy(update={"id_column": None})
    ds = load_dataset(card, limit=5)
    assert ds.ids == [f"tiny_mol-{i}" for i in range(5)]


@pytest.mark.integration
def test_real_qm9_and_cep_rows(real_data_dir: Path) -> None:
    qm9 = load_dataset("qm9", limit=3)
    assert qm9.ids == ["1", "2", "3"] and qm9.records[0].structure.smiles == "C"
    # Methane: HOMO -0.3877 Ha, LUMO 0.1171 Ha, gap 0.5048 Ha in the file.
    np.testing.assert_allclose(
        qm9.target_matrix()[0], np.array([-0.3877, 0.1171, 0.5048]) * HARTREE_EV
    )
    cep = load_dataset("cep", limit=3)
    assert cep.ids == ["cep-0", "cep-1", "cep-2"] and not cep.skipped
