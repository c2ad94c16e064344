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
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

logger = logging.getLogger(__name__)

JobState = Literal["queued", "running", "done", "failed"]
FINISHED: frozenset[str] = frozenset({"done", "failed"})

INPUT_FILE = "input.json"
STATUS_FILE = "status.json"
OUTPUT_FILE = "output.json"
LOG_FILE = "log.txt"
HEARTBEAT_FILE = "heartbeat"
LOCK_FILE = ".lock"
WORK_DIR = "work"

#: Environment of every worker process: one BLAS/OpenMP thread unless the job asks for more
#: (default threading made small GPAW matrix work up to 28x slower, see shared/STACK.md).
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


def now_iso() -> str:
    """Current UTC time as ISO 8601 with microseconds."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old or the new file, never half."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def atomic_write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (see :func:`atomic_write_text`)."""
    atomic_write_text(path, json.dumps(data, indent=1, sort_keys=True, default=str))


def read_json(path: Path) -> Any:
    """Read a JSON file."""
    return json.loads(path.read_text(encoding="utf-8"))


@contextlib.contextmanager
def job_lock(job_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock on a job directory (serialises status transitions)."""
    with open(job_dir / LOCK_FILE, "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def process_start_ticks(pid: int) -> int | None:
    """Start time of process ``pid`` in clock ticks since boot (None if it does not exist)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 22; the command name (field 2) may contain spaces, so split after its ')'.
    fields = stat.rsplit(")", 1)[1].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def process_alive(pid: int, start_ticks: int | None) -> bool:
    """True while the process ``pid`` that started at ``start_ticks`` exists (not a zombie)."""
    ticks = process_start_ticks(pid)
    if ticks is None:
        return False
    if start_ticks is not None and ticks != start_ticks:
        return False  # the pid was reused
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._")[:80] or "job"


def settings_fingerprint(settings: Mapping[str, Any]) -> str:
    """Short stable hash of a JSON-serialisable settings mapping."""
    payload = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:10]


@dataclass(frozen=True, slots=True)
class JobInfo:
    """What the store knows about one job right now.

    Attributes:
        job_id: Directory name of the job.
        state: ``queued``, ``running``, ``done`` or ``failed`` (``missing`` if the directory
            is gone).
        attempt: How many times a worker started it (1 after the first start).
        pid: Worker pid while queued in a worker or running.
        host: Host of that worker.
        alive: The worker holding the job is alive (always False once finished).
        reason: Failure reason (``failed`` only).
        status: The raw status mapping.
    """

    job_id: str
    state: str
    attempt: int
    pid: int | None
    host: str | None
    alive: bool
    reason: str
    status: Mapping[str, Any] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        """True once the job is done or failed."""
        return self.state in FINISHED


