"""Structure summaries and symmetrised CIFs for people who make the materials.

A lab reads a candidate as formula, space group, prototype and lattice constants, and
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

#: (anonymous formula, space-group number) -> prototype name.
_PROTOTYPES: dict[tuple[str, int], str] = {
    ("ABC3", 221): "cubic perovskite (ABX3, SrTiO3-type)",
    ("ABC3", 62): "orthorhombic perovskite (ABX3, GdFeO3-type)",
    ("ABC3", 140): "tetragonal perovskite (ABX3, I4/mcm)",
    ("ABC3", 99): "tetragonal perovskite (ABX3, BaTiO3-type)",
    ("ABC3", 167): "rhombohedral perovskite (ABX3, R-3c)",
    ("ABC3", 161): "rhombohedral perovskite (ABX3, R3c)",
    ("AB", 216): "zinc blende (ZnS-type)",
    ("AB", 186): "wurtzite (ZnO-type)",
    ("AB", 225): "rock salt (NaCl-type)",
    ("AB", 221): "caesium chloride (CsCl-type)",
    ("AB2", 225): "fluorite (CaF2-type)",
    ("AB2", 136): "rutile (TiO2-type)",
    ("AB2", 141): "anatase (TiO2-type)",
    ("A", 227): "diamond (C-type)",
    ("A", 225): "face-centred cubic (Cu-type)",
    ("A", 229): "body-centred cubic (W-type)",
    ("A", 194): "hexagonal close-packed (Mg-type)",
    ("A2B3", 206): "bixbyite (Mn2O3-type)",
    ("AB2C4", 227): "spinel (MgAl2O4-type)",
    ("ABC2", 122): "chalcopyrite (CuFeS2-type)",
    ("A2BC4", 82): "kesterite (Cu2ZnSnS4-type)",
    ("ABC", 216): "half-Heusler (MgAgAs-type)",
    ("AB2C", 225): "Heusler (Cu2MnAl-type)",
    ("A2BC6", 225): "double-perovskite-derived K2PtCl6-type",
    ("ABC6D2", 225): "double perovskite (A2BB'X6, Fm-3m)",
}


@dataclass(frozen=True)
class StructureSummary:
    """What a lab needs to recognise a crystal structure.

    Lattice parameters are those of the conventional standard cell (the cell in which
    diffraction data are indexed).

    Attributes:
        formula: Reduced formula (``SrTiO3``).
        anonymous_formula: Stoichiometry pattern (``ABC3``).
        prototype: Best guess of the structure type, or ``"<ABC3>, <symbol>"`` when unknown.
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


def guess_prototype(anonymous_formula: str, spacegroup_number: int, symbol: str) -> str:
    """Name the structure type from stoichiometry and space group (heuristic table)."""
    known = _PROTOTYPES.get((anonymous_formula, spacegroup_number))
    return known if known is not None else f"{anonymous_formula}, {symbol}"


def summarize_structure(structure: Structure) -> StructureSummary:
    """Formula, prototype guess, space group and conventional lattice of ``structure``."""
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

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
        prototype=guess_prototype(anonymous, number, symbol),
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
    from rdkit import Chem
    from rdkit.Chem import rdDepictor

    mol = molecule.to_rdkit()
    rdDepictor.Compute2DCoords(mol)
    return str(Chem.MolToMolBlock(mol))
