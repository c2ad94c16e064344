"""What every generator produces and promises.

A generator returns :class:`GeneratedCandidate` objects: a plain
:class:`~materials_ai.data.records.Candidate` (id + structure, no label) plus what the
generator knows for free about it (prototype, space group by construction, oxidation
states, parent). Screens use that knowledge to stay cheap: the space group of a generated
structure never has to be recomputed, and the charge screen can check the generator's
assignment.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from materials_ai.candidates.chemistry import formula_key
from materials_ai.data.records import Candidate

if TYPE_CHECKING:
    from pymatgen.core import Structure

__all__ = [
    "CandidateGenerator",
    "ExclusionSet",
    "GeneratedCandidate",
    "PrehashKey",
    "candidate_id",
    "structure_formula_key",
]

#: Fast pre-hash of a structure: (reduced-composition key, space-group number or None).
PrehashKey = tuple[str, int | None]

_UNSAFE = re.compile(r"[^A-Za-z0-9_.+-]+")


def candidate_id(*parts: str) -> str:
    """Join ``parts`` into a stable, filesystem-safe id (``proto-SrTiO3-perovskite_cubic``)."""
    return "-".join(_UNSAFE.sub("_", p) for p in parts if p)


def structure_formula_key(structure: Structure) -> str:
    """Return :func:`~materials_ai.candidates.chemistry.formula_key` of a structure."""
    counts: dict[str, float] = {}
    for site in structure:
        symbol = site.specie.symbol
        counts[symbol] = counts.get(symbol, 0.0) + 1.0
    return formula_key(counts)


@dataclass(frozen=True, slots=True)
class GeneratedCandidate:
    """A candidate with what its generator knows about it.

    Attributes:
        candidate: The unlabelled candidate (``source`` is the generator's name).
        prototype: Structure family: a prototype name (``perovskite_cubic``) or, for a
            substitution, ``substitution`` with the parent in ``parent_id``.
        spacegroup: International space-group number, known by construction (the
            prototype's, or the parent's for a substitution); None when unknown.
        oxidation_states: (element, oxidation state) per element, charge-neutral.
        formula_key: Canonical reduced-composition key (:func:`formula_key`).
        parent_id: Id of the known structure a substitution started from, else ``""``.
        score: The generator's own plausibility (substitution: joint conditional
            probability; prototypes: ``-|t - 1|`` with ``t`` the tolerance factor,
            or 0 where none applies). Higher is more plausible.
        descriptors: Extra numbers from the generator (``tolerance_factor``,
            ``octahedral_factor``, ``lattice_a_angstrom``, ...).
    """

    candidate: Candidate
    prototype: str
    spacegroup: int | None
    oxidation_states: tuple[tuple[str, int], ...]
    formula_key: str
    parent_id: str = ""
    score: float = 0.0
    descriptors: Mapping[str, float] = field(default_factory=dict)

    @property
    def id(self) -> str:
        """The candidate's id."""
        return self.candidate.id

    @property
    def structure(self) -> Structure:
        """The candidate's structure (unrelaxed; lattice estimated by the generator)."""
        return self.candidate.crystal

    @property
    def formula(self) -> str:
        """Reduced formula (``SrTiO3``)."""
        return self.candidate.formula

    @property
    def prehash(self) -> PrehashKey:
        """Key under which structure matching is tried (composition, space group)."""
        return (self.formula_key, self.spacegroup)

    @classmethod
    def from_candidate(
        cls, candidate: Candidate, spacegroup: int | None = None
    ) -> GeneratedCandidate:
        """Wrap a plain candidate (e.g. from a dataset) with what can be read off it."""
        return cls(
            candidate=candidate,
            prototype="external",
            spacegroup=spacegroup,
            oxidation_states=(),
            formula_key=structure_formula_key(candidate.crystal),
        )


@dataclass(frozen=True)
class ExclusionSet:
    """Compositions and structures a generator must not propose.

    Attributes:
        formulas: Reduced-composition keys excluded in every structure.
        prehashes: (composition key, space group) pairs excluded: the composition is
            excluded only in that space group.
    """

    formulas: frozenset[str] = frozenset()
    prehashes: frozenset[PrehashKey] = frozenset()

    @classmethod
    def of(
        cls,
        formulas: Iterable[str | Mapping[str, float]] = (),
        prehashes: Iterable[tuple[str | Mapping[str, float], int | None]] = (),
    ) -> ExclusionSet:
        """Build from formulas (``"SrTiO3"``, or element -> amount) and (formula, space group).

        Raises:
            ValueError: If a formula does not parse.
        """
        return cls(
            formulas=frozenset(_key(f) for f in formulas),
            prehashes=frozenset((_key(f), sg) for f, sg in prehashes),
        )

    def excludes(self, key: str, spacegroup: int | None) -> bool:
        """Whether a candidate with this composition key and space group is excluded."""
        return key in self.formulas or (key, spacegroup) in self.prehashes

    def union(self, other: ExclusionSet) -> ExclusionSet:
        """Return the union of two exclusion sets."""
        return ExclusionSet(self.formulas | other.formulas, self.prehashes | other.prehashes)

    def __len__(self) -> int:
        return len(self.formulas) + len(self.prehashes)


def _key(formula: str | Mapping[str, float]) -> str:
    if isinstance(formula, str):
        from pymatgen.core import Composition

        amounts = Composition(formula).get_el_amt_dict()
        return formula_key(amounts)
    return formula_key(formula)


@runtime_checkable
class CandidateGenerator(Protocol):
    """Proposes structures that are in no dataset.

    A generator is deterministic given its configuration and ``seed``; it returns no
    candidate whose composition or (composition, space group) is in ``exclude``, no two
    candidates with the same :attr:`GeneratedCandidate.prehash` and the same number of
    sites, and only charge-balanced candidates (by construction).
    """

    name: str

    def generate(
        self, *, seed: int = 0, exclude: ExclusionSet | None = None
    ) -> list[GeneratedCandidate]:
        """Return the generated candidates, in a reproducible order."""
        ...


def deduplicate_generated(
    candidates: Sequence[GeneratedCandidate],
) -> list[GeneratedCandidate]:
    """Keep the highest-``score`` candidate per (prehash, number of sites), in input order.

    Ties keep the earlier candidate, so the result is deterministic.
    """
    best: dict[tuple[str, int | None, int], int] = {}
    for i, c in enumerate(candidates):
        key = (c.formula_key, c.spacegroup, len(c.structure))
        j = best.get(key)
        if j is None or c.score > candidates[j].score:
            best[key] = i
    keep = sorted(best.values())
    return [candidates[i] for i in keep]


def split_exclusions(
    exclude: ExclusionSet | None,
) -> tuple[Collection[str], Collection[PrehashKey]]:
    """Return (formulas, prehashes) of ``exclude`` (empty when None)."""
    if exclude is None:
        return frozenset(), frozenset()
    return exclude.formulas, exclude.prehashes
