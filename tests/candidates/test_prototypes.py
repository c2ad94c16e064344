"""Prototype decoration: geometry, charge balance, de-duplication, reproducibility."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from materials_ai.candidates import ExclusionSet, PrototypeGenerator, PrototypeGeneratorConfig
from materials_ai.candidates.chemistry import balanced_assignments
from materials_ai.candidates.known import parse_formula_key
from materials_ai.candidates.prototypes import (
    SPACEGROUPS,
    cubic_perovskite,
    double_perovskite,
    perovskite_lattice,
    rocksalt,
    tilted_perovskite,
    wurtzite,
    zincblende,
)
from materials_ai.candidates.substitution import spacegroup_number


def _charge(c) -> int:  # type: ignore[no-untyped-def]
    amounts = parse_formula_key(c.formula_key)
    return sum(q * amounts[s] for s, q in c.oxidation_states)


def test_perovskite_lattice_closed_form() -> None:
    a, t, mu = perovskite_lattice(1.44, 0.605, 1.40)  # SrTiO3, Shannon radii
    assert a == pytest.approx((2 * 2.005 + math.sqrt(2) * 2.84) / 2)
    assert t == pytest.approx(2.84 / (math.sqrt(2) * 2.005))
    assert mu == pytest.approx(0.605 / 1.40)
    assert abs(a - 3.905) / 3.905 < 0.05  # within 5 % of the measured 3.905 Å


@pytest.mark.parametrize(
    ("structure", "prototype"),
    [
        (cubic_perovskite(3.9, "Sr", "Ti", "O"), "perovskite_cubic"),
        (tilted_perovskite(1.95, 10.0, "Ca", "Ti", "O"), "perovskite_tilted"),
        (double_perovskite(7.9, 0.25, "Ba", "Fe", "Mo", "O"), "double_perovskite"),
        (zincblende(5.65, "Ga", "As"), "zincblende"),
        (wurtzite(3.25, 5.2, "Zn", "O"), "wurtzite"),
        (rocksalt(4.21, "Mg", "O"), "rocksalt"),
    ],
)
def test_prototype_structures_have_their_space_group(structure, prototype) -> None:  # type: ignore[no-untyped-def]
    assert spacegroup_number(structure, symprec=0.01) == SPACEGROUPS[prototype]


def test_tilted_perovskite_keeps_rigid_octahedra() -> None:
    s = tilted_perovskite(2.0, 12.0, "Ca", "Ti", "O")
    ti = [i for i, site in enumerate(s) if site.specie.symbol == "Ti"]
    for i in ti:
        bonds = sorted(n.nn_distance for n in s.get_neighbors(s[i], 2.5))
        assert len(bonds) == 6
        assert bonds == pytest.approx([2.0] * 6, abs=1e-6)


def test_generator_output_is_balanced_unique_and_reproducible(small_proto_config) -> None:  # type: ignore[no-untyped-def]
    gen = PrototypeGenerator(small_proto_config)
    first = gen.generate(seed=3)
    second = PrototypeGenerator(small_proto_config).generate(seed=3)
    assert len(first) > 100
    assert Counter(c.prototype for c in first).keys() == set(SPACEGROUPS)
    # charge-balanced by construction, and the charge screen's enumeration agrees
    assert all(_charge(c) == 0 for c in first)
    assert all(
        balanced_assignments(parse_formula_key(c.formula_key), check_electronegativity=False)
        for c in first
    )
    # deduplicated: one candidate per composition and prototype, unique ids
    assert len({c.id for c in first}) == len(first)
    assert len({(c.formula_key, c.prototype) for c in first}) == len(first)
    # reproducible: same ids, same lattices, same order
    assert [c.id for c in first] == [c.id for c in second]
    assert all(
        a.structure.lattice.abc == b.structure.lattice.abc
        for a, b in zip(first, second, strict=True)
    )
    # the declared composition matches the structure
    for c in first[::25]:
        assert c.structure.composition.reduced_formula == c.formula
        assert c.candidate.source == "prototype"


def test_tolerance_window_and_tilt(small_proto_config) -> None:  # type: ignore[no-untyped-def]
    cands = PrototypeGenerator(small_proto_config).generate()
    perovskites = [c for c in cands if c.prototype.startswith("perovskite")]
    assert all(0.8 <= c.descriptors["tolerance_factor"] <= 1.1 for c in perovskites)
    tilted = [c for c in cands if c.prototype == "perovskite_tilted"]
    assert tilted and all(c.descriptors["tolerance_factor"] < 0.97 for c in tilted)
    assert all(0 < c.descriptors["tilt_deg"] <= 15.0 for c in tilted)
    srtio3 = next(c for c in cands if c.id == "proto-perovskite_cubic-SrTiO3")
    assert srtio3.structure.lattice.a == pytest.approx(srtio3.descriptors["lattice_a_angstrom"])
    assert dict(srtio3.oxidation_states) == {"Sr": 2, "Ti": 4, "O": -2}


def test_seeded_cap_and_exclusion(small_proto_config) -> None:  # type: ignore[no-untyped-def]
    capped = small_proto_config.model_copy(update={"max_per_prototype": 10})
    a = PrototypeGenerator(capped).generate(seed=1)
    b = PrototypeGenerator(capped).generate(seed=1)
    c = PrototypeGenerator(capped).generate(seed=2)
    assert [x.id for x in a] == [x.id for x in b]
    assert [x.id for x in a] != [x.id for x in c]
    assert Counter(x.prototype for x in a).most_common(1)[0][1] <= 10

    exclude = ExclusionSet.of(formulas=["SrTiO3"], prehashes=[("ZnS", 216)])
    out = PrototypeGenerator(small_proto_config).generate(exclude=exclude)
    assert not any(x.formula == "SrTiO3" for x in out)
    assert not any(x.formula == "ZnS" and x.prototype == "zincblende" for x in out)
    assert any(x.formula == "ZnS" and x.prototype == "wurtzite" for x in out)


def test_config_rejects_unknown_keys_and_bad_elements() -> None:
    with pytest.raises(ValueError, match="tolerance_rnge"):
        PrototypeGeneratorConfig.model_validate({"tolerance_rnge": [0.8, 1.0]})
    with pytest.raises(ValueError, match="not element symbols"):
        PrototypeGeneratorConfig(cations=["Xx"])
    with pytest.raises(ValueError, match="lower bound"):
        PrototypeGeneratorConfig(tolerance_range=(1.1, 0.8))
