"""Typed records that flow through the loop.

* :class:`Candidate` is what the campaign may see of a material before it is measured:
  an id and a structure, never a label.
* :class:`Observation` is what an oracle returns: measured values with their fidelity
  and provenance.
* :class:`MaterialRecord` is one labelled row of a dataset (used for training and by the
  replay oracle, which hides its labels until they are asked for).
* :class:`Molecule` is the molecular counterpart of a pymatgen ``Structure``: a
  candidate's ``structure`` is either a crystal (``Structure``) or a ``Molecule``, and every
  stage of the loop dispatches on that kind (:func:`structure_kind`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from pymatgen.core import Composition, Structure
    from rdkit import Chem


@dataclass(frozen=True, slots=True)
class Molecule:
    """A molecule, held as its canonical SMILES.

    The record is the molecular counterpart of a pymatgen ``Structure`` in
    :class:`Candidate` and :class:`MaterialRecord`. It stores only the canonical SMILES
    (hashable, JSON- and pickle-cheap, the identity used for deduplication and novelty);
    :meth:`to_rdkit` builds an RDKit ``Mol`` on demand. A fresh ``Mol`` per call keeps
    the frozen record free of shared mutable state (RDKit molecules are mutable) and costs
    about 20 µs for a QM9-sized molecule. A pymatgen ``Molecule`` was not used: it needs
    3D coordinates, which SMILES tables do not have, and it drops bond orders and
    aromaticity, which the molecular graphs and the PFAS screen need.

    Build one with :meth:`from_smiles` (validates and canonicalises). Heavy imports
    (RDKit, pymatgen) happen inside the methods.

    Attributes:
        smiles: Canonical (RDKit) SMILES, hydrogens implicit.
    """

    smiles: str

    @classmethod
    def from_smiles(cls, smiles: str) -> Molecule:
        """Parse, sanitise and canonicalise ``smiles``.

        Raises:
            DataError: If ``smiles`` is empty or RDKit cannot parse or sanitise it.
        """
        from materials_ai.errors import DataError

        if not isinstance(smiles, str) or not smiles.strip():
            raise DataError("empty SMILES")
        from materials_ai.extras import requires_extra

        with requires_extra("SMILES input (RDKit)"):
            from rdkit import Chem, rdBase

        rdBase.DisableLog("rdApp.*")
        mol = Chem.MolFromSmiles(smiles.strip())
        if mol is None:
            raise DataError(f"invalid SMILES {smiles.strip()[:80]!r} (RDKit cannot parse it)")
        if mol.GetNumAtoms() == 0:
            raise DataError(f"SMILES {smiles.strip()[:80]!r} has no atoms")
        return cls(Chem.MolToSmiles(mol))

    def to_rdkit(self, *, add_hydrogens: bool = False) -> Chem.Mol:
        """Return a new sanitised RDKit ``Mol`` (explicit hydrogens if asked)."""
        from materials_ai.extras import requires_extra

        with requires_extra("Molecules (RDKit)"):
            from rdkit import Chem

        mol = Chem.MolFromSmiles(self.smiles)
        if mol is None:
            from materials_ai.errors import DataError

            raise DataError(f"invalid SMILES {self.smiles[:80]!r}")
        return Chem.AddHs(mol) if add_hydrogens else mol

    @property
    def formula(self) -> str:
        """Molecular formula in Hill order, hydrogens included (``C6H6``)."""
        from materials_ai.extras import requires_extra

        with requires_extra("Molecular formulas (RDKit)"):
            from rdkit.Chem.rdMolDescriptors import CalcMolFormula

        return str(CalcMolFormula(self.to_rdkit()))

    @property
    def composition(self) -> Composition:
        """pymatgen ``Composition`` of the whole molecule (hydrogens included).

        Lets code written for crystals (chemical systems, element policies) read a
        molecule's elements the same way.
        """
        from collections import Counter

        from pymatgen.core import Composition

        counts = Counter(a.GetSymbol() for a in self.to_rdkit(add_hydrogens=True).GetAtoms())
        return Composition(dict(counts))

    def __len__(self) -> int:
        """Number of atoms, hydrogens included."""
        return int(self.to_rdkit(add_hydrogens=True).GetNumAtoms())

    def as_dict(self) -> dict[str, str]:
        """JSON form, tagged like pymatgen's ``as_dict`` (see :func:`structure_from_dict`)."""
        return {"@module": type(self).__module__, "@class": "Molecule", "smiles": self.smiles}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Molecule:
        """Inverse of :meth:`as_dict`."""
        return cls(str(data["smiles"]))


def structure_kind(structure: object) -> str:
    """Return ``"molecule"`` for a :class:`Molecule`, ``"crystal"`` otherwise."""
    return "molecule" if isinstance(structure, Molecule) else "crystal"


def as_crystal(structure: Structure | Molecule, owner: str) -> Structure:
    """Return ``structure`` as a crystal, or raise :class:`DataError` naming ``owner``.

    For code paths that only make sense for crystals (prototype generation, structure
    matching against known materials).
    """
    if isinstance(structure, Molecule):
        from materials_ai.errors import DataError

        raise DataError(f"{owner} is a molecule ({structure.smiles}); a crystal is needed here")
    return structure


def structure_from_dict(data: Mapping[str, Any]) -> Structure | Molecule:
    """Rebuild a crystal (pymatgen ``Structure.as_dict()``) or a :meth:`Molecule.as_dict`."""
    if data.get("@class") == "Molecule" and "smiles" in data:
        return Molecule.from_dict(data)
    from pymatgen.core import Structure

    return Structure.from_dict(dict(data))


