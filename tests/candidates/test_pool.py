"""generate_pool: generators + screens in one call, then the stability screen."""

from __future__ import annotations

import numpy as np
import pytest

from materials_ai.candidates import (
    HullReference,
    KnownMaterials,
    PoolConfig,
    generate_pool,
    screen_stability,
)
from materials_ai.errors import CandidateError

SMALL = {
    "seed": 5,
    "generators": [
        {
            "kind": "prototype",
            "prototypes": ["perovskite_cubic", "zincblende"],
            "cations": ["Sr", "Ba", "Ca", "Ti", "Zr", "Pb", "Zn", "Cd", "Ga"],
            "anions": ["O", "S", "Se"],
        },
        {"kind": "substitution", "parents": {"datasets": ["tiny"], "max_parents": 5},
         "max_per_parent": 20},
    ],
}  # fmt: skip


def test_generate_pool_end_to_end(tiny_known: KnownMaterials) -> None:
    config = PoolConfig.model_validate(SMALL)
    pool = generate_pool(config, known=tiny_known)
    again = generate_pool(config, known=tiny_known)
    assert [c.id for c in pool.candidates] == [c.id for c in again.candidates]
    report = pool.report
    assert set(report.generated) == {"prototype", "substitution1"}
    assert [s.name for s in report.steps] == [
        "element_policy", "charge", "sustainability", "deduplicate", "novelty",
    ]  # fmt: skip
    # counts chain: each screen sees what the previous one passed
    assert report.steps[0].n_in == report.n_generated
    for before, after in zip(report.steps, report.steps[1:], strict=False):
        assert after.n_in == before.n_out
    assert report.steps[-1].n_out == len(pool.candidates)
    # Pb and Cd compositions are gone, with reasons; the known SrTiO3 too
    assert report.step("element_policy").reasons["toxic element"] > 0
    assert report.removed["proto-perovskite_cubic-SrTiO3"].code == "known material"
    formulas = {c.formula for c in pool.candidates}
    assert "SrTiO3" not in formulas and not any("Pb" in f or "Cd" in f for f in formulas)
    assert "BaTiO3" in formulas
    rows = pool.rows()
    assert rows[0]["screens_passed"].endswith("novelty")
    assert 0 <= rows[0]["sustainability"] <= 1


def test_pool_stability_screen(tiny_known: KnownMaterials) -> None:
    pool = generate_pool(PoolConfig.model_validate(SMALL), known=tiny_known)
    hull = HullReference([({"Ba": 1, "O": 1}, -2.8), ({"Ti": 1, "O": 2}, -3.3)])
    n = len(pool.generated)
    screened = screen_stability(
        pool, hull, np.full(n, -3.0), np.full(n, 0.1),
        config=None,
    )  # fmt: skip
    assert screened.report.steps[-1].name == "stability"
    batio3 = next(c for c in screened.generated if c.formula == "BaTiO3")
    scores = screened.report.scores[batio3.id]
    # hull at BaTiO3 (x: BaO + TiO2): (2 * -2.8 + 3 * -3.3) / 5
    assert scores["hull_energy_ev_per_atom"] == pytest.approx((2 * -2.8 + 3 * -3.3) / 5)
    assert scores["e_above_hull_pred_ev_per_atom"] == pytest.approx(
        -3.0 - (2 * -2.8 + 3 * -3.3) / 5
    )
    with pytest.raises(CandidateError, match="one prediction per pool candidate"):
        screen_stability(pool, hull, np.zeros(n + 1), np.zeros(n + 1))


def test_config_errors(tiny_known: KnownMaterials) -> None:
    with pytest.raises(ValueError, match="treshold"):
        PoolConfig.model_validate({"generators": [{"kind": "substitution", "treshold": 0.1}]})
    with pytest.raises(ValueError, match="kind"):
        PoolConfig.model_validate({"generators": [{"kind": "diffusion"}]})
    sub_only = PoolConfig.model_validate(
        {"generators": [{"kind": "substitution"}], "screens": {"novelty": {"enabled": False}}}
    )
    from materials_ai.candidates import build_generators

    with pytest.raises(CandidateError, match="needs known structures"):
        build_generators(sub_only, None)


def test_exclude_known_formulas(tiny_known: KnownMaterials) -> None:
    config = PoolConfig.model_validate({**SMALL, "exclude_known_formulas": True})
    pool = generate_pool(config, known=tiny_known)
    assert "proto-perovskite_cubic-SrTiO3" not in pool.report.passed
    assert pool.report.step("novelty").n_removed == 0
