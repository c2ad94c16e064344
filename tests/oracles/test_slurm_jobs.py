"""Validation jobs as SLURM batch jobs (:mod:`materials_ai.oracles.slurm`).

The tests marked ``slurm`` submit real jobs to the single-node SLURM of
``scripts/slurm-dev-cluster.sh`` (``make slurm``); they skip without it, and fail instead
when ``MATERIALS_AI_REQUIRE_SLURM=1`` (CI starts the cluster in ``.ci/run``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from materials_ai.campaign.config import dump_workflow
from materials_ai.campaign.loop import Campaign
from materials_ai.campaign.state import load_state
from materials_ai.data.records import Candidate
from materials_ai.oracles import slurm_queue
from materials_ai.oracles.job_oracle import JobOracle
from materials_ai.oracles.jobs import JobStore, WorkerSpec
from materials_ai.oracles.slurm import SlurmJobsConfig, SlurmLauncher
from materials_ai.oracles.slurm_queue import SlurmJob
from materials_ai.testing.campaigns import tiny_chain_oracle, tiny_workflow
from materials_ai.testing.datasets import write_tiny_dataset
from materials_ai.testing.kill import kill_campaign_when_jobs_finished
from materials_ai.testing.simulate import demo_structures, run_counts
from materials_ai.testing.sleep import SleepTask

pytestmark = pytest.mark.timeout(240)


def _slurm_problem() -> str | None:
    """Why no SLURM node can run jobs here (None when one is up)."""
    if shutil.which("sinfo") is None or shutil.which("sbatch") is None:
        return "SLURM's clients (sinfo, sbatch) are not installed"
    result = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True)
    states = result.stdout.split()
    if result.returncode != 0 or not {"idle", "mixed", "allocated"} & set(states):
        return f"no SLURM node is up (sinfo: {result.stderr.strip() or states})"
    return None


@pytest.fixture(scope="module")
def slurm_cluster() -> None:
    """A running SLURM: skip without one, fail when MATERIALS_AI_REQUIRE_SLURM=1."""
    problem = _slurm_problem()
    if problem is None:
        return
    message = f"{problem}; start it with `make slurm` (scripts/slurm-dev-cluster.sh start)"
    if os.environ.get("MATERIALS_AI_REQUIRE_SLURM") == "1":
        pytest.fail(f"MATERIALS_AI_REQUIRE_SLURM=1 but {message}")
    pytest.skip(message)


# --------------------------------------------------------------------- no SLURM needed


def test_batch_script_holds_the_job_directories_and_the_limits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(slurm_queue, "require_slurm", lambda: None)
    config = SlurmJobsConfig(
        partition="short",
        account="proj42",
        extra_directives=["--qos=low"],
        prologue=["module load gpaw"],
    )
    launcher = SlurmLauncher(config, memory="3GiB")
    store = tmp_path / "store"
    (store / "job-a").mkdir(parents=True)
    spec = WorkerSpec(str(store), ("job-a", "job-b"), cores=4, timeout_s=90.0)
    lines = launcher.write_script(spec).read_text().splitlines()
    for line in (
        "#SBATCH --cpus-per-task=4",
        "#SBATCH --time=00:02:00",  # 90 s rounded up to SLURM's minutes
        "#SBATCH --mem=3072M",
        "#SBATCH --partition=short",
        "#SBATCH --account=proj42",
        "#SBATCH --qos=low",
        f"#SBATCH --output={store.resolve() / 'job-a' / 'slurm-%j.out'}",
        "export OMP_NUM_THREADS=4",
        "module load gpaw",
    ):
        assert line in lines
    assert lines[-1].endswith(f"materials_ai.oracles.worker {store.resolve()} job-a job-b")
    no_limit = WorkerSpec(str(store), ("job-a",))
    assert launcher.walltime(no_limit) == "01:00:00"


def test_slurm_states_read_as_failure_reasons(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    timeout = SlurmJob("41", "TIMEOUT", "TimeLimit", "0:15", "00:01:00")
    assert timeout.describe() == "SLURM job 41 TIMEOUT (exceeded its walltime 00:01:00, signal 15)"
    assert SlurmJob("7", "FAILED", "NonZeroExitCode", "3:0").describe() == (
        "SLURM job 7 FAILED (exit code 3)"
    )
    assert SlurmJob("8", "PENDING").active and not timeout.active
    # A cluster without accounting: finished jobs come from the jobcomp/filetxt log.
    log = tmp_path / "jobcomp.log"
    log.write_text(
        "JobId=5 UserId=u(1) GroupId=g(1) Name=x JobState=COMPLETED Partition=debug "
        "TimeLimit=1 ExitCode=0:0\n"
        "JobId=6 UserId=u(1) GroupId=g(1) Name=x JobState=TIMEOUT Partition=debug "
        "TimeLimit=90 ExitCode=0:15\n"
    )
    monkeypatch.setattr(slurm_queue, "_jobcomp_log", lambda: log)
    found = slurm_queue._from_jobcomp(["6", "9"])
    assert list(found) == ["6"]
    assert (
        found["6"].describe() == "SLURM job 6 TIMEOUT (exceeded its walltime 01:30:00, signal 15)"
    )


# ------------------------------------------------------------------------ real SLURM


def _candidates(n: int) -> list[Candidate]:
    return [Candidate(f"cand{i}", s) for i, s in enumerate(demo_structures(n))]


@pytest.mark.slurm
def test_walltime_crash_and_scancel_are_failed_observations_with_slurms_reason(
    slurm_cluster: None, tmp_path: Path
) -> None:
    launcher = SlurmLauncher(SlurmJobsConfig(poll_s=0.5), memory="1GiB")
    slow = JobOracle(SleepTask(300.0), tmp_path / "slow", launcher=launcher, timeout_s=30.0)
    crash = JobOracle(SleepTask(0.0, crash_ids=("MgO",)), tmp_path / "crash", launcher=launcher)
    queued = JobOracle(SleepTask(300.0), tmp_path / "queued", launcher=launcher)
    candidates = _candidates(3)
    t_slow = slow.submit(candidates[:1])  # --time=1 (30 s rounded up to a minute)
    t_crash = crash.submit(candidates[:1])  # MgO: the worker kills itself with SIGSEGV
    t_queued = queued.submit(candidates[2:3])
    assert launcher.cancel(queued.store, [t_queued[0].id])
    assert queued.wait(t_queued, timeout_s=30, poll_s=0.5)
    assert crash.wait(t_crash, timeout_s=60, poll_s=0.5)
    [cancelled] = queued.collect(t_queued)
    [crashed] = crash.collect(t_crash)
    assert not cancelled.ok and cancelled.reason.startswith("SLURM job ")
    assert "CANCELLED" in cancelled.reason
    assert not crashed.ok and "FAILED (signal 11" in crashed.reason
    # SLURM kills the 300 s job after its one-minute walltime (+ up to 30 s until slurmctld
    # checks limits, + KillWait).
    assert slow.wait(t_slow, timeout_s=150, poll_s=1.0)
    [timed_out] = slow.collect(t_slow)
    assert not timed_out.ok
    assert "TIMEOUT (exceeded its walltime 00:01:00" in timed_out.reason
    assert slow.store.info(t_slow[0].id).state == "failed"
    launcher.close()


@pytest.mark.slurm
def test_kill_9_of_the_campaign_then_resume_collects_slurm_jobs_once(
    slurm_cluster: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tiny = write_tiny_dataset(tmp_path / "tiny", n_rows=40, corrupt_rows=[5])
    env = {
        **os.environ,
        "MATERIALS_AI_CARDS_DIR": str(tiny.cards_dir),
        "MATERIALS_AI_DATA_DIR": str(tiny.data_dir),
        "MATERIALS_AI_CACHE_DIR": str(tmp_path / "cache"),
        "OMP_NUM_THREADS": "1",
    }
    for key in ("MATERIALS_AI_CARDS_DIR", "MATERIALS_AI_DATA_DIR", "MATERIALS_AI_CACHE_DIR"):
        monkeypatch.setenv(key, env[key])
    oracle = tiny_chain_oracle(seconds=1.0, batch_size=2, select_top=1, poll_s=0.5)
    oracle["chain"].update(launcher="slurm", slurm={"poll_s": 0.5, "memory": "1GiB"})
    config = tiny_workflow(oracle=oracle, **{"loop.iterations": 1})
    workflow = tmp_path / "workflow.yaml"
    dump_workflow(config, workflow)
    run_dir = tmp_path / "run"
    screen = run_dir / "oracle_jobs" / "screen"
    # Kill the campaign once a seed job has finished while the others wait in SLURM.
    kill_campaign_when_jobs_finished(workflow, run_dir, job_folder=screen, n_finished=2, env=env)
    store = JobStore(screen)
    jobs = store.list_jobs()
    finished_at_kill = {j for j in jobs if store.info(j).finished}
    assert 2 <= len(finished_at_kill) < 10
    slurm_ids = {str(store.read_status(j)["batch"]["job_id"]) for j in jobs}
    active = [j for j in slurm_queue.job_states(slurm_ids).values() if j.active]
    assert active, "every SLURM job had ended before the kill"

    summary = Campaign.resume(run_dir, progress=False).run()
    state = load_state(run_dir)
    assert summary.done and not state.pending
    screen_ids = [
        r.observation["candidate_id"]
        for r in state.observations
        if r.observation["fidelity"] == "screen"
    ]
    # 0 lost: every seed candidate and every pick has its observation, once.
    assert len(screen_ids) == len(set(screen_ids)) == 15
    # 0 recomputed: every job directory was started by exactly one worker.
    counts: dict[str, int] = {}
    for stage in ("screen", "dft"):
        root = run_dir / "oracle_jobs" / stage
        counts.update(run_counts(root, JobStore(root).list_jobs()))
    assert len(counts) == 15 + 2 and set(counts.values()) == {1}
    for job_id in finished_at_kill:
        assert store.read_status(job_id)["history"][-1]["state"] == "done"
    # Every job ran as a SLURM batch job.
    for stage in ("screen", "dft"):
        root = JobStore(run_dir / "oracle_jobs" / stage)
        for job_id in root.list_jobs():
            assert root.read_status(job_id)["batch"]["system"] == "slurm"
