"""Durable jobs: job directories, failures as observations, kill -9 and resume.

The jobs run :class:`SleepTask` (a stand-in for a slow code) in real worker processes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from materials_ai.data.records import Candidate
from materials_ai.errors import OracleError
from materials_ai.oracles import Oracle, Ticket
from materials_ai.oracles.job_oracle import ExecutorLauncher, JobOracle, ProcessLauncher
from materials_ai.oracles.jobs import JobStore, process_alive
from materials_ai.testing.simulate import demo_structures, load_tickets, make_oracle, run_counts
from materials_ai.testing.sleep import SleepTask

pytestmark = pytest.mark.timeout(120)


def _candidates(n: int) -> list[Candidate]:
    return [Candidate(f"cand{i}", s) for i, s in enumerate(demo_structures(n))]


def test_job_directory_layout_and_idempotent_submit(tmp_path: Path) -> None:
    oracle = JobOracle(SleepTask(seconds=0.0), tmp_path, launcher=ProcessLauncher(2))
    assert isinstance(oracle, Oracle)
    candidates = _candidates(2)
    tickets = oracle.submit(candidates)
    assert [t.candidate_id for t in tickets] == ["cand0", "cand1"]
    assert oracle.wait(tickets, timeout_s=60, poll_s=0.2)
    job = tmp_path / tickets[0].id
    assert {"input.json", "status.json", "output.json", "log.txt", "structure.cif"} <= {
        p.name for p in job.iterdir()
    }
    status = json.loads((job / "status.json").read_text())
    assert status["state"] == "done" and status["attempt"] == 1
    assert [h["state"] for h in status["history"]] == ["queued", "running", "done"]
    output = json.loads((job / "output.json").read_text())
    assert (
        output["timing"]["wall_s"] >= 0
        and "materials_ai" in output["observation"]["provenance"]["versions"]
    )
    first = oracle.collect(tickets)
    assert [o.values["n_sites"] for o in first] == [2.0, 2.0]
    assert all(o.fidelity == "test" for o in first)
    # Collect is idempotent, and submitting again never recomputes a finished job.
    again = JobOracle(SleepTask(seconds=0.0), tmp_path, launcher=ProcessLauncher(2))
    assert again.submit(candidates) == tickets
    assert again.collect(tickets) == first
    assert run_counts(tmp_path, [t.id for t in tickets]) == {t.id: 1 for t in tickets}


def test_failures_and_crashes_become_failed_observations(tmp_path: Path) -> None:
    # cand0 = MgO (fails like a non-converged SCF), cand1 = CaO (segfaults its worker).
    task = SleepTask(seconds=0.0, fail_ids=("MgO",), crash_ids=("CaO",))
    oracle = JobOracle(task, tmp_path, launcher=ProcessLauncher(2))
    tickets = oracle.submit(_candidates(3))
    assert oracle.wait(tickets, timeout_s=60, poll_s=0.2)
    obs = {o.candidate_id: o for o in oracle.collect(tickets)}
    assert not obs["cand0"].ok and obs["cand0"].reason == "forced failure for MgO"
    assert not obs["cand1"].ok and "signal 11 SIGSEGV" in obs["cand1"].reason
    assert obs["cand2"].ok and obs["cand2"].values["n_sites"] == 2.0
    assert JobStore(tmp_path).info(tickets[1].id).state == "failed"


def test_timeout_fails_the_job_with_the_reason(tmp_path: Path) -> None:
    oracle = JobOracle(
        SleepTask(seconds=30.0), tmp_path, launcher=ProcessLauncher(1), timeout_s=3.0
    )
    tickets = oracle.submit(_candidates(1))
    assert oracle.wait(tickets, timeout_s=60, poll_s=0.2)
    [obs] = oracle.collect(tickets)
    assert not obs.ok and "walltime of 3 s exceeded" in obs.reason


def test_foreign_ticket_is_rejected(tmp_path: Path) -> None:
    oracle = JobOracle(SleepTask(), tmp_path)
    with pytest.raises(OracleError, match="belongs to oracle"):
        oracle.collect([Ticket("x", "cand0", "replay")])


def test_executor_launcher_runs_jobs_through_the_executor(tmp_path: Path) -> None:
    from materials_ai.compute import SerialExecutor

    oracle = JobOracle(
        SleepTask(seconds=0.0),
        tmp_path,
        launcher=ExecutorLauncher(SerialExecutor()),
        batch_size=2,
    )
    tickets = oracle.submit(_candidates(3))
    assert oracle.wait(tickets, timeout_s=60, poll_s=0.2)
    assert all(o.ok for o in oracle.collect(tickets))
    _wait_for(lambda: len(oracle.launch_log) == 2)  # the launcher returns after the jobs
    assert sorted(len(s["jobs"]) for s in oracle.launch_log) == [1, 2]  # batches of 2


def _start_campaign(store: Path, tickets: Path, n: int = 4) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "materials_ai.testing.simulate",
            str(store),
            str(tickets),
            "--n",
            str(n),
            "--seconds",
            "3",
            "--parallel",
            "2",
        ],
        start_new_session=True,
    )


def _wait_for(predicate, timeout_s: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.1)


@pytest.mark.parametrize("kill_workers", [False, True], ids=["campaign", "campaign+workers"])
def test_kill9_then_resume_recomputes_nothing_and_loses_nothing(
    tmp_path: Path, kill_workers: bool
) -> None:
    store, tickets_file = tmp_path / "jobs", tmp_path / "tickets.json"
    campaign = _start_campaign(store, tickets_file)
    jobs = JobStore(store)
    _wait_for(tickets_file.exists)
    tickets = load_tickets(tickets_file)
    ids = [t.id for t in tickets]
    # Kill while one job has finished and another is running.
    _wait_for(
        lambda: (
            any(jobs.info(i).state == "done" for i in ids)
            and any(jobs.info(i).state == "running" for i in ids)
        )
    )
    running_pids = {jobs.info(i).pid for i in ids if jobs.info(i).state == "running"}
    os.killpg(campaign.pid, signal.SIGKILL)  # the campaign and its process group
    campaign.wait()
    if kill_workers:  # the worker processes die too (a node loss, a reboot)
        for pid in running_pids:
            if pid:
                os.kill(pid, signal.SIGKILL)
        _wait_for(lambda: not any(process_alive(p, None) for p in running_pids if p))
    done_at_kill = {i for i in ids if jobs.info(i).state == "done"}
    assert done_at_kill and len(done_at_kill) < len(ids)
    # Jobs whose status still says running lost their worker (when the workers were killed).
    orphaned = {i for i in ids if jobs.info(i).state == "running"} if kill_workers else set()

    resumed = make_oracle(store, "sleep", 3.0, 2)
    resumed.resubmit(tickets)
    assert resumed.wait(tickets, timeout_s=90, poll_s=0.2)
    observations = resumed.collect(tickets)
    assert sorted(o.candidate_id for o in observations) == sorted(t.candidate_id for t in tickets)
    assert all(o.ok for o in observations)  # 0 lost
    counts = run_counts(store, ids)
    assert all(counts[i] == 1 for i in done_at_kill)  # 0 finished jobs recomputed
    if kill_workers:
        # Jobs whose workers were killed ran at most once more (once, if the dead worker had
        # already written the output); the others ran exactly once.
        assert all(counts[i] in (1, 2) for i in orphaned)
        assert all(counts[i] == 1 for i in set(ids) - orphaned)
    else:
        # Detached workers outlive the campaign: nothing ran twice.
        assert all(c == 1 for c in counts.values())


class _BatchedTask:
    """Starts every job of the batch, then yields the results in order (like batched
    CHGNet single points): each result must land in its own job."""

    kind = "batched_test"
    fidelity = "test"

    @classmethod
    def from_settings(cls, settings: dict) -> _BatchedTask:
        return cls()

    def settings(self) -> dict:
        return {}

    def versions(self) -> dict:
        return {}

    def setup(self) -> None:
        pass

    def run_batch(self, structures, workdirs, on_start):  # type: ignore[no-untyped-def]
        from materials_ai.oracles.tasks import TaskResult

        for i in range(len(structures)):
            on_start(i)
        for structure in structures:
            yield TaskResult(values={"volume": float(structure.volume)})


class _NoLaunch:
    def launch(self, specs, on_done):  # type: ignore[no-untyped-def]
        pass

    def close(self) -> None:
        pass


def test_batched_results_are_matched_to_their_jobs_in_order(tmp_path: Path) -> None:
    from materials_ai.oracles import tasks
    from materials_ai.oracles.worker import run_jobs

    tasks.TASKS.add("batched_test", _BatchedTask, replace=True)
    try:
        oracle = JobOracle(_BatchedTask(), tmp_path, launcher=_NoLaunch())  # type: ignore[arg-type]
        candidates = _candidates(3)
        tickets = oracle.submit(candidates)
        assert run_jobs(tmp_path, [t.id for t in tickets]) == 3
        observations = oracle.collect(tickets)
    finally:
        tasks.TASKS.remove("batched_test")
    assert [o.values["volume"] for o in observations] == pytest.approx(
        [c.structure.volume for c in candidates]
    )
    assert run_counts(tmp_path, [t.id for t in tickets]) == {t.id: 1 for t in tickets}


def test_walltime_counts_from_the_job_start_not_the_worker_start_up(tmp_path: Path) -> None:
    # A worker that needs 4 s to start (a loaded node, slow imports) with a 2 s walltime
    # for a 0.2 s job: it must not be killed before it could start.
    slow_python = tmp_path / "slow_python.sh"
    slow_python.write_text(f'#!/bin/sh\nsleep 4\nexec "{sys.executable}" "$@"\n')
    slow_python.chmod(0o755)
    oracle = JobOracle(
        SleepTask(seconds=0.2),
        tmp_path / "jobs",
        launcher=ProcessLauncher(1),
        timeout_s=2.0,
        python=str(slow_python),
    )
    tickets = oracle.submit(_candidates(1))
    assert oracle.wait(tickets, timeout_s=60, poll_s=0.2)
    [obs] = oracle.collect(tickets)
    assert obs.ok, obs.reason
    assert run_counts(tmp_path / "jobs", [tickets[0].id]) == {tickets[0].id: 1}
