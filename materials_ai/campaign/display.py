"""What a campaign shows on the console: a progress bar and a few lines per selection round.

The bar names the stage that is *running* (``round 2/5 · train``), the time spent and the
time left. The time left is estimated from the mean duration of each kind of stage (seconds
measured in this process, plus the ``seconds_<stage>`` metrics of earlier rounds of a resumed
campaign) times the stages still to run, so it is shown from the first round on and does
not depend on how fast the first few stages happened to be. Everything goes to standard
error through ``rich`` (imported only when shown); the per-round lines are at most 80
characters wide. Nothing is shown when progress display is off.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from materials_ai.campaign.state import Stage

if TYPE_CHECKING:
    from rich.console import Console

    from materials_ai.campaign.state import CampaignState

#: Width the per-round lines are written for (a standard terminal).
LINE_WIDTH = 80

#: ``stages_of(iteration, final)``: the stages an iteration runs.
StagesOf = Callable[[int, bool], Sequence[Stage]]


def round_label(iteration: int, rounds_total: int, *, final: bool) -> str:
    """How people count: ``seed``, ``round k/N`` for selection rounds, ``final`` at the end.

    Iteration 0 submits the random seed labels; iterations ``1..N`` are the selection
    rounds the user asked for (``--iterations N``); iteration ``N+1`` collects the last
    batch and ranks (``final``).
    """
    if final:
        return "final"
    if iteration == 0:
        return "seed"
    return f"round {iteration}/{rounds_total}"


@dataclass
class EtaEstimator:
    """Time left of a campaign, from the mean duration of each kind of stage.

    Attributes:
        durations: Stage name -> durations measured so far (s).
    """

    durations: dict[str, list[float]] = field(default_factory=dict)

    @classmethod
    def from_metrics(cls, metrics: Sequence[Mapping[str, float]]) -> EtaEstimator:
        """Seed the estimate with the ``seconds_<stage>`` metrics of recorded rounds."""
        eta = cls()
        for row in metrics:
            for key, value in row.items():
                if key.startswith("seconds_") and math.isfinite(float(value)):
                    eta.add(key.removeprefix("seconds_"), float(value))
        return eta

    def add(self, stage: str, seconds: float) -> None:
        """Record that one ``stage`` took ``seconds``."""
        self.durations.setdefault(stage, []).append(float(seconds))

    def mean(self, stage: str) -> float | None:
        """Mean duration of ``stage`` (s), None before it has run once."""
        values = self.durations.get(stage)
        return float(np.mean(values)) if values else None

    def remaining(
        self, plan: Sequence[Stage], *, running: Stage | None = None, running_for: float = 0.0
    ) -> float | None:
        """Seconds left to run ``plan``, or None while no estimate can be made.

        Args:
            plan: The stages still to run, in order; the first is ``running`` when given.
            running: The stage running now.
            running_for: Seconds it has run so far.

        Returns:
            The sum of each stage's mean duration (the running one less what it has run,
            never below zero). Stages never measured count as zero once the costliest
            stage there is (``train`` when the plan holds one, else every stage kind of
            the plan but one) has been measured; before that, None.
        """
        kinds = {s.value for s in plan}
        if not kinds:
            return 0.0
        measured = {k for k in kinds if self.mean(k) is not None}
        if Stage.TRAIN.value in kinds:
            if Stage.TRAIN.value not in measured:
                return None
        elif len(measured) < max(1, len(kinds) - 1):
            return None
        total = 0.0
        for i, stage in enumerate(plan):
            mean = self.mean(stage.value) or 0.0
            if i == 0 and running is not None and stage == running:
                mean = max(mean - running_for, 0.0)
            total += mean
        return total


def remaining_plan(
    state: CampaignState,
    stages_of: StagesOf,
    *,
    rounds_total: int,
    batch_size: int,
    max_oracle_calls: int | None = None,
) -> list[Stage]:
    """The stages a campaign still has to run, the current iteration's first.

    Assumes the campaign runs to ``rounds_total`` selection rounds, fewer when the oracle
    call budget ends it first.

    Args:
        state: The campaign state.
        stages_of: The stages of an iteration (given whether it is the final one).
        rounds_total: Selection rounds asked for.
        batch_size: Candidates per round.
        max_oracle_calls: The call budget (None: none).
    """
    if state.done:
        return []
    final_now = state.iteration == state.final_iteration
    current = stages_of(state.iteration, final_now)
    plan = [s for s in current if s not in state.completed]
    if final_now:
        return plan
    future = max(rounds_total - state.iteration, 0)
    if max_oracle_calls is not None:
        calls_left = max_oracle_calls - state.oracle_calls
        if Stage.SUBMIT in plan or Stage.SEED in plan:
            calls_left -= batch_size  # this iteration's batch is still to go
        future = min(future, max(math.ceil(calls_left / batch_size), 0))
    for k in range(state.iteration + 1, state.iteration + 1 + future):
        plan.extend(stages_of(k, False))
    plan.extend(stages_of(state.iteration + future + 1, True))
    return plan


def format_duration(seconds: float) -> str:
    """``h:mm:ss`` (``m:ss`` under an hour)."""
    whole = max(round(seconds), 0)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _eta_column() -> Any:
    """A Rich column: the task's ``eta_s`` field counted down since ``eta_at``."""
    from rich.progress import ProgressColumn
    from rich.text import Text

    class EtaColumn(ProgressColumn):
        def render(self, task: Any) -> Text:
            eta_s = task.fields.get("eta_s")
            if eta_s is None:
                return Text(str(task.fields.get("eta_note", "ETA …")), style="progress.remaining")
            left = eta_s - (time.monotonic() - task.fields.get("eta_at", time.monotonic()))
            return Text(f"ETA {format_duration(left)}", style="progress.remaining")

    return EtaColumn()


