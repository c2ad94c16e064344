"""Running screens: the screen protocol, per-screen outcomes and the screening report.

:func:`run_screens` applies screens in order and returns the survivors with a
:class:`ScreenReport`: per-screen counts (in, removed, reasons, seconds,
StructureMatcher calls) and per-candidate outcomes (the screen and reason that removed
it, or the screens it passed) and score columns.

Screens that a workflow names (``data.screens``) are looked up in :data:`SCREENS`, the
screen registry (:class:`~materials_ai.registry.Registry`): zero-argument factories that
return a :class:`Screen`.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from materials_ai.candidates.base import GeneratedCandidate
from materials_ai.errors import CandidateError
from materials_ai.registry import Registry, load_plugins

if TYPE_CHECKING:
    pass

__all__ = [
    "SCREENS",
    "Removal",
    "Screen",
    "ScreenFactory",
    "ScreenOutcome",
    "ScreenReport",
    "ScreenStep",
    "make_screen",
    "run_screens",
]


# --------------------------------------------------------------------------- outcomes


@dataclass(slots=True)
class ScreenOutcome:
    """What one screen decided for a list of candidates.

    Attributes:
        removals: Input index -> (reason code, detail) for each removed candidate.
        scores: Column name -> `n` values (NaN where not computed), one per input.
        matcher_calls: ``StructureMatcher.fit`` calls made.
    """

    removals: dict[int, tuple[str, str]] = field(default_factory=dict)
    scores: dict[str, np.ndarray] = field(default_factory=dict)
    matcher_calls: int = 0


@dataclass(frozen=True, slots=True)
class Removal:
    """Why a candidate was removed.

    Attributes:
        screen: Name of the screen.
        code: Reason code (counted in the report), e.g. ``toxic element``.
        detail: The specific reason, e.g. ``contains Pb (toxic)``.
    """

    screen: str
    code: str
    detail: str


@dataclass(slots=True)
class ScreenStep:
    """One screen's effect.

    Attributes:
        name: Screen name.
        n_in: Candidates that reached it.
        n_removed: Candidates it removed.
        reasons: Reason code -> count.
        seconds: Wall time.
        matcher_calls: ``StructureMatcher.fit`` calls made.
    """

    name: str
    n_in: int
    n_removed: int
    reasons: dict[str, int]
    seconds: float
    matcher_calls: int = 0

    @property
    def n_out(self) -> int:
        """Candidates that passed."""
        return self.n_in - self.n_removed


@dataclass
class ScreenReport:
    """Counts and per-candidate outcomes of a screening run.

    Attributes:
        generated: Candidates generated, per generator name.
        steps: One entry per screen, in the order run.
        removed: Candidate id -> the removal that stopped it.
        passed: Candidate id -> names of the screens it passed, in order.
        scores: Candidate id -> column -> value (sustainability, hull distance, ...).
        generation_seconds: Wall time of generation.
    """

    generated: dict[str, int] = field(default_factory=dict)
    steps: list[ScreenStep] = field(default_factory=list)
    removed: dict[str, Removal] = field(default_factory=dict)
    passed: dict[str, list[str]] = field(default_factory=dict)
    scores: dict[str, dict[str, float]] = field(default_factory=dict)
    generation_seconds: float = 0.0

    @property
    def n_generated(self) -> int:
        """Total candidates generated."""
        return sum(self.generated.values())

    @property
    def survivors(self) -> list[str]:
        """Ids that passed every screen run so far, in order."""
        return [cid for cid in self.passed if cid not in self.removed]

    def step(self, name: str) -> ScreenStep:
        """Return the step of screen ``name``.

        Raises:
            KeyError: If no screen of that name ran.
        """
        for s in self.steps:
            if s.name == name:
                return s
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (counts, per-candidate removals, passes and scores)."""
        return {
            "generated": dict(self.generated),
            "generation_seconds": self.generation_seconds,
            "steps": [
                {
                    "name": s.name,
                    "n_in": s.n_in,
                    "n_removed": s.n_removed,
                    "n_out": s.n_out,
                    "reasons": dict(s.reasons),
                    "seconds": s.seconds,
                    "matcher_calls": s.matcher_calls,
                }
                for s in self.steps
            ],
            "removed": {
                cid: {"screen": r.screen, "code": r.code, "detail": r.detail}
                for cid, r in self.removed.items()
            },
            "passed": {cid: list(v) for cid, v in self.passed.items()},
            "scores": {
                cid: {k: (None if not np.isfinite(v) else float(v)) for k, v in cols.items()}
                for cid, cols in self.scores.items()
            },
        }

    def save(self, path: str | Path) -> None:
        """Write :meth:`to_dict` as JSON."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=1))

    def summary(self) -> str:
        """A Markdown table: one row per screen with counts and the top reasons."""
        lines = [
            f"generated: {self.n_generated} "
            + "("
            + ", ".join(f"{k}: {v}" for k, v in self.generated.items())
            + ")",
            "",
            "| screen | in | removed | out | seconds | StructureMatcher calls | reasons |",
            "|---|---|---|---|---|---|---|",
        ]
        for s in self.steps:
            reasons = "; ".join(
                f"{code}: {count}" for code, count in Counter(s.reasons).most_common(4)
            )
            lines.append(
                f"| {s.name} | {s.n_in} | {s.n_removed} | {s.n_out} | {s.seconds:.2f} | "
                f"{s.matcher_calls} | {reasons} |"
            )
        return "\n".join(lines)


# --------------------------------------------------------------------------- protocol


@runtime_checkable
class Screen(Protocol):
    """A filter over candidates that says why it removes each one."""

    name: str

    def apply(self, candidates: Sequence[GeneratedCandidate]) -> ScreenOutcome:
        """Decide for every candidate (removals by input index; score columns)."""
        ...


def run_screens(
    candidates: Sequence[GeneratedCandidate],
    screens: Sequence[Screen],
    report: ScreenReport | None = None,
) -> tuple[list[GeneratedCandidate], ScreenReport]:
    """Apply ``screens`` in order; each sees only the survivors of the previous ones.

    Args:
        candidates: The pool (ids must be unique).
        screens: Screens, cheapest first.
        report: A report to extend (e.g. to add the stability screen after prediction);
            a new one when None.

    Returns:
        The survivors (input order) and the report.

    Raises:
        CandidateError: If two candidates share an id.
    """
    report = report if report is not None else ScreenReport()
    ids = [c.id for c in candidates]
    if len(set(ids)) != len(ids):
        repeated = [k for k, v in Counter(ids).items() if v > 1][:5]
        raise CandidateError(f"candidate ids must be unique; repeated: {repeated}")
    for cid in ids:
        report.passed.setdefault(cid, [])
    current = list(candidates)
    for screen in screens:
        start = time.perf_counter()
        outcome = screen.apply(current)
        seconds = time.perf_counter() - start
        reasons: Counter[str] = Counter()
        survivors: list[GeneratedCandidate] = []
        for i, c in enumerate(current):
            for column, values in outcome.scores.items():
                value = float(values[i])
                if np.isfinite(value):
                    report.scores.setdefault(c.id, {})[column] = value
            removal = outcome.removals.get(i)
            if removal is None:
                report.passed[c.id].append(screen.name)
                survivors.append(c)
            else:
                code, detail = removal
                reasons[code] += 1
                report.removed[c.id] = Removal(screen.name, code, detail)
        report.steps.append(
            ScreenStep(
                name=screen.name,
                n_in=len(current),
                n_removed=len(current) - len(survivors),
                reasons=dict(reasons),
                seconds=seconds,
                matcher_calls=outcome.matcher_calls,
            )
        )
        current = survivors
    return current, report


#: A named screen's factory: called without arguments, returns a :class:`Screen`.
ScreenFactory = Callable[[], Screen]

#: Screens a workflow can name (``data.screens``). The molecular branch registers
#: ``pfas_free`` (:mod:`materials_ai.molecules.registration`).
SCREENS: Registry[ScreenFactory] = Registry("screen")


def make_screen(name: str) -> Screen:
    """Build the screen registered as ``name``.

    Raises:
        ConfigError: For an unknown name (the message lists the known ones).
    """
    load_plugins()
    return SCREENS.get(name)()
