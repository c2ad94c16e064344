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

import difflib
import importlib.util
import logging
import shutil
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Protocol, Self, TypeVar, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from materials_ai.errors import ConfigError, MaterialsAIError
from materials_ai.settings import PROJECT_ROOT

if TYPE_CHECKING:
    from dask_jobqueue.core import JobQueueCluster
    from distributed import Client

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

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

#: Folder of the shipped compute configs (``serial``, ``local``, ``remote``, ``slurm``, ``pbs``).
COMPUTE_CONFIG_DIR = PROJECT_ROOT / "configs" / "compute"

_LOOPBACK = "127.0.0.1"

#: glibc ``malloc`` settings for the worker processes this module starts.
#:
#: Dask's nanny starts workers with ``MALLOC_TRIM_THRESHOLD_=65536`` (to hand freed memory
#: back to the OS). Setting any trim threshold also freezes glibc's mmap threshold at
#: 128 KiB, so every tensor above that is ``mmap``-ed and unmapped again: CGCNN inference
#: ran 3x slower in a Dask worker than in a plain process (5 s of system time in 11 s,
#: measured on 3,000 Castelli graphs). A 64 MiB trim threshold with a 32 MiB mmap
#: threshold restores plain-process speed and still returns large freed blocks.
WORKER_MALLOC_ENV: dict[str, int] = {
    "MALLOC_TRIM_THRESHOLD_": 64 * 2**20,
    "MALLOC_MMAP_THRESHOLD_": 32 * 2**20,
}


# --------------------------------------------------------------------------------------
# Executors
# --------------------------------------------------------------------------------------


