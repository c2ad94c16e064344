"""Real GFN2-xTB (and a tiny PySCF) calculations, through durable jobs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from materials_ai.data import Candidate, Molecule
from materials_ai.molecules.geometry import embed
from materials_ai.molecules.oracles import PySCFTask, XTBTask, pyscf_gap, xtb_gap, xtb_oracle


def test_real_xtb_single_point_on_benzene() -> None:
    out = xtb_gap(embed(Molecule.from_smiles("c1ccccc1")))
    # GFN2-xTB benzene: HOMO ≈ -10.9 eV, gap ≈ 4.8 eV (much below B3LYP's ≈ 6.7 eV).
    assert out["homo"] == pytest.approx(-10.91, abs=0.1)
    assert out["gap"] == pytest.approx(4.83, abs=0.1)
    assert out["gap"] == pytest.approx(out["lumo"] - out["homo"])
    assert out["seconds"] < 5.0


def test_xtb_as_durable_jobs(tmp_path: Path) -> None:
    oracle = xtb_oracle(tmp_path / "jobs")
    candidates = [
        Candidate("water", Molecule.from_smiles("O")),
        Candidate("ethene", Molecule.from_smiles("C=C")),
        Candidate("broken", Molecule("C1CC")),  # not a valid SMILES: a failed job, not a crash
    ]
    tickets = oracle.submit(candidates)
    oracle.wait(tickets, timeout_s=120)
    observations = {o.candidate_id: o for o in oracle.collect(tickets)}
    assert set(observations) == {"water", "ethene", "broken"}
    assert observations["water"].ok and observations["water"].fidelity == "xtb_gfn2"
    assert observations["ethene"].values["gap"] < observations["water"].values["gap"]
    assert not observations["broken"].ok and "SMILES" in observations["broken"].reason
    job_dir = Path(observations["water"].provenance["job_dir"])
    assert json.loads((job_dir / "input.json").read_text())["structure"]["smiles"] == "O"
    assert (job_dir / "work" / "geometry.xyz").exists()
    assert observations["water"].provenance["versions"]["tblite"]
    # A new oracle on the same store (a resumed campaign) collects without recomputing.
    again = xtb_oracle(tmp_path / "jobs")
    tickets2 = again.submit(candidates[:1])
    assert tickets2[0].id == tickets[0].id
    assert again.collect(tickets2)[0].values == observations["water"].values


def test_tasks_round_trip_their_settings() -> None:
    task = PySCFTask(grid_level=1)
    assert PySCFTask.from_settings(task.settings()) == task
    assert XTBTask.from_settings(XTBTask().settings()) == XTBTask()
    from materials_ai.oracles.tasks import task_class

    assert task_class("xtb") is XTBTask and task_class("pyscf") is PySCFTask


def test_tiny_pyscf_b3lyp_water() -> None:
    out = pyscf_gap(embed(Molecule.from_smiles("O")), grid_level=1)
    # B3LYP/def2-SVP water at an MMFF geometry: HOMO ≈ -7.9 eV, gap ≈ 9.1 eV.
    assert out["homo"] == pytest.approx(-7.92, abs=0.15)
    assert out["gap"] == pytest.approx(9.13, abs=0.2)
    assert out["n_basis"] == 24
