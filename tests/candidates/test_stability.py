"""Convex hull of a hand-built system, and the probability of lying near it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.stats import norm

from materials_ai.candidates import (
    GeneratedCandidate,
    HullReference,
    StabilityConfig,
    StabilityScreen,
    probability_within,
    run_screens,
)
from materials_ai.candidates.prototypes import rocksalt
from materials_ai.data.records import Candidate, MaterialRecord, MaterialsDataset, TargetSpec
from materials_ai.errors import CandidateError


@pytest.fixture
def li_o_hull() -> HullReference:
    """Li-O with Li2O at -2.0 eV/atom and Li2O2 at -1.8 eV/atom; LiO2 above the hull."""
    return HullReference(
        [({"Li": 2, "O": 1}, -2.0), ({"Li": 2, "O": 2}, -1.8), ({"Li": 1, "O": 2}, -0.5)],
        name="hand-built",
    )


def test_hull_energies_closed_form(li_o_hull: HullReference) -> None:
    # Vertices: Li (x_O = 0, 0), Li2O (1/3, -2.0), Li2O2 (1/2, -1.8), O (1, 0).
    assert li_o_hull.hull_energy({"Li": 2, "O": 1}) == pytest.approx(-2.0)
    assert li_o_hull.hull_energy("Li2O2") == pytest.approx(-1.8)
    # x_O = 0.4 lies between Li2O and Li2O2: linear interpolation.
    expected = -2.0 + (0.4 - 1 / 3) / (1 / 2 - 1 / 3) * (-1.8 + 2.0)
    assert li_o_hull.hull_energy({"Li": 3, "O": 2}) == pytest.approx(expected)
    # x_O = 2/3 (LiO2) lies between Li2O2 and O: -1.8 * (1 - 2/3) / (1 - 1/2).
    assert li_o_hull.hull_energy("LiO2") == pytest.approx(-1.8 * (1 / 3) / (1 / 2))
    assert li_o_hull.hull_energy("Li") == 0.0
    # e_above_hull of a candidate Li3O2 at -1.5 eV/atom, and of LiO2 (the table's own
    # -0.5 eV/atom, above the hull by 0.7).
    e = li_o_hull.e_above_hull([{"Li": 3, "O": 2}, "LiO2"], [-1.5, -0.5])
    assert e == pytest.approx([-1.5 - expected, -0.5 + 1.2])


def test_hull_ignores_other_systems_and_adds_missing_elements(li_o_hull: HullReference) -> None:
    ref = HullReference([({"Li": 2, "O": 1}, -2.0), ({"Na": 2, "O": 1}, -1.4)])
    assert ref.hull_energy("Li2O") == pytest.approx(-2.0)
    # A ternary system with no ternary entry: the hull comes from Li2O and Na2O.
    assert ref.hull_energy("LiNaO") == pytest.approx(-1.7)
    # An element absent from the reference sits at 0.
    assert ref.hull_energy("LiF") == 0.0
    assert len(ref._diagrams) == 3  # cached per chemical system
    assert ref.n_competing("LiNaO") == 2
    assert ref.n_competing("LiF") == 0
    assert ref.uncovered_pairs("LiNaO") == []
    assert ref.uncovered_pairs("LiF") == [("Li", "F")]
    assert ref.uncovered_pairs("LiKO") == [("K", "O")]


def test_probability_within_closed_form() -> None:
    p = probability_within(
        np.array([-0.3, -0.3, -0.6, 0.0, np.nan]),
        np.array([0.1, 0.2, 0.05, 0.0, 0.1]),
        np.array([-0.5, -0.5, -0.5, -0.05, -0.5]),
        0.1,
    )
    assert p[0] == pytest.approx(norm.cdf(-1.0))
    assert p[1] == pytest.approx(norm.cdf(-0.5))
    assert p[2] == pytest.approx(norm.cdf(4.0))
    assert p[3] == 1.0  # std 0: a step (0.05 above the hull, within 0.1)
    assert np.isnan(p[4])


def test_stability_estimate(li_o_hull: HullReference) -> None:
    est = li_o_hull.stability(
        ["Li2O2", "LiO2"], [-1.7, -1.0], [0.1, 0.2], threshold_ev_per_atom=0.05
    )
    assert est.e_above_hull == pytest.approx([0.1, -1.0 + 1.2])
    assert est.p_within == pytest.approx([norm.cdf(-0.5), norm.cdf((0.05 - 0.2) / 0.2)])
    with pytest.raises(CandidateError, match="one mean and one std"):
        li_o_hull.stability(["Li2O2"], [-1.7, 0.0], [0.1, 0.1])


def test_from_dataset_and_exclusions() -> None:
    from pymatgen.core import Lattice, Structure

    def record(rid: str, species: list[str], e: float) -> MaterialRecord:
        coords = [[i / len(species), 0, 0] for i in range(len(species))]
        return MaterialRecord(
            rid, Structure(Lattice.cubic(6.0), species, coords), {"formation_energy": e}
        )

    ds = MaterialsDataset(
        "hand",
        (TargetSpec("formation_energy", "e", "eV/atom"),),
        [
            record("a", ["Li", "Li", "O"], -2.0),
            record("b", ["Li", "O"], -1.8),
            record("c", ["Li", "O"], -1.9),
        ],
    )
    ref = HullReference.from_dataset(ds)
    assert ref.hull_energy("LiO") == pytest.approx(-1.9)  # lowest polymorph kept
    held_out = HullReference.from_dataset(ds, exclude_formula_keys={"Li1O1"})
    assert held_out.hull_energy("LiO") == pytest.approx(-2.0 * (1 / 2) / (2 / 3))
    assert HullReference.from_dataset(ds, exclude_ids={"c"}).hull_energy("LiO") == pytest.approx(
        -1.8
    )
    with pytest.raises(CandidateError, match="no target"):
        HullReference.from_dataset(ds, target="band_gap")


def test_stability_screen(li_o_hull: HullReference) -> None:
    pool = [
        GeneratedCandidate.from_candidate(Candidate("lio", rocksalt(4.0, "Li", "O"), "t"), 225),
        GeneratedCandidate.from_candidate(Candidate("lio-b", rocksalt(4.2, "Li", "O"), "t"), 225),
        GeneratedCandidate.from_candidate(Candidate("nao", rocksalt(4.5, "Na", "O"), "t"), 225),
    ]
    hull_lio = li_o_hull.hull_energy("LiO")
    screen = StabilityScreen(
        li_o_hull,
        {"lio": (hull_lio + 0.02, 0.05), "lio-b": (hull_lio + 0.5, 0.05)},
        StabilityConfig(threshold_ev_per_atom=0.1, min_probability=0.5),
    )
    survivors, report = run_screens(pool, [screen])
    assert [c.id for c in survivors] == ["lio"]
    assert report.removed["lio-b"].code == "unlikely stable"
    assert report.removed["nao"].code == "no prediction"
    scores = report.scores["lio"]
    assert scores["e_above_hull_pred_ev_per_atom"] == pytest.approx(0.02)
    assert scores["p_within_hull_threshold"] == pytest.approx(norm.cdf(0.08 / 0.05))
    assert scores["n_competing_phases"] == 3  # Li2O, Li2O2, LiO2
    assert scores["hull_uncovered_pairs"] == 0
    assert report.scores["nao"].get("hull_uncovered_pairs") == 1  # no Na-O compound
    strict = StabilityScreen(
        li_o_hull,
        {"lio": (hull_lio, 0.05), "nao": (-1.0, 0.05)},
        StabilityConfig(require_covered_hull=True),
    )
    _, report = run_screens(pool[:1] + pool[2:], [strict])
    assert report.removed["nao"].code == "incomplete hull reference"
    assert report.removed["nao"].detail == "no reference compound for Na-O"
    # scale and floor widen the Gaussian: sigma = sqrt((2 * 0.05)^2 + 0.1^2)
    wide = StabilityScreen(
        li_o_hull,
        {"lio": (hull_lio + 0.02, 0.05)},
        StabilityConfig(std_scale=2.0, std_floor_ev_per_atom=0.1),
    )
    _, report = run_screens(pool[:1], [wide])
    sigma = np.hypot(0.1, 0.1)
    assert report.scores["lio"]["e_form_std_ev_per_atom"] == pytest.approx(sigma)
    assert report.scores["lio"]["p_within_hull_threshold"] == pytest.approx(norm.cdf(0.08 / sigma))


def test_from_card_reads_formulas_and_matches_the_structures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from materials_ai.data import load_dataset
    from materials_ai.data.cards import dump_card
    from materials_ai.testing.datasets import write_tiny_dataset

    tiny = write_tiny_dataset(tmp_path / "tiny", n_rows=12)
    monkeypatch.setenv("MATERIALS_AI_CARDS_DIR", str(tiny.cards_dir))
    monkeypatch.setenv("MATERIALS_AI_DATA_DIR", str(tiny.data_dir))
    parsed = HullReference.from_card("tiny")  # no formula column: structures are parsed
    dump_card(tiny.card.model_copy(update={"formula_column": "formula"}), tiny.card_path)
    from_formulas = HullReference.from_card("tiny")
    reference = HullReference.from_dataset(load_dataset("tiny", targets=["formation_energy"]))
    probes = ["Si", "SrTiO3", "GaAs", "Sr2TiO4", "GaSi"]
    for hull in (parsed, from_formulas):
        assert hull.hull_energies(probes) == pytest.approx(reference.hull_energies(probes))
    without = HullReference.from_card("tiny", exclude_formula_keys={"O3Sr1Ti1"})
    assert without.hull_energy("SrTiO3") == pytest.approx(0.0)  # only the elements remain
    assert from_formulas.hull_energy("SrTiO3") < 0
    everything_but_one = HullReference.from_card("tiny", exclude_ids=set(tiny.ids[1:]))
    assert everything_but_one.n_compositions == 1
    with pytest.raises(CandidateError, match="no target"):
        HullReference.from_card("tiny", target="vbm")
