"""RDKit molecule -> 2D molecular graph (atoms as nodes, bonds as edges).

The graph is the heavy-atom graph of the molecule (hydrogens are implicit and counted
per atom), packed like a crystal graph (:class:`~materials_ai.graphs.packed.PackedGraphs`):

* ``z``: atomic numbers, `n`;
* ``edge_index``: `2 x 2b` for `b` bonds, each bond once in each direction;
* ``edge_dist``: the topological length of each edge (1.0: one bond); a 2D graph has
  no geometry;
* ``node_features``: `n x` :data:`N_ATOM_FEATURES` one-hot / scalar atom features;
* ``edge_attr``: `2b x` :data:`N_BOND_FEATURES` bond features.

The feature set is fixed and versioned (:data:`FEATURE_VERSION`, part of the graph cache
key), in the spirit of the OGB/Chemprop atom and bond features.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from materials_ai.errors import GraphConstructionError
from materials_ai.graphs.packed import PackedGraphs

if TYPE_CHECKING:
    from rdkit import Chem

    from materials_ai.data.records import Molecule
    from materials_ai.graphs.config import GraphConfig

__all__ = [
    "ATOM_FEATURE_NAMES",
    "BOND_FEATURE_NAMES",
    "FEATURE_VERSION",
    "N_ATOM_FEATURES",
    "N_BOND_FEATURES",
    "build_molecule_chunk",
    "molecule_graphs",
    "molecule_to_arrays",
]

#: Bump when a feature is added, removed or computed differently.
FEATURE_VERSION = 1

#: Elements with their own one-hot column; anything else sets ``element_other``.
ELEMENTS = ("H", "B", "C", "N", "O", "F", "Si", "P", "S", "Cl", "Se", "Br", "I")
_DEGREES = (0, 1, 2, 3, 4, 5)
_CHARGES = (-1, 0, 1)
_HYDROGENS = (0, 1, 2, 3, 4)
_HYBRIDISATIONS = ("SP", "SP2", "SP3", "SP3D", "SP3D2")
_RING_SIZES = (3, 4, 5, 6, 7, 8)

ATOM_FEATURE_NAMES: tuple[str, ...] = (
    *(f"element_{e}" for e in ELEMENTS),
    "element_other",
    *(f"degree_{d}" for d in _DEGREES),
    *(f"charge_{c:+d}" for c in _CHARGES),
    "charge_other",
    *(f"hydrogens_{h}" for h in _HYDROGENS),
    *(f"hybridisation_{h.lower()}" for h in _HYBRIDISATIONS),
    "hybridisation_other",
    "aromatic",
    "in_ring",
    *(f"in_ring_of_{r}" for r in _RING_SIZES),
    "radical_electrons",
    "chiral_center",
    "mass_over_100",
)
BOND_FEATURE_NAMES: tuple[str, ...] = (
    "single",
    "double",
    "triple",
    "aromatic",
    "conjugated",
    "in_ring",
    "stereo_none",
    "stereo_z_or_cis",
    "stereo_e_or_trans",
)
N_ATOM_FEATURES = len(ATOM_FEATURE_NAMES)
N_BOND_FEATURES = len(BOND_FEATURE_NAMES)


def _one_hot(value: Any, choices: Sequence[Any], other: bool) -> list[float]:
    out = [float(value == c) for c in choices]
    if other:
        out.append(float(value not in choices))
    return out


def _atom_features(atom: Chem.Atom, ring_info: Chem.RingInfo) -> list[float]:
    idx = atom.GetIdx()
    hyb = str(atom.GetHybridization())
    return [
        *_one_hot(atom.GetSymbol(), ELEMENTS, True),
        *_one_hot(min(atom.GetDegree(), 5), _DEGREES, False),
        *_one_hot(atom.GetFormalCharge(), _CHARGES, True),
        *_one_hot(min(atom.GetTotalNumHs(), 4), _HYDROGENS, False),
        *_one_hot(hyb, _HYBRIDISATIONS, True),
        float(atom.GetIsAromatic()),
        float(atom.IsInRing()),
        *(float(ring_info.IsAtomInRingOfSize(idx, r)) for r in _RING_SIZES),
        float(atom.GetNumRadicalElectrons()),
        float(atom.HasProp("_CIPCode")),
        atom.GetMass() / 100.0,
    ]


def _bond_features(bond: Chem.Bond) -> list[float]:
    kind = str(bond.GetBondType())
    stereo = str(bond.GetStereo())
    return [
        float(kind == "SINGLE"),
        float(kind == "DOUBLE"),
        float(kind == "TRIPLE"),
        float(kind == "AROMATIC"),
        float(bond.GetIsConjugated()),
        float(bond.IsInRing()),
        float(stereo == "STEREONONE"),
        float(stereo in ("STEREOZ", "STEREOCIS")),
        float(stereo in ("STEREOE", "STEREOTRANS")),
    ]


def molecule_to_arrays(
    molecule: Molecule | Chem.Mol, molecule_id: str = ""
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Featurise one molecule.

    Args:
        molecule: A :class:`~materials_ai.data.records.Molecule` or an RDKit ``Mol``
            (explicit hydrogens are kept as atoms when the ``Mol`` has them).
        molecule_id: Used in error messages only.

    Returns:
        ``(z, edge_index, edge_dist, atom_features, bond_features)``: `n` int64, `2 x e`
        int64 (local indices, both directions of every bond), `e` float32 (1.0),
        `n x` :data:`N_ATOM_FEATURES` float32 and `e x` :data:`N_BOND_FEATURES` float32.

    Raises:
        GraphConstructionError: If the SMILES does not parse or has no atoms.
    """
    from rdkit import Chem

    from materials_ai.errors import DataError

    label = f"molecule {molecule_id!r}" if molecule_id else "molecule"
    if isinstance(molecule, Chem.Mol):
        mol = molecule
    else:
        try:
            mol = molecule.to_rdkit()
        except DataError as exc:
            raise GraphConstructionError(f"{label}: {exc}") from exc
    if mol.GetNumAtoms() == 0:
        raise GraphConstructionError(f"{label} has no atoms")
    Chem.AssignStereochemistry(mol, cleanIt=True, force=False)
    ring_info = mol.GetRingInfo()
    z = np.array([a.GetAtomicNum() for a in mol.GetAtoms()], dtype=np.int64)
    atoms = np.array([_atom_features(a, ring_info) for a in mol.GetAtoms()], dtype=np.float32)
    sources: list[int] = []
    targets: list[int] = []
    bonds: list[list[float]] = []
    for bond in mol.GetBonds():
        i, j = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
        features = _bond_features(bond)
        sources += [i, j]
        targets += [j, i]
        bonds += [features, features]
    edge_index = np.array([sources, targets], dtype=np.int64).reshape(2, -1)
    bond_array = np.array(bonds, dtype=np.float32).reshape(-1, N_BOND_FEATURES)
    edge_dist = np.ones(edge_index.shape[1], dtype=np.float32)
    return z, edge_index, edge_dist, atoms, bond_array


def build_molecule_chunk(
    args: tuple[Sequence[Molecule], Sequence[str], GraphConfig],
) -> PackedGraphs:
    """Featurise one chunk of molecules (the ``molecule`` entry of the graph registry)."""
    molecules, ids, _config = args
    arrays = [molecule_to_arrays(m, i) for m, i in zip(molecules, ids, strict=True)]
    return PackedGraphs.from_arrays(
        [(a[0], a[1], a[2]) for a in arrays],
        ids=list(ids),
        node_features=[a[3] for a in arrays],
        edge_attr=[a[4] for a in arrays],
    )


def molecule_graphs(
    molecules: Sequence[Molecule], ids: Sequence[str] | None = None
) -> PackedGraphs:
    """Graphs of ``molecules`` (ids default to their SMILES)."""
    from materials_ai.graphs.builder import build_graphs

    ids = list(ids) if ids is not None else [m.smiles for m in molecules]
    return build_graphs(list(molecules), ids)