class JobStore:
    """A folder of job directories.

    Args:
        root: The folder (created on demand).
        stale_after_s: A worker on another host whose heartbeat is older than this is
            taken for dead.
        max_attempts: Starts allowed per job before a job whose workers keep dying is
            marked failed.
    """

    def __init__(
        self, root: str | Path, *, stale_after_s: float = 120.0, max_attempts: int = 3
    ) -> None:
        self.root = Path(root)
        self.stale_after_s = float(stale_after_s)
        self.max_attempts = int(max_attempts)

    # -- creating jobs -------------------------------------------------------------------

    def job_id(self, oracle: str, candidate_id: str, settings: Mapping[str, Any]) -> str:
        """Deterministic id: the same candidate with the same settings is the same job."""
        return f"{_safe_name(oracle)}--{_safe_name(candidate_id)}--{settings_fingerprint(settings)}"

    def job_dir(self, job_id: str) -> Path:
        """Directory of a job."""
        return self.root / job_id

    def create(
        self,
        job_id: str,
        *,
        candidate_id: str,
        structure: Any,
        task: Mapping[str, Any],
        fidelity: str,
        oracle: str,
        extra: Mapping[str, Any] | None = None,
    ) -> bool:
        """Create a job directory in state ``queued`` unless it exists already.

        Args:
            job_id: From :meth:`job_id`.
            candidate_id: Candidate being validated.
            structure: A pymatgen ``Structure`` (stored as dict JSON and CIF).
            task: ``{"kind": ..., "settings": {...}}`` for the worker.
            fidelity: Fidelity label of the observations it will produce.
            oracle: Name of the oracle that owns the job.
            extra: Additional JSON kept in ``input.json`` (e.g. the chain stage).

        Returns:
            True if created, False if the job already existed (never overwritten).
        """
        job_dir = self.job_dir(job_id)
        if (job_dir / INPUT_FILE).exists():
            return False
        job_dir.mkdir(parents=True, exist_ok=True)
        with job_lock(job_dir):
            if (job_dir / INPUT_FILE).exists():
                return False
            (job_dir / WORK_DIR).mkdir(exist_ok=True)
            try:
                structure.to(filename=str(job_dir / "structure.cif"))
            except Exception:  # a CIF is for people; the JSON below is authoritative
                logger.debug("could not write CIF for %s", job_id, exc_info=True)
            atomic_write_json(
                job_dir / STATUS_FILE,
                {
                    "state": "queued",
                    "attempt": 0,
                    "pid": None,
                    "pid_start": None,
                    "host": None,
                    "reason": "",
                    "updated": now_iso(),
                    "history": [{"state": "queued", "time": now_iso()}],
                },
            )
            atomic_write_json(
                job_dir / INPUT_FILE,
                {
                    "job_id": job_id,
                    "candidate_id": candidate_id,
                    "oracle": oracle,
                    "fidelity": fidelity,
                    "task": dict(task),
                    "structure": structure.as_dict(),
                    "created": now_iso(),
                    **dict(extra or {}),
                },
            )
        return True

    # -- reading -------------------------------------------------------------------------

    def read_status(self, job_id: str) -> dict[str, Any] | None:
        """The status mapping, or None if the job does not exist."""
        path = self.job_dir(job_id) / STATUS_FILE
        try:
            return dict(read_json(path))
        except FileNotFoundError:
            return None

    def read_input(self, job_id: str) -> dict[str, Any]:
        """The job's ``input.json``."""
        return dict(read_json(self.job_dir(job_id) / INPUT_FILE))

    def read_output(self, job_id: str) -> dict[str, Any] | None:
        """The job's ``output.json`` (None until it finished)."""
        path = self.job_dir(job_id) / OUTPUT_FILE
        try:
            return dict(read_json(path))
        except FileNotFoundError:
            return None

    def info(self, job_id: str) -> JobInfo:
        """Current state of a job, with liveness of its worker."""
        status = self.read_status(job_id)
        if status is None:
            return JobInfo(job_id, "missing", 0, None, None, False, "job directory missing")
        state = str(status.get("state", "queued"))
        alive = False
        if state not in FINISHED and status.get("pid"):
            alive = self._worker_alive(job_id, status)
        return JobInfo(
            job_id=job_id,
            state=state,
            attempt=int(status.get("attempt", 0)),
            pid=status.get("pid"),
            host=status.get("host"),
            alive=alive,
            reason=str(status.get("reason", "")),
            status=status,
        )

    def _worker_alive(self, job_id: str, status: Mapping[str, Any]) -> bool:
        if status.get("host") == socket.gethostname():
            return process_alive(int(status["pid"]), status.get("pid_start"))
        try:
            age = time.time() - (self.job_dir(job_id) / HEARTBEAT_FILE).stat().st_mtime
        except FileNotFoundError:
            age = time.time() - (self.job_dir(job_id) / STATUS_FILE).stat().st_mtime
        return age < self.stale_after_s

    def list_jobs(self) -> list[str]:
        """Ids of every job in the store."""
        if not self.root.exists():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / INPUT_FILE).exists())

    # -- transitions ---------------------------------------------------------------------

    def update_status(
        self, job_id: str, change: Callable[[dict[str, Any]], dict[str, Any] | None]
    ) -> dict[str, Any] | None:
        """Apply ``change`` to the status under the job's lock; write it if it returns a dict.

        Returns:
            The status after the call (the new one if written, else the current one).
        """
        job_dir = self.job_dir(job_id)
        with job_lock(job_dir):
            status = self.read_status(job_id) or {}
            new = change(dict(status))
            if new is None:
                return status
            new["updated"] = now_iso()
            atomic_write_json(job_dir / STATUS_FILE, new)
            return new

    def requeue_orphan(self, job_id: str) -> bool:
        """Re-queue an unfinished job whose worker is gone; fail it after ``max_attempts``.

        Returns:
            True if the job is queued again and should be launched.
        """

        def change(status: dict[str, Any]) -> dict[str, Any] | None:
            state = status.get("state")
            if state in FINISHED:
                return None
            if status.get("pid") and self._worker_alive(job_id, status):
                return None  # adopted: still running somewhere
            if state == "queued" and not status.get("pid"):
                return None  # never launched: already queued, nothing to change
            history = list(status.get("history", []))
            attempt = int(status.get("attempt", 0))
            if attempt >= self.max_attempts:
                reason = (
                    f"worker process died {attempt} times while the job was "
                    f"{state} (last pid {status.get('pid')} on {status.get('host')})"
                )
                history.append({"state": "failed", "time": now_iso(), "reason": reason})
                return {**status, "state": "failed", "reason": reason, "history": history}
            history.append(
                {"state": "queued", "time": now_iso(), "reason": "worker gone; re-queued"}
            )
            return {
                **status,
                "state": "queued",
                "pid": None,
                "pid_start": None,
                "host": None,
                "history": history,
            }

        new = self.update_status(job_id, change)
        return bool(new and new.get("state") == "queued" and not new.get("pid"))

    def mark_failed(self, job_id: str, reason: str, *, only_pid: int | None = None) -> bool:
        """Mark an unfinished job failed (when ``only_pid`` is given: only if that pid holds it).

        Also writes a failed ``output.json`` so that the failure is collected like any other
        result. Returns True if the job was marked.
        """
        marked = False

        def change(status: dict[str, Any]) -> dict[str, Any] | None:
            nonlocal marked
            if status.get("state") in FINISHED:
                return None
            if only_pid is not None and status.get("pid") != only_pid:
                return None
            history = list(status.get("history", []))
            history.append({"state": "failed", "time": now_iso(), "reason": reason})
            marked = True
            return {**status, "state": "failed", "reason": reason, "history": history}

        job_dir = self.job_dir(job_id)
        with job_lock(job_dir):
            status = self.read_status(job_id) or {}
            new = change(dict(status))
            if new is None:
                return False
            if not (job_dir / OUTPUT_FILE).exists():
                inp = self.read_input(job_id)
                atomic_write_json(
                    job_dir / OUTPUT_FILE,
                    failed_output(inp, reason, attempt=int(status.get("attempt", 0))),
                )
            new["updated"] = now_iso()
            atomic_write_json(job_dir / STATUS_FILE, new)
        return marked

    def claim_for_worker(self, job_ids: Sequence[str], pid: int) -> list[str]:
        """Record worker ``pid`` on queued jobs it is about to run; return those it got.

        A job that is finished, or held by another live worker, is not claimed.
        """
        claimed = []
        host = socket.gethostname()
        start = process_start_ticks(pid)
        for job_id in job_ids:

            def change(status: dict[str, Any], job_id: str = job_id) -> dict[str, Any] | None:
                if status.get("state") in FINISHED:
                    return None
                held = status.get("pid") and status.get("pid") != pid
                if held and self._worker_alive(job_id, status):
                    return None
                return {**status, "pid": pid, "pid_start": start, "host": host}

            new = self.update_status(job_id, change)
            if new and new.get("pid") == pid and new.get("state") not in FINISHED:
                claimed.append(job_id)
        return claimed


def failed_output(inp: Mapping[str, Any], reason: str, *, attempt: int = 0) -> dict[str, Any]:
    """An ``output.json`` body for a job that failed outside its task (crash, timeout)."""
    return {
        "observation": {
            "candidate_id": inp.get("candidate_id", ""),
            "values": {},
            "fidelity": inp.get("fidelity", ""),
            "provenance": {"job_id": inp.get("job_id"), "task": inp.get("task", {}).get("kind")},
            "ok": False,
            "reason": reason,
        },
        "structure": None,
        "details": {},
        "timing": {"finished": now_iso(), "attempt": attempt},
    }


# --------------------------------------------------------------------------------------
# Launching workers
# --------------------------------------------------------------------------------------


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
