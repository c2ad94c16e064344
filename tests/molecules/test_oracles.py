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


def test_molecules_pass_through_a_fidelity_chain(tmp_path: Path) -> None:
    """Stage 2 of a chain rebuilds each molecule from stage 1's job input (not a crystal)."""
    from materials_ai.data.records import Candidate, Molecule
    from materials_ai.oracles.config import FidelityChainConfig

    chain = FidelityChainConfig.model_validate(
        {
            "job_dir": str(tmp_path / "jobs"),
            "max_parallel": 1,
            "stages": [
                {"oracle": {"kind": "xtb"}, "name": "xtb_all", "batch_size": 2},
                {
                    "oracle": {"kind": "xtb", "method": "GFN1-xTB"},
                    "name": "xtb_top",
                    "select_top": 1,
                    "rank_by": "gap",
                    "descending": True,
                },
            ],
        }
    ).build(tmp_path)
    candidates = [
        Candidate(n, Molecule.from_smiles(s)) for n, s in [("water", "O"), ("benzene", "c1ccccc1")]
    ]
    tickets = chain.submit(candidates)
    assert chain.wait(tickets, timeout_s=100, poll_s=0.2)
    observations = chain.collect(tickets)
    assert chain.stage_summary()[1] == {"stage": 1, "submitted": 1, "finished": 1, "ok": 1}
    top = [o for o in observations if o.provenance["job_id"].startswith("xtb_top")]
    assert [o.candidate_id for o in top] == ["water"]  # the larger xTB gap goes on
    assert top[0].ok and top[0].values["gap"] > 5.0
