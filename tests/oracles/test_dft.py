"""GPAW oracle: one real (small) GLLB-SC + PBE calculation, a metal, a forced non-convergence.

Needs the ``dft`` extra (``make gpaw``; ``.ci/run`` runs it). Skipped without GPAW unless
``MATERIALS_AI_REQUIRE_ORACLES=1`` (set by ``.ci/run``), which turns the skip into a failure.
Settings are far below the production defaults (200 eV, 3x3x3 k-points) so that the
calculations take seconds; the accuracy benchmark is ``benchmarks/oracle_gpaw.py``.
"""

from __future__ import annotations

import importlib.util
import math
import os
from pathlib import Path

import pytest

from materials_ai.data.records import Candidate
from materials_ai.oracles.dft import GPAWTask
from materials_ai.oracles.job_oracle import JobOracle, ProcessLauncher
from materials_ai.testing.datasets import si_diamond

REQUIRED = os.environ.get("MATERIALS_AI_REQUIRE_ORACLES") == "1"
pytestmark = [
    pytest.mark.skipif(
        importlib.util.find_spec("gpaw") is None and not REQUIRED,
        reason="GPAW is not installed (make gpaw; .ci/run installs it)",
    ),
    pytest.mark.timeout(180),
]


def _aluminium():  # type: ignore[no-untyped-def]
    from pymatgen.core import Lattice, Structure

    half = 4.05 / 2
    lattice = Lattice([[0.0, half, half], [half, 0.0, half], [half, half, 0.0]])
    return Structure(lattice, ["Al"], [[0.0, 0.0, 0.0]])


def test_real_gpaw_gap_metal_and_forced_nonconvergence(tmp_path: Path) -> None:
    fast = GPAWTask(ecut_ev=200, kpts=(3, 3, 3))
    oracle = JobOracle(fast, tmp_path / "fast", launcher=ProcessLauncher(2))
    broken = JobOracle(
        GPAWTask(ecut_ev=200, kpts=(3, 3, 3), maxiter=2, pbe_energy=False),
        tmp_path / "broken",
        launcher=ProcessLauncher(1),
    )
    # Si as the CHGNet stage of a chain hands it on: with predicted magnetic moments,
    # which a spin-paired GPAW calculation must ignore rather than refuse.
    si_relaxed = si_diamond()
    si_relaxed.add_site_property("magmom", [0.1, 0.1])
    tickets = oracle.submit([Candidate("si", si_relaxed), Candidate("al", _aluminium())])
    bad = broken.submit([Candidate("si", si_diamond())])
    assert oracle.wait(tickets, timeout_s=170, poll_s=0.5)
    assert broken.wait(bad, timeout_s=60, poll_s=0.5)

    si, al = oracle.collect(tickets)
    assert si.ok, si.reason
    assert si.fidelity == "dft_gllbsc"
    assert si.provenance["versions"]["gpaw"].startswith("26.")
    assert si.provenance["settings"]["ecut_ev"] == 200
    # GLLB-SC opens the Kohn-Sham gap of Si by a positive discontinuity (exp. 1.17 eV).
    assert si.values["metal"] == 0.0
    assert 0.5 < si.values["band_gap_ks"] < si.values["band_gap"] < 2.0
    assert si.values["delta_xc"] > 0.1
    assert math.isfinite(si.values["pbe_energy_per_atom"])
    assert -7.0 < si.values["pbe_energy_per_atom"] < -4.0  # GPAW reference energy
    # Al is a metal: gap 0 and no discontinuity (the formula would give nonsense).
    assert al.ok, al.reason
    assert al.values["metal"] == 1.0 and al.values["band_gap"] == 0.0
    assert al.values["delta_xc"] == 0.0

    [failed] = broken.collect(bad)
    assert not failed.ok
    assert "did not converge within maxiter=2" in failed.reason
    assert (tmp_path / "broken" / bad[0].id / "work" / "gllbsc.txt").exists()
