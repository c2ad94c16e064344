"""kill -9 of a campaign-like process while 4 GPAW jobs run, then resume.

``python -m materials_ai.testing.simulate`` submits 4 small GPAW jobs (rock-salt oxides,
GLLB-SC + PBE at 400 eV / 3x3x3; 2 worker processes of 1 core) and waits, like a campaign's
COLLECT stage. When at least one job has finished and another is running, the benchmark
kills the process group with SIGKILL, snapshots the job directories, and resumes in a new
process from the tickets file (as a campaign resumes from ``state.json``).

Two scenarios:

* ``campaign``: only the campaign dies; the detached workers finish their jobs;
* ``campaign+workers``: the running workers are killed too (a node loss): their jobs are
  re-launched on resume.

Counted from the job directories (``status.json`` histories and ``output.json``
timestamps): finished-at-kill jobs started again (target 0), jobs without a result after
resume (target 0).

    .venv/bin/python benchmarks/oracle_resume.py

Writes ``benchmarks/results/oracle_resume.json``.
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


def scenario(kill_workers: bool, task: str, n: int) -> dict[str, object]:
    from materials_ai.oracles.jobs import JobStore, process_alive
    from materials_ai.testing.simulate import load_tickets, make_oracle, run_counts

    root = Path(tempfile.mkdtemp(prefix="oracle_resume_"))
    store, tickets_file = root / "jobs", root / "tickets.json"
    started = time.perf_counter()
    campaign = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "materials_ai.testing.simulate",
            str(store),
            str(tickets_file),
            "--task",
            task,
            "--n",
            str(n),
            "--parallel",
            "2",
            "--seconds",
            "5",
        ],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
    )
    while not tickets_file.exists():
        time.sleep(0.1)
    tickets = load_tickets(tickets_file)
    ids = [t.id for t in tickets]
    jobs = JobStore(store)
    while True:
        states = [jobs.info(i).state for i in ids]
        if "done" in states and "running" in states:
            break
        if campaign.poll() is not None:
            raise SystemExit("the campaign finished before it could be killed")
        time.sleep(0.1)
    running_pids = [jobs.info(i).pid for i in ids if jobs.info(i).state == "running"]
    os.killpg(campaign.pid, signal.SIGKILL)
    campaign.wait()
    killed_at = time.perf_counter() - started
    if kill_workers:
        for pid in running_pids:
            if pid:
                os.kill(pid, signal.SIGKILL)
        while any(process_alive(p, None) for p in running_pids if p):
            time.sleep(0.05)
    snapshot = {i: jobs.info(i).state for i in ids}
    done_at_kill = [i for i, s in snapshot.items() if s == "done"]
    finished_stamp = {i: (jobs.read_output(i) or {})["timing"]["finished"] for i in done_at_kill}

    t0 = time.perf_counter()
    resumed = make_oracle(store, task, 5.0, 2)
    resumed.resubmit(tickets)
    resumed.wait(tickets, poll_s=0.5)
    resume_s = time.perf_counter() - t0
    observations = resumed.collect(tickets)
    counts = run_counts(store, ids)
    recomputed = [
        i
        for i in done_at_kill
        if counts[i] != 1 or (jobs.read_output(i) or {})["timing"]["finished"] != finished_stamp[i]
    ]
    ok_ids = {o.candidate_id for o in observations if o.ok}
    lost = sorted({t.candidate_id for t in tickets} - ok_ids)
    return {
        "scenario": "campaign+workers" if kill_workers else "campaign",
        "jobs": len(ids),
        "state_at_kill": snapshot,
        "killed_after_s": killed_at,
        "finished_at_kill": len(done_at_kill),
        "finished_jobs_recomputed": len(recomputed),
        "lost": len(lost),
        "worker_starts": counts,
        "jobs_restarted": sum(1 for c in counts.values() if c > 1),
        "resume_to_all_done_s": resume_s,
        "values": {
            o.candidate_id: o.values.get("band_gap", o.values.get("n_sites")) for o in observations
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="gpaw", choices=["gpaw", "sleep"])
    parser.add_argument("--n", type=int, default=4)
    parser.add_argument("--out", default=str(HERE / "results" / "oracle_resume.json"))
    args = parser.parse_args()
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    load_before = os.getloadavg()
    results = [scenario(False, args.task, args.n), scenario(True, args.task, args.n)]
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    out = {
        "benchmark": "oracle_resume",
        "task": args.task,
        "scenarios": results,
        "targets": {"finished_jobs_recomputed": 0, "lost": 0},
        "machine": {"cpus": os.cpu_count(), "loadavg_before": load_before, "uptime_after": uptime},
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1))
    for r in results:
        print(
            f"{r['scenario']:<17} finished at kill {r['finished_at_kill']}/{r['jobs']}, "
            f"recomputed {r['finished_jobs_recomputed']}, lost {r['lost']}, "
            f"restarted {r['jobs_restarted']}, resume {r['resume_to_all_done_s']:.1f} s"
        )
    print(uptime)


if __name__ == "__main__":
    main()
