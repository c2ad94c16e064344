"""What a campaign shows on the console: a progress bar and one line per iteration.

Both write to standard error through ``rich`` (imported only when shown) and do nothing
when progress display is off.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from materials_ai.campaign.state import CampaignState

#: Called with the state after every completed stage to move the bar.
Advance = Callable[["CampaignState"], None]


@contextmanager
def progress_bar(name: str, total: int, completed: int, *, enabled: bool) -> Iterator[Advance]:
    """A progress bar over a campaign's iterations.

    Args:
        name: Workflow name (the bar's label).
        total: Iterations in all (seed and final iterations included).
        completed: Iterations already completed (a resumed campaign).
        enabled: Show the bar; when false the yielded callable does nothing.

    Yields:
        A callable to call with the state after every completed stage.
    """
    if not enabled:
        yield lambda state: None
        return
    from materials_ai.progress import rich_progress

    with rich_progress("[bold]") as progress:
        task = progress.add_task(name, total=total, completed=completed)

        def advance(state: CampaignState) -> None:
            stage = state.completed[-1].value if state.completed else "next"
            progress.update(
                task,
                completed=total if state.done else min(state.iteration, total),
                description=f"{name} · iter {state.iteration} · {stage}",
            )

        yield advance


def log_line(
    metrics: Mapping[str, float], final: bool, targets_total: int | None, *, enabled: bool
) -> None:
    """Print one iteration's summary: oracle calls, targets found, validation MAE.

    Args:
        metrics: The iteration's metrics (as recorded by the RECORD stage).
        final: Whether it is the campaign's final iteration.
        targets_total: Targets in the whole pool, when known.
        enabled: Print at all.
    """
    if not enabled:
        return
    from rich.console import Console

    total = f"/{targets_total}" if targets_total is not None else ""
    maes = ", ".join(
        f"{k.removeprefix('val_mae_')} {v:.3g}"
        for k, v in metrics.items()
        if k.startswith("val_mae_") and np.isfinite(v)
    )
    label = "final" if final else f"iteration {int(metrics['iteration'])}"
    Console(stderr=True).print(
        f"[bold]{label}[/]: oracle calls {int(metrics['oracle_calls'])}, "
        f"found {int(metrics['targets_found'])}{total}"
        + (f", validation MAE {maes}" if maes else "")
    )
