"""Deduplicate relaxed candidates among themselves and against known structures.

Relaxation moves candidates that started apart onto the same structure (a tilted and a
cubic perovskite of one composition, a substitution and a prototype decoration) and onto
known ones (a "new polymorph" that relaxes into the known ground state). After relaxing,
candidates are therefore matched again with pymatgen's ``StructureMatcher`` (primitive
cells, volumes scaled, the screens' default tolerances):

1. **Among candidates**, grouped by reduced composition first (structures of different
   compositions never match, so most candidates are compared with nobody). Within a
   group, candidates are visited from the lowest energy per atom up; each one is compared
   with the representatives kept so far and becomes a duplicate of the first it matches,
   else a representative. The lowest-energy structure of each match group is kept.
2. **Against known structures** (:class:`~materials_ai.candidates.known.KnownMaterials`,
   the index the novelty screen uses): each representative is compared with every known
   structure of its composition, whatever their space group (relaxation may change it).

Nothing is removed here: the caller decides (the relaxation stage drops duplicates and
known matches).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from materials_ai.candidates.base import structure_formula_key

if TYPE_CHECKING:
    from pymatgen.analysis.structure_matcher import StructureMatcher
    from pymatgen.core import Structure

    from materials_ai.candidates.known import KnownMaterials

__all__ = ["DedupOutcome", "RelaxedDedupConfig", "deduplicate_structures"]


class RelaxedDedupConfig(BaseModel):
    """Structure matching after relaxation.

    Attributes:
        enabled: Match at all.
        against_known: Also match every representative against the known structures.
        ltol: StructureMatcher fractional length tolerance.
        stol: StructureMatcher site tolerance (fraction of the average free length).
        angle_tol: StructureMatcher angle tolerance (degrees).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    against_known: bool = True
    ltol: float = Field(0.2, gt=0.0)
    stol: float = Field(0.3, gt=0.0)
    angle_tol: float = Field(5.0, gt=0.0)

    def matcher(self) -> StructureMatcher:
        """A ``StructureMatcher`` with these tolerances (primitive cells, scaled volumes)."""
        from pymatgen.analysis.structure_matcher import StructureMatcher

        return StructureMatcher(
            ltol=self.ltol,
            stol=self.stol,
            angle_tol=self.angle_tol,
            primitive_cell=True,
            scale=True,
            attempt_supercell=False,
        )


@dataclass
class DedupOutcome:
    """What matching found, by input index.

    Attributes:
        keep: Indices of the representatives that match no known structure, input order.
        duplicate_of: Index -> index of the representative it matches.
        known_match: Representative index -> ``dataset:id`` of the known structure.
        matcher_calls: ``StructureMatcher.fit`` calls made.
    """

    keep: list[int] = field(default_factory=list)
    duplicate_of: dict[int, int] = field(default_factory=dict)
    known_match: dict[int, str] = field(default_factory=dict)
    matcher_calls: int = 0

    def reason(self, index: int, ids: Sequence[str]) -> str:
        """Why ``index`` was not kept (empty when it was)."""
        if index in self.duplicate_of:
            return f"duplicate of {ids[self.duplicate_of[index]]} after relaxation"
        if index in self.known_match:
            return f"relaxes into known {self.known_match[index]}"
        return ""


def deduplicate_structures(
    structures: Sequence[Structure],
    energies_per_atom: Sequence[float] | None = None,
    config: RelaxedDedupConfig | None = None,
    *,
    known: KnownMaterials | None = None,
) -> DedupOutcome:
    """Find duplicates among `n` structures and matches with known structures.

    Args:
        structures: `n` (relaxed) structures.
        energies_per_atom: `n` energies (eV/atom) choosing which duplicate is kept (the
            lowest; NaN counts as highest; ties keep input order). None: input order.
        config: Tolerances and switches (default :class:`RelaxedDedupConfig`).
        known: Known structures to match representatives against (None: skip).

    Returns:
        The representatives kept and why the others were not.
    """
    config = config or RelaxedDedupConfig()
    n = len(structures)
    outcome = DedupOutcome()
    if not config.enabled:
        outcome.keep = list(range(n))
        return outcome
    if energies_per_atom is not None and len(energies_per_atom) != n:
        raise ValueError(f"{len(energies_per_atom)} energies for {n} structures")
    energy = [
        math.inf
        if energies_per_atom is None or not math.isfinite(float(energies_per_atom[i]))
        else float(energies_per_atom[i])
        for i in range(n)
    ]
    keys = [structure_formula_key(s) for s in structures]
    groups: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        groups.setdefault(key, []).append(i)
    matcher = config.matcher()
    representatives: list[int] = []
    for members in groups.values():
        kept: list[int] = []
        for i in sorted(members, key=lambda j: (energy[j] if energies_per_atom else 0.0, j)):
            match = None
            for r in kept:
                outcome.matcher_calls += 1
                if matcher.fit(structures[i], structures[r]):
                    match = r
                    break
            if match is None:
                kept.append(i)
            else:
                outcome.duplicate_of[i] = match
        representatives.extend(kept)
    if known is not None and config.against_known:
        for i in representatives:
            entry, calls = known.find_match(
                structures[i], keys[i], None, matcher, use_spacegroup=False
            )
            outcome.matcher_calls += calls
            if entry is not None:
                outcome.known_match[i] = entry.label
    outcome.keep = sorted(i for i in representatives if i not in outcome.known_match)
    return outcome
