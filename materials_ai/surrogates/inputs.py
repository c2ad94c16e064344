"""What a surrogate's ``predict`` accepts: candidates, pymatgen and ASE objects, files.

Every surrogate kind calls :func:`model_inputs` at the top of ``predict`` and
:func:`labelled` at the end, so that all kinds take the same inputs::

    surrogate.predict(structure)                        # a pymatgen Structure
    surrogate.predict([atoms_a, atoms_b])               # ASE Atoms (periodic: crystals)
    surrogate.predict(["my.cif", Path("POSCAR")])       # CIF, POSCAR/CONTCAR, extxyz files
    surrogate.predict(pymatgen_molecule)                # a molecule, for molecular models
    surrogate.predict([r.as_candidate() for r in ds.records])

An input the model cannot take (a molecule for a crystal model, an element outside its
embedding, a dummy species such as ``Xx``) is a :class:`~materials_ai.errors.SurrogateError`
naming the input and the reason; the ``predict`` command uses the same checks to skip such
files one by one (:mod:`materials_ai.surrogates.files`).
"""

from __future__ import annotations

import dataclasses
import os
import sys
import warnings
from collections.abc import Collection, Iterable, Sequence
from fnmatch import fnmatch
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from materials_ai.data.records import Candidate, Molecule, structure_kind
from materials_ai.errors import DataError, SurrogateError

if TYPE_CHECKING:
    from pymatgen.core import Structure

    from materials_ai.surrogates.prediction import Prediction

__all__ = [
    "as_candidates",
    "element_symbols",
    "elements_of",
    "input_problem",
    "labelled",
    "model_inputs",
    "read_structure_file",
    "training_elements_of",
    "unseen_elements",
]

#: File names read as VASP structures (pymatgen's own patterns, lower case).
POSCAR_PATTERNS = ("*poscar*", "*contcar*", "*.vasp")
#: File endings read as molecules with RDKit.
MOLFILE_SUFFIXES = (".mol", ".sdf")


# -- reading files ------------------------------------------------------------------------


def _check_poscar(path: Path, text: str) -> None:
    """Species and counts lines that disagree, or too few coordinate lines, are errors
    (pymatgen silently truncates the species list or fails with an IndexError)."""
    lines = [line.split() for line in text.splitlines()]
    if len(lines) < 7 or not lines[5]:
        return
    species = lines[5]
    if _is_number(species[0]):  # VASP 4: no species line; counts on line 6
        return
    counts = lines[6]
    if not counts or not all(c.isdigit() for c in counts):
        raise DataError(f"{path}: line 7 of a POSCAR must give the atom counts, got {counts}")
    if len(species) != len(counts):
        raise DataError(
            f"{path}: the POSCAR lists {len(species)} species ({' '.join(species)}) but "
            f"{len(counts)} atom counts ({' '.join(counts)})"
        )
    selective = len(lines) > 7 and bool(lines[7]) and lines[7][0][0].lower() == "s"
    start = 9 if selective else 8
    n_atoms = sum(int(c) for c in counts)
    given = sum(1 for line in lines[start : start + n_atoms] if len(line) >= 3)
    if given < n_atoms:
        raise DataError(
            f"{path}: the POSCAR counts {n_atoms} atoms but has {given} coordinate lines"
        )


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _from_atoms(atoms: Any, label: str) -> Structure | Molecule:
    """An ASE ``Atoms``: periodic -> crystal; not periodic in any direction -> molecule."""
    if not bool(np.any(atoms.pbc)):
        symbols = atoms.get_chemical_symbols()
        charge = round(float(np.sum(atoms.get_initial_charges())))
        return _molecule_from_xyz(symbols, atoms.get_positions(), charge, label)
    from pymatgen.io.ase import AseAtomsAdaptor

    return AseAtomsAdaptor.get_structure(atoms)  # type: ignore[arg-type]


def _molecule_from_xyz(
    symbols: Sequence[str], positions: np.ndarray, charge: int, label: str
) -> Molecule:
    """A :class:`Molecule` (SMILES) from 3D coordinates (Å), bonds perceived by RDKit."""
    from materials_ai.extras import requires_extra

    with requires_extra("Molecules from 3D coordinates (RDKit)"):
        from rdkit import Chem, rdBase
        from rdkit.Chem import rdDetermineBonds

    rdBase.DisableLog("rdApp.*")
    block = f"{len(symbols)}\n\n" + "".join(
        f"{s} {x:.6f} {y:.6f} {z:.6f}\n" for s, (x, y, z) in zip(symbols, positions, strict=True)
    )
    mol = Chem.MolFromXYZBlock(block)
    if mol is None:
        raise DataError(f"{label}: RDKit cannot read the atoms {sorted(set(symbols))}")
    try:
        rdDetermineBonds.DetermineBonds(mol, charge=charge)
    except (ValueError, RuntimeError) as error:
        raise DataError(f"{label}: bonds cannot be perceived from the geometry ({error})") from None
    return Molecule.from_smiles(Chem.MolToSmiles(Chem.RemoveHs(mol)))


