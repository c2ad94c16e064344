"""The worker process: ``python -m materials_ai.oracles.worker STORE JOB_ID [JOB_ID ...]``.

Claims the jobs (skipping any that finished or that another live worker holds), loads the
task once, and runs the jobs in order. For each job it records ``running`` (attempt + 1),
writes ``output.json`` and then ``done`` or ``failed``. A task's exception becomes a failed
job with the exception as reason; the worker goes on with the next job. The worker touches
each running job's ``heartbeat`` file every few seconds so that a launcher on another host
can tell a live job from an orphan.

Standard output and error (Python and C level) go to the running job's ``log.txt``.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading
import time
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from materials_ai.oracles.jobs import (
    FINISHED,
    HEARTBEAT_FILE,
    LOG_FILE,
    OUTPUT_FILE,
    STATUS_FILE,
    WORK_DIR,
    JobStore,
    atomic_write_json,
    job_lock,
    now_iso,
    process_start_ticks,
)

HEARTBEAT_S = 5.0


class _Heartbeat:
    """Touches the current job's heartbeat file from a daemon thread."""

    def __init__(self) -> None:
        self.path: Path | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            path = self.path
            if path is not None:
                with contextlib.suppress(OSError):
                    path.touch()

    def stop(self) -> None:
        self._stop.set()


