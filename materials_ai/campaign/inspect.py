"""Read-only views of a run directory: status, the latest ranked list, structures, units.

This module belongs to the campaign layer: the report (:mod:`materials_ai.report`) and the
lab hand-off (:mod:`materials_ai.lab`) read runs through it, and it imports neither. It
reads through :class:`~materials_ai.campaign.rundir.RunDirectory` and never takes the run's
lock, so it never waits for a running campaign.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from materials_ai.campaign.config import WorkflowConfig
from materials_ai.campaign.layout import cif_stem
from materials_ai.campaign.relaxed import relaxed_structures
from materials_ai.campaign.rundir import RunDirectory
from materials_ai.errors import DataError, MaterialsAIError

if TYPE_CHECKING:
    import pandas as pd
    from pymatgen.core import Structure

    from materials_ai.data.records import Molecule

logger = logging.getLogger(__name__)


def campaign_status(run_dir: str | Path) -> dict[str, Any]:
    """Summarise a campaign without loading data or models (and without its lock).

    Selection rounds are counted as the user asked for them: ``--iterations 3`` is reported
    as 3 rounds done once finished (the internal ``iteration`` counts the seed batch as 0
    and the final collect-and-rank step as one past the last round).

    Returns:
        A JSON-ready dict (``materials-ai campaign status --json`` prints it) with keys:
        ``name``, ``campaign_id``; ``phase`` (``seed``, ``round``, ``final`` or ``done``);
        ``round`` (the selection round in progress, None outside rounds);
        ``rounds_done`` and ``rounds_total`` (selection rounds completed / asked for);
        ``iteration`` and ``iterations`` (internal iteration, and ``rounds_total`` again
        under its workflow name ``loop.iterations``); ``completed`` (stages of the current
        iteration already done, comma-separated); ``done``; ``oracle_calls``; ``pending``
        (validations submitted, not yet collected); ``targets`` (target names);
        ``metrics`` (one dict per recorded iteration, with ``round``: its round number or
        ``final``); ``observations_by_fidelity``; ``owner`` (the running process that owns
        the run, None when not running); ``queued`` (lab observations waiting in its
        inbox).
    """
    from materials_ai.campaign.summary import rounds_done

    rundir = RunDirectory(run_dir)
    state = rundir.read_state()
    config = rundir.read_workflow(state)
    by_fidelity: dict[str, int] = {}
    for record in state.observations:
        fidelity = str(record.observation.get("fidelity", ""))
        by_fidelity[fidelity] = by_fidelity.get(fidelity, 0) + 1
    owner = rundir.owner()
    final = state.iteration == state.final_iteration
    phase = (
        "done" if state.done else "final" if final else "seed" if state.iteration == 0 else "round"
    )
    metrics = []
    for row in state.metrics:
        final_row = (
            state.final_iteration is not None and int(row["iteration"]) >= state.final_iteration
        )
        metrics.append({"round": "final" if final_row else int(row["iteration"]), **row})
    return {
        "name": config.name,
        "campaign_id": state.campaign_id,
        "phase": phase,
        "round": state.iteration if phase == "round" else None,
        "rounds_done": rounds_done(state),
        "rounds_total": config.loop.iterations,
        "iteration": state.iteration,
        "iterations": config.loop.iterations,
        "completed": ", ".join(s.value for s in state.completed),
        "done": state.done,
        "oracle_calls": state.oracle_calls,
        "pending": len(state.pending),
        "targets": list(config.targets),
        "metrics": metrics,
        "observations_by_fidelity": by_fidelity,
        "owner": owner.describe() if owner is not None else None,
        "queued": len(rundir.queued_observations(state)),
    }


def latest_output_dir(run_dir: Path) -> Path:
    """The folder of the most recent ranked list (``final/`` once finished)."""
    return RunDirectory(run_dir).latest_output_dir()


def latest_ranked_list(run_dir: str | Path) -> tuple[pd.DataFrame, dict[str, Any], Path]:
    """The latest ranked list of a run, checked to belong to the run's campaign.

    Returns:
        ``(table, payload, folder)``: the CSV as a DataFrame, the JSON payload without its
        ``candidates`` (``schema_version``, ``metadata``, ``target_units``) and the folder
        that holds both and ``cifs/``.

    Raises:
        CampaignError: If no iteration has been recorded yet.
        StaleOutputsError: If the list was written by another campaign.
    """
    return RunDirectory(run_dir).latest_ranked_list()


def _cif_index(cif_dir: Path) -> dict[str, Path]:
    """Map the ``<id>_<formula>`` part of ``<rank>_<id>_<formula>.cif`` names to files."""
    out: dict[str, Path] = {}
    for path in sorted(cif_dir.glob("*.cif")):
        match = re.match(r"^\d+_(.+)\.cif$", path.name)
        if match:
            out[match.group(1)] = path
    return out


def candidate_structures(
    run_dir: str | Path,
    ids: Sequence[str],
    *,
    formulas: Sequence[str] | None = None,
    load_pool: bool = True,
) -> dict[str, Structure | Molecule]:
    """Structures of the candidates ``ids`` of a run (crystals, or molecules of a molecular
    campaign's pool).

    Cells relaxed by a validation come first, then the ranked lists' CIFs (``final/cifs``,
    ``iterations/*/cifs``); the remaining ids are looked up in the campaign's pool, which
    loads the dataset named by the run's workflow (from ``MATERIALS_AI_DATA_DIR``) when
    ``load_pool`` is true. Ids found nowhere are left out of the result (the caller
    decides whether that is an error).

    Args:
        run_dir: The run directory.
        ids: Candidate ids.
        formulas: Reduced formula of each id (as in the ranked list), used to match CIF
            file names; without it only the pool is searched.
        load_pool: Load the dataset for ids without a CIF.
    """
    from pymatgen.core import Structure

    rundir = RunDirectory(run_dir)
    found: dict[str, Structure | Molecule] = {}
    wanted = set(ids)
    try:  # cells a validation relaxed come first (campaign/relaxed.py)
        observations = rundir.read_state().typed_observations()
    except MaterialsAIError:
        observations = []
    for cid, relaxed in relaxed_structures(observations).items():
        if cid in wanted:
            found[cid] = relaxed.structure
    if formulas is not None:
        folders = [
            rundir.final_dir / "cifs",
            *sorted(rundir.iterations_dir.glob("iter_*/cifs"), reverse=True),
        ]
        indices = [_cif_index(f) for f in folders if f.is_dir()]
        for cid, formula in zip(ids, formulas, strict=True):
            if cid in found:
                continue
            key = cif_stem(cid, formula)
            for index in indices:
                if key in index:
                    try:
                        found[cid] = Structure.from_file(str(index[key]))
                    except Exception as error:  # a damaged CIF: try the pool instead
                        logger.warning("cannot read %s: %s", index[key], error)
                        continue
                    break
    missing = [cid for cid in ids if cid not in found]
    if missing and load_pool:
        from materials_ai.campaign.loop import Campaign

        try:
            dataset = Campaign.resume(rundir.path)._load_dataset()
        except MaterialsAIError as error:
            logger.warning(
                "structures of %d candidates unavailable (pool not loadable: %s)",
                len(missing),
                error,
            )
            return found
        wanted = set(missing)
        for record in dataset.records:
            if record.id in wanted:
                found[record.id] = record.structure
    return found


