"""The OECD (2021) structural definition of PFAS, as RDKit substructure logic.

OECD (2021), *Reconciling Terminology of the Universe of Per- and Polyfluoroalkyl
Substances* (Series on Risk Management No. 61): "PFASs are defined as fluorinated
substances that contain at least one fully fluorinated methyl or methylene carbon atom
(without any H/Cl/Br/I atom attached to it), i.e. with a few noted exceptions, any
chemical with at least a perfluorinated methyl group (–CF3) or a perfluorinated methylene
group (–CF2–) is a PFAS."

Read as atoms, a molecule is PFAS when it has a carbon that

* is saturated — methyl and methylene carbons are sp3: four single bonds, so ``=CF2``
  (tetrafluoroethylene, carbonyl fluoride) does not count on its own;
* carries at least two fluorine atoms (``–CF2–``: 2 F; ``–CF3``: 3 F; CF4: 4 F);
* carries no H, Cl, Br or I; the remaining one or two substituents may be anything else
  (C, O, N, S, Si, aromatic rings...), which is why Ar–CF3, –O–CF2–O– and CF3–SO3⁻ count.

As SMARTS: ``[CX4H0;!$(C~[Cl,Br,I])](F)F`` (:data:`PFAS_SMARTS`). The OECD definition has
no exemptions by neighbouring group (the EU restriction proposal of 2023 adds some; they
are not applied here).

The module offers a classifier (:func:`pfas_carbons`, :func:`is_pfas`), a screen that
removes PFAS with the reason (:class:`PFASScreen`, the candidate-screen protocol of
:mod:`materials_ai.candidates.screens`) and an objective (:func:`pfas_desirability`:
``>= 0`` exactly for PFAS-free molecules, in the sign convention of
:class:`~materials_ai.acquisition.objective.DesirabilityObjective`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from materials_ai.data.records import Candidate, Molecule

if TYPE_CHECKING:
    from rdkit import Chem

    from materials_ai.candidates.screens import ScreenOutcome

__all__ = [
    "PFAS_SMARTS",
    "PFASCarbon",
    "PFASScreen",
    "is_pfas",
    "pfas_carbons",
    "pfas_desirability",
    "pfas_reason",
]

#: A saturated carbon with no H and no Cl/Br/I neighbour, bearing at least two F.
PFAS_SMARTS = "[CX4H0;!$(C~[Cl,Br,I])](F)F"


@dataclass(frozen=True, slots=True)
class PFASCarbon:
    """One fully fluorinated methyl/methylene carbon.

    Attributes:
        atom_index: Index of the carbon in the RDKit molecule of the canonical SMILES.
        n_fluorine: Fluorine atoms on it (2: ``–CF2–``, 3: ``–CF3``, 4: CF4).
    """

    atom_index: int
    n_fluorine: int

    @property
    def group(self) -> str:
        """``CF2``, ``CF3`` or ``CF4``."""
        return f"CF{self.n_fluorine}"


@lru_cache(maxsize=1)
def _pattern() -> Chem.Mol:
    from rdkit import Chem

    return Chem.MolFromSmarts(PFAS_SMARTS)


def _as_mol(molecule: Molecule | Chem.Mol | str) -> Chem.Mol:
    from rdkit import Chem

    if isinstance(molecule, Chem.Mol):
        return molecule
    if isinstance(molecule, str):
        molecule = Molecule.from_smiles(molecule)
    return molecule.to_rdkit()


def pfas_carbons(molecule: Molecule | Chem.Mol | str) -> tuple[PFASCarbon, ...]:
    """Return every carbon that makes ``molecule`` a PFAS (empty: not a PFAS).

    Args:
        molecule: A :class:`Molecule`, an RDKit ``Mol`` or a SMILES string.

    Raises:
        DataError: If a SMILES string does not parse.
    """
    mol = _as_mol(molecule)
    found: dict[int, int] = {}
    for match in mol.GetSubstructMatches(_pattern(), uniquify=False):
        carbon = mol.GetAtomWithIdx(match[0])
        # The SMARTS guarantees >= 2 F; count all of them for the group name.
        found[match[0]] = sum(1 for n in carbon.GetNeighbors() if n.GetAtomicNum() == 9)
    return tuple(PFASCarbon(i, n) for i, n in sorted(found.items()))


def is_pfas(molecule: Molecule | Chem.Mol | str) -> bool:
    """Whether ``molecule`` is a PFAS under the OECD (2021) definition."""
    return bool(pfas_carbons(molecule))


def pfas_reason(molecule: Molecule | Chem.Mol | str) -> str:
    """Human-readable reason (``""`` when not a PFAS), e.g. ``2 x CF2, 1 x CF3 (atoms 3, 4, 5)``."""
    carbons = pfas_carbons(molecule)
    if not carbons:
        return ""
    groups: dict[str, int] = {}
    for c in carbons:
        groups[c.group] = groups.get(c.group, 0) + 1
    atoms = ", ".join(str(c.atom_index) for c in carbons[:8])
    more = ", ..." if len(carbons) > 8 else ""
    summary = ", ".join(f"{n} x {g}" for g, n in sorted(groups.items()))
    return f"fully fluorinated carbon(s): {summary} (atoms {atoms}{more})"


def pfas_desirability(molecules: Sequence[Molecule | Chem.Mol | str]) -> np.ndarray:
    """PFAS-freedom as a desirability: ``-(number of PFAS carbons)``, `n` float64.

    ``>= 0`` exactly when the molecule is PFAS-free, like the margins of
    :class:`~materials_ai.acquisition.objective.DesirabilityObjective`; combine with a
    property desirability ``d`` as ``np.minimum(d, pfas_desirability(...))`` to rank PFAS
    last, or use :class:`PFASScreen` to remove them.
    """
    return np.array([-float(len(pfas_carbons(m))) for m in molecules], dtype=np.float64)


def _molecule_of(item: Any) -> Molecule | None:
    candidate = getattr(item, "candidate", item)  # GeneratedCandidate -> Candidate
    structure = candidate.structure if isinstance(candidate, Candidate) else candidate
    return structure if isinstance(structure, Molecule) else None


class PFASScreen:
    """Remove PFAS (OECD 2021) from a pool of molecular candidates, with the reason.

    Implements the screen protocol of :mod:`materials_ai.candidates.screens` (accepts
    ``GeneratedCandidate`` or plain :class:`Candidate` objects). Crystals pass untouched.
    Adds the score column ``pfas_carbons`` (number of fully fluorinated carbons).
    """

    name = "pfas"

    def apply(self, candidates: Sequence[Any]) -> ScreenOutcome:
        """Decide for every candidate (removals by input index, score column)."""
        from materials_ai.candidates.screens import ScreenOutcome

        outcome = ScreenOutcome()
        counts = np.full(len(candidates), np.nan)
        for i, item in enumerate(candidates):
            molecule = _molecule_of(item)
            if molecule is None:
                continue
            carbons = pfas_carbons(molecule)
            counts[i] = len(carbons)
            if carbons:
                outcome.removals[i] = ("PFAS (OECD 2021)", pfas_reason(molecule))
        outcome.scores["pfas_carbons"] = counts
        return outcome

    def split(self, candidates: Sequence[Candidate]) -> tuple[list[Candidate], dict[str, str]]:
        """Return (PFAS-free candidates in input order, removed id -> reason)."""
        outcome = self.apply(candidates)
        kept = [c for i, c in enumerate(candidates) if i not in outcome.removals]
        removed = {candidates[i].id: detail for i, (_, detail) in outcome.removals.items()}
        return kept, removed
