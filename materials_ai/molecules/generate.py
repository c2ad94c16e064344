"""Propose new molecules by editing seed molecules.

:class:`MoleculeEditGenerator` applies random edits to seed molecules and keeps every
result that RDKit accepts, is new in the run, and respects size and element limits:

========================  ==================================================================
operator                  edit
========================  ==================================================================
``selfies_replace``       replace one SELFIES token (Krenn et al. 2020) by another of the
                          organic alphabet; any SELFIES string decodes to a valid molecule
``selfies_insert``        insert a token
``selfies_delete``        delete a token
``atom_swap``             change one heavy atom's element (C, N, O, S) where the valence allows
``fragment_attach``       replace an H by a fragment (methyl, hydroxy, amino, cyano, ...)
``bond_order``            raise or lower one bond's order where valences allow
========================  ==================================================================

The generator reports, per run, the share of *edit attempts* that gave a sanitisable
molecule (validity), of valid results that were distinct (uniqueness) and of distinct
results absent from the reference sets, e.g. QM9 and CEP (novelty): see
:class:`GenerationStats`. Candidates come out as
:class:`~materials_ai.candidates.base.GeneratedCandidate` objects, so the platform's
screens (:class:`~materials_ai.molecules.pfas.PFASScreen`, ``run_screens``) apply to them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from materials_ai.data.records import Candidate, Molecule

if TYPE_CHECKING:
    from rdkit import Chem

    from materials_ai.candidates.base import GeneratedCandidate

__all__ = [
    "OPERATORS",
    "GenerationStats",
    "MoleculeEditGenerator",
    "canonical_key",
    "molecule_id",
]

OPERATORS = (
    "selfies_replace",
    "selfies_insert",
    "selfies_delete",
    "atom_swap",
    "fragment_attach",
    "bond_order",
)

#: SELFIES tokens used by the SELFIES operators: neutral C, N, O, S, F, Cl atoms with their
#: bond orders, and branch / ring tokens (no charges, no B, P, Br, I).
ORGANIC_TOKENS = (
    "[C]", "[=C]", "[#C]", "[N]", "[=N]", "[#N]", "[O]", "[=O]", "[S]", "[=S]", "[F]", "[Cl]",
    "[Branch1]", "[=Branch1]", "[Branch2]", "[Ring1]", "[=Ring1]", "[Ring2]",
)  # fmt: skip

#: Fragments for ``fragment_attach``: SMILES whose first atom bonds to the parent.
FRAGMENTS = (
    "C", "O", "N", "C#N", "C=O", "C(=O)O", "OC", "C(C)C", "c1ccccc1", "c1ccsc1", "F", "Cl",
    "C(=O)N", "N=O", "S",
)  # fmt: skip

_SWAP_ELEMENTS = (6, 7, 8, 16)
#: Neutral valence used by ``atom_swap`` (S as divalent: no hypervalent sulfur is made).
_VALENCE = {6: 4, 7: 3, 8: 2, 16: 2}


def canonical_key(smiles_or_mol: str | Chem.Mol) -> str | None:
    """Canonical SMILES without stereochemistry (the identity used for novelty), or None."""
    from rdkit import Chem

    mol = Chem.MolFromSmiles(smiles_or_mol) if isinstance(smiles_or_mol, str) else smiles_or_mol
    if mol is None:
        return None
    return str(Chem.MolToSmiles(mol, isomericSmiles=False))


def molecule_id(smiles: str, prefix: str = "gen") -> str:
    """Stable id of a generated molecule: ``<prefix>-<sha1(canonical SMILES)[:12]>``."""
    return f"{prefix}-{hashlib.sha1(smiles.encode()).hexdigest()[:12]}"


@dataclass
class GenerationStats:
    """What a generation run did.

    Attributes:
        attempts: Edits tried.
        valid: Attempts whose result RDKit parses and sanitises.
        outside_limits: Valid results rejected by the generator's limits (size, elements,
            charges, several fragments); they count neither as unique nor as novel.
        unique: Valid results within the limits, distinct from each other and the seeds.
        novel: Unique results absent from the reference sets.
        by_operator: Operator -> [attempts, valid].
    """

    attempts: int = 0
    valid: int = 0
    outside_limits: int = 0
    unique: int = 0
    novel: int = 0
    by_operator: dict[str, list[int]] = field(default_factory=dict)

    @property
    def validity(self) -> float:
        """valid / attempts."""
        return self.valid / self.attempts if self.attempts else float("nan")

    @property
    def uniqueness(self) -> float:
        """unique / (valid results within the limits)."""
        within = self.valid - self.outside_limits
        return self.unique / within if within else float("nan")

    @property
    def novelty(self) -> float:
        """novel / unique."""
        return self.novel / self.unique if self.unique else float("nan")

    def to_dict(self) -> dict[str, Any]:
        """JSON form with the three ratios."""
        return {
            "attempts": self.attempts,
            "valid": self.valid,
            "outside_limits": self.outside_limits,
            "unique": self.unique,
            "novel": self.novel,
            "validity": self.validity,
            "uniqueness": self.uniqueness,
            "novelty": self.novelty,
            "by_operator": {k: list(v) for k, v in self.by_operator.items()},
        }


class MoleculeEditGenerator:
    """Random edits of seed molecules (SELFIES token edits and RDKit graph edits).

    Args:
        seeds: Seed molecules (their canonical keys never count as new).
        operators: Operators to draw from, uniformly.
        max_heavy_atoms: Reject results with more heavy atoms.
        min_heavy_atoms: Reject results with fewer heavy atoms.
        allowed_elements: Atomic numbers a result may contain.
        known: Canonical keys (:func:`canonical_key`) of reference molecules; a result among
            them is valid and unique but not novel.
        novel_only: Return only novel molecules.
        explore: Probability that an edit starts from an earlier result instead of a seed
            (edits accumulate; more distinct results).
    """

    name = "molecule_edits"

    def __init__(
        self,
        seeds: Sequence[Molecule],
        *,
        operators: Sequence[str] = OPERATORS,
        max_heavy_atoms: int = 40,
        min_heavy_atoms: int = 2,
        allowed_elements: Iterable[int] = (1, 5, 6, 7, 8, 9, 14, 15, 16, 17, 34, 35),
        known: Iterable[str] = (),
        novel_only: bool = True,
        explore: float = 0.9,
    ) -> None:
        unknown = sorted(set(operators) - set(OPERATORS))
        if unknown:
            raise ValueError(f"unknown operators {unknown}; known: {list(OPERATORS)}")
        if not seeds:
            raise ValueError("a molecule generator needs at least one seed")
        self.seeds = list(seeds)
        self.operators = tuple(operators)
        self.max_heavy_atoms = int(max_heavy_atoms)
        self.min_heavy_atoms = int(min_heavy_atoms)
        self.allowed_elements = frozenset(int(z) for z in allowed_elements)
        self.known = frozenset(known)
        self.novel_only = bool(novel_only)
        self.explore = float(explore)
        self.stats = GenerationStats()

    # -- operators -------------------------------------------------------------------------

    def _selfies_edit(self, smiles: str, op: str, rng: np.random.Generator) -> str | None:
        import selfies as sf

        try:
            tokens = list(sf.split_selfies(sf.encoder(smiles)))
        except Exception:  # selfies cannot encode some charged/aromatic forms
            return None
        if op == "selfies_replace" and tokens:
            tokens[int(rng.integers(len(tokens)))] = str(rng.choice(ORGANIC_TOKENS))
        elif op == "selfies_insert":
            tokens.insert(int(rng.integers(len(tokens) + 1)), str(rng.choice(ORGANIC_TOKENS)))
        elif op == "selfies_delete" and len(tokens) > 1:
            del tokens[int(rng.integers(len(tokens)))]
        else:
            return None
        try:
            return str(sf.decoder("".join(tokens)))
        except Exception:
            return None

    def _graph_edit(self, smiles: str, op: str, rng: np.random.Generator) -> Chem.Mol | None:
        from rdkit import Chem

        mol = Chem.MolFromSmiles(smiles)
        if mol is None:
            return None
        Chem.Kekulize(mol, clearAromaticFlags=True)
        rw = Chem.RWMol(mol)
        if op == "atom_swap":
            # Only swaps the new element's valence allows (bonds already there must fit).
            options = [
                (a.GetIdx(), z)
                for a in rw.GetAtoms()
                if a.GetFormalCharge() == 0
                for z in _SWAP_ELEMENTS
                if z != a.GetAtomicNum()
                and _VALENCE[z] >= round(sum(b.GetBondTypeAsDouble() for b in a.GetBonds()))
            ]
            if not options:
                return None
            index, z = options[int(rng.integers(len(options)))]
            atom = rw.GetAtomWithIdx(index)
            atom.SetAtomicNum(int(z))
            atom.SetNoImplicit(False)
            atom.SetNumExplicitHs(0)
        elif op == "fragment_attach":
            sites = [a.GetIdx() for a in rw.GetAtoms() if a.GetTotalNumHs() > 0]
            if not sites:
                return None
            fragment = Chem.MolFromSmiles(str(rng.choice(FRAGMENTS)))
            Chem.Kekulize(fragment, clearAromaticFlags=True)
            offset = rw.GetNumAtoms()
            combined = Chem.RWMol(Chem.CombineMols(rw, fragment))
            combined.AddBond(int(rng.choice(sites)), offset, Chem.BondType.SINGLE)
            rw = combined
        elif op == "bond_order":
            # Raise a bond whose two atoms both have a hydrogen to give up (max triple), or
            # lower a multiple bond: both keep every valence legal.
            options = []
            for bond in rw.GetBonds():
                order = round(bond.GetBondTypeAsDouble())
                a, b = bond.GetBeginAtom(), bond.GetEndAtom()
                if order < 3 and a.GetTotalNumHs() > 0 and b.GetTotalNumHs() > 0:
                    options.append((bond.GetIdx(), order + 1))
                if order > 1:
                    options.append((bond.GetIdx(), order - 1))
            if not options:
                return None
            index, new = options[int(rng.integers(len(options)))]
            kinds = {1: Chem.BondType.SINGLE, 2: Chem.BondType.DOUBLE, 3: Chem.BondType.TRIPLE}
            bond = rw.GetBondWithIdx(index)
            bond.SetBondType(kinds[new])
            for atom in (bond.GetBeginAtom(), bond.GetEndAtom()):
                atom.SetNoImplicit(False)
                atom.SetNumExplicitHs(0)
        else:
            return None
        try:
            out = rw.GetMol()
            Chem.SanitizeMol(out)
        except Exception:
            return None
        return out

    # -- generation ------------------------------------------------------------------------

    def _check(self, smiles: str | None) -> tuple[Molecule, str] | str | None:
        """An edit's result: (molecule, canonical key); ``"limits"`` if it is a valid
        molecule outside the generator's limits; None if RDKit rejects it."""
        from rdkit import Chem

        if not smiles:
            return None
        mol = Chem.MolFromSmiles(smiles)
        if mol is None or mol.GetNumAtoms() == 0:
            return None
        heavy = mol.GetNumHeavyAtoms()
        if (
            len(Chem.GetMolFrags(mol)) != 1
            or not self.min_heavy_atoms <= heavy <= self.max_heavy_atoms
            or any(a.GetAtomicNum() not in self.allowed_elements for a in mol.GetAtoms())
            or any(a.GetFormalCharge() or a.GetNumRadicalElectrons() for a in mol.GetAtoms())
        ):
            return "limits"
        key = canonical_key(mol)
        return (Molecule(Chem.MolToSmiles(mol)), key) if key else None

    def generate(
        self, n: int, *, seed: int = 0, max_attempts: int | None = None
    ) -> list[GeneratedCandidate]:
        """Return up to ``n`` new molecules (deterministic for a given ``seed``).

        Each attempt draws a parent (a seed, or with probability ``explore`` an earlier
        result, so edits accumulate) and an operator. Statistics accumulate in :attr:`stats`.

        Args:
            n: Molecules wanted.
            seed: Random seed.
            max_attempts: Stop after this many attempts (default ``20 n``).
        """
        from materials_ai.candidates.base import GeneratedCandidate

        rng = np.random.default_rng(seed)
        max_attempts = max_attempts if max_attempts is not None else 20 * n
        seen = {canonical_key(m.smiles) for m in self.seeds}
        parents: list[tuple[Molecule, str]] = [(m, f"seed-{i}") for i, m in enumerate(self.seeds)]
        out: list[GeneratedCandidate] = []
        stats = self.stats
        attempts = 0
        while len(out) < n and attempts < max_attempts:
            attempts += 1
            n_seeds = len(self.seeds)
            from_results = len(parents) > n_seeds and rng.random() < self.explore
            pick = (
                int(rng.integers(n_seeds, len(parents)))
                if from_results
                else int(rng.integers(n_seeds))
            )
            parent, parent_id = parents[pick]
            op = str(rng.choice(self.operators))
            if op.startswith("selfies"):
                result = self._check(self._selfies_edit(parent.smiles, op, rng))
            else:
                mol = self._graph_edit(parent.smiles, op, rng)
                from rdkit import Chem

                result = self._check(Chem.MolToSmiles(mol) if mol is not None else None)
            counts = stats.by_operator.setdefault(op, [0, 0])
            counts[0] += 1
            stats.attempts += 1
            if result is None:
                continue
            counts[1] += 1
            stats.valid += 1
            if isinstance(result, str):
                stats.outside_limits += 1
                continue
            molecule, key = result
            if key in seen:
                continue
            seen.add(key)
            stats.unique += 1
            novel = key not in self.known
            stats.novel += int(novel)
            if self.novel_only and not novel:
                continue
            cid = molecule_id(key)
            parents.append((molecule, cid))
            out.append(
                GeneratedCandidate(
                    candidate=Candidate(cid, molecule, source=self.name),
                    prototype=f"edit:{op}",
                    spacegroup=None,
                    oxidation_states=(),
                    formula_key=molecule.formula,
                    parent_id=parent_id,
                    descriptors={"novel": float(novel)},
                )
            )
        return out
