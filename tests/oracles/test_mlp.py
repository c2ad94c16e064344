"""CHGNet oracle: a real relaxation in a worker process, and the hull arithmetic.

``chgnet`` is a core dependency, so these run everywhere.
"""

from __future__ import annotations

import gzip
import json
import math
import os
from pathlib import Path

import pytest

from materials_ai.candidates.stability import HullReference
from materials_ai.data.records import Candidate
from materials_ai.oracles.job_oracle import JobOracle, ProcessLauncher
from materials_ai.oracles.mlp import CHGNetTask, MPHull, load_elemental_references
from materials_ai.testing.datasets import srtio3_cubic


def test_elemental_references_and_hull_distance(tmp_path: Path) -> None:
    refs_file = tmp_path / "refs.json.gz"
    entry = {"energy": -9.0, "correction": 0.0, "composition": {"O": 2.0}}
    with gzip.open(refs_file, "wt") as f:
        json.dump({"O": entry, "Li": {"energy": -1.9, "composition": {"Li": 1.0}}}, f)
    refs = load_elemental_references(refs_file)
    assert refs == pytest.approx({"O": -4.5, "Li": -1.9})
    # Li2O on the MP-2018 hull at -2.0 eV/atom; a CHGNet Li2O 0.05 eV/atom above it.
    hull = MPHull(refs, HullReference([({"Li": 2, "O": 1}, -2.0)]))
    mu = (2 * -1.9 + -4.5) / 3
    values = hull.evaluate(_li2o(), mu - 1.95)
    assert values["formation_energy"] == pytest.approx(-1.95)
    assert values["hull_energy"] == pytest.approx(-2.0)
    assert values["e_above_hull"] == pytest.approx(0.05)
    # An element without a reference gives NaN, not an error.
    assert math.isnan(MPHull({}, HullReference([])).evaluate(_li2o(), -3.0)["e_above_hull"])


def _li2o():  # type: ignore[no-untyped-def]
    from pymatgen.core import Lattice, Structure

    return Structure(
        Lattice.cubic(4.6), ["Li", "Li", "O"], [[0.25, 0.25, 0.25], [0.75, 0.75, 0.75], [0, 0, 0]]
    )


@pytest.mark.timeout(180)
def test_real_chgnet_relaxation_in_a_worker(tmp_path: Path) -> None:
    strained = srtio3_cubic(4.05)  # 3.7 % too large: the relaxation must shrink it
    # The hull needs the real datasets (MATERIALS_AI_DATA_DIR); the relaxation does not.
    data_dir = os.environ.get("MATERIALS_AI_DATA_DIR")
    task = CHGNetTask(
        fmax_ev_per_a=0.05,
        max_steps=200,
        hull="mp2018" if data_dir else "none",
        data_dir=data_dir,
    )
    oracle = JobOracle(task, tmp_path, launcher=ProcessLauncher(1), batch_size=2)
    tickets = oracle.submit([Candidate("sto", strained), Candidate("sto_sp", srtio3_cubic())])
    assert oracle.wait(tickets, timeout_s=170, poll_s=0.5)
    obs = oracle.collect(tickets)[0]
    assert obs.ok, obs.reason
    assert obs.fidelity == "ml_potential"
    assert obs.provenance["versions"]["chgnet"] == "0.4.2"
    assert obs.provenance["settings"]["optimizer"] == "FIRE"
    # Bulk SrTiO3: about -8.4 eV/atom (MP2020 scale), near the MP-2018 hull.
    assert -8.8 < obs.values["energy_per_atom"] < -8.0
    assert obs.values["relax_converged"] == 1.0
    if data_dir:
        assert abs(obs.values["e_above_hull"]) < 0.15
    result = oracle.result(tickets[0])
    assert result is not None and result.structure is not None
    assert result.structure.volume < strained.volume * 0.97
    assert result.details["n_steps"] >= 1