class CampaignProgress:
    """The campaign's progress bar: running stage, elapsed time and time left.

    Args:
        name: Workflow name (printed once above the bar).
        state: The state when the run starts (a resumed campaign's metrics seed the
            estimate of the time left).
        stages_of: The stages of an iteration (given whether it is the final one).
        rounds_total: Selection rounds asked for.
        batch_size: Candidates per round.
        max_oracle_calls: The call budget (None: none).
        console: Where to draw (default: standard error).
    """

    def __init__(
        self,
        name: str,
        state: CampaignState,
        stages_of: StagesOf,
        *,
        rounds_total: int,
        batch_size: int,
        max_oracle_calls: int | None = None,
        console: Console | None = None,
    ) -> None:
        self.name = name
        self.stages_of = stages_of
        self.rounds_total = rounds_total
        self.batch_size = batch_size
        self.max_oracle_calls = max_oracle_calls
        self.eta = EtaEstimator.from_metrics(state.metrics)
        self._console = console
        self._progress: Any = None
        self._task: Any = None
        self._running: Stage | None = None
        self._started = 0.0

    def __enter__(self) -> CampaignProgress:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        console = self._console or Console(stderr=True)
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(bar_width=20),
            TimeElapsedColumn(),
            _eta_column(),
            console=console,
        )
        self._progress.__enter__()
        console.print(f"[bold]{self.name}[/]", highlight=False)
        self._task = self._progress.add_task("starting", total=None)
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.__exit__(*exc)

    def describe(self, state: CampaignState, stage: Stage | None) -> str:
        """``round 2/5 · train`` (the running stage), ``final · record`` ..."""
        label = round_label(
            state.iteration, self.rounds_total, final=state.iteration == state.final_iteration
        )
        if state.done:
            return "done"
        return f"{label} · {stage.value}" if stage is not None else label

    def _fraction(self, state: CampaignState) -> tuple[float, float]:
        """(completed, total) in iterations: seed, each round and the final iteration."""
        total = float(self.rounds_total + 2)
        if state.done:
            return total, total
        final = state.iteration == state.final_iteration
        planned = self.stages_of(state.iteration, final)
        done = len([s for s in planned if s in state.completed]) / max(len(planned), 1)
        if final:
            total = float(state.iteration + 1)
        return min(state.iteration + done, total), total

    def _remaining(self, state: CampaignState) -> float | None:
        plan = remaining_plan(
            state,
            self.stages_of,
            rounds_total=self.rounds_total,
            batch_size=self.batch_size,
            max_oracle_calls=self.max_oracle_calls,
        )
        return self.eta.remaining(
            plan,
            running=self._running,
            running_for=time.monotonic() - self._started if self._running else 0.0,
        )

    def stage_started(self, state: CampaignState, stage: Stage) -> None:
        """Show that ``stage`` of the current iteration is running now."""
        self._running, self._started = stage, time.monotonic()
        self._update(state)

    def stage_finished(self, state: CampaignState, stage: Stage, seconds: float) -> None:
        """Count a completed stage (``state`` already moved on) and update the time left."""
        self.eta.add(stage.value, seconds)
        self._running = None
        self._update(state)

    def _update(self, state: CampaignState) -> None:
        completed, total = self._fraction(state)
        eta_s = self._remaining(state)
        self._progress.update(
            self._task,
            description=self.describe(state, self._running),
            completed=completed,
            total=total,
            eta_s=eta_s,
            eta_at=time.monotonic(),
            eta_note="ETA after first training" if eta_s is None else "",
        )


