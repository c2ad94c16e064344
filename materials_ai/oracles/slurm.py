"""Validation jobs as SLURM batch jobs: the ``slurm`` launcher of job oracles.

:class:`SlurmLauncher` submits each worker batch of a :class:`~.job_oracle.JobOracle` (one
job directory, or ``batch_size`` of them run by one worker process) as one ``sbatch`` job
that runs ``python -m materials_ai.oracles.worker STORE JOB_ID...`` on a compute node. The
job directories stay the source of truth:

* each job's ``status.json`` records the SLURM job holding it (``batch``: system, job id,
  submit time, script), so a campaign process that was killed finds, on resume, which jobs
  are still queued or running in SLURM (they are neither relaunched nor lost) and collects
  those that finished while it was gone;
* a job that SLURM ended before the worker wrote its result (walltime exceeded, a crash,
  ``scancel``, out of memory) becomes a failed observation whose reason is SLURM's, e.g.
  ``SLURM job 41 TIMEOUT (exceeded its walltime 00:01:00)``; a job lost to a node failure
  or preemption is queued again (up to the store's ``max_attempts``);
* :meth:`SlurmLauncher.cancel` ``scancel``-s the SLURM jobs of given job directories.

The job store must be on a file system the compute nodes share (the run directory), and
``python`` (default: this interpreter) must exist there. The local detached-process
launcher stays the default; select this one with ``launcher: slurm`` in a chain config.
"""

from __future__ import annotations

import functools
import logging
import math
import shlex
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from materials_ai.errors import OracleError
from materials_ai.oracles import slurm_queue
from materials_ai.oracles.job_store import THREAD_VARIABLES, JobStore, now_iso
from materials_ai.oracles.slurm_queue import RETRY_STATES, SlurmJob
from materials_ai.oracles.worker_launch import WorkerSpec

logger = logging.getLogger(__name__)

OnDone = Any  # Callable[[WorkerSpec, Mapping[str, Any]], None] (see job_oracle.OnDone)

#: Name of the batch script written into the first job directory of a batch.
SCRIPT_FILE = "slurm.sh"


