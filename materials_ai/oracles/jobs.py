"""Durable validation jobs: one directory per job, outliving the process that submitted it.

A job directory holds everything needed to run, inspect and resume one validation::

    <store>/<job_id>/
        input.json       candidate id, task kind and settings, fidelity, structure (pymatgen dict)
        structure.cif    the input structure, for people and other codes
        status.json      state (queued, running, done, failed), attempts, pid/host of the
                         worker process, history of transitions; rewritten atomically
        heartbeat        touched every few seconds by a running worker
        log.txt          the worker's log (tracebacks, code output)
        output.json      the observation, timing, code versions, output structure
        work/            scratch for the code (GPAW text output, relaxation trajectory)

The state machine::

    queued ──► running ──► done
       ▲          │   └──► failed        (an error, a non-converged SCF, a crash, a timeout)
       └──────────┘  worker died while the submitting process was gone: re-queued

**Exactly-once results.** A worker claims a job under a file lock and skips it when it is
already done, failed, or held by a live process, so a job that finished is never computed
again, even if it is launched twice. ``output.json`` is written before the state becomes
``done``; both writes are atomic (temporary file + ``os.replace``).

**Liveness.** A queued or running job records its worker's pid, the pid's start time and the
host. On the same host a job is alive while that process exists (pid reuse is ruled out by
the start time); on another host (a cluster node) while its heartbeat is fresher than
``stale_after_s``.

**Workers run detached** (``start_new_session``): killing the campaign process, even with
``kill -9`` on its process group, leaves running validations to finish and write their
results, which the resumed campaign then collects. A job whose worker died while the
campaign was also gone is re-queued (``attempt`` + 1, up to ``max_attempts``); a worker that
dies while its launcher watches (a segfault, the OOM killer, a walltime) makes the job
``failed`` with the signal as reason.

The store lives in :mod:`materials_ai.oracles.job_store`, the launch of one worker process in
:mod:`materials_ai.oracles.worker_launch`; this module gathers both (the import path used
across the package). Batch-system jobs (SLURM) are in :mod:`materials_ai.oracles.slurm`.
"""

from __future__ import annotations

from materials_ai.oracles.job_store import (
    FINISHED,
    HEARTBEAT_FILE,
    INPUT_FILE,
    LOCK_FILE,
    LOG_FILE,
    OUTPUT_FILE,
    STATUS_FILE,
    THREAD_VARIABLES,
    WORK_DIR,
    JobInfo,
    JobState,
    JobStore,
    atomic_write_json,
    atomic_write_text,
    failed_output,
    job_lock,
    now_iso,
    process_alive,
    process_start_ticks,
    read_json,
    settings_fingerprint,
)
from materials_ai.oracles.worker_launch import (
    STARTUP_GRACE_S,
    WorkerSpec,
    run_worker,
    worker_environment,
)

__all__ = [
    "FINISHED",
    "HEARTBEAT_FILE",
    "INPUT_FILE",
    "LOCK_FILE",
    "LOG_FILE",
    "OUTPUT_FILE",
    "STARTUP_GRACE_S",
    "STATUS_FILE",
    "THREAD_VARIABLES",
    "WORK_DIR",
    "JobInfo",
    "JobState",
    "JobStore",
    "WorkerSpec",
    "atomic_write_json",
    "atomic_write_text",
    "failed_output",
    "job_lock",
    "now_iso",
    "process_alive",
    "process_start_ticks",
    "read_json",
    "run_worker",
    "settings_fingerprint",
    "worker_environment",
]
