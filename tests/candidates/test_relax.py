"""Relaxation of candidates with CHGNet (batched, failures as rows) and the RELAX stage."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError
from pymatgen.core import Lattice, Structure

from materials_ai.candidates.relax import RelaxConfig, relax_structures
from materials_ai.candidates.relax_stage import RelaxStageConfig, relax_pool
from materials_ai.compute import SerialExecutor
from materials_ai.testing.datasets import gaas_zincblende, srtio3_cubic
from materials_ai.testing.relax import SCALE, register_fake_potential


def _distorted_srtio3() -> Structure:
    """Cubic SrTiO3 strained by +4 % with Ti and one O displaced (forces ~1 eV/Å)."""
    s = srtio3_cubic(3.905 * 1.04)
    s.translate_sites([1], [0.03, 0.0, 0.02])
    s.translate_sites([2], [0.0, 0.02, 0.0])
    return s


def test_chgnet_relaxation_of_a_distorted_cell_converges() -> None:
    config = RelaxConfig(fmax_ev_per_a=0.05, max_steps=200, batch_size=2)
    start = _distorted_srtio3()
    results = relax_structures(["sto", "gaas"], [start, gaas_zincblende()], config)
    assert [r.id for r in results] == ["sto", "gaas"]
    sto = results[0]
    assert sto.ok and sto.converged, sto.reason
    assert 0 < sto.steps < 200
    assert sto.max_force <= 0.05
    assert sto.energy_per_atom == pytest.approx(-8.4, abs=0.3)  # CHGNet 0.3.0, eV/atom
    # The strained cell shrinks back towards the CHGNet lattice constant (~3.94 Å).
    assert sto.volume_change < -0.05
    assert sto.structure is not None
    assert sto.structure.lattice.a == pytest.approx(3.94, abs=0.06)
    assert sto.structure.composition == start.composition
    assert results[1].ok
    columns = sto.columns()
    assert set(columns) >= {"relax_energy_per_atom", "relax_max_force", "relax_volume_change"}


def test_failures_are_rows_and_do_not_stop_the_batch() -> None:
    name = register_fake_potential()
    config = RelaxConfig(potential=name, batch_size=3, max_sites=4)
    zr = Structure(Lattice.cubic(4.5), ["Zr", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    items = [srtio3_cubic(), zr, gaas_zincblende()]
    results = relax_structures(["a", "b", "c"], items, config, executor=SerialExecutor())
    assert [r.ok for r in results] == [False, False, True]
    assert "5 sites > max_sites 4" in results[0].reason
    assert results[1].reason.startswith("RuntimeError: pretend failure on ZrO")
    assert math.isnan(results[1].energy_per_atom)
    assert results[2].volume_change == pytest.approx(SCALE**3 - 1)


def test_relax_config_rejects_unknown_keys_and_potentials() -> None:
    with pytest.raises(ValidationError, match="fmax"):
        RelaxConfig.model_validate({"fmax": 0.1})
    with pytest.raises(ValidationError, match="unknown potential"):
        RelaxConfig(potential="nope")
    with pytest.raises(ValidationError, match="max_candidate"):
        RelaxStageConfig.model_validate({"max_candidate": 3})


def test_relax_pool_selects_relaxes_and_deduplicates(tmp_path: Path) -> None:
    from materials_ai.candidates import KnownMaterials

    name = register_fake_potential()
    sto = srtio3_cubic()
    supercell = sto.copy()
    supercell.make_supercell([1, 1, 2])  # the same structure in another setting
    shifted = sto.copy()
    shifted.translate_sites(list(range(len(shifted))), [0.1, 0.2, 0.3])  # another origin
    bazr = sto.copy()
    bazr.replace_species({"Sr": "Ba", "Ti": "Zr"})  # fails in the fake potential
    gaas = gaas_zincblende()
    structures = [sto, supercell, shifted, bazr, gaas, gaas.copy()]
    rows = [{"id": f"c{i}", "prototype": "x"} for i in range(len(structures))]
    known = KnownMaterials.from_structures([("tiny", "gaas", gaas_zincblende(5.7))])
    config = RelaxStageConfig(
        max_candidates=5, relaxation=RelaxConfig(potential=name), energy_correction=None
    )
    # Pre-score order: the last candidate is the worst and is not relaxed.
    out = relax_pool(rows, structures, config, order=[0, 1, 2, 3, 4, 5], known=known)
    assert [r["id"] for r in out.rows] == ["c0"]
    assert out.removed["c5"].startswith("not relaxed")
    assert out.removed["c1"] == "duplicate of c0 after relaxation"
    assert out.removed["c2"] == "duplicate of c0 after relaxation"
    assert out.removed["c3"].startswith("relaxation failed: RuntimeError")
    assert out.removed["c4"] == "relaxes into known tiny:gaas"
    row = out.rows[0]
    assert row["prototype"] == "x" and row["relax_status"] == "ok"
    assert row["relax_volume_change"] == pytest.approx(SCALE**3 - 1)
    assert out.structures["c0"].lattice.a == pytest.approx(sto.lattice.a * SCALE)
    report = out.report
    assert (report["n_selected"], report["n_failed"], report["n_duplicates"]) == (5, 1, 2)
    assert report["n_known_matches"] == 1 and report["n_kept"] == 1
    path = out.save(tmp_path / "relaxed.json")
    payload = json.loads(path.read_text())
    back = Structure.from_str(payload["cifs"]["c0"], fmt="cif")
    assert np.allclose(back.lattice.abc, out.structures["c0"].lattice.abc, atol=1e-4)