def _read_molfile(path: Path) -> Molecule:
    from materials_ai.extras import requires_extra

    with requires_extra("Molecule files (RDKit)"):
        from rdkit import Chem, rdBase

    rdBase.DisableLog("rdApp.*")
    if path.suffix.lower() == ".sdf":
        mol = next(iter(Chem.SDMolSupplier(str(path))), None)
    else:
        mol = Chem.MolFromMolFile(str(path))
    if mol is None:
        raise DataError(f"{path}: RDKit cannot read a molecule from it")
    return Molecule.from_smiles(Chem.MolToSmiles(mol))


def read_structure_file(path: str | Path) -> Structure | Molecule:
    """Read one structure: CIF, POSCAR/CONTCAR/``*.vasp``, extended XYZ (first frame; a
    frame without periodic boundaries is a molecule) or a molfile/SDF (a molecule).

    Raises:
        DataError: One line naming the file: missing, unreadable, or no structure in it
            (e.g. a POSCAR whose species and counts disagree).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: {'a folder' if path.is_dir() else 'no such file'}")
    name = path.name.lower()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if name.endswith((".xyz", ".extxyz")):
                from ase.io import read

                atoms = read(str(path), index=0, format="extxyz")  # index=0: one frame
                return _from_atoms(atoms, str(path))
            if name.endswith(MOLFILE_SUFFIXES):
                return _read_molfile(path)
            if any(fnmatch(name, pattern) for pattern in POSCAR_PATTERNS):
                _check_poscar(path, path.read_text(encoding="utf-8", errors="replace"))
            from pymatgen.core import Structure

            return Structure.from_file(str(path))
    except DataError:
        raise
    except Exception as error:  # any reader's failure: one line naming the file
        reason = " ".join(str(error).split())[:200] or "no structure found"
        raise DataError(
            f"{path}: cannot read a structure ({type(error).__name__}: {reason})"
        ) from None


# -- converting inputs -------------------------------------------------------------------


def _pymatgen_kind(item: object) -> str | None:
    """``crystal``/``molecule`` for a pymatgen structure or molecule, else None (no import:
    an object of a module not imported yet cannot be one)."""
    module = sys.modules.get("pymatgen.core.structure")
    if module is None:
        return None
    if isinstance(item, module.IStructure):
        return "crystal"
    if isinstance(item, module.IMolecule):
        return "molecule"
    return None


def _is_atoms(item: object) -> bool:
    module = sys.modules.get("ase.atoms")
    return module is not None and isinstance(item, module.Atoms)


def _is_single(item: object) -> bool:
    return (
        isinstance(item, Candidate | Molecule | str | os.PathLike)
        or _pymatgen_kind(item) is not None
        or _is_atoms(item)
    )


def _candidate(item: object, index: int) -> Candidate:
    if isinstance(item, Candidate):
        return item
    if isinstance(item, str | os.PathLike):
        return Candidate(id=str(item), structure=read_structure_file(Path(item)))
    label = f"input {index}"
    if isinstance(item, Molecule):
        structure: Structure | Molecule = item
    elif _pymatgen_kind(item) == "crystal":
        structure = item  # type: ignore[assignment]
    elif _pymatgen_kind(item) == "molecule":
        structure = _molecule_from_xyz(
            [site.specie.symbol for site in item],  # type: ignore[attr-defined]
            item.cart_coords,  # type: ignore[attr-defined]
            int(item.charge),  # type: ignore[attr-defined]
            label,
        )
    elif _is_atoms(item):
        structure = _from_atoms(item, label)
    else:
        raise SurrogateError(
            f"{label} is a {type(item).__name__}; predict takes candidates, pymatgen "
            "Structure/Molecule, ASE Atoms or structure file paths"
        )
    formula = (
        structure.formula
        if isinstance(structure, Molecule)
        else structure.composition.reduced_formula
    )
    return Candidate(id=f"{index}:{formula}", structure=structure)


def as_candidates(items: Any) -> list[Candidate]:
    """Candidates from one input or a sequence of inputs.

    Args:
        items: A :class:`Candidate`, pymatgen ``Structure``/``Molecule``, ASE ``Atoms``,
            :class:`Molecule`, or a path (``str``/``Path``) to a structure file; or an
            iterable of these (e.g. an ASE trajectory). Ids: candidates keep theirs, files
            get their path, objects ``"<index>:<formula>"``.

    Raises:
        SurrogateError: An input of another type.
        DataError: A file that cannot be read, a molecule whose bonds cannot be perceived.
    """
    if _is_single(items):
        return [_candidate(items, 0)]
    if not isinstance(items, Iterable):
        raise SurrogateError(f"cannot predict a {type(items).__name__}")
    return [_candidate(item, i) for i, item in enumerate(items)]


# -- what a model can take ---------------------------------------------------------------


def elements_of(structure: Structure | Molecule) -> set[str]:
    """Element symbols of a crystal, or of a molecule's heavy atoms (its graph's atoms);
    dummy species are left out (see :func:`input_problem`)."""
    if isinstance(structure, Molecule):
        return {atom.GetSymbol() for atom in structure.to_rdkit().GetAtoms()}
    out = set()
    for species in structure.composition.elements:
        element = getattr(species, "element", species)
        if type(element).__name__ == "Element":
            out.add(str(element.symbol))
    return out


def element_symbols(atomic_numbers: np.ndarray) -> tuple[str, ...]:
    """Sorted symbols of the distinct atomic numbers (1-118) in an array."""
    from pymatgen.core import Element

    distinct = np.unique(np.asarray(atomic_numbers, dtype=np.int64))
    return tuple(sorted(Element.from_Z(int(z)).symbol for z in distinct if 1 <= z <= 118))


def training_elements_of(structures: Iterable[Structure | Molecule]) -> tuple[str, ...]:
    """Sorted symbols of every element in ``structures`` (a training set)."""
    found: set[str] = set()
    for structure in structures:
        found |= elements_of(structure)
    return tuple(sorted(found))


def unseen_elements(structure: Structure | Molecule, training: Collection[str]) -> list[str]:
    """Elements of ``structure`` that no training structure had, sorted."""
    return sorted(elements_of(structure) - set(training))


def input_problem(candidate: Candidate, *, kind: str, max_z: int | None) -> str | None:
    """Why a model cannot take ``candidate``, or None.

    Args:
        candidate: The input.
        kind: What the model reads: ``crystal`` or ``molecule``.
        max_z: Largest atomic number the model embeds (None: no limit).
    """
    given = structure_kind(candidate.structure)
    if given != kind:
        return f"the model predicts {kind}s, this is a {given}"
    if isinstance(candidate.structure, Molecule):
        return None
    for species in candidate.structure.composition.elements:
        element = getattr(species, "element", species)
        if type(element).__name__ != "Element":
            return f"{species} is a dummy species, not an element"
        z = int(element.Z)
        if max_z is not None and z > max_z:
            return (
                f"element {element.symbol} (Z = {z}) is not supported by the model "
                f"(atomic numbers 1-{max_z})"
            )
    return None


def model_inputs(surrogate: object, items: Any) -> list[Candidate]:
    """What ``surrogate.predict`` received, as candidates the model can take.

    The model's needs are read from ``surrogate.input_kind`` (default ``crystal``) and
    ``surrogate.max_atomic_number`` (default: no limit).

    Raises:
        SurrogateError: Naming every input the model cannot take, and why.
    """
    candidates = as_candidates(items)
    kind = str(getattr(surrogate, "input_kind", "crystal"))
    max_z = getattr(surrogate, "max_atomic_number", None)
    problems = [
        f"{c.id}: {reason}"
        for c in candidates
        if (reason := input_problem(c, kind=kind, max_z=max_z)) is not None
    ]
    if problems:
        raise SurrogateError("cannot predict " + "; ".join(problems))
    return candidates


def labelled(
    surrogate: object, prediction: Prediction, candidates: Sequence[Candidate]
) -> Prediction:
    """``prediction`` with the candidates' ids and the surrogate's target units."""
    units = tuple(str(u) for u in getattr(surrogate, "target_units", None) or ())
    return dataclasses.replace(
        prediction,
        ids=tuple(c.id for c in candidates),
        target_units=units if len(units) == len(prediction.target_names) else (),
    )
