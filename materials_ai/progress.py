"""One look for every progress bar: description, bar, done/total, elapsed and remaining time.

Rich is imported when a bar is made, so importing this module costs nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.progress import Progress


def rich_progress(style: str = "", *, stderr: bool = False, transient: bool = False) -> Progress:
    """A Rich ``Progress`` with the project's columns (use it as a context manager).

    Args:
        style: Rich markup around the description, e.g. ``"[bold]"``.
        stderr: Draw on standard error instead of standard output.
        transient: Remove the bar when it finishes.
    """
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn(style + "{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True) if stderr else None,
        transient=transient,
    )