@runtime_checkable
class Executor(Protocol):
    """Runs a function over items and returns the results in input order.

    Executors are context managers: leaving the ``with`` block calls :meth:`close`.
    """

    def map(self, fn: Callable[[T], R], items: Sequence[T], *, desc: str = "") -> list[R]:
        """Apply ``fn`` to every item.

        Args:
            fn: A function of one argument. On Dask with ``processes=True`` it must be
                picklable by cloudpickle (module-level functions, lambdas and closures are).
            items: The inputs, `n` of them.
            desc: A label for the progress bar.

        Returns:
            `n` results, ``result[i] == fn(items[i])``.

        Raises:
            Exception: The first exception raised by ``fn``, unchanged (same type and
                message); remaining work is cancelled.
        """
        ...

    def imap_unordered(
        self,
        fn: Callable[[T], R],
        items: Sequence[T],
        *,
        retries: int = 0,
        desc: str = "",
    ) -> Iterator[tuple[int, R]]:
        """Apply ``fn`` to every item; yield ``(index, result)`` as tasks finish.

        See the module docstring for the contract (record each pair before the next).

        Args:
            fn: A function of one argument (picklable, as for :meth:`map`).
            items: The inputs, `n` of them.
            retries: Extra attempts for a task that raises.
            desc: A label for the progress bar.

        Yields:
            `n` pairs ``(i, fn(items[i]))`` in completion order (input order when serial).

        Raises:
            Exception: A task's exception after ``retries`` further attempts, unchanged.
        """
        ...

    def scatter(self, obj: Any) -> Any:
        """Make ``obj`` available to every task once; put the returned reference in items."""
        ...

    def close(self) -> None:
        """Release the workers and any cluster this executor started. Idempotent."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # closed or replaced stream
        return False


@contextmanager
def _progress(desc: str, total: int, enabled: bool) -> Iterator[Callable[[], None]]:
    """Yield a callback that advances a Rich progress bar by one (a no-op when disabled)."""
    if not enabled or total == 0:
        yield lambda: None
        return
    from materials_ai.progress import rich_progress

    with rich_progress("[progress.description]", stderr=True) as progress:
        task = progress.add_task(desc or "tasks", total=total)
        yield lambda: progress.advance(task)


class SerialExecutor:
    """Runs the map as a plain loop in the calling process.

    Args:
        progress: Show a Rich progress bar on stderr; ``None`` shows one only when stderr
            is a terminal.
    """

    def __init__(self, *, progress: bool | None = None) -> None:
        self.progress = _stderr_is_terminal() if progress is None else progress

    def map(self, fn: Callable[[T], R], items: Sequence[T], *, desc: str = "") -> list[R]:
        """Apply ``fn`` to every item, in order (see :meth:`Executor.map`)."""
        results: list[R] = []
        with _progress(desc, len(items), self.progress) as advance:
            for item in items:
                results.append(fn(item))
                advance()
        return results

    def imap_unordered(
        self,
        fn: Callable[[T], R],
        items: Sequence[T],
        *,
        retries: int = 0,
        desc: str = "",
    ) -> Iterator[tuple[int, R]]:
        """Apply ``fn`` to every item in input order, yielding ``(index, result)`` pairs.

        A task that raises is called again up to ``retries`` times; then its exception
        propagates. Nothing runs ahead of the consumer: item ``i + 1`` starts only when
        the consumer asks for the next pair.
        """
        if retries < 0:
            raise ValueError(f"retries must be >= 0; got {retries}")
        with _progress(desc, len(items), self.progress) as advance:
            for i, item in enumerate(items):
                for attempt in range(retries + 1):
                    try:
                        result = fn(item)
                        break
                    except Exception:
                        if attempt == retries:
                            raise
                        logger.warning(
                            "task %d failed (attempt %d of %d); retrying",
                            i,
                            attempt + 1,
                            retries + 1,
                            exc_info=True,
                        )
                advance()
                yield i, result

    def scatter(self, obj: T) -> T:
        """Return ``obj`` itself: serial tasks share the caller's memory."""
        return obj

    def close(self) -> None:
        """Nothing to release."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SerialExecutor(progress={self.progress})"


def _identity(obj: T) -> T:
    return obj


class DaskExecutor:
    """Runs the map on a Dask cluster through a :class:`distributed.Client`.

    Build one with :meth:`from_config` (or :func:`make_executor`); the constructor wraps a
    client you already have.

    Args:
        client: A connected client.
        cluster: The cluster the client talks to, when this executor started it; it is
            closed by :meth:`close`.
        owns_client: Close ``client`` in :meth:`close` (set ``False`` for a client that the
            caller keeps using).
        progress: Show a Rich progress bar on stderr that follows task completion; ``None``
            shows one only when stderr is a terminal.
    """

    def __init__(
        self,
        client: Client,
        *,
        cluster: Any | None = None,
        owns_client: bool = True,
        progress: bool | None = None,
    ) -> None:
        self.client = client
        self.cluster = cluster
        self.owns_client = owns_client
        self.progress = _stderr_is_terminal() if progress is None else progress
        #: URL of the scheduler's dashboard; ``None`` when it is disabled.
        self.dashboard_link: str | None = _dashboard_link(client, "")
        self._closed = False

    @classmethod
    def from_config(cls, config: ComputeConfig, *, progress: bool | None = None) -> DaskExecutor:
        """Start (``local``, ``slurm``, ``pbs``) or connect to (``remote``) a Dask cluster.

        Logs the dashboard link at INFO level and, when ``progress`` is on, prints it on
        stderr.

        Args:
            config: A config whose ``kind`` is not ``serial``.
            progress: See the class docstring.

        Raises:
            ConfigError: If ``config.kind`` is ``serial``.
            MaterialsAIError: If the scheduler cannot be reached, or the batch system's
                submit command (``sbatch``, ``qsub``) is not on ``PATH``.
        """
        from distributed import Client, LocalCluster

        cluster: Any | None = None
        if config.kind == "serial":
            raise ConfigError("kind 'serial' has no Dask cluster: use SerialExecutor")
        dashboard = _loopback_dashboard(config.dashboard_address)
        if config.kind == "local":
            import dask

            # glibc reads MALLOC_* once, at process start: the nanny's ``env`` argument is
            # applied after the worker is spawned, too late; its pre-spawn environment
            # (read from the dask config when each Nanny is made) is in time.
            pre_spawn = {
                **dask.config.get("distributed.nanny.pre-spawn-environ", default={}),
                **{k: str(v) for k, v in WORKER_MALLOC_ENV.items()},
            }
            with dask.config.set({"distributed.nanny.pre-spawn-environ": pre_spawn}):
                cluster = LocalCluster(
                    n_workers=config.n_workers,
                    threads_per_worker=config.threads_per_worker,
                    processes=config.processes,
                    memory_limit=config.memory_limit,
                    # Threads-only clusters talk in-process (inproc://), which takes no host.
                    host=_LOOPBACK if config.processes else None,
                    # Disabled or not, the scheduler's HTTP server (health, metrics)
                    # listens: keep it on the loopback interface.
                    dashboard_address=dashboard or f"{_LOOPBACK}:0",
                    scheduler_kwargs={"dashboard": dashboard is not None},
                )
            try:
                client = Client(cluster, set_as_default=False)
            except BaseException:
                cluster.close()
                raise
        elif config.kind == "remote":
            assert config.scheduler_address is not None  # checked by ComputeConfig
            try:
                client = Client(
                    config.scheduler_address,
                    timeout=config.connect_timeout_s,
                    set_as_default=False,
                )
            except (OSError, TimeoutError) as exc:
                raise MaterialsAIError(
                    f"Cannot reach the Dask scheduler at {config.scheduler_address!r} within "
                    f"{config.connect_timeout_s} s: {exc}"
                ) from exc
        else:
            cluster = make_jobqueue_cluster(config, check_submit_command=True)
            try:
                adaptive = config.jobqueue.adaptive
                cluster.adapt(
                    minimum_jobs=adaptive.minimum_jobs,
                    maximum_jobs=adaptive.maximum_jobs,
                )
                client = Client(cluster, set_as_default=False)
            except BaseException:
                cluster.close()
                raise

        executor = cls(client, cluster=cluster, owns_client=True, progress=progress)
        if config.kind != "remote":
            executor.dashboard_link = _dashboard_link(client, dashboard)
        executor._announce(config)
        return executor

    def _announce(self, config: ComputeConfig) -> None:
        where = config.scheduler_address if config.kind == "remote" else config.kind
        link = self.dashboard_link
        address = getattr(self.client.scheduler, "address", None)
        message = f"Dask {where} cluster: scheduler {address}"
        if link:
            message += f", dashboard {link}"
            if importlib.util.find_spec("bokeh") is None:
                message += " (install bokeh>=3.1 to see the dashboard's plots)"
        logger.info(message)
        if self.progress:
            from rich.console import Console

            Console(stderr=True).print(message, highlight=False, soft_wrap=True)

    def scatter(self, obj: Any) -> Any:
        """Send ``obj`` to every worker once and return a reference (a Dask future).

        Put the reference inside the items given to :meth:`map` (e.g.
        ``[(ref, x) for x in xs]``); each task receives the object itself. Containers are
        scattered whole, as one object.

        Args:
            obj: A picklable, read-only object (a model, a table).

        Returns:
            A :class:`distributed.Future` for ``obj``.
        """
        if self.client.scheduler_info().get("workers"):
            try:
                [future] = self.client.scatter([obj], broadcast=True, hash=False)
                return future
            except TimeoutError:  # the workers left meanwhile
                pass
        # No worker yet (an adaptive cluster at zero jobs): scatter would time out, and
        # data alone does not make the cluster scale up. A task that returns the object
        # does; workers then fetch it from the one that holds it.
        logger.debug("No Dask worker to scatter to: the object travels as a task")
        return self.client.submit(_identity, obj, pure=False)

    def map(self, fn: Callable[[T], R], items: Sequence[T], *, desc: str = "") -> list[R]:
        """Apply ``fn`` to every item on the cluster (see :meth:`Executor.map`).

        Every item becomes one task (``pure=False``: equal items are computed again). The
        progress bar follows completion; the first failed task's exception is raised
        unchanged and the remaining tasks are cancelled.
        """
        from distributed import as_completed

        if not items:
            return []
        futures = self.client.map(fn, list(items), pure=False)
        try:
            with _progress(desc, len(futures), self.progress) as advance:
                for future in as_completed(futures, loop=self.client.loop):
                    if future.status == "error":
                        future.result()  # raises the task's exception as-is
                    advance()
            results: list[R] = self.client.gather(futures)
        except BaseException:
            self.client.cancel(futures)
            raise
        return results

    def imap_unordered(
        self,
        fn: Callable[[T], R],
        items: Sequence[T],
        *,
        retries: int = 0,
        desc: str = "",
    ) -> Iterator[tuple[int, R]]:
        """Submit every item at once; yield ``(index, result)`` as tasks finish.

        ``client.map(..., retries=retries)`` plus ``as_completed``. A result is released
        on the cluster once yielded, so memory holds only unfinished work. Leaving the
        loop early cancels the tasks that have not finished. See the module docstring.
        """
        from distributed import as_completed

        if retries < 0:
            raise ValueError(f"retries must be >= 0; got {retries}")
        if not items:
            return
        futures = self.client.map(fn, list(items), pure=False, retries=retries or None)
        index = {future.key: i for i, future in enumerate(futures)}
        pending = set(futures)
        completed = as_completed(futures, loop=self.client.loop)
        del futures
        try:
            with _progress(desc, len(index), self.progress) as advance:
                for future in completed:
                    pending.discard(future)
                    try:
                        result: R = future.result()  # a task's exception is raised as-is
                    except BaseException:
                        future.release()  # the traceback keeps the future alive
                        raise
                    i = index[future.key]
                    future.release()
                    del future
                    advance()
                    yield i, result
        finally:
            if pending:
                self.client.cancel(list(pending))
            completed.clear()

    def close(self) -> None:
        """Close the client (when owned) and the cluster this executor started."""
        if self._closed:
            return
        self._closed = True
        try:
            if self.owns_client:
                self.client.close()
        finally:
            if self.cluster is not None:
                self.cluster.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        address = getattr(self.client.scheduler, "address", None)
        return f"DaskExecutor(scheduler={address!r}, closed={self._closed})"


# --------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------


class AdaptiveConfig(BaseModel):
    """Adaptive scaling of a batch-system cluster, counted in jobs.

    Attributes:
        minimum_jobs: Jobs kept alive while idle (0 frees the allocation between maps).
        maximum_jobs: Upper bound on queued plus running worker jobs.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    minimum_jobs: int = Field(default=0, ge=0)
    maximum_jobs: int = Field(default=4, ge=1)

    @model_validator(mode="after")
    def _check_order(self) -> AdaptiveConfig:
        if self.minimum_jobs > self.maximum_jobs:
            raise ValueError(
                f"minimum_jobs ({self.minimum_jobs}) exceeds maximum_jobs ({self.maximum_jobs})"
            )
        return self


