"""Data-mined ion substitution."""

from __future__ import annotations

import pytest

from materials_ai.candidates import ExclusionSet, SubstitutionGenerator, SubstitutionGeneratorConfig
from materials_ai.candidates.known import parse_formula_key
from materials_ai.candidates.prototypes import zincblende
from materials_ai.testing.datasets import gaas_zincblende, srtio3_cubic


@pytest.fixture(scope="module")
def parents():  # type: ignore[no-untyped-def]
    """Cubic SrTiO3, zinc-blende ZnS, and GaAs (As3- is not in the substitution table)."""
    return [
        ("srtio3", srtio3_cubic()),
        ("zns", zincblende(5.41, "Zn", "S")),
        ("gaas", gaas_zincblende()),
    ]


def test_substitutions_are_balanced_unique_reproducible(parents) -> None:  # type: ignore[no-untyped-def]
    config = SubstitutionGeneratorConfig(max_per_parent=40)
    out = SubstitutionGenerator(parents, config).generate(seed=0)
    again = SubstitutionGenerator(parents, config).generate(seed=0)
    assert [c.id for c in out] == [c.id for c in again]
    assert {c.parent_id for c in out} == {"srtio3", "zns"}
    for c in out:
        amounts = parse_formula_key(c.formula_key)
        assert sum(q * amounts[s] for s, q in c.oxidation_states) == 0
        assert c.score >= config.threshold
        assert c.structure.composition.reduced_formula == c.formula
    assert len({c.id for c in out}) == len(out)
    assert len({(c.formula_key, c.spacegroup, len(c.structure)) for c in out}) == len(out)
    # the parents themselves are never proposed
    assert not {"SrTiO3", "ZnS"} & {c.formula for c in out}
    # perovskite children keep the parent's space group
    assert {c.spacegroup for c in out if c.parent_id == "srtio3"} == {221}
    assert {c.spacegroup for c in out if c.parent_id == "zns"} == {216}


def test_probabilities_match_pymatgen(parents) -> None:  # type: ignore[no-untyped-def]
    from pymatgen.analysis.structure_prediction.substitution_probability import (
        SubstitutionProbability,
    )
    from pymatgen.core import Species

    out = SubstitutionGenerator(parents).generate()
    reference = SubstitutionProbability()
    parent_ions = {"srtio3": {"Sr": 2, "Ti": 4, "O": -2}, "zns": {"Zn": 2, "S": -2}}
    for c in out[:: max(1, len(out) // 15)]:
        ions = parent_ions[c.parent_id]
        parent = [Species(s, q) for s, q in sorted(ions.items())]
        target = [Species(s, q) for s, q in c.oxidation_states]
        assert c.score == pytest.approx(reference.cond_prob_list(parent, target), rel=1e-9)
    # sorted by probability within each parent
    srtio3 = [c.score for c in out if c.parent_id == "srtio3"]
    assert srtio3 == sorted(srtio3, reverse=True)


def test_threshold_cap_and_exclusion(parents) -> None:  # type: ignore[no-untyped-def]
    strict = SubstitutionGenerator(parents, SubstitutionGeneratorConfig(threshold=0.01)).generate()
    loose = SubstitutionGenerator(parents, SubstitutionGeneratorConfig(threshold=1e-3)).generate()
    assert 0 < len(strict) < len(loose)
    assert all(c.score >= 0.01 for c in strict)
    exclude = ExclusionSet.of(formulas=["BaTiO3", "CaTiO3"])
    out = SubstitutionGenerator(parents).generate(exclude=exclude)
    assert not {"BaTiO3", "CaTiO3"} & {c.formula for c in out}
    assert "CaTiO3" in {c.formula for c in loose}


def test_volume_follows_ionic_radii(parents) -> None:  # type: ignore[no-untyped-def]
    out = {c.formula: c for c in SubstitutionGenerator(parents).generate()}
    # Ba2+ is larger than Sr2+, Ca2+ smaller: the cell follows.
    a_sr = srtio3_cubic().lattice.a
    assert out["BaTiO3"].structure.lattice.a > a_sr > out["CaTiO3"].structure.lattice.a


def test_parent_limits_and_seeded_parent_sample(parents) -> None:  # type: ignore[no-untyped-def]
    config = SubstitutionGeneratorConfig.model_validate({"parents": {"max_sites": 2}})
    out = SubstitutionGenerator(parents, config).generate()
    assert {c.parent_id for c in out} == {"zns"}
    one = SubstitutionGeneratorConfig.model_validate({"parents": {"max_parents": 1}})
    picks = {
        seed: {c.parent_id for c in SubstitutionGenerator(parents, one).generate(seed=seed)}
        for seed in range(20)
    }
    assert all(len(p) <= 1 for p in picks.values())  # GaAs (no As3- in the table) gives none
    assert len({frozenset(p) for p in picks.values() if p}) == 2
