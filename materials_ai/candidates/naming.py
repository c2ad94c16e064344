"""Name a crystal's structure type by matching it against prototype structures.

The names come from structure matching, not from a (stoichiometry, space group) table:
a candidate is compared with pymatgen's ``StructureMatcher.fit_anonymous`` (species
identity ignored, volume scaled, primitive cells) against

* the AFLOW library of crystallographic prototypes shipped with pymatgen (288 entries,
  ``pymatgen/analysis/prototypes/aflow_prototypes.json.gz``; Mehl et al., Comput. Mater.
  Sci. 136, S1 (2017)): the data pymatgen's ``AflowPrototypeMatcher`` /
  ``PrototypeDatabaseMatcher`` uses. The file is read directly (0.3 s) rather than through
  ``pymatgen.analysis.prototypes``, whose import decodes every table it holds (~20 s), and
  prototypes are bucketed by anonymised formula so a query is compared only with the few
  of its stoichiometry;
* the generator prototypes AFLOW lacks (:data:`EXTRA_PROTOTYPES`): the rock-salt ordered
  double perovskite ``A2BB'X6`` (Fm-3m) and the ``a0a0c+`` tilted perovskite (P4/mbm).

As in pymatgen's matcher, when several prototypes match, the tolerances shrink (x0.8) until
one is left. When none matches, two derivative tests follow: all anions made one species
(an anion-ordered derivative, e.g. an oxyfluoride ``ABO2F`` cubic perovskite reads as a
perovskite) and each pair of cations made one species (a cation-ordered derivative).
Otherwise the name is ``"<anonymous formula>, <Pearson symbol>, <space group>"``.
"""

from __future__ import annotations

import gzip
import itertools
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Literal

from materials_ai.candidates.config import DEFAULT_ANIONS

if TYPE_CHECKING:
    from pymatgen.analysis.structure_matcher import StructureMatcher
    from pymatgen.core import Structure

__all__ = ["EXTRA_PROTOTYPES", "PrototypeMatch", "PrototypeNamer", "prototype_name"]

logger = logging.getLogger(__name__)

Relation = Literal["exact", "anion-ordered", "cation-ordered", "none"]

#: Prototypes the generators build that the AFLOW library lacks: (name, label).
EXTRA_PROTOTYPES: tuple[tuple[str, str], ...] = (
    ("Double perovskite (rock-salt ordered)", "A2BB'X6, Fm-3m"),
    ("Tilted perovskite (a0a0c+)", "ABX3, P4/mbm"),
)


@dataclass(frozen=True)
class PrototypeMatch:
    """The structure type of a crystal.

    Attributes:
        name: Prototype name (AFLOW's mineral or Strukturbericht name, or ours).
        label: AFLOW prototype label (``AB3C_cP5_221_a_c_b``), or for our own prototypes
            the stoichiometry and space group (``A2BB'X6, Fm-3m``); empty when none matched.
        relation: ``exact``, ``anion-ordered`` / ``cation-ordered`` (a derivative that
            matches once those species are made one), or ``none``.
        source: ``aflow`` (pymatgen's AFLOW library), ``materials_ai`` or ``""``.
        pearson: Pearson symbol of the crystal (``cP5``).
        spacegroup_symbol: Hermann–Mauguin symbol of the crystal (``Pm-3m``).
        anonymous_formula: Stoichiometry pattern (``ABC3``).
    """

    name: str
    label: str
    relation: Relation
    source: str
    pearson: str
    spacegroup_symbol: str
    anonymous_formula: str

    def describe(self) -> str:
        """One line: ``"(Cubic) Perovskite (AB3C_cP5_221_a_c_b)"``, derivatives flagged."""
        if self.relation == "none":
            return f"{self.anonymous_formula}, {self.pearson}, {self.spacegroup_symbol}"
        text = f"{self.name} ({self.label})" if self.label else self.name
        if self.relation != "exact":
            text += f", {self.relation} derivative ({self.spacegroup_symbol})"
        return text


@dataclass(frozen=True)
class _Prototype:
    structure: Structure
    name: str
    label: str
    source: str


def _aflow_entries() -> list[_Prototype]:
    import importlib.util
    from pathlib import Path

    from pymatgen.core import Structure

    spec = importlib.util.find_spec("pymatgen.core")
    if spec is None or spec.origin is None:  # pragma: no cover - pymatgen is a dependency
        return []
    path = Path(spec.origin).parent.parent / "analysis" / "prototypes" / "aflow_prototypes.json.gz"
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        data = json.load(handle)
    out = []
    for entry in data:
        tags = entry.get("tags", {})
        snl = entry["snl"]
        structure = Structure.from_dict({k: v for k, v in snl.items() if k != "about"})
        name = tags.get("mineral") or ""
        if not name or name == "None":
            strukturbericht = tags.get("strukturbericht") or ""
            name = strukturbericht if strukturbericht not in ("", "None") else tags["aflow"]
        out.append(_Prototype(structure, str(name), str(tags.get("aflow", "")), "aflow"))
    return out


def _extra_entries() -> list[_Prototype]:
    from materials_ai.candidates.prototypes import double_perovskite, tilted_perovskite

    double = double_perovskite(8.0, 0.25, "Ba", "Mg", "W", "O")
    tilted = tilted_perovskite(2.0, 10.0, "Sr", "Ti", "O")
    structures = (double, tilted)
    return [
        _Prototype(s, name, label, "materials_ai")
        for s, (name, label) in zip(structures, EXTRA_PROTOTYPES, strict=True)
    ]


