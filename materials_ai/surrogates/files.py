"""Predicting structure files with a saved surrogate (the ``predict`` command)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def read_structure_file(path: Path):  # type: ignore[no-untyped-def]
    """Read one structure from CIF, POSCAR/CONTCAR or extended XYZ (first frame)."""

    from pymatgen.core import Structure

    name = path.name.lower()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if name.endswith((".xyz", ".extxyz")):
            from ase.io import read
            from pymatgen.io.ase import AseAtomsAdaptor

            atoms = read(str(path), index=0, format="extxyz")  # index=0: one frame
            return AseAtomsAdaptor.get_structure(atoms)  # type: ignore[arg-type]
        return Structure.from_file(str(path))


def predict_files(model_dir: str | Path, files: Sequence[str | Path]):  # type: ignore[no-untyped-def]
    """Predict structures from files with a saved surrogate of any kind.

    Unreadable files, and structures the surrogate cannot featurize (a graph that cannot
    be built, a pretrained featurizer that fails), are reported and skipped; the rest
    are predicted.

    Returns:
        ``(table, errors)``: a DataFrame with ``file, formula`` and, per target,
        ``<target>_mean``, ``<target>_std`` and the bounds ``<target>_lo90``,
        ``<target>_hi90`` of the recalibrated 90 % interval, then ``domain_distance``
        and ``outside_domain`` when the surrogate scores its applicability domain; and
        a list of ``(file, reason)``.
    """
    import pandas as pd

    from materials_ai.data.records import Candidate
    from materials_ai.graphs.builder import build_graphs
    from materials_ai.surrogates.ensemble import GraphEnsembleSurrogate
    from materials_ai.surrogates.kinds import load_surrogate

    surrogate = load_surrogate(model_dir)
    structures, names, errors = [], [], []
    for f in files:
        path = Path(f)
        try:
            structure = read_structure_file(path)
            if isinstance(surrogate, GraphEnsembleSurrogate):
                build_graphs([structure], [str(path)], surrogate.config.graph)
        except Exception as error:  # any reader or graph failure: report the file
            errors.append((str(path), f"{type(error).__name__}: {error}"))
            continue
        structures.append(structure)
        names.append(str(path))
    if structures and not isinstance(surrogate, GraphEnsembleSurrogate):
        failed = surrogate.unusable_structures(structures)  # type: ignore[attr-defined]
        for i in sorted(failed, reverse=True):
            errors.append((names[i], failed[i]))
            del structures[i], names[i]
    rows: dict[str, list[Any]] = {
        "file": names,
        "formula": [s.composition.reduced_formula for s in structures],
    }
    if structures:
        candidates = [Candidate(id=n, structure=s) for n, s in zip(names, structures, strict=True)]
        prediction = surrogate.predict(candidates)  # type: ignore[attr-defined]
        lower, upper = prediction.interval(0.9)
        for j, t in enumerate(surrogate.target_names):
            rows[f"{t}_mean"] = prediction.mean[:, j].tolist()
            rows[f"{t}_std"] = prediction.std[:, j].tolist()
            rows[f"{t}_lo90"] = lower[:, j].tolist()
            rows[f"{t}_hi90"] = upper[:, j].tolist()
        if prediction.domain is not None:
            rows["domain_distance"] = prediction.domain.tolist()
            rows["outside_domain"] = prediction.outside_domain().tolist()
    return pd.DataFrame(rows), errors
