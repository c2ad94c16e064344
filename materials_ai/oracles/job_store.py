"""The job store: job directories, their status transitions and worker liveness.

See :mod:`materials_ai.oracles.jobs` for the layout of a job directory and its state machine.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import socket
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
