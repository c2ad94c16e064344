"""The Dask executor: :class:`DaskExecutor` on a local, remote or batch-system cluster."""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from materials_ai.compute.base import (
    WORKER_MALLOC_ENV,
    ClosesOnExit,
    _progress,
    _stderr_is_terminal,
)
from materials_ai.compute.config import _LOOPBACK, ComputeConfig, _loopback_dashboard
from materials_ai.compute.jobqueue import make_jobqueue_cluster
from materials_ai.errors import ConfigError, MaterialsAIError

if TYPE_CHECKING:
    from distributed import Client

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


def _identity(obj: T) -> T:
    return obj


class DaskExecutor(ClosesOnExit):
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
        #: Scatter as a task the scheduler can rerun (set for batch-system clusters, whose
        #: workers come and go): broadcast data is lost with the last worker holding it.
        self.recoverable_scatter = False

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
        # SLURM/PBS workers retire (--lifetime), hit walltimes and get scancel-led: adaptive
        # scaling may leave a single worker, whose loss would lose broadcast data for good.
        executor.recoverable_scatter = config.kind in ("slurm", "pbs")
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
        if not self.recoverable_scatter and self.client.scheduler_info().get("workers"):
            try:
                [future] = self.client.scatter([obj], broadcast=True, hash=False)
                return future
            except TimeoutError:  # the workers left meanwhile
                pass
        # No worker yet (an adaptive cluster at zero jobs): scatter would time out, and
        # data alone does not make the cluster scale up. A task that returns the object
        # does; workers then fetch it from the one that holds it, and the scheduler reruns
        # it if every worker holding the result is lost (recoverable_scatter).
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

    def __repr__(self) -> str:
        address = getattr(self.client.scheduler, "address", None)
        return f"DaskExecutor(scheduler={address!r}, closed={self._closed})"


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
