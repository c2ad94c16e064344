"""Screens: element policy, charge, sustainability, de-duplication, novelty, the report."""

from __future__ import annotations

import json

import numpy as np
import pytest

from materials_ai.candidates import (
    ChargeBalanceScreen,
    ChargeScreenConfig,
    DeduplicationScreen,
    ElementPolicyConfig,
    ElementPolicyScreen,
    GeneratedCandidate,
    KnownMaterials,
    NoveltyScreen,
    PrototypeGenerator,
    PrototypeGeneratorConfig,
    SubstitutionGenerator,
    SustainabilityConfig,
    SustainabilityScreen,
    run_screens,
    sustainability,
)
from materials_ai.candidates.prototypes import cubic_perovskite, rocksalt
from materials_ai.data.records import Candidate
from materials_ai.errors import CandidateError
from materials_ai.testing.datasets import srtio3_cubic


def _wrap(cid: str, structure, spacegroup: int | None = None) -> GeneratedCandidate:  # type: ignore[no-untyped-def]
    return GeneratedCandidate.from_candidate(Candidate(cid, structure, "test"), spacegroup)


def test_element_policy_removes_with_reason() -> None:
    pool = [
        _wrap("pbtio3", cubic_perovskite(3.97, "Pb", "Ti", "O")),
        _wrap("srtio3", cubic_perovskite(3.9, "Sr", "Ti", "O")),
        _wrap("uo", rocksalt(4.9, "U", "O")),
        _wrap("ptO", rocksalt(4.5, "Pt", "O")),
    ]
    survivors, report = run_screens(pool, [ElementPolicyScreen()])
    assert [c.id for c in survivors] == ["srtio3", "ptO"]
    assert report.removed["pbtio3"].screen == "element_policy"
    assert report.removed["pbtio3"].code == "toxic element"
    assert "Pb" in report.removed["pbtio3"].detail
    assert report.removed["uo"].code == "radioactive element"
    step = report.step("element_policy")
    assert (step.n_in, step.n_removed, step.n_out) == (4, 2, 2)
    assert step.reasons == {"toxic element": 1, "radioactive element": 1}
    assert report.passed["srtio3"] == ["element_policy"]

    # configurable: allow lead, exclude platinum-group metals
    policy = ElementPolicyConfig(toxic=["Hg"], excluded=["Pt"])
    survivors, report = run_screens(pool, [ElementPolicyScreen(policy)])
    assert [c.id for c in survivors] == ["pbtio3", "srtio3"]
    assert report.removed["ptO"].code == "excluded element"
    allowed = ElementPolicyScreen(ElementPolicyConfig(allowed=["Sr", "Ti", "O"]))
    assert [c.id for c in run_screens(pool, [allowed])[0]] == ["srtio3"]


def test_charge_screen_reasons() -> None:
    pool = [
        _wrap("srtio3", cubic_perovskite(3.9, "Sr", "Ti", "O")),
        _wrap("nao", rocksalt(4.0, "Na", "O")),  # Na+ O2- cannot be neutral 1:1
        _wrap("srti", rocksalt(4.0, "Sr", "Ti")),  # intermetallic: no anion
    ]
    survivors, report = run_screens(pool, [ChargeBalanceScreen()])
    assert [c.id for c in survivors] == ["srtio3"]
    assert report.removed["nao"].code == "not charge balanced"
    assert report.removed["srti"].code == "not charge balanced"


def test_charge_screen_flags_electronegativity_order() -> None:
    # PtH2 balances only as Pt2+ 2H-, but Pt (2.28) is more electronegative than H (2.20).
    pool = [_wrap("pth2", _pth2())]
    survivors, report = run_screens(pool, [ChargeBalanceScreen()])
    assert survivors == []
    assert report.removed["pth2"].code == "electronegativity ordering"
    lenient = ChargeBalanceScreen(ChargeScreenConfig(check_electronegativity=False))
    assert run_screens(pool, [lenient])[0] == pool


def _pth2():  # type: ignore[no-untyped-def]
    from pymatgen.core import Lattice, Structure

    return Structure(Lattice.cubic(4.0), ["Pt", "H", "H"], [[0, 0, 0], [0.25] * 3, [0.75] * 3])


def test_sustainability_matches_pymatgen_hhi_and_filters() -> None:
    from pymatgen.analysis.hhi import HHIModel

    s = sustainability({"Sr": 1, "Ti": 1, "O": 3})
    hhi_p, hhi_r = HHIModel().get_hhi("SrTiO3")
    assert s.hhi_production == pytest.approx(hhi_p)
    assert s.hhi_reserve == pytest.approx(hhi_r)
    assert s.scarcest_element == "Sr"
    assert s.abundance_min_ppm == pytest.approx(370)
    expected = ((1 - hhi_p / 1e4) + (1 - hhi_r / 1e4) + (np.log10(370) + 3) / 8) / 3
    assert s.score == pytest.approx(expected)
    assert sustainability({"Te": 1, "Zn": 1}).score < s.score  # Te is scarce

    pool = [
        _wrap("srtio3", cubic_perovskite(3.9, "Sr", "Ti", "O")),
        _wrap("znte", rocksalt(6.0, "Zn", "Te")),
    ]
    kept, report = run_screens(pool, [SustainabilityScreen()])
    assert len(kept) == 2  # scores only by default
    assert report.scores["znte"]["sustainability"] < report.scores["srtio3"]["sustainability"]
    strict = SustainabilityScreen(SustainabilityConfig(min_abundance_ppm=0.01))
    kept, report = run_screens(pool, [strict])
    assert [c.id for c in kept] == ["srtio3"]
    assert report.removed["znte"].code == "crustal abundance"
    assert "Te" in report.removed["znte"].detail


