"""An oracle whose validations are durable jobs (ML-potential relaxations, DFT).

:class:`JobOracle` turns each submitted candidate into a job directory of a
:class:`~materials_ai.oracles.jobs.JobStore` and hands batches of jobs to a *launcher*,
which starts worker processes without blocking the caller:

* :class:`ExecutorLauncher` runs :func:`~materials_ai.oracles.jobs.run_worker` through the
  platform's :class:`~materials_ai.compute.Executor` (``imap_unordered``) from a background
  thread: on a Dask ``LocalCluster`` the workers are the cluster's, on SLURM/PBS the jobs run
  on the batch system's nodes (the store must be on a shared file system).
* :class:`ProcessLauncher` starts up to ``max_parallel`` worker processes from a thread pool
  of this process (no Dask needed).
* :class:`~materials_ai.oracles.slurm.SlurmLauncher` submits each batch as a SLURM job
  (``sbatch``); a launcher with a ``holds(store, job_id)`` method is asked before a job is
  relaunched, so jobs still queued in the batch system are not submitted twice.

Each worker process is detached: it finishes its jobs even if the campaign dies. The oracle
keeps nothing in memory that the job directories do not also hold, so a new process (a
resumed campaign) given the same tickets collects the finished jobs, adopts the running
ones, and re-launches only the jobs whose workers are gone.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from materials_ai.data.records import Candidate, Observation
from materials_ai.errors import OracleError
from materials_ai.oracles.base import Ticket
from materials_ai.oracles.jobs import JobStore, WorkerSpec, run_worker

if TYPE_CHECKING:
    from pymatgen.core import Structure

    from materials_ai.compute import Executor
    from materials_ai.data.records import Molecule
    from materials_ai.oracles.tasks import Task

logger = logging.getLogger(__name__)

OnDone = Callable[[WorkerSpec, Mapping[str, Any]], None]


class Launcher(Protocol):
    """Starts worker processes for batches of jobs without blocking the caller."""

    def launch(self, specs: Sequence[WorkerSpec], on_done: OnDone) -> None:
        """Start ``specs``; call ``on_done(spec, summary)`` when each worker has ended."""
        ...

    def close(self) -> None:
        """Stop launching (running detached workers carry on)."""
        ...


class ProcessLauncher:
    """Up to ``max_parallel`` worker processes at a time, watched from a thread pool.

    Args:
        max_parallel: Concurrent worker processes.
    """

    def __init__(self, max_parallel: int = 1) -> None:
        self.max_parallel = max(1, int(max_parallel))
        self._pool = ThreadPoolExecutor(self.max_parallel, thread_name_prefix="oracle-worker")

    def launch(self, specs: Sequence[WorkerSpec], on_done: OnDone) -> None:
        for spec in specs:
            self._pool.submit(_watch, spec, on_done)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _watch(spec: WorkerSpec, on_done: OnDone) -> None:
    try:
        summary: Mapping[str, Any] = run_worker(spec)
    except Exception as exc:  # a launcher failure must not kill the campaign
        logger.exception("oracle worker for %s could not run", spec.job_ids)
        summary = {"error": f"{type(exc).__name__}: {exc}"}
    on_done(spec, summary)


class ExecutorLauncher:
    """Worker processes started by tasks of an :class:`~materials_ai.compute.Executor`.

    Every :meth:`launch` call drains ``executor.imap_unordered(run_worker, specs)`` in a
    daemon thread. A :class:`~materials_ai.compute.SerialExecutor` runs one worker at a time
    (in that thread); a :class:`~materials_ai.compute.DaskExecutor` as many as it has worker
    threads, each waiting on its worker process.

    Args:
        executor: The executor (shared with the campaign; Dask clients are thread-safe).
    """

    def __init__(self, executor: Executor) -> None:
        self.executor = executor
        self._threads: list[threading.Thread] = []
        self._closed = False

    def launch(self, specs: Sequence[WorkerSpec], on_done: OnDone) -> None:
        specs = list(specs)
        if not specs:
            return
        thread = threading.Thread(
            target=self._drain, args=(specs, on_done), daemon=True, name="oracle-launch"
        )
        self._threads.append(thread)
        thread.start()

    def _drain(self, specs: list[WorkerSpec], on_done: OnDone) -> None:
        done: set[int] = set()
        try:
            for i, summary in self._results(specs):
                done.add(i)
                on_done(specs[i], summary)
                if self._closed:
                    break
        except Exception as exc:
            logger.exception("oracle jobs on the executor stopped")
            for i, spec in enumerate(specs):
                if i not in done:
                    on_done(spec, {"error": f"{type(exc).__name__}: {exc}"})

    def _results(self, specs: list[WorkerSpec]) -> Iterator[tuple[int, Mapping[str, Any]]]:
        """``imap_unordered``, or Dask futures with resource requests when workers offer them."""
        client = getattr(self.executor, "client", None)
        wanted = dict(specs[0].resources)
        if client is not None and wanted:
            offered: set[str] = set()
            for worker in client.scheduler_info().get("workers", {}).values():
                offered |= set(worker.get("resources", {}))
            usable = {k: v for k, v in wanted.items() if k in offered}
            if usable:
                from distributed import as_completed

                futures = [
                    client.submit(run_worker, spec, resources=usable, pure=False, retries=1)
                    for spec in specs
                ]
                index = {f.key: i for i, f in enumerate(futures)}
                for future in as_completed(futures):
                    yield index[future.key], future.result()
                    future.release()
                return
        yield from self.executor.imap_unordered(run_worker, specs, retries=1)

    def close(self) -> None:
        self._closed = True


@dataclass(frozen=True, slots=True)
class JobResult:
    """Everything a finished job produced.

    Attributes:
        job_id: The job (= ticket id).
        observation: The observation (ok or failed).
        structure: Output structure (the relaxed cell for a relaxation), or None.
        details: Task-specific numbers (Kohn-Sham gap, relaxation steps...).
        timing: started, finished, wall_s, attempt, host, cores.
    """

    job_id: str
    observation: Observation
    structure: Structure | Molecule | None
    details: Mapping[str, Any]
    timing: Mapping[str, Any]


class JobOracle:
    """Validate candidates with a task run as durable jobs.

    Args:
        task: What each job computes (e.g. :class:`~materials_ai.oracles.mlp.CHGNetTask`).
        store: Job store (or its folder).
        name: Oracle name (first part of job ids and tickets).
        launcher: Starts the workers; default a one-process :class:`ProcessLauncher`.
        fidelity: Fidelity label of the observations (default the task's own; only test
            stand-ins override it).
        batch_size: Jobs per worker process (a model is loaded once per worker: use tens
            for an ML potential, 1 for DFT).
        cores: Threads per worker process (BLAS/OpenMP/torch).
        timeout_s: Wall-clock limit of one worker process (None: none); scaled by the
            number of jobs in its batch.
        python: Interpreter of the workers (default: this one).
        detach: Workers survive the campaign process (recommended).
        resources: Dask resources one worker process holds (``{"cores": 1,
            "memory": 2e9}``), used by :class:`ExecutorLauncher` when the Dask workers
            declare them.
    """

    def __init__(
        self,
        task: Task[Any],
        store: JobStore | str | Path,
        *,
        name: str | None = None,
        launcher: Launcher | None = None,
        fidelity: str | None = None,
        batch_size: int = 1,
        cores: int = 1,
        timeout_s: float | None = None,
        python: str | None = None,
        detach: bool = True,
        resources: Mapping[str, float] | None = None,
    ) -> None:
        self.task = task
        self.store = store if isinstance(store, JobStore) else JobStore(store)
        self.name = name or task.kind
        self.fidelity = fidelity or task.fidelity
        self.launcher: Launcher = launcher or ProcessLauncher(1)
        self.batch_size = max(1, int(batch_size))
        self.cores = max(1, int(cores))
        self.timeout_s = timeout_s
        self.python = python or sys.executable
        self.detach = detach
        self.resources = dict(resources or {})
        self._task_spec = {"kind": task.kind, "settings": task.settings()}
        self._lock = threading.Lock()
        self._in_flight: set[str] = set()
        #: Worker summaries seen by this process (diagnostics).
        self.launch_log: list[Mapping[str, Any]] = []

    # -- the Oracle protocol -----------------------------------------------------------

    def job_id_for(self, candidate_id: str) -> str:
        """The job id (= ticket id) this oracle gives ``candidate_id``."""
        return self.store.job_id(self.name, candidate_id, self._task_spec)

    def submit(
        self,
        candidates: Sequence[Candidate],
        *,
        extra: Mapping[str, Any] | None = None,
    ) -> list[Ticket]:
        """Create a job per candidate and start the workers; returns at once.

        A candidate submitted before with the same settings gets its existing job back
        (finished jobs are never recomputed; unfinished ones are re-launched only if their
        worker is gone).

        Args:
            candidates: What to validate (their structures are the jobs' inputs).
            extra: JSON kept in each job's ``input.json`` (e.g. the chain stage).
        """
        tickets = []
        to_launch = []
        for candidate in candidates:
            job_id = self.job_id_for(candidate.id)
            created = self.store.create(
                job_id,
                candidate_id=candidate.id,
                structure=candidate.structure,
                task=self._task_spec,
                fidelity=self.fidelity,
                oracle=self.name,
                extra={"source": candidate.source, **dict(extra or {})},
            )
            tickets.append(Ticket(job_id, candidate.id, self.name))
            if created or self._needs_launch(job_id):
                to_launch.append(job_id)
        self._launch(to_launch)
        return tickets

    def collect(self, tickets: Sequence[Ticket]) -> list[Observation]:
        """Observations of the finished tickets (idempotent; never blocks).

        Unfinished jobs whose workers are gone (the process that launched them died) are
        re-launched on the way.

        Raises:
            OracleError: If a ticket belongs to another oracle.
        """
        observations = []
        orphans = []
        for ticket in tickets:
            self._check(ticket)
            info = self.store.info(ticket.id)
            if info.state == "missing":
                observations.append(
                    Observation(
                        ticket.candidate_id,
                        {},
                        self.fidelity,
                        {"job_id": ticket.id},
                        ok=False,
                        reason=f"job directory {self.store.job_dir(ticket.id)} is missing",
                    )
                )
            elif info.finished:
                observations.append(self._observation(ticket))
            elif self._needs_launch(ticket.id):
                orphans.append(ticket.id)
        self._launch(orphans)
        return observations

    def resubmit(self, tickets: Sequence[Ticket]) -> None:
        """Re-launch the unfinished jobs among ``tickets`` whose workers are gone."""
        orphans = [
            t.id
            for t in tickets
            if t.oracle == self.name
            and not self.store.info(t.id).finished
            and self._needs_launch(t.id)
        ]
        self._launch(orphans)

    # -- extras ----------------------------------------------------------------------------

    def result(self, ticket: Ticket | str) -> JobResult | None:
        """Everything a finished job produced (None while unfinished)."""
        job_id = ticket.id if isinstance(ticket, Ticket) else ticket
        output = self.store.read_output(job_id)
        if output is None or not self.store.info(job_id).finished:
            return None
        structure = None
        if output.get("structure"):
            from materials_ai.data.records import structure_from_dict

            structure = structure_from_dict(output["structure"])
        return JobResult(
            job_id=job_id,
            observation=Observation.from_dict(output["observation"]),
            structure=structure,
            details=dict(output.get("details", {})),
            timing=dict(output.get("timing", {})),
        )

    def finished(self, tickets: Sequence[Ticket]) -> list[bool]:
        """Whether each ticket's job has finished."""
        return [self.store.info(t.id).finished for t in tickets]

    def wait(
        self, tickets: Sequence[Ticket], *, timeout_s: float | None = None, poll_s: float = 1.0
    ) -> bool:
        """Block until every ticket finished or ``timeout_s`` passed; True if all finished.

        Orphaned jobs are re-launched while waiting (as by :meth:`collect`).
        """
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            self.collect(tickets)
            if all(self.finished(tickets)):
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(poll_s)

    def close(self) -> None:
        """Stop launching; detached workers finish their jobs."""
        self.launcher.close()

    # -- internals -----------------------------------------------------------------------

    def _check(self, ticket: Ticket) -> None:
        if ticket.oracle != self.name:
            raise OracleError(
                f"ticket {ticket.id!r} belongs to oracle {ticket.oracle!r}, not {self.name!r}"
            )

    def _observation(self, ticket: Ticket) -> Observation:
        output = self.store.read_output(ticket.id)
        if output is None:  # finished but no output: only a hand-edited status does that
            info = self.store.info(ticket.id)
            return Observation(
                ticket.candidate_id,
                {},
                self.fidelity,
                {"job_id": ticket.id},
                ok=False,
                reason=info.reason or "job finished without output.json",
            )
        obs = Observation.from_dict(output["observation"])
        timing = output.get("timing", {})
        provenance = {**dict(obs.provenance), "wall_s": timing.get("wall_s")}
        return Observation(
            obs.candidate_id, obs.values, obs.fidelity, provenance, ok=obs.ok, reason=obs.reason
        )

    def _needs_launch(self, job_id: str) -> bool:
        with self._lock:
            if job_id in self._in_flight:
                return False
        info = self.store.info(job_id)
        if info.finished or info.state == "missing":
            return False
        holds = getattr(self.launcher, "holds", None)  # a batch system (SlurmLauncher)
        if holds is not None and holds(self.store, job_id):
            return False  # queued or running there, or just settled as failed
        if info.alive:
            return False  # a live worker (perhaps of an earlier process) holds it
        return self.store.requeue_orphan(job_id) or (info.state == "queued" and not info.pid)

    def _launch(self, job_ids: Sequence[str]) -> None:
        with self._lock:
            fresh = [j for j in dict.fromkeys(job_ids) if j not in self._in_flight]
            self._in_flight.update(fresh)
        if not fresh:
            return
        specs = [
            WorkerSpec(
                store_root=str(self.store.root),
                job_ids=tuple(fresh[i : i + self.batch_size]),
                cores=self.cores,
                timeout_s=None
                if self.timeout_s is None
                else self.timeout_s * len(fresh[i : i + self.batch_size]),
                python=self.python,
                detach=self.detach,
                resources=tuple(sorted(self.resources.items())),
            )
            for i in range(0, len(fresh), self.batch_size)
        ]
        self.launcher.launch(specs, self._on_done)

    def _on_done(self, spec: WorkerSpec, summary: Mapping[str, Any]) -> None:
        self.launch_log.append(dict(summary))
        with self._lock:
            self._in_flight.difference_update(spec.job_ids)
