"""Starting one worker process for a batch of jobs and settling what it leaves behind.

:func:`run_worker` is what the launchers of :mod:`materials_ai.oracles.job_oracle` run (in a
thread, a Dask task, a batch job's wrapper); :class:`WorkerSpec` says what it starts.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from materials_ai.oracles.job_store import LOG_FILE, THREAD_VARIABLES, JobStore


@dataclass(frozen=True, slots=True)
class WorkerSpec:
    """How to start one worker process for a batch of jobs (picklable; runs anywhere).

    Attributes:
        store_root: Job store folder (must be visible from the worker's host).
        job_ids: Jobs to run, in order, in one process (one model load for all).
        cores: Threads the worker may use (exported as OMP/BLAS thread counts).
        timeout_s: Wall-clock limit of the worker's jobs, counted from the start of its
            first job (Python start-up and imports on a loaded node do not count, so a
            worker is never killed before it could start); None for none.
        python: Interpreter that runs ``-m materials_ai.oracles.worker``.
        env: Extra environment variables.
        detach: Start the worker in its own session (it survives its launcher).
        resources: Abstract resources the job holds on a Dask worker that declares them
            (``(("cores", 1.0), ("memory", 2e9))``); ignored elsewhere.
    """

    store_root: str
    job_ids: tuple[str, ...]
    cores: int = 1
    timeout_s: float | None = None
    python: str = sys.executable
    env: tuple[tuple[str, str], ...] = ()
    detach: bool = True
    resources: tuple[tuple[str, float], ...] = ()


def worker_environment(cores: int, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for a worker: this one, with thread counts set to ``cores``."""
    env = dict(os.environ)
    for name in THREAD_VARIABLES:
        env[name] = str(cores)
    env["MATERIALS_AI_WORKER_CORES"] = str(cores)
    env.update(extra or {})
    return env


def run_worker(spec: WorkerSpec) -> dict[str, Any]:
    """Start a worker process for ``spec.job_ids``, wait for it, and settle what it left.

    Runs wherever the executor runs it (this process, a Dask worker, a cluster node). It
    never raises for a job's failure: a worker killed by a signal or a timeout marks the
    job it held ``failed`` with the reason. Jobs it never reached stay queued.

    Returns:
        A summary: ``{"returncode": ..., "jobs": {job_id: state}}``.
    """
    store = JobStore(spec.store_root)
    command = [spec.python, "-m", "materials_ai.oracles.worker", spec.store_root, *spec.job_ids]
    env = worker_environment(spec.cores, dict(spec.env))
    first_log = store.job_dir(spec.job_ids[0]) / LOG_FILE if spec.job_ids else os.devnull
    with open(first_log, "a") as stray:  # anything the worker prints outside a job's log
        proc = subprocess.Popen(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=stray,
            stderr=subprocess.STDOUT,
            start_new_session=spec.detach,
        )
    store.claim_for_worker(spec.job_ids, proc.pid)
    returncode, reason = _wait_with_walltime(proc, store, spec)
    if returncode != 0 and not reason:
        if returncode < 0:
            try:
                name = signal.Signals(-returncode).name
            except ValueError:
                name = ""
            reason = f"worker process killed by signal {-returncode} {name}".rstrip()
            if -returncode == signal.SIGKILL:
                reason += " (out of memory, or killed by the system)"
        else:
            reason = f"worker process exited with code {returncode}"
    states = {}
    for job_id in spec.job_ids:
        info = store.info(job_id)
        if not info.finished and reason and info.state == "running" and info.pid == proc.pid:
            store.mark_failed(job_id, reason, only_pid=proc.pid)
            info = store.info(job_id)
        elif not info.finished and info.pid == proc.pid:
            # Never reached by this worker (it died first): free it for a relaunch.
            store.update_status(
                job_id,
                lambda s: (
                    {**s, "pid": None, "pid_start": None, "host": None}
                    if s.get("pid") == proc.pid and s.get("state") == "queued"
                    else None
                ),
            )
        states[job_id] = info.state
    return {"returncode": returncode, "reason": reason, "jobs": states}


#: Longest a worker may take from launch to its first job (imports, model load) when a
#: walltime is set, in addition to the walltime itself.
STARTUP_GRACE_S = 600.0


def _wait_with_walltime(
    proc: subprocess.Popen[Any], store: JobStore, spec: WorkerSpec
) -> tuple[int, str]:
    """Wait for the worker; kill it once its jobs ran longer than ``spec.timeout_s``.

    The clock starts when the worker marks its first job running. Returns the exit code
    and the reason of a kill ("" when it ended by itself).
    """
    if spec.timeout_s is None:
        return proc.wait(), ""
    launched = time.monotonic()
    first_start: float | None = None
    while True:
        try:
            return proc.wait(timeout=0.5), ""
        except subprocess.TimeoutExpired:
            pass
        now = time.monotonic()
        if first_start is None:
            if any(
                info.state != "queued" and info.pid == proc.pid
                for info in (store.info(j) for j in spec.job_ids)
            ):
                first_start = now
            elif now - launched > spec.timeout_s + STARTUP_GRACE_S:
                _kill_tree(proc)
                proc.wait()
                return proc.returncode, (
                    f"worker started no job within {spec.timeout_s + STARTUP_GRACE_S:g} s; killed"
                )
        elif now - first_start > spec.timeout_s:
            _kill_tree(proc)
            proc.wait()
            return proc.returncode, f"walltime of {spec.timeout_s:g} s exceeded; worker killed"


def _kill_tree(proc: subprocess.Popen[Any]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