@contextlib.contextmanager
def _redirect_output(log_path: Path) -> Iterator[None]:
    """Send fd 1 and 2 (C code included) and sys.stdout/err to ``log_path``."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(log_path, "a", buffering=1) as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
                yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def _mark_running(store: JobStore, job_id: str, pid: int) -> bool:
    start = process_start_ticks(pid)
    host = socket.gethostname()

    def change(status: dict[str, Any]) -> dict[str, Any] | None:
        if status.get("state") in FINISHED or status.get("pid") != pid:
            return None
        history = list(status.get("history", []))
        history.append({"state": "running", "time": now_iso(), "pid": pid, "host": host})
        return {
            **status,
            "state": "running",
            "attempt": int(status.get("attempt", 0)) + 1,
            "pid_start": start,
            "host": host,
            "history": history,
        }

    new = store.update_status(job_id, change)
    return bool(new and new.get("state") == "running" and new.get("pid") == pid)


def _finish(
    store: JobStore,
    job_id: str,
    inp: dict[str, Any],
    result: Any,
    *,
    versions: dict[str, str],
    settings: dict[str, Any],
    started: str,
    wall_s: float,
    pid: int,
) -> None:
    job_dir = store.job_dir(job_id)
    status = store.read_status(job_id) or {}
    provenance = {
        "code": inp["task"]["kind"],
        "versions": versions,
        "settings": settings,
        "job_id": job_id,
        "job_dir": str(job_dir),
    }
    output = {
        "observation": {
            "candidate_id": inp["candidate_id"],
            "values": {k: float(v) for k, v in result.values.items()} if result.ok else {},
            "fidelity": inp["fidelity"],
            "provenance": provenance,
            "ok": bool(result.ok),
            "reason": result.reason,
        },
        "structure": result.structure,
        "details": result.details,
        "timing": {
            "started": started,
            "finished": now_iso(),
            "wall_s": wall_s,
            "attempt": int(status.get("attempt", 1)),
            "host": socket.gethostname(),
            "pid": pid,
            "cores": int(os.environ.get("MATERIALS_AI_WORKER_CORES", "1")),
        },
    }
    with job_lock(job_dir):
        atomic_write_json(job_dir / OUTPUT_FILE, output)
        current = store.read_status(job_id) or {}
        if current.get("state") in FINISHED:
            return
        state = "done" if result.ok else "failed"
        history = list(current.get("history", []))
        history.append({"state": state, "time": now_iso(), "reason": result.reason})
        atomic_write_json(
            job_dir / STATUS_FILE,
            {
                **current,
                "state": state,
                "reason": result.reason,
                "updated": now_iso(),
                "history": history,
                "wall_s": wall_s,
            },
        )


def run_jobs(store_root: str | Path, job_ids: Sequence[str]) -> int:
    """Run ``job_ids`` of the store in this process; returns the number of jobs run."""
    from materials_ai.oracles.tasks import TaskResult, make_task

    store = JobStore(store_root)
    pid = os.getpid()
    claimed = store.claim_for_worker(job_ids, pid)
    if not claimed:
        return 0
    heartbeat = _Heartbeat()
    inputs = {job_id: store.read_input(job_id) for job_id in claimed}
    # Jobs of one worker share one task (same kind and settings); group defensively.
    groups: dict[str, list[str]] = {}
    for job_id in claimed:
        task_spec = inputs[job_id]["task"]
        key = repr(sorted(task_spec.get("settings", {}).items())) + task_spec["kind"]
        groups.setdefault(key, []).append(job_id)
    n_run = 0
    for group in groups.values():
        n_run += _run_group(store, group, inputs, pid, heartbeat, TaskResult, make_task)
    heartbeat.stop()
    return n_run


def _run_group(
    store: JobStore,
    group: list[str],
    inputs: dict[str, dict[str, Any]],
    pid: int,
    heartbeat: _Heartbeat,
    TaskResult: Any,
    make_task: Any,
) -> int:
    from materials_ai.data.records import structure_from_dict

    spec = inputs[group[0]]["task"]
    first_log = store.job_dir(group[0]) / LOG_FILE
    try:
        with _redirect_output(first_log):
            task = make_task(spec["kind"], spec.get("settings", {}))
            task.setup()
            versions = task.versions()
            settings = task.settings()
    except Exception as exc:
        reason = f"task setup failed: {type(exc).__name__}: {exc}"
        with open(first_log, "a") as log:
            log.write(traceback.format_exc())
        for job_id in group:
            if _mark_running(store, job_id, pid):
                _finish(
                    store,
                    job_id,
                    inputs[job_id],
                    TaskResult(ok=False, reason=reason),
                    versions={},
                    settings=spec.get("settings", {}),
                    started=now_iso(),
                    wall_s=0.0,
                    pid=pid,
                )
        return len(group)

    # A crystal (pymatgen dict) or a molecule (materials_ai.data.records.Molecule dict).
    structures = [structure_from_dict(inputs[j]["structure"]) for j in group]
    workdirs = [store.job_dir(j) / WORK_DIR for j in group]
    for w in workdirs:
        w.mkdir(exist_ok=True)
    state: dict[str, Any] = {"index": -1}
    # Job index -> (start time, perf counter). A task may start several jobs before it
    # yields their results (batched single points), so results are matched to jobs by
    # their order (the Task contract: one result per structure, in order), never by the
    # job started last.
    starts: dict[int, tuple[str, float]] = {}
    runnable: set[int] = set()

    def on_start(i: int) -> None:
        state["index"] = i
        starts[i] = (now_iso(), time.perf_counter())
        if _mark_running(store, group[i], pid):
            runnable.add(i)
        heartbeat.path = store.job_dir(group[i]) / HEARTBEAT_FILE
        heartbeat.path.touch()

    n_run = 0
    results = task.run_batch(structures, workdirs, on_start)
    while n_run < len(group):
        i = n_run  # the next result belongs to the first job without one
        log_path = store.job_dir(group[max(state["index"], 0)]) / LOG_FILE
        try:
            with _redirect_output(log_path):
                result = next(results)
        except StopIteration:
            break
        except Exception as exc:  # the task broke on the job in progress
            with open(store.job_dir(group[i]) / LOG_FILE, "a") as log:
                log.write(traceback.format_exc())
            result = TaskResult(ok=False, reason=f"{type(exc).__name__}: {exc}")
            _finish_one(store, group, i, inputs, result, versions, settings, starts, pid, runnable)
            n_run += 1
            # The generator is finished after an exception: restart on the remaining jobs.
            rest = group[i + 1 :]
            if rest:
                n_run += _run_group(store, rest, inputs, pid, heartbeat, TaskResult, make_task)
            return n_run
        _finish_one(store, group, i, inputs, result, versions, settings, starts, pid, runnable)
        n_run += 1
    return n_run


def _finish_one(
    store: JobStore,
    group: list[str],
    i: int,
    inputs: dict[str, dict[str, Any]],
    result: Any,
    versions: dict[str, str],
    settings: dict[str, Any],
    starts: dict[int, tuple[str, float]],
    pid: int,
    runnable: set[int],
) -> None:
    if i not in runnable:  # another worker finished it meanwhile: keep its result
        return
    started, t0 = starts[i]
    _finish(
        store,
        group[i],
        inputs[group[i]],
        result,
        versions=versions,
        settings=settings,
        started=started,
        wall_s=time.perf_counter() - t0,
        pid=pid,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point (see the module docstring)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 2:
        print("usage: python -m materials_ai.oracles.worker STORE JOB_ID [JOB_ID ...]")
        return 2
    run_jobs(args[0], args[1:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
