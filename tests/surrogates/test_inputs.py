"""``surrogate.predict`` takes what pymatgen and ASE users have (issue 18), and its
``Prediction`` carries ids, target names and units."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from materials_ai.data.records import Candidate, MaterialRecord, MaterialsDataset, TargetSpec
from materials_ai.errors import DataError, SurrogateError
from materials_ai.surrogates.ensemble import GraphEnsembleSurrogate
from materials_ai.surrogates.inputs import as_candidates, read_structure_file
from materials_ai.surrogates.kinds import load_surrogate
from materials_ai.testing.datasets import gaas_zincblende, si_diamond, tiny_structures
from materials_ai.testing.models import mean_atomic_numbers, tiny_ensemble_config


def _dataset(n: int = 9) -> MaterialsDataset:
    """Two targets with the units a dataset card gives them."""
    structures = tiny_structures(n)
    z = mean_atomic_numbers(structures)
    records = [
        MaterialRecord(id=f"r{i}", structure=s, targets={"gap": z[i] / 10, "e_form": -z[i] / 20})
        for i, s in enumerate(structures)
    ]
    targets = (TargetSpec("gap", "gap", "eV"), TargetSpec("e_form", "e_form", "eV/atom"))
    return MaterialsDataset(name="toy", targets=targets, records=records)


@pytest.fixture(scope="module")
def ensemble(tmp_path_factory: pytest.TempPathFactory) -> tuple[GraphEnsembleSurrogate, Path]:
    surrogate = GraphEnsembleSurrogate(
        tiny_ensemble_config(n_members=2, max_epochs=2), ["gap", "e_form"]
    )
    surrogate.fit(_dataset())
    folder = tmp_path_factory.mktemp("ens") / "model"
    surrogate.save(folder)
    return surrogate, folder


def test_as_candidates_accepts_pymatgen_ase_and_paths(tmp_path: Path) -> None:
    from ase.build import molecule
    from pymatgen.io.ase import AseAtomsAdaptor

    si = si_diamond()
    path = tmp_path / "si.cif"
    si.to(filename=str(path))
    atoms = AseAtomsAdaptor.get_atoms(gaas_zincblende())
    assert [c.id for c in as_candidates(si)] == ["0:Si"]
    assert [c.id for c in as_candidates([si, atoms])] == ["0:Si", "1:GaAs"]
    assert [c.id for c in as_candidates(atoms)] == ["0:GaAs"]
    assert [c.id for c in as_candidates([str(path), path])] == [str(path), str(path)]
    given = Candidate(id="mine", structure=si)
    assert as_candidates([given]) == [given] and as_candidates(given) == [given]
    water = as_candidates(molecule("H2O"))[0]  # no periodic boundaries: a molecule
    assert water.kind == "molecule" and water.structure.smiles == "O"  # type: ignore[union-attr]
    with pytest.raises(SurrogateError, match="input 0 is a int"):
        as_candidates([3])


def test_pymatgen_molecule_becomes_a_smiles_record() -> None:
    from pymatgen.core import Molecule as PymatgenMolecule

    methanol = PymatgenMolecule(
        ["C", "O", "H", "H", "H", "H"],
        [
            [-0.047, 0.665, 0.0],
            [-0.047, -0.758, 0.0],
            [-1.086, 0.969, 0.0],
            [0.434, 1.080, 0.890],
            [0.434, 1.080, -0.890],
            [0.866, -1.056, 0.0],
        ],
    )
    (candidate,) = as_candidates(methanol)
    assert candidate.id == "0:CH4O" and candidate.structure.smiles == "CO"  # type: ignore[union-attr]


def test_read_structure_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"missing\.cif: no such file"):
        read_structure_file(tmp_path / "missing.cif")
    bad = tmp_path / "bad.cif"
    bad.write_bytes(b"\xff\xfe not a cif")
    with pytest.raises(DataError, match=r"bad\.cif: cannot read a structure"):
        read_structure_file(bad)
    poscar = tmp_path / "CONTCAR"
    poscar.write_text("x\n1\n3 0 0\n0 3 0\n0 0 3\nSi Ge\n2\nDirect\n0 0 0\n0.5 0.5 0.5\n")
    with pytest.raises(DataError, match=r"2 species \(Si Ge\) but 1 atom counts"):
        read_structure_file(poscar)


def test_ensemble_predicts_structures_atoms_and_files_alike(
    ensemble: tuple[GraphEnsembleSurrogate, Path], tmp_path: Path
) -> None:
    from pymatgen.io.ase import AseAtomsAdaptor

    surrogate, _ = ensemble
    structures = [si_diamond(), gaas_zincblende()]
    reference = surrogate.predict(
        [Candidate(id=f"c{i}", structure=s) for i, s in enumerate(structures)]
    )
    assert reference.ids == ("c0", "c1")
    from_structures = surrogate.predict(structures)
    from_atoms = surrogate.predict([AseAtomsAdaptor.get_atoms(s) for s in structures])
    path = tmp_path / "POSCAR"
    structures[1].to(filename=str(path), fmt="poscar")
    from_file = surrogate.predict(path)
    np.testing.assert_allclose(from_structures.mean, reference.mean)
    np.testing.assert_allclose(from_atoms.mean, reference.mean, rtol=1e-5)
    np.testing.assert_allclose(from_file.mean, reference.mean[1:], rtol=1e-5)
    assert from_file.ids == (str(path),)


def test_prediction_carries_units_from_the_dataset_card(
    ensemble: tuple[GraphEnsembleSurrogate, Path],
) -> None:
    surrogate, folder = ensemble
    assert surrogate.target_units == ("eV", "eV/atom")
    prediction = load_surrogate(folder).predict(si_diamond())
    assert prediction.target_names == ("gap", "e_form")
    assert prediction.target_units == ("eV", "eV/atom") and prediction.unit("e_form") == "eV/atom"
    frame = prediction.to_dataframe()
    assert list(frame.index) == ["0:Si"]
    assert list(frame.columns) == [
        *(f"{t}_{k}" for t in ("gap", "e_form") for k in ("mean", "std", "lo90", "hi90")),
        "domain_distance",  # graph ensembles score their applicability domain
        "outside_domain",
    ]
    assert frame.attrs["units"]["e_form_hi90"] == "eV/atom"
    assert frame["gap_mean"].iloc[0] == pytest.approx(prediction.mean[0, 0])
    assert prediction.select(np.array([0])).ids == ("0:Si",)


def test_saved_model_knows_its_training_elements(
    ensemble: tuple[GraphEnsembleSurrogate, Path],
) -> None:
    _, folder = ensemble
    loaded = load_surrogate(folder)
    assert loaded.training_elements == ("As", "Ga", "O", "Si", "Sr", "Ti")  # type: ignore[attr-defined]


@pytest.mark.filterwarnings("ignore:No Pauling electronegativity")
def test_inputs_the_model_cannot_take_are_named(
    ensemble: tuple[GraphEnsembleSurrogate, Path],
) -> None:
    from ase.build import molecule
    from pymatgen.core import Lattice, Structure

    surrogate, _ = ensemble
    og = Structure(Lattice.cubic(4.0), ["Og"], [[0, 0, 0]])
    with pytest.raises(SurrogateError, match=r"1:Og: element Og \(Z = 118\) is not supported"):
        surrogate.predict([si_diamond(), og])
    with pytest.raises(SurrogateError, match="0:H2O: the model predicts crystals"):
        surrogate.predict(molecule("H2O"))


def test_gp_predicts_a_structure_with_units_and_training_elements(tmp_path: Path) -> None:
    from materials_ai.surrogates.config import GPConfig
    from materials_ai.surrogates.kinds import build_surrogate

    config = GPConfig.model_validate(
        {"kind": "gp", "features": [{"featurizer": "composition", "pca": 3}], "max_iter": 20}
    )
    gp = build_surrogate(config, ["gap", "e_form"], [])
    gp.fit(_dataset(12))  # type: ignore[attr-defined]
    gp.save(tmp_path / "gp")
    loaded = load_surrogate(tmp_path / "gp")
    prediction = loaded.predict(si_diamond())  # type: ignore[attr-defined]
    assert prediction.target_units == ("eV", "eV/atom") and prediction.ids == ("0:Si",)
    assert loaded.training_elements == ("As", "Ga", "O", "Si", "Sr", "Ti")  # type: ignore[attr-defined]
    frame = prediction.to_dataframe()
    assert {"gap_mean", "domain_distance", "outside_domain"} <= set(frame.columns)


def test_predict_files_isolates_an_input_the_network_fails_on(
    ensemble: tuple[GraphEnsembleSurrogate, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from materials_ai.surrogates.files import predict_files

    _, folder = ensemble
    si, gaas = tmp_path / "si.cif", tmp_path / "gaas.cif"
    si_diamond().to(filename=str(si))
    gaas_zincblende().to(filename=str(gaas))
    original = GraphEnsembleSurrogate.predict

    def flaky(self: GraphEnsembleSurrogate, candidates: object) -> object:
        if any("gaas" in c.id for c in as_candidates(candidates)):
            raise ValueError("the network failed")
        return original(self, candidates)

    monkeypatch.setattr(GraphEnsembleSurrogate, "predict", flaky)
    table, errors = predict_files(folder, [si, gaas])
    assert table["file"].tolist() == [str(si)] and table["formula"].tolist() == ["Si"]
    assert errors == [(str(gaas), "the network failed")]
    assert table.attrs["units"]["gap_mean"] == "eV"
    assert table.attrs["units"]["e_form_lo90"] == "eV/atom"
    assert table["unseen_elements"].tolist() == [""]
