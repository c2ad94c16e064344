"""kill -9 of a validated campaign (CHGNet -> GPAW chain) while GPAW runs, then resume.

Runs ``materials-ai campaign run workflows/castelli_validated_chgnet_gpaw.yaml`` (with
``--iterations`` selection rounds) as a separate process. As soon as a GPAW
job of the seed batch is running, it kills the campaign process with SIGKILL (the detached
job workers are left alone, as after a crash of the campaign's node-local process), then
runs ``materials-ai campaign resume`` to the end. From the job directories it counts:

* jobs finished at the kill that were started again (target 0);
* jobs started more than once at all (target 0: running jobs are adopted, not restarted);
* candidates submitted but without an observation at the end (target 0).

    MATERIALS_AI_DATA_DIR=../shared/datasets OMP_NUM_THREADS=1 \\
        .venv/bin/python benchmarks/oracle_campaign_resume.py --iterations 1

Writes ``benchmarks/results/oracle_campaign_resume.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORKFLOW = HERE.parent / "workflows" / "castelli_validated_chgnet_gpaw.yaml"


def _states(run_dir: Path) -> dict[str, str]:
    """Job id -> state over every stage's job store."""
    from materials_ai.oracles.jobs import JobStore

    out: dict[str, str] = {}
    root = run_dir / "oracle_jobs"
    for stage in sorted(p for p in root.glob("*") if p.is_dir()) if root.exists() else []:
        store = JobStore(stage)
        for job_id in store.list_jobs():
            out[f"{stage.name}/{job_id}"] = store.info(job_id).state
    return out


def _run_counts(run_dir: Path) -> dict[str, int]:
    from materials_ai.oracles.jobs import JobStore
    from materials_ai.testing.simulate import run_counts

    counts: dict[str, int] = {}
    for stage in sorted(p for p in (run_dir / "oracle_jobs").glob("*") if p.is_dir()):
        jobs = JobStore(stage).list_jobs()
        counts.update({f"{stage.name}/{k}": v for k, v in run_counts(stage, jobs).items()})
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=1)
    parser.add_argument("--run-dir", default=None)
    parser.add_argument("--out", default=str(HERE / "results" / "oracle_campaign_resume.json"))
    args = parser.parse_args()
    run_dir = Path(args.run_dir or tempfile.mkdtemp(prefix="validated_")) / "run"
    cli = [str(Path(sys.executable).parent / "materials-ai"), "campaign"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    load_before = os.getloadavg()
    started = time.perf_counter()
    campaign = subprocess.Popen(
        [
            *cli,
            "run",
            str(WORKFLOW),
            "--run-dir",
            str(run_dir),
            "--iterations",
            str(args.iterations),
            "--no-progress",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(Path(tempfile.gettempdir()) / "oracle_campaign_resume.log", "w"),  # noqa: SIM115
    )
    while True:
        states = _states(run_dir)
        if any(k.startswith("gpaw/") and s == "running" for k, s in states.items()):
            break
        if campaign.poll() is not None:
            raise SystemExit(f"the campaign ended (code {campaign.returncode}) before the kill")
        time.sleep(0.5)
    campaign.send_signal(signal.SIGKILL)
    campaign.wait()
    killed_after_s = time.perf_counter() - started
    at_kill = _states(run_dir)
    finished_at_kill = {k for k, s in at_kill.items() if s in ("done", "failed")}
    stamps = {}
    for key in finished_at_kill:
        stage, job_id = key.split("/", 1)
        output = json.loads((run_dir / "oracle_jobs" / stage / job_id / "output.json").read_text())
        stamps[key] = output["timing"]["finished"]

    t0 = time.perf_counter()
    resumed = subprocess.run(
        [*cli, "resume", str(run_dir), "--no-progress"], env=env, capture_output=True, text=True
    )
    resume_s = time.perf_counter() - t0
    if resumed.returncode != 0:
        raise SystemExit(f"resume failed:\n{resumed.stdout}\n{resumed.stderr}")
    counts = _run_counts(run_dir)
    recomputed = []
    for key in finished_at_kill:
        stage, job_id = key.split("/", 1)
        output = json.loads((run_dir / "oracle_jobs" / stage / job_id / "output.json").read_text())
        if counts[key] != 1 or output["timing"]["finished"] != stamps[key]:
            recomputed.append(key)
    state = json.loads((run_dir / "state.json").read_text())
    observed = {r["observation"]["candidate_id"] for r in state["observations"]}
    submitted = {c for s in state["selections"] for c in s["candidate_ids"]}
    fidelities: dict[str, int] = {}
    for r in state["observations"]:
        o = r["observation"]
        key = o["fidelity"] + ("" if o["ok"] else ":failed")
        fidelities[key] = fidelities.get(key, 0) + 1
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    result = {
        "benchmark": "oracle_campaign_resume",
        "workflow": str(WORKFLOW.relative_to(HERE.parent)),
        "iterations": args.iterations,
        "killed_after_s": killed_after_s,
        "state_at_kill": at_kill,
        "finished_at_kill": len(finished_at_kill),
        "finished_jobs_recomputed": len(recomputed),
        "jobs_started_more_than_once": sorted(k for k, c in counts.items() if c > 1),
        "jobs": len(counts),
        "submitted_without_observation": sorted(submitted - observed),
        "observations_by_fidelity": fidelities,
        "campaign_done": bool(state["done"]),
        "resume_to_done_s": resume_s,
        "targets": {"finished_jobs_recomputed": 0, "lost": 0},
        "machine": {"cpus": os.cpu_count(), "loadavg_before": load_before, "uptime_after": uptime},
        "run_dir": str(run_dir),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(json.dumps({k: v for k, v in result.items() if k != "state_at_kill"}, indent=1))


if __name__ == "__main__":
    main()
