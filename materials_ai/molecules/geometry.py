"""3D geometries for molecular oracles: RDKit ETKDG embedding + MMFF94 relaxation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from materials_ai.errors import OracleError

if TYPE_CHECKING:
    from materials_ai.data.records import Molecule

#: Bohr radius in Å (CODATA 2018).
BOHR_ANGSTROM = 0.529177210903
#: Hartree in eV (CODATA 2018).
HARTREE_EV = 27.211386245988


@dataclass(frozen=True)
class Geometry:
    """A molecule's atoms and Cartesian coordinates.

    Attributes:
        numbers: `n` atomic numbers (hydrogens explicit).
        positions_angstrom: `n x 3` coordinates (Å).
        charge: Net charge (sum of formal charges).
        n_unpaired: Unpaired electrons (0 for a closed shell, 1 for a radical).
        force_field: ``MMFF94``, ``UFF`` or ``none`` (embedding only).
    """

    numbers: np.ndarray
    positions_angstrom: np.ndarray
    charge: int
    n_unpaired: int
    force_field: str

    @property
    def symbols(self) -> list[str]:
        """Element symbols."""
        from rdkit import Chem

        table = Chem.GetPeriodicTable()
        return [table.GetElementSymbol(int(z)) for z in self.numbers]

    def to_xyz(self, comment: str = "") -> str:
        """XYZ text (Å)."""
        lines = [str(len(self.numbers)), comment.replace("\n", " ")]
        for symbol, (x, y, z) in zip(self.symbols, self.positions_angstrom, strict=True):
            lines.append(f"{symbol:2s} {x:14.8f} {y:14.8f} {z:14.8f}")
        return "\n".join(lines) + "\n"


def embed(molecule: Molecule, *, seed: int = 0, max_iters: int = 2000) -> Geometry:
    """ETKDG (v3) conformer with explicit hydrogens, relaxed with MMFF94 (UFF fallback).

    Deterministic for a given ``seed``.

    Raises:
        OracleError: If RDKit cannot embed the molecule.
    """
    from rdkit import Chem
    from rdkit.Chem import rdDistGeom, rdForceFieldHelpers

    mol = molecule.to_rdkit(add_hydrogens=True)
    params = rdDistGeom.ETKDGv3()
    params.randomSeed = int(seed)  # type: ignore[assignment]  # wrong in RDKit's stubs
    if rdDistGeom.EmbedMolecule(mol, params) != 0:
        params.useRandomCoords = True  # type: ignore[assignment]
        if rdDistGeom.EmbedMolecule(mol, params) != 0:
            raise OracleError(f"RDKit could not embed {molecule.smiles!r} in 3D (ETKDG)")
    force_field = "none"
    if rdForceFieldHelpers.MMFFHasAllMoleculeParams(mol):
        rdForceFieldHelpers.MMFFOptimizeMolecule(mol, maxIters=max_iters)
        force_field = "MMFF94"
    elif rdForceFieldHelpers.UFFHasAllMoleculeParams(mol):
        rdForceFieldHelpers.UFFOptimizeMolecule(mol, maxIters=max_iters)
        force_field = "UFF"
    radicals = sum(a.GetNumRadicalElectrons() for a in mol.GetAtoms())
    return Geometry(
        numbers=np.array([a.GetAtomicNum() for a in mol.GetAtoms()], dtype=np.int64),
        positions_angstrom=np.array(mol.GetConformer().GetPositions(), dtype=np.float64),
        charge=int(Chem.GetFormalCharge(mol)),
        n_unpaired=int(radicals),
        force_field=force_field,
    )
