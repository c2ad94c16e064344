"""Every bad input a careless user gives is a one-line error (issue 20), never a traceback.

Exit codes: 2 when the command cannot do its work at all (a bad workflow, model folder,
``--out`` or state file); 1 when ``predict`` skipped some inputs (each named with its reason)
and predicted the others.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
import yaml
from typer.testing import CliRunner

from materials_ai.cli.app import app
from materials_ai.surrogates.ensemble import GraphEnsembleSurrogate
from materials_ai.testing.campaigns import tiny_workflow
from materials_ai.testing.datasets import si_diamond, tiny_structures
from materials_ai.testing.models import (
    labelled_dataset,
    mean_atomic_numbers,
    tiny_ensemble_config,
)
from materials_ai.testing.runs import tiny_env, tiny_run

runner = CliRunner()
QM9_MODEL = Path(__file__).resolve().parents[2] / "models" / "qm9_mol_gnn"


def _invoke(*args: object) -> tuple[int, str]:
    result = runner.invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    return result.exit_code, result.output


def _error_line(output: str) -> str:
    """The ``error:`` line, checked to be the only line of output."""
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), output
    return lines[0]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny saved ensemble (target ``z`` in eV) trained on Si, SrTiO3 and GaAs cells."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    structures = tiny_structures(9)
    dataset = labelled_dataset(structures, mean_atomic_numbers(structures)[:, None], ["z"])
    surrogate = GraphEnsembleSurrogate(tiny_ensemble_config(n_members=2, max_epochs=2), ["z"])
    surrogate.target_units = ("eV",)
    surrogate.fit(dataset)
    folder = tmp_path_factory.mktemp("model") / "tiny"
    surrogate.save(folder)
    torch.set_num_threads(before)
    return folder


@pytest.fixture
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rich tables one row per line (the test runner's terminal is 80 columns)."""
    from materials_ai.cli import common

    monkeypatch.setattr(common.console, "width", 250)
    monkeypatch.setattr(common.err_console, "width", 250)


@pytest.fixture
def si_cif(tmp_path: Path) -> Path:
    path = tmp_path / "si.cif"
    si_diamond().to(filename=str(path))
    return path


