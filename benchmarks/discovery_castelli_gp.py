"""Summarise replayed Castelli campaigns with the GP surrogate into one JSON file.

The campaigns themselves are run (resumably) by the CLI, one folder per strategy::

    MATERIALS_AI_DATA_DIR=../shared/datasets OMP_NUM_THREADS=1 \\
    .venv/bin/materials-ai benchmark replay workflows/castelli_water_splitting_gp.yaml \\
        --strategies constrained --seeds 5 --budget 300 --out runs/bench_gp_constrained

This script reads every ``<out>/<strategy>/seed_N/`` run directory given, and writes per
seed: targets found at 300 calls (and at the run's last call), calls to find 5, 10 and all
19, and the campaign's compute time (sum of its recorded stage seconds, which survives a
resume, unlike the CLI's wall clock). Usage::

    .venv/bin/python benchmarks/discovery_castelli_gp.py runs/bench_gp_constrained \\
        runs/bench_gp_qucb --out benchmarks/results/discovery_castelli_gp.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
from pathlib import Path
from typing import Any

import numpy as np

from materials_ai.campaign.benchmark import discovery_curve, expected_random_calls
from materials_ai.campaign.config import load_workflow
from materials_ai.campaign.state import load_state

POOL = 18928
TARGETS = 19


def _first(curve: list[int], found: int) -> int | None:
    return next((k + 1 for k, v in enumerate(curve) if v >= found), None)


def _run(run_dir: Path) -> dict[str, Any]:
    config = load_workflow(run_dir / "workflow.yaml")
    state = load_state(run_dir)
    curve = discovery_curve(run_dir, config)
    seconds = sum(v for m in state.metrics for k, v in m.items() if k.startswith("seconds_"))
    return {
        "strategy": config.acquisition.strategy,
        "budget": config.loop.max_oracle_calls,
        "seed": config.seed,
        "oracle_calls": len(curve),
        "done": state.done or (run_dir / "all_targets_found").exists(),
        "found_at_300": curve[min(300, len(curve)) - 1] if curve else 0,
        "found_at_end": curve[-1] if curve else 0,
        "calls_to_5": _first(curve, 5),
        "calls_to_10": _first(curve, 10),
        "calls_to_19": _first(curve, TARGETS),
        "compute_seconds": round(seconds, 1),
        "curve": curve,
    }


def _median(values: list[int | None]) -> float | None:
    numeric = [math.inf if v is None else float(v) for v in values]
    median = float(np.median(numeric)) if numeric else math.inf
    return None if math.isinf(median) else median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bench_dirs", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    runs = [
        _run(d)
        for bench in args.bench_dirs
        for d in sorted(bench.glob("*/seed_*"))
        if (d / "state.json").exists()
    ]
    summary: dict[str, Any] = {}
    for strategy, budget in sorted({(r["strategy"], r["budget"]) for r in runs}):
        mine = [
            r
            for r in runs
            if r["strategy"] == strategy and r["budget"] == budget and r["oracle_calls"] >= 300
        ]
        finished = [r for r in runs if r["strategy"] == strategy and r["budget"] == budget]
        finished = [r for r in finished if r["done"] or r["oracle_calls"] >= (budget or 0)]
        summary[f"{strategy}@{budget}"] = {
            "seeds_past_300_calls": [r["seed"] for r in mine],
            "seeds_finished": [r["seed"] for r in finished],
            "median_found_at_300": float(np.median([r["found_at_300"] for r in mine]))
            if mine
            else None,
            "median_calls_to_10": _median([r["calls_to_10"] for r in mine]),
            "median_calls_to_19_finished_seeds": _median([r["calls_to_19"] for r in finished]),
            "median_compute_seconds": float(np.median([r["compute_seconds"] for r in mine]))
            if mine
            else None,
        }
    result = {
        "workflow": "workflows/castelli_water_splitting_gp.yaml",
        "surrogate": "gp (SingleTaskGP per target, perovskite descriptor, 64 draws)",
        "initial_labels": 100,
        "batch_size": 20,
        "targets_total": TARGETS,
        "pool_size": POOL,
        "random_expected_calls_to_10": expected_random_calls(10, TARGETS, POOL),
        "machine": {
            "cpus": os.cpu_count(),
            "gpu": None,
            "python": platform.python_version(),
            "note": "shared 2-vCPU VM, other jobs running (load average 3-8), nice 5, "
            "OMP_NUM_THREADS=1",
        },
        "summary": summary,
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(json.dumps(summary, indent=1))
    for r in runs:
        print(
            r["strategy"],
            r["budget"],
            r["seed"],
            r["oracle_calls"],
            r["found_at_300"],
            r["calls_to_10"],
            r["calls_to_19"],
            r["compute_seconds"],
        )


if __name__ == "__main__":
    main()
