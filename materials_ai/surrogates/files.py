"""Predicting structure files with a saved surrogate (the ``predict`` command)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from materials_ai.data.records import Candidate
from materials_ai.errors import MaterialsAIError
from materials_ai.surrogates.inputs import (
    input_problem,
    read_structure_file,
    unseen_elements,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["predict_files", "read_structure_file"]

#: Errors that end one input's prediction, not the batch's (featurizers and networks
#: report unusable inputs with these).
_PER_INPUT_ERRORS = (MaterialsAIError, ValueError, RuntimeError, IndexError, KeyError)


def _featurize_problems(surrogate: Any, candidates: Sequence[Candidate]) -> dict[int, str]:
    """Index -> reason for candidates the surrogate cannot featurize."""
    if hasattr(surrogate, "unusable_structures"):
        return dict(surrogate.unusable_structures([c.structure for c in candidates]))
    graph_config = getattr(getattr(surrogate, "config", None), "graph", None)
    if graph_config is None:
        return {}
    from materials_ai.graphs.builder import build_graphs

    problems: dict[int, str] = {}
    for i, c in enumerate(candidates):
        try:
            build_graphs([c.structure], [c.id], graph_config)
        except _PER_INPUT_ERRORS as error:
            problems[i] = str(error)
    return problems


def _predict_tables(
    surrogate: Any, candidates: list[Candidate], errors: list[tuple[str, str]]
) -> list[pd.DataFrame]:
    """Predict all candidates at once; if that fails, one by one (a failure is recorded in
    ``errors`` and the others are still predicted)."""
    try:
        return [surrogate.predict(candidates).to_dataframe()]
    except _PER_INPUT_ERRORS:
        pass  # find the input(s) that failed
    tables = []
    for c in candidates:
        try:
            tables.append(surrogate.predict([c]).to_dataframe())
        except _PER_INPUT_ERRORS as error:
            errors.append((c.id, " ".join(str(error).split())))
    return tables


def predict_files(
    model_dir: str | Path, files: Sequence[str | Path]
) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    """Predict structures from files with a saved surrogate of any kind.

    Each file is read, checked against what the model takes (crystals or molecules, its
    elements) and featurized on its own: a file that fails any step is reported with its
    reason and skipped, and the rest are predicted.

    Returns:
        ``(table, errors)``. ``table`` has one row per predicted file: ``file``,
        ``formula`` and, per target, ``<target>_mean``, ``<target>_std`` and the bounds
        ``<target>_lo90``, ``<target>_hi90`` of the recalibrated 90 % interval; then
        ``domain_distance`` and ``outside_domain`` when the surrogate scores its
        applicability domain, and ``unseen_elements`` (elements no training structure
        had, space-separated) when the model knows its training elements.
        ``table.attrs["units"]`` maps columns to units. ``errors`` lists
        ``(file, reason)`` of the skipped files.

    Raises:
        SurrogateError: If the model folder cannot be loaded (one line naming the file).
    """
    import pandas as pd

    from materials_ai.surrogates.kinds import load_surrogate

    surrogate = load_surrogate(model_dir)
    kind = str(getattr(surrogate, "input_kind", "crystal"))
    max_z = getattr(surrogate, "max_atomic_number", None)
    candidates: list[Candidate] = []
    errors: list[tuple[str, str]] = []
    for f in files:
        path = str(f)
        try:
            candidate = Candidate(id=path, structure=read_structure_file(Path(f)))
        except MaterialsAIError as error:
            errors.append((path, str(error).removeprefix(f"{path}: ")))
            continue
        problem = input_problem(candidate, kind=kind, max_z=max_z)
        if problem is not None:
            errors.append((path, problem))
            continue
        candidates.append(candidate)
    tables: list[pd.DataFrame] = []
    with warnings.catch_warnings():  # featurizers warn about missing element data
        warnings.simplefilter("ignore")
        if candidates:
            failed = _featurize_problems(surrogate, candidates)
            errors.extend((candidates[i].id, failed[i]) for i in sorted(failed))
            candidates = [c for i, c in enumerate(candidates) if i not in failed]
        if candidates:
            tables = _predict_tables(surrogate, candidates, errors)
    if not tables:
        return pd.DataFrame(columns=["file", "formula"]), errors
    predicted = pd.concat(tables)
    units = dict(tables[0].attrs.get("units", {}))
    by_id = {c.id: c for c in candidates}
    rows = [by_id[i] for i in predicted.index]
    table = predicted.reset_index(drop=True)
    table.insert(0, "formula", [c.formula for c in rows])
    table.insert(0, "file", [c.id for c in rows])
    training = getattr(surrogate, "training_elements", None)
    if training is not None:
        table["unseen_elements"] = [" ".join(unseen_elements(c.structure, training)) for c in rows]
    table.attrs["units"] = units
    return table, errors
