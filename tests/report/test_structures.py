"""Structure summaries (space group, prototype, conventional lattice) and symmetrised CIFs."""

from __future__ import annotations

import pytest
from pymatgen.core import Lattice, Structure

from materials_ai.report.structures import guess_prototype, summarize_structure, symmetrized_cif
from materials_ai.testing.datasets import gaas_zincblende, si_diamond, srtio3_cubic


@pytest.mark.parametrize(
    ("structure", "symbol", "number", "prototype", "a"),
    [
        (srtio3_cubic(), "Pm-3m", 221, "cubic perovskite (ABX3, SrTiO3-type)", 3.905),
        (si_diamond(), "Fd-3m", 227, "diamond (C-type)", 5.431),
        (gaas_zincblende(), "F-43m", 216, "zinc blende (ZnS-type)", 5.653),
    ],
)
def test_summaries_of_known_structures(
    structure: Structure, symbol: str, number: int, prototype: str, a: float
) -> None:
    s = summarize_structure(structure)
    assert (s.spacegroup_symbol, s.spacegroup_number, s.prototype) == (symbol, number, prototype)
    assert s.crystal_system == "cubic"
    # Conventional cell: the cubic lattice constant, even for the 2-atom primitive cells.
    assert s.a_angstrom == pytest.approx(a) and s.c_angstrom == pytest.approx(a)
    assert (s.alpha_deg, s.beta_deg, s.gamma_deg) == pytest.approx((90.0, 90.0, 90.0))
    assert s.volume_per_atom_angstrom3 == pytest.approx(structure.volume / len(structure))
    assert s.as_dict()["formula"] == structure.composition.reduced_formula


def test_unknown_prototype_names_stoichiometry_and_space_group() -> None:
    assert guess_prototype("A2B5", 12, "C2/m") == "A2B5, C2/m"
    # A tetragonally strained SrTiO3 is P4/mmm, not a listed prototype.
    strained = Structure(
        Lattice.tetragonal(3.9, 4.2),
        ["Sr", "Ti", "O", "O", "O"],
        [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]],
    )
    s = summarize_structure(strained)
    assert s.spacegroup_symbol == "P4/mmm" and s.crystal_system == "tetragonal"
    assert s.prototype == "ABC3, P4/mmm"
    assert (s.a_angstrom, s.c_angstrom) == pytest.approx((3.9, 4.2))


def test_symmetrized_cif_writes_the_space_group() -> None:
    text = symmetrized_cif(gaas_zincblende())
    assert "_symmetry_space_group_name_H-M   F-43m" in text
    assert "_symmetry_Int_Tables_number   216" in text
    back = Structure.from_str(text, fmt="cif")
    assert back.composition.reduced_formula == "GaAs"
    assert back.lattice.a == pytest.approx(5.653)