@dataclass(frozen=True, slots=True)
class TargetSpec:
    """A learnable property of a material.

    Attributes:
        name: Name used throughout the platform (e.g. ``band_gap``).
        column: Column of the source table that holds it.
        unit: Unit of the values (e.g. ``eV``, ``eV/atom``).
        description: One line on what it is and at which level of theory.
    """

    name: str
    column: str
    unit: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class Candidate:
    """A material the campaign may propose, without any label.

    Attributes:
        id: Stable identifier (e.g. ``mp-1234``, ``perov_17`` or a QM9 index).
        structure: The crystal structure, or a :class:`Molecule`.
        source: Where the candidate came from (dataset name or generator name).
    """

    id: str
    structure: Structure | Molecule
    source: str = ""

    @property
    def kind(self) -> str:
        """``"crystal"`` or ``"molecule"``."""
        return structure_kind(self.structure)

    @property
    def formula(self) -> str:
        """Reduced formula of a crystal (``SrSnO3``); molecular formula of a molecule."""
        return _formula(self.structure)

    @property
    def crystal(self) -> Structure:
        """The structure, which must be a crystal (:class:`DataError` for a molecule)."""
        return as_crystal(self.structure, f"candidate {self.id}")


@dataclass(frozen=True, slots=True)
class MaterialRecord:
    """One labelled row of a dataset.

    Attributes:
        id: Stable identifier taken from the dataset's id column.
        structure: The crystal structure (or :class:`Molecule`) parsed from the table.
        targets: Target name -> value, in the unit of the dataset card's target.
        row: 0-based row index in the source file (for error messages).
    """

    id: str
    structure: Structure | Molecule
    targets: Mapping[str, float]
    row: int = -1

    @property
    def formula(self) -> str:
        """Reduced formula of a crystal; molecular formula of a molecule."""
        return _formula(self.structure)

    def as_candidate(self, source: str = "") -> Candidate:
        """Return the unlabelled view of this record."""
        return Candidate(id=self.id, structure=self.structure, source=source)


@dataclass(frozen=True, slots=True)
class SkippedRow:
    """A row a loader could not use, and why.

    Attributes:
        row: 0-based row index in the source file.
        id: Identifier of the row, if it could be read.
        field: The column that made the row unusable.
        reason: Human-readable cause.
    """

    row: int
    id: str
    field: str
    reason: str

    def __str__(self) -> str:
        return f"row {self.row} (id {self.id!r}), field {self.field!r}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Observation:
    """A measured (or looked-up, or computed) result for one candidate.

    Attributes:
        candidate_id: Id of the candidate that was validated.
        values: Target name -> value in the target's unit. Empty when ``ok`` is false.
        fidelity: Which kind of oracle produced it (``replay``, ``ml_potential``,
            ``dft``, ``experiment``).
        provenance: Code, version and settings that produced the values.
        ok: False when the validation failed (then ``reason`` says why).
        reason: Cause of a failure; empty on success.
    """

    candidate_id: str
    values: Mapping[str, float]
    fidelity: str = "replay"
    provenance: Mapping[str, Any] = field(default_factory=dict)
    ok: bool = True
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict."""
        return {
            "candidate_id": self.candidate_id,
            "values": {k: float(v) for k, v in self.values.items()},
            "fidelity": self.fidelity,
            "provenance": dict(self.provenance),
            "ok": self.ok,
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Observation:
        """Inverse of :meth:`to_dict`."""
        return cls(
            candidate_id=str(data["candidate_id"]),
            values={k: float(v) for k, v in data.get("values", {}).items()},
            fidelity=str(data.get("fidelity", "replay")),
            provenance=dict(data.get("provenance", {})),
            ok=bool(data.get("ok", True)),
            reason=str(data.get("reason", "")),
        )


@dataclass(slots=True)
class MaterialsDataset:
    """Labelled records of one dataset, with the rows that could not be used.

    Attributes:
        name: Dataset name (as on its card).
        targets: The target specs the records carry, in order.
        records: Usable rows.
        skipped: Rows dropped with their reason (unparsable structure, missing label).
    """

    name: str
    targets: tuple[TargetSpec, ...]
    records: list[MaterialRecord]
    skipped: list[SkippedRow] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.records)

    @property
    def target_names(self) -> tuple[str, ...]:
        """Names of the targets, in column order of :meth:`target_matrix`."""
        return tuple(t.name for t in self.targets)

    @property
    def ids(self) -> list[str]:
        """Ids of the usable records, in order."""
        return [r.id for r in self.records]

    def target_matrix(self, names: Sequence[str] | None = None) -> np.ndarray:
        """Return the labels as an ``n x t`` float64 array (``t`` = number of targets)."""
        names = tuple(names) if names is not None else self.target_names
        return np.array(
            [[r.targets[name] for name in names] for r in self.records], dtype=np.float64
        ).reshape(len(self.records), len(names))

    def subset(self, indices: Sequence[int]) -> MaterialsDataset:
        """Return a dataset holding ``records[i]`` for ``i`` in ``indices`` (no copies)."""
        return MaterialsDataset(
            name=self.name,
            targets=self.targets,
            records=[self.records[i] for i in indices],
            skipped=list(self.skipped),
        )


def _formula(structure: Structure | Molecule) -> str:
    if isinstance(structure, Molecule):
        return structure.formula
    return str(structure.composition.reduced_formula)


def is_finite_number(value: Any) -> bool:
    """Return True if ``value`` converts to a finite float."""
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False
