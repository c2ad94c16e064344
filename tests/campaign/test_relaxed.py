"""Relaxed structures from validation jobs reach the ranked list, its CIFs and the bundle."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pymatgen.core import Structure

from materials_ai.acquisition.objective import Criterion, DesirabilityObjective, ObjectiveConfig
from materials_ai.campaign.record import write_ranking
from materials_ai.campaign.relaxed import (
    RELAXED_COLUMNS,
    read_relaxation,
    relaxed_structures,
)
from materials_ai.data.records import Candidate, Observation
from materials_ai.surrogates.prediction import Prediction
from materials_ai.testing.datasets import gaas_zincblende, si_diamond

TARGETS = ("band_gap",)


def _job(
    folder: Path, structure: Structure, *, relaxation: bool = True, energy: float = -5.4
) -> Path:
    """A finished job directory as the CHGNet task leaves it (output.json)."""
    folder.mkdir(parents=True)
    details = {"n_steps": 12, "fmax_ev_per_a": 0.04}
    if relaxation:
        details["volume_change"] = 0.031
    output = {
        "observation": {
            "candidate_id": "x",
            "values": {"energy_per_atom": energy},
            "fidelity": "ml_potential",
            "provenance": {},
            "ok": True,
            "reason": "",
        },
        "structure": structure.as_dict(),
        "details": details,
    }
    (folder / "output.json").write_text(json.dumps(output))
    return folder


def _observation(cid: str, job_dir: Path | None, ok: bool = True) -> Observation:
    provenance = {} if job_dir is None else {"job_dir": str(job_dir)}
    return Observation(cid, {"band_gap": 1.0} if ok else {}, "ml_potential", provenance, ok=ok)


def test_a_relaxation_job_is_read_with_its_record(tmp_path: Path) -> None:
    relaxed = si_diamond()
    relaxed.scale_lattice(relaxed.volume * 1.031)
    record = read_relaxation(_job(tmp_path / "job", relaxed))
    assert record is not None
    assert record.structure.volume == pytest.approx(relaxed.volume)
    assert record.energy_per_atom == -5.4
    assert record.max_force == 0.04 and record.volume_change == 0.031
    assert list(record.columns()) == list(RELAXED_COLUMNS)


def test_jobs_without_a_relaxation_give_none(tmp_path: Path) -> None:
    single_point = _job(tmp_path / "dft", si_diamond(), relaxation=False)
    assert read_relaxation(single_point) is None  # e.g. a GPAW single point
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "output.json").write_text("{not json")
    assert read_relaxation(damaged) is None
    assert read_relaxation(tmp_path / "missing") is None


def test_only_successful_observations_with_a_job_count_and_the_latest_wins(
    tmp_path: Path,
) -> None:
    first = _job(tmp_path / "a1", si_diamond(), energy=-5.0)
    second = _job(tmp_path / "a2", si_diamond(), energy=-5.2)
    failed = _job(tmp_path / "b", gaas_zincblende())
    found = relaxed_structures(
        [
            _observation("a", first),
            _observation("a", second),
            _observation("b", failed, ok=False),
            _observation("c", None),  # a replayed value: no job
        ]
    )
    assert set(found) == {"a"}
    assert found["a"].energy_per_atom == -5.2


def test_ranked_list_carries_the_relaxed_cell_and_columns(tmp_path: Path) -> None:
    pool = [Candidate("si", si_diamond()), Candidate("gaas", gaas_zincblende())]
    relaxed_si = si_diamond()
    relaxed_si.scale_lattice(relaxed_si.volume * 1.10)
    relaxed = relaxed_structures([_observation("si", _job(tmp_path / "job", relaxed_si))])
    objective = DesirabilityObjective(
        ObjectiveConfig(criteria=[Criterion(target="band_gap", min=0.5, max=3.0, scale=0.5)]),
        TARGETS,
    )
    prediction = Prediction.from_samples(np.array([[[1.0], [1.5]], [[1.2], [1.4]]]), TARGETS)
    paths = write_ranking(
        pool,
        prediction,
        objective,
        tmp_path / "final",
        observed={"si": {"band_gap": 1.1}},
        acquisition=None,
        selected=[],
        target_units={"band_gap": "eV"},
        size=10,
        top_cifs=2,
        metadata={},
        relaxed=relaxed,
    )
    table = pd.read_csv(paths["csv"]).set_index("id")
    assert table.loc["si", "relaxed_volume_change"] == pytest.approx(0.031)
    assert table.loc["si", "relaxed_max_force_eV_per_A"] == pytest.approx(0.04)
    assert math.isnan(table.loc["gaas", "relaxed_energy_eV_per_atom"])
    cif = next(p for p in paths["cifs"].glob("*.cif") if "_si_" in p.name)
    written = Structure.from_file(str(cif))
    assert written.volume / len(written) == pytest.approx(relaxed_si.volume / 2, rel=1e-3)
    payload = json.loads(paths["json"].read_text())
    si_row = next(c for c in payload["candidates"] if c["id"] == "si")
    assert si_row["relaxed_energy_eV_per_atom"] == pytest.approx(-5.4)