def pool_size(run_dir: str | Path) -> int | None:
    """Number of candidates in the campaign's pool, without loading the data.

    Taken from the metrics (``pool_size``) when the loop records it, otherwise from the
    dataset card's row count, the workflow's ``limit`` / ``sample_size`` and the rows the
    run skipped (``skipped_rows.csv``). None when the card cannot be found.
    """
    rundir = RunDirectory(run_dir)
    state = rundir.read_state()
    for metrics in reversed(state.metrics):
        if "pool_size" in metrics:
            return int(metrics["pool_size"])
    config = rundir.read_workflow(state)
    if config.data is None:  # a pool kept in the run directory
        pool = rundir.path / "pool" / "candidates.json"
        return len(json.loads(pool.read_text())["rows"]) if pool.is_file() else None
    try:
        from materials_ai.data.registry import get_card

        n_rows = get_card(config.data.dataset).rows
    except MaterialsAIError:
        return None
    if config.data.limit is not None:
        n_rows = min(n_rows, config.data.limit)
    if config.data.sample_size is not None:
        n_rows = min(n_rows, config.data.sample_size)
    skipped = rundir.path / "skipped_rows.csv"
    if skipped.exists():
        import pandas as pd

        n_rows -= len(pd.read_csv(skipped))
    return n_rows


def campaign_target_units(run_dir: str | Path, config: WorkflowConfig) -> dict[str, str]:
    """Units of the campaign's targets: from the dataset card, else the latest ranked list.

    Raises:
        DataError: A target's unit is found in neither.
    """
    run_dir = Path(run_dir)
    units: dict[str, str] = {}
    try:
        from materials_ai.data.registry import get_card

        card = get_card(config.pool_label)
        units = {t: card.targets[t].unit for t in config.targets if t in card.targets}
    except Exception:  # card not available here: fall back to the ranked list
        units = {}
    missing = [t for t in config.targets if t not in units]
    if missing:
        try:
            payload = json.loads(
                (latest_output_dir(run_dir) / "ranked_candidates.json").read_text()
            )
            for t in missing:
                if t in payload.get("target_units", {}):
                    units[t] = str(payload["target_units"][t])
        except Exception:  # no ranked list yet
            pass
    missing = [t for t in config.targets if t not in units]
    if missing:
        raise DataError(
            f"units of target(s) {missing} unknown: neither the dataset card of "
            f"{config.pool_label!r} nor a ranked list of {run_dir} names them"
        )
    return units
