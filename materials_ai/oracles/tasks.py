"""What a job computes: tasks, their results, and a name -> class registry.

A task is a small frozen dataclass of settings whose methods do the work (the jobflow
pattern): :meth:`Task.setup` once per worker process (load a model, find PAW setups), then
:meth:`Task.run_batch` over the structures of the jobs the worker holds. Tasks run inside
``python -m materials_ai.oracles.worker`` processes, never in the campaign's process.

Registered kinds (imported lazily, so that the registry costs nothing to import):

=========  ==========================================  ================
kind       class                                       fidelity
=========  ==========================================  ================
``chgnet`` :class:`materials_ai.oracles.mlp.CHGNetTask`  ``ml_potential``
``gpaw``   :class:`materials_ai.oracles.dft.GPAWTask`    ``dft_gllbsc``
``sleep``  :class:`SleepTask` (tests, benchmarks)        ``test``
``xtb``    :class:`materials_ai.molecules.oracles.XTBTask`  ``xtb_gfn2``
``pyscf``  :class:`materials_ai.molecules.oracles.PySCFTask`  ``dft_b3lyp``
=========  ==========================================  ================
"""

from __future__ import annotations

import importlib
import os
import signal
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

from materials_ai.errors import OracleError

if TYPE_CHECKING:
    from pymatgen.core import Structure

TASK_CLASSES: dict[str, str] = {
    "chgnet": "materials_ai.oracles.mlp:CHGNetTask",
    "gpaw": "materials_ai.oracles.dft:GPAWTask",
    "sleep": "materials_ai.oracles.tasks:SleepTask",
    # Molecules (issue 9): GFN2-xTB and PySCF DFT frontier orbitals.
    "xtb": "materials_ai.molecules.oracles:XTBTask",
    "pyscf": "materials_ai.molecules.oracles:PySCFTask",
}


@dataclass(frozen=True, slots=True)
class TaskResult:
    """The outcome of one job.

    Attributes:
        values: Target name -> value (empty when ``ok`` is false).
        ok: False when the validation failed (non-convergence, unsupported element...).
        reason: Why it failed.
        structure: Output structure as a pymatgen dict (the relaxed cell), if any.
        details: Further JSON numbers (Kohn-Sham gap, relaxation steps, timings).
    """

    values: dict[str, float] = field(default_factory=dict)
    ok: bool = True
    reason: str = ""
    structure: dict[str, Any] | None = None
    details: dict[str, Any] = field(default_factory=dict)


#: What a task computes on: a crystal ``Structure`` or a ``Molecule`` (contravariant).
StructureT_contra = TypeVar("StructureT_contra", contravariant=True)


class Task(Protocol[StructureT_contra]):
    """Computes results for structures (crystals or molecules); runs in a worker process."""

    kind: ClassVar[str]
    fidelity: ClassVar[str]

    def settings(self) -> dict[str, Any]:
        """JSON settings (they define the job id together with the candidate)."""
        ...

    def versions(self) -> dict[str, str]:
        """Code names -> versions, recorded in every observation's provenance."""
        ...

    def setup(self) -> None:
        """Once per worker process, before the first job."""
        ...

    def run_batch(
        self,
        structures: Sequence[StructureT_contra],
        workdirs: Sequence[Path],
        on_start: Callable[[int], None],
    ) -> Iterator[TaskResult]:
        """Yield one result per structure, in order; call ``on_start(i)`` before item ``i``.

        A per-structure failure is a result with ``ok=False``; an exception ends the batch
        (the worker records it as the failure of the job in progress).
        """
        ...


def task_class(kind: str) -> type[Any]:
    """The task class registered under ``kind``.

    Raises:
        OracleError: For an unknown kind.
    """
    try:
        path = TASK_CLASSES[kind]
    except KeyError:
        raise OracleError(
            f"unknown oracle task {kind!r}; known: {', '.join(sorted(TASK_CLASSES))}"
        ) from None
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


def make_task(kind: str, settings: Mapping[str, Any]) -> Task:
    """Build a task from its kind and JSON settings."""
    return task_class(kind).from_settings(dict(settings))  # type: ignore[no-any-return]


def worker_cores() -> int:
    """Cores granted to this worker process by its launcher (``MATERIALS_AI_WORKER_CORES``)."""
    try:
        return max(1, int(os.environ.get("MATERIALS_AI_WORKER_CORES", "1")))
    except ValueError:
        return 1


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