class SlurmJobsConfig(BaseModel):
    """How validation jobs are submitted to SLURM (``launcher: slurm``).

    Attributes:
        partition: ``--partition``; None uses the cluster's default.
        account: ``--account`` charged for the jobs.
        walltime: ``--time`` of a job whose stage sets no ``resources.timeout_s``
            (``HH:MM:SS``). With ``timeout_s`` the walltime is that many seconds times the
            jobs in the batch, rounded up to whole minutes (SLURM's unit).
        memory: ``--mem`` per job; None takes the stage's ``resources.memory``.
        job_name: ``--job-name``.
        extra_directives: More ``#SBATCH`` lines, without the prefix (``"--qos=short"``).
        prologue: Shell lines before the worker starts (``"module load gpaw"``).
        python: Interpreter on the compute nodes; None uses this process's.
        poll_s: Seconds between ``squeue`` calls while jobs of this process run.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    partition: str | None = None
    account: str | None = None
    walltime: str = Field("01:00:00", pattern=r"^(\d+-)?\d+(:\d+){0,2}$")
    memory: str | None = None
    job_name: str = Field("materials-ai-oracle", pattern=r"^[A-Za-z0-9_.-]+$")
    extra_directives: list[str] = Field(default_factory=list)
    prologue: list[str] = Field(default_factory=list)
    python: str | None = None
    poll_s: float = Field(2.0, gt=0)


@dataclass(slots=True)
class _Watched:
    spec: WorkerSpec
    slurm_id: str
    on_done: OnDone


class SlurmLauncher:
    """Submits worker batches with ``sbatch`` and follows them with ``squeue``/``sacct``.

    Args:
        config: Partition, account, walltime and the rest.
        memory: Default ``--mem`` (``"2GiB"``) when ``config.memory`` is None.
    """

    def __init__(self, config: SlurmJobsConfig | None = None, *, memory: str | None = None):
        slurm_queue.require_slurm()
        self.config = config or SlurmJobsConfig()
        self.memory = self.config.memory or memory
        self._watched: dict[str, _Watched] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._cache: dict[str, tuple[float, SlurmJob]] = {}

    # -- the Launcher protocol -----------------------------------------------------------

    def launch(self, specs: Sequence[WorkerSpec], on_done: OnDone) -> None:
        """Submit one SLURM job per spec; ``on_done`` is called when SLURM has ended it."""
        for spec in specs:
            store = JobStore(spec.store_root)
            try:
                script = self.write_script(spec)
                slurm_id = slurm_queue.submit(script)
            except (OracleError, OSError) as exc:
                # A refused job (unknown partition, over a limit) would be refused again.
                for job_id in spec.job_ids:
                    store.mark_failed(job_id, str(exc))
                on_done(spec, {"error": str(exc)})
                continue
            record = {
                "system": "slurm",
                "job_id": slurm_id,
                "submitted": now_iso(),
                "script": str(script),
            }
            for job_id in spec.job_ids:
                store.update_status(job_id, functools.partial(_with_batch, record=record))
            logger.info("SLURM job %s: %s", slurm_id, ", ".join(spec.job_ids))
            with self._lock:
                self._watched[slurm_id] = _Watched(spec, slurm_id, on_done)
        self._ensure_monitor()

    def close(self) -> None:
        """Stop following the jobs; SLURM runs them on (collected later, or on resume)."""
        self._stop.set()

    # -- used by JobOracle -----------------------------------------------------------------

    def holds(self, store: JobStore, job_id: str) -> bool:
        """True if SLURM holds a batch job for this unfinished job directory.

        When the SLURM job recorded in the job's status has ended without the worker
        finishing the job, the job is settled on the way (failed with SLURM's reason, or
        freed for a relaunch after a node failure) and True is returned for a failed one.
        """
        status = store.read_status(job_id) or {}
        batch = status.get("batch") or {}
        if batch.get("system") != "slurm" or not batch.get("job_id"):
            return False
        slurm_id = str(batch["job_id"])
        job = self._state(slurm_id)
        if job.active:
            return True
        return self._settle(store, job_id, job)

    def cancel(self, store: JobStore, job_ids: Sequence[str]) -> list[str]:
        """``scancel`` the SLURM jobs holding ``job_ids``; returns the SLURM ids cancelled.

        The jobs become failed observations (``SLURM job N CANCELLED``) once SLURM has
        ended them.
        """
        slurm_ids = []
        for job_id in job_ids:
            batch = (store.read_status(job_id) or {}).get("batch") or {}
            if batch.get("system") == "slurm" and batch.get("job_id"):
                slurm_ids.append(str(batch["job_id"]))
        slurm_queue.cancel(slurm_ids)
        return sorted(set(slurm_ids))

    # -- batch scripts ---------------------------------------------------------------------

    def walltime(self, spec: WorkerSpec) -> str:
        """``--time`` of a batch: ``spec.timeout_s`` in whole minutes, else the config's."""
        if spec.timeout_s is None:
            return self.config.walltime
        minutes = max(1, math.ceil(spec.timeout_s / 60.0))
        return f"{minutes // 60:02d}:{minutes % 60:02d}:00"

    def write_script(self, spec: WorkerSpec) -> Path:
        """Write the batch script into the batch's first job directory; returns its path."""
        from dask.utils import parse_bytes

        root = Path(spec.store_root).resolve()  # the job runs in another working directory
        first = root / spec.job_ids[0]
        cfg = self.config
        lines = [
            "#!/bin/bash",
            f"#SBATCH --job-name={cfg.job_name}",
            f"#SBATCH --output={first / 'slurm-%j.out'}",
            "#SBATCH --nodes=1",
            "#SBATCH --ntasks=1",
            f"#SBATCH --cpus-per-task={spec.cores}",
            f"#SBATCH --time={self.walltime(spec)}",
            f"#SBATCH --chdir={root}",
        ]
        if self.memory:
            lines.append(f"#SBATCH --mem={math.ceil(parse_bytes(self.memory) / 2**20)}M")
        if cfg.partition:
            lines.append(f"#SBATCH --partition={cfg.partition}")
        if cfg.account:
            lines.append(f"#SBATCH --account={cfg.account}")
        lines += [f"#SBATCH {d}" for d in cfg.extra_directives]
        lines += [f"export {name}={spec.cores}" for name in THREAD_VARIABLES]
        lines.append(f"export MATERIALS_AI_WORKER_CORES={spec.cores}")
        lines += [f"export {k}={shlex.quote(v)}" for k, v in spec.env]
        lines += list(cfg.prologue)
        python = cfg.python or spec.python
        command = [python, "-m", "materials_ai.oracles.worker", str(root), *spec.job_ids]
        lines.append("exec " + " ".join(shlex.quote(c) for c in command))
        path = first / SCRIPT_FILE
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    # -- following the jobs ----------------------------------------------------------------

    def _state(self, slurm_id: str) -> SlurmJob:
        now = time.monotonic()
        cached = self._cache.get(slurm_id)
        if cached is not None and now - cached[0] < self.config.poll_s / 2:
            return cached[1]
        job = slurm_queue.job_states([slurm_id])[slurm_id]
        self._cache[slurm_id] = (now, job)
        return job

    def _settle(self, store: JobStore, job_id: str, job: SlurmJob) -> bool:
        """Settle an unfinished job whose SLURM job ended; True if it is now failed."""
        info = store.info(job_id)
        if info.finished:
            return True
        if job.state in ("COMPLETED", *RETRY_STATES):
            # Not the job's fault (or the worker skipped it): free it for a relaunch.
            # A worker that died while running it counts as an attempt (requeue_orphan).
            store.update_status(job_id, _without_batch)
            store.requeue_orphan(job_id)
            return store.info(job_id).finished
        return store.mark_failed(job_id, job.describe()) or store.info(job_id).finished

    def _ensure_monitor(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._monitor, daemon=True, name="slurm-jobs")
            self._thread.start()

    def _monitor(self) -> None:
        while not self._stop.wait(self.config.poll_s):
            with self._lock:
                watched = dict(self._watched)
            if not watched:
                continue
            try:
                states = slurm_queue.job_states(watched)
            except Exception:  # squeue timed out (a busy controller): try again later
                logger.warning("could not read SLURM job states", exc_info=True)
                continue
            now = time.monotonic()
            for slurm_id, job in states.items():
                self._cache[slurm_id] = (now, job)
                if job.active:
                    continue
                entry = watched[slurm_id]
                store = JobStore(entry.spec.store_root)
                jobs = {}
                for job_id in entry.spec.job_ids:
                    self._settle(store, job_id, job)
                    jobs[job_id] = store.info(job_id).state
                with self._lock:
                    self._watched.pop(slurm_id, None)
                summary: Mapping[str, Any] = {
                    "slurm_job_id": slurm_id,
                    "slurm_state": job.state,
                    "reason": "" if job.state == "COMPLETED" else job.describe(),
                    "jobs": jobs,
                }
                try:
                    entry.on_done(entry.spec, summary)
                except Exception:
                    logger.exception("on_done for SLURM job %s failed", slurm_id)
            with self._lock:
                if not self._watched and self._stop.is_set():
                    return


def _with_batch(status: dict[str, Any], record: Mapping[str, Any]) -> dict[str, Any] | None:
    if status.get("state") in ("done", "failed"):
        return None
    history = list(status.get("history", []))
    history.append({"state": "submitted", "time": now_iso(), "slurm_job_id": record["job_id"]})
    return {**status, "batch": dict(record), "history": history}


def _without_batch(status: dict[str, Any]) -> dict[str, Any] | None:
    if "batch" not in status:
        return None
    return {k: v for k, v in status.items() if k != "batch"}
