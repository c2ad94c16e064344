"""Deduplication of relaxed structures among themselves and against known structures."""

from __future__ import annotations

import math

from pymatgen.core import Lattice, Structure
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from materials_ai.candidates import KnownMaterials
from materials_ai.candidates.dedup import RelaxedDedupConfig, deduplicate_structures
from materials_ai.candidates.prototypes import rocksalt
from materials_ai.testing.datasets import gaas_zincblende, srtio3_cubic


def test_primitive_and_conventional_settings_merge() -> None:
    primitive = rocksalt(4.21, "Mg", "O")  # 2-atom fcc primitive cell
    conventional = SpacegroupAnalyzer(primitive).get_conventional_standard_structure()
    assert len(conventional) == 8
    other = gaas_zincblende()
    # The conventional cell has the lower energy: it is kept, the primitive is its duplicate.
    out = deduplicate_structures([primitive, other, conventional], [-5.0, -4.0, -5.1])
    assert out.keep == [1, 2]
    assert out.duplicate_of == {0: 2}
    assert out.reason(0, ["p", "g", "c"]) == "duplicate of c after relaxation"
    assert out.reason(1, ["p", "g", "c"]) == ""


def test_translated_copy_merges_and_distinct_polymorphs_do_not() -> None:
    sto = srtio3_cubic()
    moved = sto.copy()
    moved.translate_sites(list(range(len(moved))), [0.25, 0.1, 0.4])
    tetragonal = Structure(
        Lattice.tetragonal(3.6, 5.0),
        ["Sr", "Ti", "O", "O", "O"],
        [[0, 0, 0], [0.5, 0.5, 0.3], [0.5, 0.5, 0], [0.5, 0, 0.6], [0, 0.5, 0.6]],
    )
    out = deduplicate_structures([sto, moved, tetragonal], [math.nan, -1.0, -2.0])
    # NaN energy counts as highest: the translated copy (finite energy) is kept.
    assert out.duplicate_of == {0: 1}
    assert out.keep == [1, 2]


def test_matches_against_known_structures_and_switches() -> None:
    known = KnownMaterials.from_structures([("tiny", "sto", srtio3_cubic(3.95))])
    relaxed = srtio3_cubic(3.90)  # same structure, other volume (volumes are scaled)
    out = deduplicate_structures([relaxed, gaas_zincblende()], known=known)
    assert out.known_match == {0: "tiny:sto"} and out.keep == [1]
    off = deduplicate_structures(
        [relaxed, relaxed.copy()], config=RelaxedDedupConfig(enabled=False), known=known
    )
    assert off.keep == [0, 1] and not off.duplicate_of and not off.known_match
    no_known = deduplicate_structures(
        [relaxed], config=RelaxedDedupConfig(against_known=False), known=known
    )
    assert no_known.keep == [0]