def _broken_model(model_dir: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "broken_model"
    shutil.copytree(model_dir, folder)
    return folder


# -- workflow files -----------------------------------------------------------------------


def test_non_utf8_workflow(tmp_path: Path) -> None:
    workflow = tmp_path / "wf.yaml"
    workflow.write_bytes("name: caf\xe9\n".encode("latin-1"))
    code, output = _invoke("campaign", "run", workflow, "--run-dir", tmp_path / "r")
    assert code == 2
    line = _error_line(output)
    assert str(workflow) in line and "not UTF-8 text (byte 0xe9 at offset 9)" in line
    assert not (tmp_path / "r").exists()


def test_non_utf8_training_config(tmp_path: Path) -> None:
    config = tmp_path / "job.yaml"
    config.write_bytes(b"name: \xff\xfe\n")
    code, output = _invoke("train", config)
    assert code == 2
    assert "not UTF-8 text" in _error_line(output)


@pytest.mark.parametrize(
    ("section", "key", "value", "message"),
    [
        ("loop", "batch_size", True, "'loop.batch_size': expected an integer, got true"),
        ("loop", "iterations", "3", "'loop.iterations': expected an integer, got '3'"),
        ("acquisition", "beta", "2", "'acquisition.beta': expected a number, got '2'"),
        ("acquisition", "beta", False, "'acquisition.beta': expected a number, got false"),
        ("loop", "warm_start", 1, "'loop.warm_start': expected true or false, got 1"),
    ],
)
def test_workflow_scalars_are_strictly_typed(
    tmp_path: Path, section: str, key: str, value: object, message: str
) -> None:
    data = tiny_workflow().model_dump(mode="json")
    data[section][key] = value
    workflow = tmp_path / "wf.yaml"
    workflow.write_text(yaml.safe_dump(data))
    code, output = _invoke("campaign", "run", workflow, "--run-dir", tmp_path / "r")
    assert code == 2
    line = _error_line(output)
    assert line.startswith(f"error: {workflow}: invalid configuration:")
    assert message in line
    assert not (tmp_path / "r").exists()


# -- run directories ----------------------------------------------------------------------


def test_negative_iteration_in_state_json(tmp_path: Path) -> None:
    run = tiny_run(tmp_path / "copy")
    state_file = run.run_dir / "state.json"
    state = json.loads(state_file.read_text())
    state["iteration"] = -2
    state_file.write_text(json.dumps(state))
    with tiny_env(run):
        for command in (["campaign", "status"], ["campaign", "resume", "--no-progress"]):
            code, output = _invoke(*command, run.run_dir)
            assert code == 2, output
            line = _error_line(output)
            assert f"{state_file}: invalid state: 'iteration'" in line
            assert "greater than or equal to 0 (got -2)" in line


def test_export_into_an_existing_file(tmp_path: Path) -> None:
    run = tiny_run(tmp_path / "copy")
    target = tmp_path / "bundle.csv"
    target.write_text("keep me\n")
    with tiny_env(run):
        code, output = _invoke("campaign", "export", run.run_dir, "--out", target)
    assert code == 2
    assert str(target) in _error_line(output) and "is a file" in output
    assert target.read_text() == "keep me\n"


# -- predict: --out and model folders -----------------------------------------------------


def test_predict_out_is_a_folder(model_dir: Path, si_cif: Path, tmp_path: Path) -> None:
    code, output = _invoke("predict", model_dir, si_cif, "--out", tmp_path)
    assert code == 2
    line = _error_line(output)
    assert f"--out {tmp_path} is a folder" in line and "predictions.csv" in line


def test_predict_out_in_a_missing_folder(model_dir: Path, si_cif: Path, tmp_path: Path) -> None:
    out = tmp_path / "missing" / "p.csv"
    code, output = _invoke("predict", model_dir, si_cif, "--out", out)
    assert code == 2
    assert f"the folder {out.parent} does not exist" in _error_line(output)
    assert not out.parent.exists()


def test_model_folder_without_weights(model_dir: Path, si_cif: Path, tmp_path: Path) -> None:
    folder = _broken_model(model_dir, tmp_path)
    (folder / "weights.pt").unlink()
    code, output = _invoke("predict", folder, si_cif)
    assert code == 2
    assert f"{folder / 'weights.pt'} is missing" in _error_line(output)


def test_model_folder_with_truncated_weights(model_dir: Path, si_cif: Path, tmp_path: Path) -> None:
    folder = _broken_model(model_dir, tmp_path)
    weights = folder / "weights.pt"
    weights.write_bytes(weights.read_bytes()[:3000])
    code, output = _invoke("predict", folder, si_cif)
    assert code == 2
    assert f"{weights} is truncated or not a PyTorch weights file" in _error_line(output)


def test_model_folder_with_foreign_weights(model_dir: Path, si_cif: Path, tmp_path: Path) -> None:
    folder = _broken_model(model_dir, tmp_path)
    # Weights of a wider network (the same two members): every shape differs.
    meta = json.loads((folder / "surrogate.json").read_text())
    meta["config"]["model"]["embedding_dim"] = 16
    (folder / "surrogate.json").write_text(json.dumps(meta))
    code, output = _invoke("predict", folder, si_cif)
    assert code == 2
    line = _error_line(output)
    assert str(folder / "weights.pt") in line and "weights of another model" in line
    # Weights of a model with more members.
    torch.save({"member0.a": torch.zeros(1), "member7.a": torch.zeros(1)}, folder / "weights.pt")
    code, output = _invoke("predict", folder, si_cif)
    assert code == 2
    assert "entry 'member7.a' is not a weight of the 2 members" in _error_line(output)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"format_version": 1, garbage', "surrogate.json is not valid JSON"),
        ("[1, 2]", "surrogate.json is not a JSON object"),
        ('{"kind": "gp"}', "not a complete saved gp surrogate (no entry 'config')"),
        (
            '{"format_version": 1, "target_names": ["z"], "config": {"n_members": "two"}}',
            "surrogate.json: invalid model settings: 'n_members'",
        ),
    ],
)
def test_model_folder_with_garbage_json(
    model_dir: Path, si_cif: Path, tmp_path: Path, text: str, message: str
) -> None:
    folder = _broken_model(model_dir, tmp_path)
    (folder / "surrogate.json").write_text(text)
    code, output = _invoke("predict", folder, si_cif)
    assert code == 2
    assert message in _error_line(output)


@pytest.mark.usefixtures("wide_console")
def test_gp_campaign_folder_names_its_model(si_cif: Path, tmp_path: Path) -> None:
    from materials_ai.data.records import Candidate
    from materials_ai.surrogates.config import GPConfig
    from materials_ai.surrogates.kinds import build_surrogate

    structures = tiny_structures(9)
    config = GPConfig.model_validate(
        {"kind": "gp", "features": [{"featurizer": "composition", "pca": 3}], "max_iter": 20}
    )
    gp = build_surrogate(config, ["z"], ["eV"])
    pool = [Candidate(id=f"c{i}", structure=s) for i, s in enumerate(structures)]
    features = gp.featurize_pool(pool, source=None)
    gp.fit_pool(features, mean_atomic_numbers(structures)[:, None])
    run_dir = tmp_path / "run"
    gp.save(run_dir / "models" / "iter_003")
    (run_dir / "state.json").write_text("{}")
    for given in (run_dir, run_dir / "models"):
        code, output = _invoke("predict", given, si_cif)
        assert code == 2
        line = _error_line(output)
        assert "not a saved surrogate folder" in line
        assert f"the latest in {run_dir / 'models' / 'iter_003'}" in line
    code, output = _invoke("predict", run_dir / "models" / "iter_003", si_cif)
    assert code == 0, output
    assert "z (eV)" in output and "domain distance" in output