def _anonymous(structure: Structure) -> str:
    return str(structure.composition.reduced_composition.anonymized_formula)


class PrototypeNamer:
    """Match structures against the AFLOW library plus :data:`EXTRA_PROTOTYPES`.

    Args:
        ltol: Initial StructureMatcher length tolerance.
        stol: Initial site tolerance.
        angle_tol: Initial angle tolerance (degrees).
        symprec: spglib tolerance (Å) for the space group and Pearson symbol.
    """

    def __init__(
        self, ltol: float = 0.2, stol: float = 0.3, angle_tol: float = 5.0, symprec: float = 0.1
    ) -> None:
        self.ltol, self.stol, self.angle_tol, self.symprec = ltol, stol, angle_tol, symprec
        self._by_formula: dict[str, list[_Prototype]] = {}
        for proto in _extra_entries() + _aflow_entries():
            reduced = self._reduce(proto.structure)
            entry = _Prototype(reduced, proto.name, proto.label, proto.source)
            self._by_formula.setdefault(_anonymous(reduced), []).append(entry)

    @staticmethod
    def _reduce(structure: Structure) -> Structure:
        return structure.get_reduced_structure(reduction_algo="niggli").get_primitive_structure()

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_formula.values())

    def _matches(self, matcher: StructureMatcher, reduced: Structure) -> list[_Prototype]:
        return [
            p
            for p in self._by_formula.get(_anonymous(reduced), [])
            if matcher.fit_anonymous(p.structure, reduced, skip_structure_reduction=True)
        ]

    def _match_exact(self, structure: Structure) -> _Prototype | None:
        from pymatgen.analysis.structure_matcher import StructureMatcher

        reduced = self._reduce(structure)
        if not self._by_formula.get(_anonymous(reduced)):
            return None
        matcher = StructureMatcher(
            ltol=self.ltol, stol=self.stol, angle_tol=self.angle_tol, primitive_cell=True
        )
        found = self._matches(matcher, reduced)
        while len(found) > 1 and matcher.ltol >= 0.01:
            matcher.ltol *= 0.8
            matcher.stol *= 0.8
            matcher.angle_tol *= 0.8
            narrower = self._matches(matcher, reduced)
            if not narrower:
                break
            found = narrower
        # Ours first (listed first), then AFLOW's order: deterministic among survivors.
        return found[0] if found else None

    def match(self, structure: Structure) -> PrototypeMatch:
        """The structure type of ``structure`` (see the module docstring)."""
        pearson, symbol = _symmetry(structure, self.symprec)
        anonymous = _anonymous(structure)
        proto = self._match_exact(structure)
        relation: Relation = "exact"
        if proto is None:
            relation, proto = self._match_derivative(structure)
        if proto is None:
            return PrototypeMatch("", "", "none", "", pearson, symbol, anonymous)
        return PrototypeMatch(
            proto.name, proto.label, relation, proto.source, pearson, symbol, anonymous
        )

    def _match_derivative(self, structure: Structure) -> tuple[Relation, _Prototype | None]:
        elements = [str(el) for el in structure.composition.elements]
        anions = [el for el in elements if el in DEFAULT_ANIONS]
        if len(anions) > 1:
            merged = _merged(structure, anions)
            proto = self._match_exact(merged)
            if proto is not None:
                return "anion-ordered", proto
        cations = [el for el in elements if el not in anions]
        for pair in itertools.combinations(cations, 2):
            proto = self._match_exact(_merged(structure, list(pair)))
            if proto is not None:
                return "cation-ordered", proto
        return "none", None


def _merged(structure: Structure, species: Sequence[str]) -> Structure:
    """A copy with every element of ``species`` replaced by the first of them."""
    merged = structure.copy()
    merged.replace_species({el: species[0] for el in species[1:]})
    return merged


def _symmetry(structure: Structure, symprec: float) -> tuple[str, str]:
    """(Pearson symbol, Hermann–Mauguin symbol); ``("", "P1")`` when spglib fails."""
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    try:
        analyzer = SpacegroupAnalyzer(structure, symprec=symprec)
        symbol = str(analyzer.get_space_group_symbol())
        system = str(analyzer.get_crystal_system())
        centring = symbol[0]
        if centring == "R":  # Pearson counts the rhombohedral (primitive) cell: hR
            n_atoms = len(analyzer.get_primitive_standard_structure())
        else:
            n_atoms = len(analyzer.get_conventional_standard_structure())
    except Exception as error:  # spglib fails on a few odd cells
        logger.debug("symmetry detection failed for %s: %s", structure.formula, error)
        return f"aP{len(structure)}", "P1"
    letter = {
        "triclinic": "a",
        "monoclinic": "m",
        "orthorhombic": "o",
        "tetragonal": "t",
        "trigonal": "h",
        "hexagonal": "h",
        "cubic": "c",
    }[system]
    if centring in ("A", "B"):  # one-face centring is written C (or S) in Pearson symbols
        centring = "C"
    return f"{letter}{centring}{n_atoms}", symbol


@lru_cache(maxsize=1)
def _default_namer() -> PrototypeNamer:
    return PrototypeNamer()


def prototype_name(structure: Structure) -> str:
    """The structure type of ``structure`` as one line (:meth:`PrototypeMatch.describe`)."""
    return _default_namer().match(structure).describe()
