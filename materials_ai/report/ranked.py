"""Ranked candidate lists (CSV + JSON) and CIF files of the top candidates.

The ranking key is the best current estimate of each material's desirability: the
validated value where a candidate has been measured, otherwise the surrogate's
posterior-mean desirability. The list says which of the two each row is.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from materials_ai.acquisition.objective import DesirabilityObjective
from materials_ai.campaign.layout import cif_file_name
from materials_ai.candidates.ranking import first_per_composition
from materials_ai.data.records import Candidate, Molecule
from materials_ai.report.structures import molfile
from materials_ai.surrogates.prediction import Prediction

#: Version of the ranked-list layout (columns and JSON keys).
RANKED_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class RankedList:
    """A ranked table plus what it describes.

    Attributes:
        table: One row per candidate, best first (see :func:`build_ranked_list`).
        target_units: Target name -> unit.
        metadata: Campaign name, iteration and similar context.
    """

    table: pd.DataFrame
    target_units: Mapping[str, str]
    metadata: Mapping[str, Any]


def build_ranked_list(
    candidates: Sequence[Candidate],
    prediction: Prediction | None,
    objective: DesirabilityObjective,
    *,
    observed: Mapping[str, Mapping[str, float]],
    acquisition_values: np.ndarray | None = None,
    selected_ids: Sequence[str] = (),
    target_units: Mapping[str, str] | None = None,
    size: int = 200,
    metadata: Mapping[str, Any] | None = None,
    one_per_composition: bool = False,
) -> RankedList:
    """Rank a pool.

    Args:
        candidates: `n` pool candidates.
        prediction: Surrogate prediction for all `n` (None before any model exists).
        objective: Desirability of target values.
        observed: Candidate id -> validated values, for those measured.
        acquisition_values: `n` single-candidate acquisition values (NaN if none).
        selected_ids: Candidates just selected for validation (status ``selected``).
        target_units: Target name -> unit.
        size: Rows to keep.
        metadata: Context stored with the list.
        one_per_composition: Put each reduced composition's best candidate before any
            second candidate of a composition (each part in score order).

    Returns:
        Columns: ``rank, id, formula, status, score, predicted_desirability,
        p_all_criteria, acquisition_value, validated_desirability, satisfies_all`` and,
        per target ``t``: ``t_pred_mean, t_pred_std, t_validated``; then
        ``domain_distance`` and ``outside_domain`` when the surrogate scores its
        applicability domain. A pool of molecules also gets a ``smiles`` column after
        ``formula``.
    """
    names = objective.target_names
    n = len(candidates)
    ids = [c.id for c in candidates]
    formulas = [c.formula for c in candidates]
    if prediction is not None and len(prediction) != n:
        raise ValueError(f"prediction has {len(prediction)} rows for {n} candidates")
    validated = np.full((n, len(names)), np.nan)
    for i, cid in enumerate(ids):
        values = observed.get(cid)
        if values:
            validated[i] = [values.get(t, np.nan) for t in names]
    is_validated = np.isfinite(validated).any(axis=1)
    validated_d = np.where(is_validated, objective.desirability(validated), np.nan)

    if prediction is not None:
        pred = prediction.select(np.arange(n))
        cols = [pred.target_names.index(t) for t in names]
        mean, std = pred.mean[:, cols], pred.std[:, cols]
        if pred.samples is not None:
            member_d = objective.desirability(pred.samples[:, :, cols])
            predicted_d = member_d.mean(axis=0)
            p_all = (member_d >= 0).mean(axis=0)
        else:
            predicted_d = objective.desirability(mean)
            p_all = np.full(n, np.nan)
    else:
        mean = np.full((n, len(names)), np.nan)
        std = np.full((n, len(names)), np.nan)
        predicted_d = np.full(n, np.nan)
        p_all = np.full(n, np.nan)

    score = np.where(is_validated, validated_d, predicted_d)
    selected = set(selected_ids)
    status = [
        "validated" if v else ("selected" if cid in selected else "candidate")
        for cid, v in zip(ids, is_validated, strict=True)
    ]
    table = pd.DataFrame(
        {
            "id": ids,
            "formula": formulas,
            "status": status,
            "score": score,
            "predicted_desirability": predicted_d,
            "p_all_criteria": p_all,
            "acquisition_value": acquisition_values
            if acquisition_values is not None
            else np.full(n, np.nan),
            "validated_desirability": validated_d,
            # Unknown (<NA>: empty in the CSV, null in the JSON) until validated.
            "satisfies_all": pd.array(
                [
                    bool(d >= 0) if v else pd.NA
                    for v, d in zip(is_validated, validated_d, strict=True)
                ],
                dtype="boolean",
            ),
        }
    )
    if any(c.kind == "molecule" for c in candidates):
        table.insert(2, "smiles", [getattr(c.structure, "smiles", "") for c in candidates])
    for j, t in enumerate(names):
        table[f"{t}_pred_mean"] = mean[:, j]
        table[f"{t}_pred_std"] = std[:, j]
        table[f"{t}_validated"] = validated[:, j]
    if prediction is not None and prediction.domain is not None:
        # Distance to the training set over the training rows' own 95th percentile:
        # above 1, the candidate lies outside the surrogate's domain.
        table["domain_distance"] = prediction.domain
        table["outside_domain"] = prediction.outside_domain()
    table["_structure_index"] = np.arange(n)
    # NaN scores (no model yet, unmeasured) go last; ties keep pool order.
    table = table.sort_values("score", ascending=False, na_position="last", kind="stable")
    if one_per_composition:
        keys = [_composition_key(formulas[i]) for i in table["_structure_index"]]
        table = table.iloc[first_per_composition(keys)]
    table = table.head(size).reset_index(drop=True)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    return RankedList(
        table=table,
        target_units=dict(target_units or {t: "" for t in names}),
        metadata=dict(metadata or {}),
    )


def _composition_key(formula: str) -> str:
    """The reduced composition of a formula (the formula itself if it does not parse)."""
    from pymatgen.core import Composition

    try:
        return str(Composition(formula).reduced_formula)
    except (ValueError, KeyError):
        return formula


def _json_value(value: Any) -> Any:
    if value is pd.NA:
        return None
    if isinstance(value, float | np.floating):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def write_ranked_list(
    ranked: RankedList,
    candidates: Sequence[Candidate],
    out_dir: str | Path,
    *,
    top_cifs: int = 20,
    stem: str = "ranked_candidates",
    structures: Mapping[str, Any] | None = None,
) -> dict[str, Path]:
    """Write ``<stem>.csv``, ``<stem>.json`` and ``cifs/`` into ``out_dir``.

    CIF files are symmetrised (space group detected with ``symprec = 0.1`` Å) and named
    ``<rank>_<id>_<formula>.cif``. Molecules are written to the same folder as MDL
    molfiles with 2D coordinates, ``<rank>_<id>_<formula>.mol``. ``structures`` (id ->
    structure) replaces a candidate's pool structure in its CIF, e.g. the cell a
    validation relaxed.

    Returns:
        Paths of what was written: keys ``csv``, ``json``, ``cifs``.
    """
    from pymatgen.io.cif import CifWriter

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    table = ranked.table.drop(columns=["_structure_index"])
    csv_path = out_dir / f"{stem}.csv"
    tmp = csv_path.with_name(csv_path.name + ".tmp")
    table.to_csv(tmp, index=False, float_format="%.6g")
    os.replace(tmp, csv_path)

    json_path = out_dir / f"{stem}.json"
    payload = {
        "schema_version": RANKED_SCHEMA_VERSION,
        "metadata": {k: _json_value(v) for k, v in ranked.metadata.items()},
        "target_units": dict(ranked.target_units),
        "candidates": [
            {k: _json_value(v) for k, v in row.items()} for row in table.to_dict("records")
        ],
    }
    tmp = json_path.with_name(json_path.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=1))
    os.replace(tmp, json_path)

    cif_dir = out_dir / "cifs"
    cif_dir.mkdir(exist_ok=True)
    for old in cif_dir.glob("*.cif"):
        old.unlink()
    for old in cif_dir.glob("*.mol"):
        old.unlink()
    replaced = structures or {}
    for _, row in ranked.table.head(top_cifs).iterrows():
        structure = replaced.get(str(row["id"]))
        if structure is None:
            structure = candidates[int(row["_structure_index"])].structure
        if isinstance(structure, Molecule):  # MDL molfile, 2D coordinates
            name = cif_file_name(int(row["rank"]), str(row["id"]), str(row["formula"]))
            (cif_dir / (name.removesuffix(".cif") + ".mol")).write_text(molfile(structure))
            continue
        try:
            writer = CifWriter(structure, symprec=0.1)
        except Exception:  # symmetry detection can fail on odd cells; write P1 then
            writer = CifWriter(structure)
        name = cif_file_name(int(row["rank"]), str(row["id"]), str(row["formula"]))
        writer.write_file(str(cif_dir / name))
    return {"csv": csv_path, "json": json_path, "cifs": cif_dir}