def test_deduplication_across_generators(tiny_known: KnownMaterials) -> None:
    proto = PrototypeGenerator(
        PrototypeGeneratorConfig(
            prototypes=["perovskite_cubic"], cations=["Ca", "Sr", "Ba", "Ti", "Zr"], anions=["O"]
        )
    ).generate()
    subs = SubstitutionGenerator([("srtio3", srtio3_cubic())]).generate()
    pool = proto + subs
    survivors, report = run_screens(pool, [DeduplicationScreen()])
    dup = report.removed["sub-CaTiO3-from-srtio3"]
    assert dup.code == "duplicate"
    assert "proto-perovskite_cubic-CaTiO3" in dup.detail
    assert report.step("deduplicate").matcher_calls >= 1
    assert len({c.formula_key for c in survivors if c.spacegroup == 221}) == len(
        [c for c in survivors if c.spacegroup == 221]
    )


def test_novelty_flags_known_structure(tiny_known: KnownMaterials) -> None:
    pool = [
        _wrap("my-srtio3", cubic_perovskite(4.01, "Sr", "Ti", "O"), 221),  # other lattice
        _wrap("batio3", cubic_perovskite(4.01, "Ba", "Ti", "O"), 221),
    ]
    survivors, report = run_screens(pool, [NoveltyScreen(tiny_known)])
    assert [c.id for c in survivors] == ["batio3"]
    assert report.removed["my-srtio3"].code == "known material"
    assert report.removed["my-srtio3"].detail == "matches tiny:srtio3"
    assert report.step("novelty").matcher_calls == 1  # BaTiO3 shares no bucket
    assert report.scores["batio3"]["known_polymorphs"] == 0


def test_report_is_json_and_summarises(tiny_known: KnownMaterials, tmp_path) -> None:  # type: ignore[no-untyped-def]
    pool = [
        _wrap("pbtio3", cubic_perovskite(3.97, "Pb", "Ti", "O"), 221),
        _wrap("srtio3b", cubic_perovskite(3.95, "Sr", "Ti", "O"), 221),
        _wrap("catio3", cubic_perovskite(3.85, "Ca", "Ti", "O"), 221),
    ]
    screens = [ElementPolicyScreen(), ChargeBalanceScreen(), SustainabilityScreen(),
               DeduplicationScreen(), NoveltyScreen(tiny_known)]  # fmt: skip
    survivors, report = run_screens(pool, screens)
    assert [c.id for c in survivors] == ["catio3"]
    assert report.survivors == ["catio3"]
    assert report.passed["catio3"] == [s.name for s in screens]
    assert report.passed["srtio3b"] == ["element_policy", "charge", "sustainability", "deduplicate"]
    path = tmp_path / "report.json"
    report.save(path)
    data = json.loads(path.read_text())
    assert data["removed"]["pbtio3"]["code"] == "toxic element"
    assert [s["n_out"] for s in data["steps"]] == [2, 2, 2, 2, 1]
    assert "| novelty | 2 | 1 | 1 |" in report.summary()
    with pytest.raises(CandidateError, match="unique"):
        run_screens(pool + pool[:1], screens)


@pytest.mark.integration
def test_castelli_srtio3_is_not_novel(real_data_dir) -> None:  # type: ignore[no-untyped-def]
    """Row 18806 of the Castelli table is cubic SrTiO3: a generated SrTiO3 must match it."""
    from materials_ai.data import load_dataset

    ds = load_dataset(
        "castelli_perovskites", targets=[], rows=[18806, 5323], data_dir=real_data_dir
    )
    assert [r.formula for r in ds.records] == ["SrTiO3", "BaSnO3"]
    known = KnownMaterials.from_structures(
        ("castelli_perovskites", r.id, r.structure) for r in ds.records
    )
    generated = PrototypeGenerator(
        PrototypeGeneratorConfig(
            prototypes=["perovskite_cubic"], cations=["Sr", "Ba", "Ti", "Sn"], anions=["O"]
        )
    ).generate()
    survivors, report = run_screens(generated, [NoveltyScreen(known)])
    removed = {cid: r.detail for cid, r in report.removed.items()}
    assert removed == {
        "proto-perovskite_cubic-SrTiO3": "matches castelli_perovskites:perov_18806",
        "proto-perovskite_cubic-BaSnO3": "matches castelli_perovskites:perov_5323",
    }
    assert {c.formula for c in survivors} >= {"BaTiO3", "SrSnO3"}
