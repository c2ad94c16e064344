"""Chaos on one run directory: kill -9, concurrent resumes, lab ingests and exports.

Runs a small replayed Castelli campaign (GP surrogate on the perovskite descriptor,
``--sample-size`` rows, ``--iterations`` selection rounds, tracking off) twice:

1. the **reference**: ``materials-ai campaign run`` without interruption;
2. the **chaos run**, for ``--rounds`` rounds, each of which
   * starts two ``campaign resume`` (``campaign run`` in round 1) at once: exactly one
     may own the run directory, the other must be refused with the owner named;
   * kills the owner with SIGKILL once it has written the state a random number of times
     (1 to twice the campaign's stages / rounds) and then 0-2 s more, so kills land at
     stage boundaries and inside stages anywhere in the stage machine;
   * after random numbers of those writes before the kill, as separate processes (whose
     start-up may carry them past the kill): ingests a lab results file
     (``campaign ingest``; rows for candidates already validated: a measurement equal to
     the replayed band gap and a failed synthesis, so the lab rows leave the picks
     unchanged), every other round ingests an earlier file again (nothing may be added
     twice), and exports the bundle into the run directory (refused while the owner runs)
     and into a folder outside it (a new version subfolder each time; the first bundle's
     results template is filled like a lab would and must stay untouched).

Then a last ``campaign resume`` runs to the end, and the final state is checked against
the reference (same picks, same oracle observations, same final ranked list) plus every
lab row acknowledged by ``ingest`` (exit code 0; "added" or "queued"): each must be in the
state exactly once. The journal must replay to the final state.

    MATERIALS_AI_DATA_DIR=../shared/datasets OMP_NUM_THREADS=1 \\
        .venv/bin/python benchmarks/run_dir_chaos.py --rounds 5

Writes ``benchmarks/results/run_dir_chaos.json``.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
WORKFLOW = HERE.parent / "workflows" / "castelli_water_splitting_gp.yaml"
CLI = [str(Path(sys.executable).parent / "materials-ai"), "campaign"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _workflow(path: Path, sample_size: int, iterations: int) -> Path:
    from materials_ai.campaign.config import load_workflow

    config = load_workflow(WORKFLOW).with_overrides(
        **{
            "data.sample_size": sample_size,
            "loop.iterations": iterations,
            "loop.max_oracle_calls": None,
            "tracking.backend": "none",
        }
    )
    path.write_text(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))
    return path


def _cli(*args: str, timeout: float = 3600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], env=ENV, capture_output=True, text=True, timeout=timeout, check=False
    )


def _spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*CLI, *args, "--no-progress"],
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _writes(run_dir: Path) -> int:
    """State writes so far (journal groups: one per completed stage, and a few more)."""
    try:
        data = (run_dir / "journal.jsonl").read_bytes()
    except OSError:
        return 0
    return data.count(b'"kind":"checkpoint"') + data.count(b'"kind":"snapshot"')


def _read_state(run_dir: Path) -> dict[str, Any] | None:
    try:
        return json.loads((run_dir / "state.json").read_text())
    except (OSError, ValueError):
        return None


def _lab_file(run_dir: Path, folder: Path, k: int, rng: random.Random) -> Path | None:
    """A results file for two validated candidates (a measured gap equal to the replayed
    one, a failed synthesis); None when fewer than two are validated yet."""
    state = _read_state(run_dir)
    if state is None:
        return None
    replayed = {
        o["observation"]["candidate_id"]: o["observation"]["values"]
        for o in state["observations"]
        if o["observation"]["ok"] and o["observation"]["fidelity"] != "experiment"
    }
    ids = sorted(i for i, v in replayed.items() if math.isfinite(v.get("band_gap", math.nan)))
    if len(ids) < 2:
        return None
    measured, failed = rng.sample(ids, 2)
    path = folder / f"lab_{k:03d}.csv"
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "measured_band_gap_eV", "phase_pure", "synthesized", "notes"])
        writer.writerow([measured, repr(float(replayed[measured]["band_gap"])), "yes", "yes", k])
        writer.writerow([failed, "", "", "no", f"batch {k}"])
    return path


def _background(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*CLI, *args], env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _ingest_done(proc: subprocess.Popen[str], path: Path, log: dict[str, Any]) -> None:
    """Account an ingest command: every row it acknowledged (exit 0, not skipped)."""
    out, err = proc.communicate(timeout=900)
    text = out + err
    log["ingests"].append({"file": path.name, "exit": proc.returncode, "output": text[-400:]})
    if proc.returncode != 0:
        return
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    skipped = {
        int(line.split("row ")[1].split(" ")[0]) for line in text.splitlines() if "skipped" in line
    }
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))[1:]
    for number in range(2, len(rows) + 2):
        if number not in skipped:
            log["acknowledged"].append(f"{sha[:16]}-r{number}")
    if "experiment observation" in text and not text.split(": ", 1)[-1].startswith("added 0"):
        log["queued" if "queued" in text else "added"] += 1


def _export_inside_done(proc: subprocess.Popen[str], log: dict[str, Any]) -> None:
    out, err = proc.communicate(timeout=900)
    if proc.returncode == 0:
        log["exports_inside_written"] += 1
    elif "is in use by pid" in out + err:
        log["exports_inside_refused_owner_named"] += 1
    else:
        log["exports_inside_other_errors"].append((out + err)[-300:])


def _export_outside_done(proc: subprocess.Popen[str], exports: Path, log: dict[str, Any]) -> None:
    out, err = proc.communicate(timeout=900)
    if proc.returncode != 0:
        log["exports_outside_errors"].append((out + err)[-300:])
        return
    log["exports_outside_written"] += 1
    template = exports / "results_template.csv"
    if log["filled_template"] is None and template.exists():  # the lab fills the first one
        lines = template.read_text().splitlines()
        cells = lines[1].split(",")
        cells[-1] = "filled by the lab"
        lines[1] = ",".join(cells)
        template.write_text("\n".join(lines) + "\n")
        log["filled_template"] = template.read_text()


def _start_pair(args: list[str], log: dict[str, Any]) -> subprocess.Popen[str] | None:
    """Start two owners at once; return the one that owns the run (the other must be
    refused), or None when neither is left running (the campaign had finished)."""
    pair = [_spawn(*args), _spawn(*args)]
    while all(p.poll() is None for p in pair):
        time.sleep(0.1)
    first = next(p for p in pair if p.poll() is not None)
    other = pair[1] if first is pair[0] else pair[0]
    _, err = first.communicate()
    if first.returncode == 2 and "is in use by pid" in err:
        log["second_owner_refused"] += 1
        return other
    if first.returncode == 0:  # it ran the campaign to its end before the other tried
        _, err_other = other.communicate()
        if other.returncode == 2 and "is in use by pid" in err_other:
            log["second_owner_refused"] += 1
        elif other.returncode == 0:
            log["both_finished_in_turn"] += 1  # a finished campaign: nothing to own long
        else:
            log["second_owner_not_refused"].append(
                {"exit": other.returncode, "err": err_other[-300:]}
            )
        return None
    log["second_owner_not_refused"].append({"exit": first.returncode, "err": err[-300:]})
    return other if other.poll() is None else None


def _compare(reference: Path, chaos: Path, log: dict[str, Any]) -> dict[str, Any]:
    import pandas as pd

    from materials_ai.campaign.repair import rebuild_from_journal
    from materials_ai.campaign.rundir import RunDirectory

    ref, got = _read_state(reference), _read_state(chaos)
    assert ref is not None and got is not None

    def oracle_obs(state: dict[str, Any]) -> list[Any]:
        return [
            (o["observation"]["candidate_id"], o["observation"]["values"], o["observation"]["ok"])
            for o in state["observations"]
            if o["observation"]["fidelity"] != "experiment"
        ]

    lab = Counter(
        o["observation"]["provenance"].get("ingest_id")
        for o in got["observations"]
        if o["observation"]["fidelity"] == "experiment"
    )
    acknowledged = Counter(log["acknowledged"])
    ranked = [
        pd.read_csv(p / "final" / "ranked_candidates.csv", dtype={"id": str})["id"].tolist()
        for p in (reference, chaos)
    ]
    rundir = RunDirectory(chaos)
    return {
        "done": bool(got["done"]),
        "picks_identical": [s["candidate_ids"] for s in ref["selections"]]
        == [s["candidate_ids"] for s in got["selections"]],
        "oracle_observations_identical": json.dumps(oracle_obs(ref)) == json.dumps(oracle_obs(got)),
        "oracle_calls": [ref["oracle_calls"], got["oracle_calls"]],
        "final_ranked_list_identical": ranked[0] == ranked[1],
        "lab_rows_acknowledged": sum(acknowledged.values()),
        "lab_rows_acknowledged_distinct": len(acknowledged),
        "lab_rows_in_state": sum(lab.values()),
        "lab_rows_lost": sorted(set(acknowledged) - set(lab)),
        "lab_rows_duplicated": sorted(k for k, n in lab.items() if n > 1),
        "lab_rows_unacknowledged": sorted(set(lab) - set(acknowledged)),
        "journal_replays_to_state": rebuild_from_journal(rundir).model_dump_json()
        == rundir.read_state().model_dump_json(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--iterations", type=int, default=8)
    parser.add_argument("--sample-size", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work-dir", default=None)
    parser.add_argument("--out", default=str(HERE / "results" / "run_dir_chaos.json"))
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="run_dir_chaos_"))
    work.mkdir(parents=True, exist_ok=True)
    workflow = _workflow(work / "workflow.yaml", args.sample_size, args.iterations)
    reference, chaos, exports, lab = (work / n for n in ("reference", "chaos", "exports", "lab"))
    lab.mkdir(exist_ok=True)
    load_before = os.getloadavg()

    started = time.perf_counter()
    ref = _spawn("run", str(workflow), "--run-dir", str(reference))
    while ref.poll() is None and not (reference / "state.json").exists():
        time.sleep(0.1)
    startup_s = time.perf_counter() - started  # imports and settings, before any stage
    out, err = ref.communicate(timeout=3600)
    if ref.returncode != 0:
        raise SystemExit(f"reference run failed:\n{out}\n{err}")
    reference_s = time.perf_counter() - started
    total_stages = 1 + 6 * args.iterations + 4  # seed, selection rounds, final iteration

    log: dict[str, Any] = {
        "kills": [],
        "ingests": [],
        "acknowledged": [],
        "queued": 0,
        "added": 0,
        "second_owner_refused": 0,
        "second_owner_not_refused": [],
        "both_finished_in_turn": 0,
        "exports_inside_written": 0,
        "exports_inside_refused_owner_named": 0,
        "exports_inside_other_errors": [],
        "exports_outside_written": 0,
        "exports_outside_errors": [],
        "filled_template": None,
    }
    files: list[Path] = []
    chaos_started = time.perf_counter()
    for k in range(1, args.rounds + 1):
        command = (
            ["run", str(workflow), "--run-dir", str(chaos)] if k == 1 else ["resume", str(chaos)]
        )
        owner = _start_pair(command, log)
        while owner is not None and owner.poll() is None and not (chaos / "state.json").exists():
            time.sleep(0.2)  # a kill before the first state write leaves no campaign
        # The owner is killed a random number of state writes (stages) after it starts,
        # plus a random fraction of a stage; lab results and exports are started after
        # random numbers of writes before that (their own start-up may carry them past it).
        n_writes = rng.randint(1, max(1, round(2 * total_stages / args.rounds)))
        events = [
            (rng.randint(0, n_writes - 1), "ingest"),
            (rng.randint(0, n_writes - 1), "export"),
        ]
        if k % 2 == 0:
            events.append((rng.randint(0, n_writes - 1), "ingest again"))
        events.append((n_writes, "kill"))
        first_write = _writes(chaos)
        helpers: list[tuple[str, subprocess.Popen[str], Path | None]] = []
        for after, what in sorted(events, key=lambda e: (e[0], e[1] == "kill")):
            while (
                owner is not None and owner.poll() is None and _writes(chaos) - first_write < after
            ):
                time.sleep(0.05)
            if what == "ingest":
                path = _lab_file(chaos, lab, k, rng)
                if path is not None:
                    files.append(path)
                    helpers.append(("ingest", _background("ingest", str(chaos), str(path)), path))
            elif what == "ingest again" and files:
                path = rng.choice(files)  # the lab sends a file again
                helpers.append(("ingest", _background("ingest", str(chaos), str(path)), path))
            elif what == "export":
                inside = _background("export", str(chaos), "--top", "5")
                outside = _background("export", str(chaos), "--out", str(exports), "--top", "5")
                helpers += [("inside", inside, None), ("outside", outside, None)]
        delay = rng.uniform(0.0, 2.0)
        time.sleep(delay)
        if owner is not None and owner.poll() is None:
            owner.send_signal(signal.SIGKILL)
            owner.wait()
            state = _read_state(chaos) or {}
            log["kills"].append(
                {
                    "round": k,
                    "after_writes": n_writes,
                    "then_s": round(delay, 2),
                    "iteration": state.get("iteration"),
                    "completed": state.get("completed"),
                }
            )
        elif owner is not None:
            owner.communicate()
        for kind, proc, path in helpers:
            if kind == "ingest":
                assert path is not None
                _ingest_done(proc, path, log)
            elif kind == "inside":
                _export_inside_done(proc, log)
            else:
                _export_outside_done(proc, exports, log)
    final = _cli("resume", str(chaos), "--no-progress", timeout=3600)
    if final.returncode != 0:
        raise SystemExit(f"final resume failed:\n{final.stdout}\n{final.stderr}")
    path = _lab_file(chaos, lab, args.rounds + 1, rng)  # after the end: added at once
    if path is not None:
        _ingest_done(_background("ingest", str(chaos), str(path)), path, log)
    chaos_s = time.perf_counter() - chaos_started

    checks = _compare(reference, chaos, log)
    template = exports / "results_template.csv"
    checks["filled_template_kept"] = (
        log["filled_template"] is not None and template.read_text() == log["filled_template"]
    )
    checks["bundle_versions"] = 1 + len(list(exports.glob("v*")))
    result = {
        "benchmark": "run_dir_chaos",
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_avg_before": load_before,
            "load_avg_after": os.getloadavg(),
        },
        "workflow": f"{WORKFLOW.relative_to(HERE.parent)} with data.sample_size "
        f"{args.sample_size}, loop.iterations {args.iterations}, tracking off",
        "rounds": args.rounds,
        "seed": args.seed,
        "reference_s": round(reference_s, 1),
        "reference_startup_s": round(startup_s, 1),
        "chaos_s": round(chaos_s, 1),
        "counts": {
            "kills": len(log["kills"]),
            "second_owner_refused": log["second_owner_refused"],
            "second_owner_not_refused": len(log["second_owner_not_refused"]),
            "resumes_of_a_finished_campaign": log["both_finished_in_turn"],
            "ingest_commands": len(log["ingests"]),
            "ingests_queued_for_running_campaign": log["queued"],
            "ingests_added_directly": log["added"],
            "exports_inside_written": log["exports_inside_written"],
            "exports_inside_refused_owner_named": log["exports_inside_refused_owner_named"],
            "exports_outside_written": log["exports_outside_written"],
        },
        "checks": checks,
        "kills": log["kills"],
        "errors": {
            "second_owner_not_refused": log["second_owner_not_refused"],
            "exports_inside": log["exports_inside_other_errors"],
            "exports_outside": log["exports_outside_errors"],
            "ingests": [i for i in log["ingests"] if i["exit"] != 0],
        },
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({"counts": result["counts"], "checks": checks}, indent=1))
    ok = (
        checks["done"]
        and checks["picks_identical"]
        and checks["oracle_observations_identical"]
        and not checks["lab_rows_lost"]
        and not checks["lab_rows_duplicated"]
        and not checks["lab_rows_unacknowledged"]
    )
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
