"""What a campaign reports when it stops: :class:`CampaignSummary`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from materials_ai.campaign.config import WorkflowConfig
    from materials_ai.campaign.state import CampaignState


@dataclass(frozen=True)
class CampaignSummary:
    """What a finished (or paused) campaign reports.

    Attributes:
        name: Workflow name.
        run_dir: Run directory.
        done: Whether the campaign finished.
        iteration: Current iteration (internal count: 0 is the seed batch, the final
            iteration is one past the last round).
        rounds_done: Selection rounds completed (see :func:`rounds_done`).
        rounds_total: Selection rounds asked for (``loop.iterations`` / ``--iterations``).
        oracle_calls: Validations requested (seed labels included).
        targets_found: Validated candidates meeting every criterion.
        targets_total: How many the replayed table holds (None for other oracles).
        ranked_csv: Latest ranked list (CSV).
        ranked_json: Latest ranked list (JSON).
        cif_dir: CIFs of the latest top candidates.
        tracking_uri: Where the run is tracked (None without tracking).
        tracking_run_id: The tracker's run id.
    """

    name: str
    run_dir: Path
    done: bool
    iteration: int
    rounds_done: int
    rounds_total: int
    oracle_calls: int
    targets_found: int
    targets_total: int | None
    ranked_csv: Path | None
    ranked_json: Path | None
    cif_dir: Path | None
    tracking_uri: str | None
    tracking_run_id: str | None


def rounds_done(state: CampaignState) -> int:
    """Selection rounds completed, as the user counts them (``--iterations 3``: 3 once done).

    Iteration 0 submits the seed batch and iterations ``1..N`` are the selection rounds;
    the final iteration (one past the last round) only collects and ranks. So while
    iteration ``i`` runs, ``i - 1`` rounds are complete, and a finished campaign reports
    the rounds it ran, never the final iteration's number.
    """
    return max(state.iteration - 1, 0)


def summarize(
    config: WorkflowConfig,
    run_dir: Path,
    state: CampaignState,
    *,
    targets_found: int,
    targets_total: int | None,
) -> CampaignSummary:
    """Where a campaign stands: its latest ranked list (``final/`` or the last iteration).

    Args:
        config: The workflow.
        run_dir: The run directory.
        state: Campaign state.
        targets_found: Validated candidates meeting every criterion.
        targets_total: Targets in the whole pool, when known.
    """
    final = run_dir / "final"
    latest = final if final.exists() else None
    if latest is None:
        iters = sorted((run_dir / "iterations").glob("iter_*"))
        latest = iters[-1] if iters else None
    tracking_uri = config.tracking.resolved_uri(run_dir)
    return CampaignSummary(
        name=config.name,
        run_dir=run_dir,
        done=state.done,
        iteration=state.iteration,
        rounds_done=rounds_done(state),
        rounds_total=config.loop.iterations,
        oracle_calls=state.oracle_calls,
        targets_found=targets_found,
        targets_total=targets_total,
        ranked_csv=latest / "ranked_candidates.csv" if latest else None,
        ranked_json=latest / "ranked_candidates.json" if latest else None,
        cif_dir=latest / "cifs" if latest else None,
        tracking_uri=tracking_uri,
        tracking_run_id=state.tracking_run_id,
    )
