"""Structure summaries and symmetrised CIFs for people who make the materials.

A lab reads a candidate as formula, space group, structure type and lattice constants, and
loads its CIF into the diffractometer software; this module produces both from a pymatgen
``Structure``. Symmetry is detected with spglib through pymatgen's
``SpacegroupAnalyzer`` at ``symprec = 0.1`` Å (the tolerance of the ranked list's CIFs).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pymatgen.core import Structure

    from materials_ai.data.records import Molecule

logger = logging.getLogger(__name__)

#: Symmetry tolerance in Å.
SYMPREC = 0.1


@dataclass(frozen=True)
class StructureSummary:
    """What a lab needs to recognise a crystal structure.

    Lattice parameters are those of the conventional standard cell (the cell in which
    diffraction data are indexed).

    Attributes:
        formula: Reduced formula (``SrTiO3``).
        anonymous_formula: Stoichiometry pattern (``ABC3``).
        prototype: Structure type matched against prototype structures
            (:func:`materials_ai.candidates.naming.prototype_name`: pymatgen's AFLOW
            library plus the generators' double and tilted perovskites, derivatives
            flagged), or ``"<ABC3>, <Pearson>, <symbol>"`` when none matches.
        spacegroup_symbol: Hermann–Mauguin symbol (``Pm-3m``); ``P1`` if detection failed.
        spacegroup_number: International Tables number (1–230).
        crystal_system: ``cubic``, ``tetragonal`` …
        a_angstrom, b_angstrom, c_angstrom: Conventional lattice lengths (Å).
        alpha_deg, beta_deg, gamma_deg: Conventional lattice angles (degrees).
        volume_per_atom_angstrom3: Volume per atom (Å³).
        n_sites: Sites in the cell as given.
    """

    formula: str
    anonymous_formula: str
    prototype: str
    spacegroup_symbol: str
    spacegroup_number: int
    crystal_system: str
    a_angstrom: float
    b_angstrom: float
    c_angstrom: float
    alpha_deg: float
    beta_deg: float
    gamma_deg: float
    volume_per_atom_angstrom3: float
    n_sites: int

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-serialisable)."""
        return asdict(self)


def _anonymous(structure: Structure) -> str:
    """Stoichiometry pattern with the most abundant element last, e.g. ``ABC3``.

    pymatgen's ``anonymized_formula`` orders by amount; this keeps that order so that
    perovskites read ``ABC3`` and spinels ``AB2C4``.
    """
    return str(structure.composition.reduced_composition.anonymized_formula)


def summarize_structure(structure: Structure) -> StructureSummary:
    """Formula, structure type, space group and conventional lattice of ``structure``."""
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    from materials_ai.candidates.naming import prototype_name

    anonymous = _anonymous(structure)
    try:
        analyzer = SpacegroupAnalyzer(structure, symprec=SYMPREC)
        symbol = str(analyzer.get_space_group_symbol())
        number = int(analyzer.get_space_group_number())
        system = str(analyzer.get_crystal_system())
        lattice = analyzer.get_conventional_standard_structure().lattice
    except Exception as error:  # spglib can fail on odd cells; report P1 then
        logger.warning("symmetry detection failed for %s: %s", structure.formula, error)
        symbol, number, system = "P1", 1, "triclinic"
        lattice = structure.lattice
    return StructureSummary(
        formula=str(structure.composition.reduced_formula),
        anonymous_formula=anonymous,
        prototype=prototype_name(structure),
        spacegroup_symbol=symbol,
        spacegroup_number=number,
        crystal_system=system,
        a_angstrom=float(lattice.a),
        b_angstrom=float(lattice.b),
        c_angstrom=float(lattice.c),
        alpha_deg=float(lattice.alpha),
        beta_deg=float(lattice.beta),
        gamma_deg=float(lattice.gamma),
        volume_per_atom_angstrom3=float(structure.volume / len(structure)),
        n_sites=len(structure),
    )


def symmetrized_cif(structure: Structure) -> str:
    """CIF text of ``structure`` in its symmetrised setting, space group written.

    Falls back to a P1 CIF when symmetry detection fails.
    """
    from pymatgen.io.cif import CifWriter

    try:
        writer = CifWriter(structure, symprec=SYMPREC)
    except Exception:  # symmetry detection can fail on odd cells; write P1 then
        writer = CifWriter(structure)
    return str(writer)


def molfile(molecule: Molecule) -> str:
    """MDL molfile text of ``molecule`` with 2D coordinates (RDKit depiction)."""
    from materials_ai.extras import requires_extra

    with requires_extra("Molecule depictions (RDKit)"):
        from rdkit import Chem
        from rdkit.Chem import rdDepictor

    mol = molecule.to_rdkit()
    rdDepictor.Compute2DCoords(mol)
    return str(Chem.MolToMolBlock(mol))
