"""Structure-type names from prototype matching (AFLOW library + generator prototypes)."""

from __future__ import annotations

from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from materials_ai.candidates.naming import prototype_name
from materials_ai.candidates.prototypes import double_perovskite, tilted_perovskite
from materials_ai.testing.datasets import srtio3_cubic


def test_cubic_perovskite() -> None:
    assert prototype_name(srtio3_cubic()) == "(Cubic) Perovskite (AB3C_cP5_221_a_c_b)"
    # A strained, relabelled cell is still a perovskite: matching is by structure.
    other = srtio3_cubic(4.1)
    other.replace_species({"Sr": "Ba", "Ti": "Zr"})
    assert prototype_name(other) == "(Cubic) Perovskite (AB3C_cP5_221_a_c_b)"


def test_double_perovskite_in_both_settings() -> None:
    primitive = double_perovskite(7.9, 0.25, "Ba", "Mg", "W", "O")
    conventional = SpacegroupAnalyzer(primitive).get_conventional_standard_structure()
    expected = "Double perovskite (rock-salt ordered) (A2BB'X6, Fm-3m)"
    assert prototype_name(primitive) == expected
    assert prototype_name(conventional) == expected


def test_derivatives_and_tilted_perovskites() -> None:
    oxyfluoride = srtio3_cubic()
    oxyfluoride.replace_species({"Sr": "K", "Ti": "Nb"})
    oxyfluoride.replace(4, "F")  # KNbO2F, P4/mmm: was "ABCD2, P4/mmm"
    name = prototype_name(oxyfluoride)
    assert name == "(Cubic) Perovskite (AB3C_cP5_221_a_c_b), anion-ordered derivative (P4/mmm)"
    tilted = tilted_perovskite(2.0, 12.0, "Ca", "Ti", "O")
    assert prototype_name(tilted) == "Tilted perovskite (a0a0c+) (ABX3, P4/mbm)"
