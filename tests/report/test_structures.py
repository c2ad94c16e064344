"""Structure summaries (space group, prototype, conventional lattice) and symmetrised CIFs."""

from __future__ import annotations

import pytest
from pymatgen.core import Lattice, Structure

from materials_ai.report.structures import summarize_structure, symmetrized_cif
from materials_ai.testing.datasets import gaas_zincblende, si_diamond, srtio3_cubic


@pytest.mark.parametrize(
    ("structure", "symbol", "number", "prototype", "a"),
    [
        (srtio3_cubic(), "Pm-3m", 221, "(Cubic) Perovskite (AB3C_cP5_221_a_c_b)", 3.905),
        (si_diamond(), "Fd-3m", 227, "diamond (A_cF8_227_a)", 5.431),
        (gaas_zincblende(), "F-43m", 216, "Zincblende, Sphalerite (AB_cF8_216_c_a)", 5.653),
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


def test_prototypes_are_matched_by_structure_not_by_space_group() -> None:
    # A tetragonally strained SrTiO3 is P4/mmm but still a perovskite (structure matching).
    strained = Structure(
        Lattice.tetragonal(3.9, 4.2),
        ["Sr", "Ti", "O", "O", "O"],
        [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]],
    )
    s = summarize_structure(strained)
    assert s.spacegroup_symbol == "P4/mmm" and s.crystal_system == "tetragonal"
    assert s.prototype == "(Cubic) Perovskite (AB3C_cP5_221_a_c_b)"
    assert (s.a_angstrom, s.c_angstrom) == pytest.approx((3.9, 4.2))
    # An oxyfluoride perovskite (ABO2F, P4/mmm) is an anion-ordered perovskite, not "ABCD2".
    oxyfluoride = strained.copy()
    oxyfluoride.replace_species({"Sr": "K", "Ti": "Nb"})
    oxyfluoride.replace(4, "F")
    assert "Perovskite" in summarize_structure(oxyfluoride).prototype
    assert "anion-ordered" in summarize_structure(oxyfluoride).prototype
    # No prototype: stoichiometry, Pearson symbol and space group.
    odd = Structure(Lattice.orthorhombic(3.0, 7.0, 9.0), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.1, 0.3]])
    assert summarize_structure(odd).prototype == "AB, mP2, Pm"


def test_symmetrized_cif_writes_the_space_group() -> None:
    text = symmetrized_cif(gaas_zincblende())
    assert "_symmetry_space_group_name_H-M   F-43m" in text
    assert "_symmetry_Int_Tables_number   216" in text
    back = Structure.from_str(text, fmt="cif")
    assert back.composition.reduced_formula == "GaAs"
    assert back.lattice.a == pytest.approx(5.653)
