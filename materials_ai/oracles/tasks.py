"""What a job computes: tasks, their results, and a name -> class registry.

A task is a small frozen dataclass of settings whose methods do the work (the jobflow
pattern): :meth:`Task.setup` once per worker process (load a model, find PAW setups), then
:meth:`Task.run_batch` over the structures of the jobs the worker holds. Tasks run inside
``python -m materials_ai.oracles.worker`` processes, never in the campaign's process.

Registered kinds (:data:`TASKS`, imported lazily, so that the registry costs nothing to
import):

=========  ==========================================  ================
kind       class                                       fidelity
=========  ==========================================  ================
``chgnet`` :class:`materials_ai.oracles.mlp.CHGNetTask`  ``ml_potential``
``gpaw``   :class:`materials_ai.oracles.dft.GPAWTask`    ``dft_gllbsc``
``sleep``  ``materials_ai.testing.sleep.SleepTask``       ``test`` (tests, benchmarks)
``xtb``    ``materials_ai.molecules.oracles.XTBTask``    ``xtb_gfn2`` (molecular plugin)
``pyscf``  ``materials_ai.molecules.oracles.PySCFTask``  ``dft_b3lyp`` (molecular plugin)
=========  ==========================================  ================
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

from materials_ai.errors import OracleError
from materials_ai.registry import Registry

if TYPE_CHECKING:
    pass

#: Oracle task kind -> task class (see the table above). The molecular plugin
#: (:mod:`materials_ai.molecules.registration`) registers ``xtb`` and ``pyscf``.
TASKS: Registry[type[Any]] = Registry("oracle task")
TASKS.register_lazy("chgnet", "materials_ai.oracles.mlp:CHGNetTask")
TASKS.register_lazy("gpaw", "materials_ai.oracles.dft:GPAWTask")
# A stand-in slow code for tests and benchmarks (lives with the test harnesses).
TASKS.register_lazy("sleep", "materials_ai.testing.sleep:SleepTask")


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
    if kind not in TASKS:
        raise OracleError(f"unknown oracle task {kind!r}; known: {', '.join(TASKS.names())}")
    return TASKS.get(kind)


def make_task(kind: str, settings: Mapping[str, Any]) -> Task:
    """Build a task from its kind and JSON settings."""
    return task_class(kind).from_settings(dict(settings))  # type: ignore[no-any-return]


def worker_cores() -> int:
    """Cores granted to this worker process by its launcher (``MATERIALS_AI_WORKER_CORES``)."""
    try:
        return max(1, int(os.environ.get("MATERIALS_AI_WORKER_CORES", "1")))
    except ValueError:
        return 1
