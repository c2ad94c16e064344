"""A stand-in slow code: the ``sleep`` oracle task of tests and benchmarks.

Registered as the oracle task ``sleep`` (:data:`materials_ai.oracles.tasks.TASKS`) and
configured as ``oracle: {kind: sleep, seconds: ...}``.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from materials_ai.oracles.tasks import TaskResult

if TYPE_CHECKING:
    from pymatgen.core import Structure

__all__ = ["SleepTask"]


@dataclass(frozen=True)
class SleepTask:
    """A stand-in for a slow code (tests and the resume benchmark).

    Sleeps, then returns ``n_sites``, ``volume_per_atom`` (Å³/atom, a value that differs
    between structures, for campaigns that learn from this task) and ``seconds`` as
    values. ``fail_ids`` fail with a reason (like a non-converged SCF); ``crash_ids`` kill
    their own worker with SIGSEGV (like a crashing code).

    Attributes:
        seconds: Time each job takes.
        fail_ids: Formulas (reduced) whose jobs fail.
        crash_ids: Formulas whose jobs crash the worker.
    """

    seconds: float = 0.1
    fail_ids: tuple[str, ...] = ()
    crash_ids: tuple[str, ...] = ()

    kind: ClassVar[str] = "sleep"
    fidelity: ClassVar[str] = "test"

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> SleepTask:
        return cls(
            seconds=float(settings.get("seconds", 0.1)),
            fail_ids=tuple(settings.get("fail_ids", ())),
            crash_ids=tuple(settings.get("crash_ids", ())),
        )

    def settings(self) -> dict[str, Any]:
        data = asdict(self)
        data["fail_ids"] = list(self.fail_ids)
        data["crash_ids"] = list(self.crash_ids)
        return data

    def versions(self) -> dict[str, str]:
        from materials_ai import __version__

        return {"materials_ai": __version__}

    def setup(self) -> None:
        pass

    def run_batch(
        self,
        structures: Sequence[Structure],
        workdirs: Sequence[Path],
        on_start: Callable[[int], None],
    ) -> Iterator[TaskResult]:
        for i, structure in enumerate(structures):
            on_start(i)
            formula = structure.composition.reduced_formula
            time.sleep(self.seconds)
            (workdirs[i] / "slept.txt").write_text(f"{self.seconds}\n")
            if formula in self.crash_ids:
                os.kill(os.getpid(), signal.SIGSEGV)
            if formula in self.fail_ids:
                yield TaskResult(ok=False, reason=f"forced failure for {formula}")
                continue
            yield TaskResult(
                values={
                    "n_sites": float(len(structure)),
                    "volume_per_atom": float(structure.volume / len(structure)),
                    "seconds": self.seconds,
                },
                details={"formula": formula},
            )