class JobQueueConfig(BaseModel):
    """One worker job on SLURM or PBS (``dask-jobqueue``); used when ``kind`` is slurm/pbs.

    Attributes:
        cores: CPU cores per job.
        processes: Dask worker processes per job; each gets ``cores / processes`` threads.
        memory: Memory per job (``"16GiB"``), split between the job's worker processes.
        walltime: Job time limit, ``HH:MM:SS`` (SLURM also takes ``D-HH:MM:SS``).
        account: Account (``-A``) charged for the jobs.
        queue: Partition (SLURM) or queue (PBS).
        interface: Network interface of the scheduler and workers (``"ib0"``); ``None`` uses
            the host's default address.
        job_name: Name of the worker jobs in the queue.
        python: Python on the compute nodes; ``None`` uses this process's interpreter
            (right when the venv lives on a shared file system).
        local_directory: Worker scratch space on the node (``"$TMPDIR"``).
        log_directory: Folder for the jobs' stdout/stderr files.
        job_script_prologue: Shell lines run before the worker starts (``module load``,
            ``source .venv/bin/activate``).
        job_extra_directives: Extra ``#SBATCH`` / ``#PBS`` lines, without the prefix.
        worker_extra_args: Extra ``dask worker`` arguments. ``--lifetime`` (shorter than
            ``walltime``) with ``--lifetime-stagger`` lets workers retire cleanly, handing
            their data on, before the batch system kills the job; adaptive scaling then
            submits replacements.
        adaptive: Adaptive scaling bounds.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    cores: int = Field(default=8, ge=1)
    processes: int = Field(default=1, ge=1)
    memory: str = "16GiB"
    walltime: str = "01:00:00"
    account: str | None = None
    queue: str | None = None
    interface: str | None = None
    job_name: str = "materials-ai-worker"
    python: str | None = None
    local_directory: str | None = None
    log_directory: str | None = None
    job_script_prologue: list[str] = Field(default_factory=list)
    job_extra_directives: list[str] = Field(default_factory=list)
    worker_extra_args: list[str] = Field(
        default_factory=lambda: ["--lifetime", "55m", "--lifetime-stagger", "4m"]
    )
    adaptive: AdaptiveConfig = Field(default_factory=AdaptiveConfig)

    @model_validator(mode="after")
    def _check_lifetime(self) -> JobQueueConfig:
        if self.processes > self.cores:
            raise ValueError(f"processes ({self.processes}) exceeds cores ({self.cores})")
        walltime_s = _walltime_seconds(self.walltime)
        lifetime_s = _option_seconds(self.worker_extra_args, "--lifetime")
        stagger_s = _option_seconds(self.worker_extra_args, "--lifetime-stagger") or 0.0
        if lifetime_s is not None and lifetime_s + stagger_s >= walltime_s:
            raise ValueError(
                f"worker --lifetime plus --lifetime-stagger ({lifetime_s + stagger_s:.0f} s) "
                f"must be shorter than walltime {self.walltime!r} ({walltime_s:.0f} s), or "
                "the batch system kills workers before they retire"
            )
        return self


def _walltime_seconds(walltime: str) -> float:
    """Seconds in a SLURM/PBS walltime (``MM``, ``MM:SS``, ``HH:MM:SS``, ``D-HH[:MM[:SS]]``)."""
    days = 0
    text = walltime.strip()
    try:
        if "-" in text:
            day_text, text = text.split("-", 1)
            days = int(day_text)
            parts = [int(p) for p in text.split(":")]
            parts += [0] * (3 - len(parts))  # D-HH, D-HH:MM
            hours, minutes, seconds = parts
        else:
            parts = [int(p) for p in text.split(":")]
            if len(parts) == 1:
                hours, minutes, seconds = 0, parts[0], 0
            elif len(parts) == 2:
                hours, (minutes, seconds) = 0, parts
            else:
                hours, minutes, seconds = parts
    except ValueError as exc:
        raise ValueError(f"walltime {walltime!r} is not HH:MM:SS, MM:SS, MM or D-HH:MM:SS") from exc
    return float(((days * 24 + hours) * 60 + minutes) * 60 + seconds)


def _option_seconds(args: Sequence[str], option: str) -> float | None:
    """Seconds given to ``option`` in a worker argument list (``--opt 5m`` or ``--opt=5m``)."""
    value: str | None = None
    for i, arg in enumerate(args):
        if arg == option and i + 1 < len(args):
            value = args[i + 1]
        elif arg.startswith(option + "="):
            value = arg.split("=", 1)[1]
    if value is None:
        return None
    from dask.utils import parse_timedelta

    try:
        return float(parse_timedelta(value, default="seconds"))
    except (KeyError, ValueError, TypeError) as exc:
        raise ValueError(f"cannot read {option} {value!r} as a duration (e.g. '55m')") from exc


class ComputeConfig(BaseModel):
    """Where and how :meth:`Executor.map` runs.

    Attributes:
        kind: ``serial``, ``local``, ``remote``, ``slurm`` or ``pbs`` (see the module doc).
        n_workers: Worker processes (``local``); ``None`` lets Dask pick from the core count.
        threads_per_worker: Threads per worker (``local``). 1 suits GIL-bound Python and
            libraries that start their own threads (torch, BLAS).
        processes: Workers are processes, not threads (``local``); keep ``True`` for
            Python-heavy work.
        memory_limit: Memory per worker (``local``), ``"auto"`` (machine memory split
            evenly), a size (``"4GiB"``) or ``None`` for no limit.
        scheduler_address: Address of a running scheduler (``remote``), e.g.
            ``"tcp://10.0.0.5:8786"``.
        connect_timeout_s: Seconds to wait for that scheduler.
        dashboard_address: Where the scheduler serves its dashboard when this executor
            starts the scheduler (``local``, ``slurm``, ``pbs``). A bare port (``":0"``:
            any free port, ``":8787"``) is bound to ``127.0.0.1``; reach it from another
            machine with an SSH tunnel. Give a host (``"0.0.0.0:8787"``) to expose it;
            ``None`` disables the dashboard.
        jobqueue: The worker job (``slurm``, ``pbs``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["serial", "local", "remote", "slurm", "pbs"] = "serial"
    n_workers: int | None = Field(default=None, ge=1)
    threads_per_worker: int = Field(default=1, ge=1)
    processes: bool = True
    memory_limit: str | None = "auto"
    scheduler_address: str | None = None
    connect_timeout_s: float = Field(default=30.0, gt=0)
    dashboard_address: str | None = ":0"
    jobqueue: JobQueueConfig = Field(default_factory=JobQueueConfig)

    @model_validator(mode="after")
    def _check_kind(self) -> ComputeConfig:
        if self.kind == "remote" and not self.scheduler_address:
            raise ValueError("kind 'remote' needs scheduler_address (e.g. 'tcp://host:8786')")
        return self


def _loopback_dashboard(address: str | None) -> str | None:
    """Bind a host-less dashboard address (``":0"``) to the loopback interface.

    ``distributed`` binds ``":port"`` to every interface (0.0.0.0); the platform's default
    is to keep the dashboard private to the machine.
    """
    if address is None:
        return None
    text = str(address).strip()
    if text.isdigit():
        return f"{_LOOPBACK}:{text}"
    if text.startswith(":"):
        return f"{_LOOPBACK}{text}"
    return text


def _dashboard_link(client: Client, bind: str | None) -> str | None:
    """The dashboard URL of ``client``'s scheduler, whose dashboard was bound to ``bind``.

    ``bind`` is ``None`` for a disabled dashboard and ``""`` when unknown (a scheduler
    started elsewhere): the client's own link is used then, and for wildcard hosts.
    """
    if bind is None:
        return None
    host = bind.rpartition(":")[0].strip("[]")
    try:
        if host and host not in ("0.0.0.0", "::"):
            port = client.scheduler_info().get("services", {}).get("dashboard")
            if port:
                netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
                return f"http://{netloc}/status"
        return str(client.dashboard_link)
    except Exception:  # link formatting depends on dask config; never fatal
        return None


def _config_error(exc: ValidationError, model: type[BaseModel], source: str) -> ConfigError:
    """Turn a pydantic error into a :class:`ConfigError` naming the source and every key."""
    problems: list[str] = []
    for error in exc.errors():
        loc = [str(part) for part in error["loc"]]
        key = ".".join(loc)
        if error["type"] == "extra_forbidden":
            allowed = _allowed_keys(model, loc[:-1])
            close = difflib.get_close_matches(loc[-1], allowed, n=1)
            if close:
                hint = f" (did you mean {close[0]!r}?)"
            else:
                hint = f" (allowed keys there: {', '.join(sorted(allowed))})"
            problems.append(f"unknown key {key!r}{hint}")
        elif key:
            problems.append(f"{key!r}: {error['msg']}")
        else:
            problems.append(str(error["msg"]).removeprefix("Value error, "))
    return ConfigError(f"{source}: " + "; ".join(problems))


def _allowed_keys(model: type[BaseModel], path: Sequence[str]) -> list[str]:
    """Field names of the (nested) model found by following ``path`` from ``model``."""
    current: type[BaseModel] = model
    for part in path:
        field = current.model_fields.get(part)
        annotation = field.annotation if field is not None else None
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            current = annotation
        else:
            return []
    return list(current.model_fields)


def load_compute_config(path: str | Path) -> ComputeConfig:
    """Read a compute config from a YAML file.

    Args:
        path: A YAML mapping of :class:`ComputeConfig` fields (see ``configs/compute/``).

    Raises:
        ConfigError: If the file is missing or not YAML, or a key is unknown or invalid;
            the message names the file and the key.
    """
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read compute config: {exc.strerror or exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a compute config must be a mapping, got {type(data).__name__}")
    try:
        return ComputeConfig.model_validate(data)
    except ValidationError as exc:
        raise _config_error(exc, ComputeConfig, str(path)) from None


# --------------------------------------------------------------------------------------
# Factories
# --------------------------------------------------------------------------------------


def make_jobqueue_cluster(
    config: ComputeConfig, *, check_submit_command: bool = False
) -> JobQueueCluster:
    """Build (but do not scale) the SLURM or PBS cluster a config describes.

    The cluster starts its scheduler in this process and submits nothing until it is
    scaled; ``cluster.job_script()`` shows the script each worker job will run. Close it
    with ``cluster.close()``.

    Args:
        config: A config of kind ``slurm`` or ``pbs``.
        check_submit_command: Fail early when ``sbatch``/``qsub`` is not on ``PATH``.

    Raises:
        ConfigError: If ``config.kind`` is not a batch system.
        MaterialsAIError: If ``check_submit_command`` and the submit command is missing.
    """
    from dask_jobqueue import PBSCluster, SLURMCluster

    cluster_cls: type[JobQueueCluster]
    if config.kind == "slurm":
        cluster_cls = SLURMCluster
    elif config.kind == "pbs":
        cluster_cls = PBSCluster
    else:
        raise ConfigError(f"kind {config.kind!r} is not a batch system (slurm, pbs)")

    submit = cluster_cls.job_cls.submit_command
    if check_submit_command and shutil.which(submit) is None:
        raise MaterialsAIError(
            f"kind {config.kind!r} needs {submit!r} on PATH (run on the cluster's login "
            "node), or use configs/compute/local.yaml on this machine"
        )
    jq = config.jobqueue
    dashboard = _loopback_dashboard(config.dashboard_address)
    scheduler_options: dict[str, Any] = {
        "dashboard_address": dashboard or f"{_LOOPBACK}:0",
        "dashboard": dashboard is not None,
    }
    kwargs: dict[str, Any] = {
        "cores": jq.cores,
        "processes": jq.processes,
        "memory": jq.memory,
        "walltime": jq.walltime,
        "account": jq.account,
        "queue": jq.queue,
        "interface": jq.interface,
        "job_name": jq.job_name,
        "local_directory": jq.local_directory,
        "log_directory": jq.log_directory,
        # The nanny of a batch job reads its pre-spawn environment from the dask config;
        # this variable updates it (see WORKER_MALLOC_ENV).
        "job_script_prologue": [
            f'export DASK_DISTRIBUTED__NANNY__PRE_SPAWN_ENVIRON="{WORKER_MALLOC_ENV!r}"',
            *jq.job_script_prologue,
        ],
        "job_extra_directives": list(jq.job_extra_directives),
        "worker_extra_args": list(jq.worker_extra_args),
        "scheduler_options": scheduler_options,
    }
    if jq.python is not None:
        kwargs["python"] = jq.python
    return cluster_cls(**kwargs)


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


def worker_threads() -> int | None:
    """Threads of the Dask worker running the current task, or None outside a worker.

    Tasks that use threaded libraries (torch, BLAS) call this to match their thread pool to
    the worker's share of the machine; otherwise every worker process would start one thread
    per core and oversubscribe the CPU.
    """
    if "distributed" not in sys.modules:
        return None
    from distributed import get_worker

    try:
        return int(get_worker().state.nthreads)
    except ValueError:  # not inside a worker
        return None