# -- predict: inputs the model cannot take --------------------------------------------------


def test_molecular_model_given_a_cif(si_cif: Path, tmp_path: Path) -> None:
    xyz = tmp_path / "water.xyz"
    xyz.write_text("3\n\nO 0 0 0\nH 0.96 0 0\nH -0.24 0.93 0\n")
    code, output = _invoke("predict", QM9_MODEL, si_cif, xyz)
    assert code == 2  # unusable input: named, the rest predicted
    assert f"skipped {si_cif}: the model predicts molecules, this is a crystal" in output
    assert "1 of 2 input(s) failed" in output and "H2O" in output


def _with_species(tmp_path: Path, name: str, symbol: str) -> Path:
    text = (tmp_path / "si.cif").read_text().replace("Si", symbol)
    path = tmp_path / name
    path.write_text(text)
    return path


def test_unsupported_elements_are_skipped_not_fatal(
    model_dir: Path, si_cif: Path, tmp_path: Path
) -> None:
    og = _with_species(tmp_path, "og.cif", "Og")
    dummy = _with_species(tmp_path, "xx.cif", "Xx")
    out = tmp_path / "p.csv"
    code, output = _invoke("predict", model_dir, og, si_cif, dummy, "--out", out)
    assert code == 2  # unusable input: named, the rest predicted
    assert f"skipped {og}: element Og (Z = 118) is not supported by the model" in output
    assert f"skipped {dummy}: Xx0+ is a dummy species, not an element" in output
    assert f"2 of 3 input(s) failed: {og}, {dummy}" in output
    rows = out.read_text().splitlines()
    assert len(rows) == 2 and rows[1].startswith(f"{si_cif},Si,")


@pytest.mark.parametrize(
    ("species", "counts", "coordinates", "message"),
    [
        ("Si Ge", "2", 2, "the POSCAR lists 2 species (Si Ge) but 1 atom counts (2)"),
        ("Si", "1 1", 2, "the POSCAR lists 1 species (Si) but 2 atom counts (1 1)"),
        ("Si", "3", 2, "the POSCAR counts 3 atoms but has 2 coordinate lines"),
    ],
)
def test_poscar_whose_species_and_counts_disagree(
    model_dir: Path,
    si_cif: Path,
    tmp_path: Path,
    species: str,
    counts: str,
    coordinates: int,
    message: str,
) -> None:
    positions = ["0 0 0", "0.25 0.25 0.25"][:coordinates]
    poscar = tmp_path / "POSCAR"
    header = ["bad", "1.0", "0 2.7 2.7", "2.7 0 2.7", "2.7 2.7 0", species, counts, "Direct"]
    poscar.write_text("\n".join([*header, *positions]) + "\n")
    code, output = _invoke("predict", model_dir, poscar, si_cif)
    assert code == 2  # unusable input: named, the rest predicted
    assert f"skipped {poscar}: {message}" in output
    assert "1 of 2 input(s) failed" in output


@pytest.mark.usefixtures("wide_console")
def test_predict_table_has_units_and_notes_unseen_elements(
    model_dir: Path, si_cif: Path, tmp_path: Path
) -> None:
    from pymatgen.core import Lattice, Structure

    nacl = tmp_path / "nacl.cif"
    Structure(Lattice.cubic(5.6), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]).to(filename=str(nacl))
    code, output = _invoke("predict", model_dir, si_cif, nacl)
    assert code == 0, output
    flat = " ".join(output.split())
    assert "z (eV)" in flat and "90 % interval (eV)" in flat
    assert f"{nacl} (element(s) Cl Na never seen in training; domain distance" in flat
    out = tmp_path / "p.csv"
    code, output = _invoke("predict", model_dir, si_cif, nacl, "--out", out)
    assert code == 0, output
    header, si_row, nacl_row = out.read_text().splitlines()
    assert header == (
        "file,formula,z_mean_eV,z_std_eV,z_lo90_eV,z_hi90_eV,"
        "domain_distance,outside_domain,unseen_elements"
    )
    assert nacl_row.endswith(",True,Cl Na")  # outside the domain, unseen elements named
    assert all(v == f"{float(v):.6g}" for v in si_row.split(",")[2:6])  # rounded
