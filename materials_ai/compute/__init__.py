"""The execution layer: run a function over many items, serially or on Dask.

Science code calls one method, :meth:`Executor.map`, and never sees Dask::

    from materials_ai.compute import load_compute_config, make_executor

    with make_executor(load_compute_config("configs/compute/local.yaml")) as executor:
        graphs = executor.map(build_graph, structures, desc="graphs")

Engines (``ComputeConfig.kind``):

==========  ===============================================================================
``serial``  a plain loop in this process (:class:`SerialExecutor`); the default
``local``   a :class:`distributed.LocalCluster` on this machine, bound to ``127.0.0.1``
``remote``  a running Dask scheduler at ``scheduler_address``
``slurm``   a ``dask_jobqueue.SLURMCluster`` that submits worker jobs with ``sbatch`` and
            scales adaptively between ``jobqueue.adaptive.minimum_jobs`` and ``maximum_jobs``
``pbs``     the same with ``dask_jobqueue.PBSCluster`` (``qsub``)
==========  ===============================================================================

Large read-only inputs (a trained model, a lookup table) are sent to the workers once with
``executor.scatter(obj)``; put the returned reference *inside each item* (for example
``[(ref, x) for x in xs]``): Dask replaces references nested in tuples, lists and dicts of
an item by the object on the worker. A reference hidden in a ``functools.partial`` is *not*
replaced. :meth:`SerialExecutor.scatter` returns the object itself, so the same code runs
on both executors.

Long jobs whose results must be kept as they finish (oracle jobs: DFT, ML-potential
relaxations) use :meth:`Executor.imap_unordered`, which yields ``(index, result)`` pairs in
completion order::

    for i, observation in executor.imap_unordered(relax, candidates, retries=2):
        store.record(candidates[i], observation)      # durable before the next pair

Its contract:

* every item's result is yielded exactly once, tagged with the item's index;
* a pair is handed over only after its task finished, and the executor keeps no copy: the
  caller records it (to disk, a database) before asking for the next one, so a crash of
  the caller loses none of the results it was given. Work not yet yielded is lost with
  the caller and is resubmitted by the caller's resume logic (items without a record);
* leaving the loop early (``break``, an exception, a crash) cancels the unfinished tasks;
* a task that raises is run again up to ``retries`` times (on Dask, possibly on another
  worker); after that its exception propagates unchanged from the loop and the remaining
  tasks are cancelled. Jobs with expected, per-item failures (an SCF that does not
  converge) should return a failed result (``Observation(ok=False, reason=...)``) rather
  than raise, so one bad candidate does not end the loop.

Fault tolerance: a Dask worker that dies (killed by a walltime, the OOM killer, a node
failure) loses only its running tasks and the results it held; the scheduler reruns them on
the other workers, and :meth:`Executor.map` and :meth:`Executor.imap_unordered` still
return every result. A task is declared failed (``KilledWorker``) only after it was running
on ``distributed.scheduler.allowed-failures`` (default 3) workers that died: a task that
itself crashes its worker (a segfault, memory) does not take down the whole cluster.
Scattered objects are replicated on every worker, so they survive the loss of any worker
but the last.

Dask is imported lazily, inside functions, so that ``import materials_ai.compute`` stays
cheap (the CLI's start-up path imports it).
"""

from __future__ import annotations

from materials_ai.compute.base import (
    COMPUTE_CONFIG_DIR,
    WORKER_MALLOC_ENV,
    Executor,
    SerialExecutor,
    worker_threads,
)
from materials_ai.compute.config import (
    AdaptiveConfig,
    ComputeConfig,
    JobQueueConfig,
    load_compute_config,
)
from materials_ai.compute.dask_executor import DaskExecutor
from materials_ai.compute.jobqueue import make_jobqueue_cluster

__all__ = [
    "COMPUTE_CONFIG_DIR",
    "WORKER_MALLOC_ENV",
    "AdaptiveConfig",
    "ComputeConfig",
    "DaskExecutor",
    "Executor",
    "JobQueueConfig",
    "SerialExecutor",
    "load_compute_config",
    "make_executor",
    "make_jobqueue_cluster",
    "worker_threads",
]


def make_executor(config: ComputeConfig | None, *, progress: bool | None = None) -> Executor:
    """Build the executor a config describes.

    Args:
        config: ``None`` or kind ``serial`` gives a :class:`SerialExecutor`; any other kind
            a :class:`DaskExecutor` (see :meth:`DaskExecutor.from_config`).
        progress: Progress bars on stderr; ``None`` shows them only on a terminal.

    Returns:
        An executor; use it as a context manager, or call ``close()``.
    """
    if config is None or config.kind == "serial":
        return SerialExecutor(progress=progress)
    return DaskExecutor.from_config(config, progress=progress)
