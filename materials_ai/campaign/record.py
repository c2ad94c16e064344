"""The RECORD stage's products: the ranked list of an iteration and its metrics."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from materials_ai.campaign.relaxed import RELAXED_COLUMNS

if TYPE_CHECKING:
    from materials_ai.acquisition.objective import DesirabilityObjective
    from materials_ai.campaign.relaxed import RelaxedStructure
    from materials_ai.data.records import Candidate
    from materials_ai.surrogates.prediction import Prediction

#: Candidate id -> workflow target -> observed value.
Observed = Mapping[str, Mapping[str, float]]


def observed_matrix(observed: Observed, targets: Sequence[str]) -> np.ndarray:
    """Observed values as a candidates × targets array (NaN where unobserved)."""
    return np.array([[v.get(t, np.nan) for t in targets] for v in observed.values()]).reshape(
        len(observed), len(targets)
    )


def count_found(
    observed: Observed, objective: DesirabilityObjective, targets: Sequence[str]
) -> int:
    """Observed candidates that meet every criterion of ``objective``."""
    if not observed:
        return 0
    values = np.array([[v.get(t, np.nan) for t in targets] for v in observed.values()])
    return int(objective.satisfied(values).sum())


def write_ranking(
    pool: Sequence[Candidate],
    prediction: Prediction | None,
    objective: DesirabilityObjective,
    out_dir: Path,
    *,
    observed: Observed,
    acquisition: np.ndarray | None,
    selected: Sequence[str],
    target_units: Mapping[str, str],
    size: int,
    top_cifs: int,
    metadata: Mapping[str, Any],
    relaxed: Mapping[str, RelaxedStructure] | None = None,
    one_per_composition: bool = False,
) -> dict[str, Path]:
    """Rank the pool and write the ranked list (CSV, JSON) and top CIFs to ``out_dir``.

    Args:
        pool: The candidates.
        prediction: The latest pool prediction (None before any model exists).
        objective: Ranks predictions.
        out_dir: Where to write.
        observed: Validated values.
        acquisition: Acquisition value of every candidate (None: not shown).
        selected: Ids picked this iteration.
        target_units: Target -> unit.
        size: Entries in the ranked list.
        top_cifs: Structures written for the best candidates.
        metadata: Stored with the list.
        relaxed: Candidates a validation relaxed (``campaign/relaxed.py``): their CIFs
            hold the relaxed cell, and the list gains the relaxation's columns
            (:data:`~materials_ai.campaign.relaxed.RELAXED_COLUMNS`, NaN elsewhere).
        one_per_composition: Each composition's best candidate before any second one.

    Returns:
        Paths of what was written: keys ``csv``, ``json``, ``cifs``.
    """
    from materials_ai.report.ranked import build_ranked_list, write_ranked_list

    ranked = build_ranked_list(
        pool,
        prediction,
        objective,
        observed=observed,
        acquisition_values=acquisition,
        selected_ids=selected,
        target_units=target_units,
        size=size,
        metadata=metadata,
        one_per_composition=one_per_composition,
    )
    structures = None
    if relaxed:
        for name in RELAXED_COLUMNS:
            ranked.table[name] = [
                relaxed[i].columns()[name] if i in relaxed else np.nan for i in ranked.table["id"]
            ]
        structures = {cid: r.structure for cid, r in relaxed.items()}
    return write_ranked_list(ranked, pool, out_dir, top_cifs=top_cifs, structures=structures)


def iteration_metrics(
    iteration: int,
    observed: Observed,
    objective: DesirabilityObjective,
    targets: Sequence[str],
    *,
    oracle_calls: int,
    targets_total: int | None,
    extra: Mapping[str, float],
    fit: Mapping[str, Any] | None,
    stage_seconds: Mapping[str, float],
) -> dict[str, float]:
    """One iteration's metrics, in the order they are logged.

    Args:
        iteration: The iteration.
        observed: Validated values so far.
        objective: The workflow's objective.
        targets: Workflow target names.
        oracle_calls: Validations requested so far.
        targets_total: Targets in the whole pool, when known.
        extra: Metrics of the oracle kind (see ``ValidationPlan.extra_metrics``).
        fit: The state's latest fit record (its validation MAE is reported when it is of
            this iteration).
        stage_seconds: Stage name -> seconds, of the stages run since the last record.
    """
    values = observed_matrix(observed, targets)
    desirability = objective.desirability(values) if len(values) else np.zeros(0)
    finite = desirability[np.isfinite(desirability)]
    metrics: dict[str, float] = {
        "iteration": float(iteration),
        "oracle_calls": float(oracle_calls),
        "n_labelled": float(len(observed)),
        "targets_found": float(count_found(observed, objective, targets)),
        "best_desirability": float(finite.max()) if finite.size else float("nan"),
    }
    if targets_total is not None:
        metrics["targets_total"] = float(targets_total)
    metrics.update(extra)
    fit = fit or {}
    if fit.get("iteration") == iteration:
        for target, mae in fit.get("val_mae", {}).items():
            # None: no validation label of that target (NaN once written to JSON).
            metrics[f"val_mae_{target}"] = float("nan") if mae is None else float(mae)
    for stage, seconds in stage_seconds.items():
        metrics[f"seconds_{stage}"] = float(seconds)
    return metrics