class _NoProgress:
    """Stands in for :class:`CampaignProgress` when progress display is off."""

    def stage_started(self, state: CampaignState, stage: Stage) -> None:
        """Nothing."""

    def stage_finished(self, state: CampaignState, stage: Stage, seconds: float) -> None:
        """Nothing."""


@contextmanager
def campaign_progress(
    name: str,
    state: CampaignState,
    stages_of: StagesOf,
    *,
    rounds_total: int,
    batch_size: int,
    max_oracle_calls: int | None,
    enabled: bool,
) -> Iterator[CampaignProgress | _NoProgress]:
    """A :class:`CampaignProgress` while the block runs (a do-nothing one when disabled)."""
    if not enabled:
        yield _NoProgress()
        return
    with CampaignProgress(
        name,
        state,
        stages_of,
        rounds_total=rounds_total,
        batch_size=batch_size,
        max_oracle_calls=max_oracle_calls,
    ) as bar:
        yield bar


def _wrap(parts: Sequence[str], first: str, width: int) -> list[str]:
    """Join ``parts`` with ", " after ``first``, starting new indented lines before
    ``width``."""
    lines, line = [], first
    for i, part in enumerate(parts):
        sep = "" if line == first else ", "
        if len(line) + len(sep) + len(part) + (1 if i < len(parts) - 1 else 0) > width:
            lines.append(line + ("," if sep else ""))
            line, sep = "    ", ""
        line += sep + part
    lines.append(line)
    return lines


def round_lines(
    metrics: Mapping[str, float],
    *,
    final: bool,
    targets_total: int | None,
    rounds_total: int | None = None,
    units: Mapping[str, str] | None = None,
    width: int = LINE_WIDTH,
) -> list[str]:
    """The lines printed after a round: oracle calls, targets found, validation MAE.

    Args:
        metrics: The iteration's metrics (as recorded by the RECORD stage).
        final: Whether it is the campaign's final iteration.
        targets_total: Targets in the whole pool, when known.
        rounds_total: Selection rounds asked for (shown as ``round k/N``).
        units: Target -> unit of its MAE.
        width: No line is longer (long target names go on lines of their own).

    Returns:
        Plain-text lines, none longer than ``width`` (unless one target's name and MAE
        alone are).
    """
    units = units or {}
    iteration = int(metrics["iteration"])
    label = "final" if final else round_label(iteration, rounds_total or iteration, final=False)
    total = f"/{targets_total}" if targets_total is not None else ""
    head = (
        f"{label}: {int(metrics['oracle_calls'])} oracle calls, "
        f"{int(metrics['targets_found'])}{total} targets found"
    )
    maes = [
        f"{k.removeprefix('val_mae_')} {v:.3g}"
        # A dimensionless target (unit "1", e.g. a 0/1 indicator) shows no unit.
        + (
            f" {units[k.removeprefix('val_mae_')]}"
            if units.get(k.removeprefix("val_mae_"), "1") != "1"
            else ""
        )
        for k, v in metrics.items()
        if k.startswith("val_mae_") and np.isfinite(v)
    ]
    lines = _wrap([head], "", width) if len(head) > width else [head]
    if maes:
        lines += _wrap(maes, "  validation MAE: ", width)
    return lines


def log_line(
    metrics: Mapping[str, float],
    final: bool,
    targets_total: int | None,
    *,
    enabled: bool,
    rounds_total: int | None = None,
    units: Mapping[str, str] | None = None,
) -> None:
    """Print a round's summary lines (:func:`round_lines`) on standard error.

    Args:
        metrics: The iteration's metrics (as recorded by the RECORD stage).
        final: Whether it is the campaign's final iteration.
        targets_total: Targets in the whole pool, when known.
        enabled: Print at all.
        rounds_total: Selection rounds asked for.
        units: Target -> unit.
    """
    if not enabled:
        return
    from rich.console import Console

    console = Console(stderr=True)
    for line in round_lines(
        metrics, final=final, targets_total=targets_total, rounds_total=rounds_total, units=units
    ):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
