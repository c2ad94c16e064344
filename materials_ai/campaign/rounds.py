"""``campaign resume --iterations N``: stop after N selection rounds in total.

The number is stored in the state (``CampaignState.iterations``), never in the run's
``workflow.yaml``, which stays the exact settings the run started with. Rounds are
counted as batches chosen by the acquisition function (the seed batch is not a round).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from materials_ai.campaign.layout import FINAL_DIR
from materials_ai.campaign.rundir import RunDirectory
from materials_ai.campaign.state import CampaignState
from materials_ai.errors import CampaignError

__all__ = ["change_total_rounds", "rounds_chosen", "set_total_rounds"]


def rounds_chosen(state: CampaignState) -> int:
    """Selection rounds whose batch has been chosen (seed batch excluded)."""
    return sum(1 for s in state.selections if s.iteration >= 1)


def set_total_rounds(
    rundir: RunDirectory, n: int, *, configured: int
) -> tuple[CampaignState, str | None]:
    """Stop the campaign of ``rundir`` after ``n`` selection rounds in total (saved).

    Args:
        rundir: The run directory (its lock is taken for the change).
        n: Selection rounds in total.
        configured: The stored workflow's ``loop.iterations``.

    Returns:
        The state, and None when the campaign should run, otherwise why there is nothing
        to do (see :func:`change_total_rounds`).

    Raises:
        CampaignError: ``n`` is negative.
        RunDirectoryLockedError: Another process owns the run.
    """
    with rundir.lock("resume --iterations"):
        state = rundir.read_state()
        in_force = state.iterations if state.iterations is not None else configured
        before = state.model_dump_json()
        idle = change_total_rounds(state, n, configured=in_force, run_dir=rundir.path)
        if state.model_dump_json() != before:
            rundir.write_state(state)
    return state, idle


def change_total_rounds(
    state: CampaignState, n: int, *, configured: int, run_dir: Path
) -> str | None:
    """Make the campaign stop after ``n`` selection rounds in total.

    Changes ``state`` in place (the caller saves it). A finished or finishing campaign
    with fewer rounds is reopened: its final iteration becomes a selection round (its
    ``final/`` is removed and written again at the new end). A campaign that has already
    chosen ``n`` rounds or more is left as it is.

    Args:
        state: The campaign state.
        n: Selection rounds in total.
        configured: The rounds in force now (the state's, else the workflow's).
        run_dir: The run directory.

    Returns:
        None when the campaign should run; otherwise why there is nothing to do.

    Raises:
        CampaignError: ``n`` is negative.
    """
    if n < 0:
        raise CampaignError(f"--iterations must be 0 or more, got {n}")
    chosen = rounds_chosen(state)
    if n == configured:
        return None
    if chosen > n or (chosen == n and state.done):
        status = "finished" if state.done else f"at iteration {state.iteration}"
        return (
            f"{run_dir} has already chosen {chosen} selection round(s) ({status}); "
            f"--iterations {n} asks for {n} in total: nothing to do"
            + ("" if state.done else f" (resume without --iterations runs to {configured})")
        )
    state.iterations = n
    if chosen < n and state.final_iteration is not None:
        # Reopen: the final iteration becomes an ordinary selection round that starts
        # again from COLLECT, so it also trains on observations ingested since.
        state.done = False
        state.final_iteration = None
        state.completed = []
        shutil.rmtree(Path(run_dir) / FINAL_DIR, ignore_errors=True)
    elif state.final_iteration is None and state.iteration > n:
        # Past the last round already (a lower total): this iteration becomes the final
        # one (it has not selected yet, or chosen would exceed n).
        state.final_iteration = state.iteration
    return None
