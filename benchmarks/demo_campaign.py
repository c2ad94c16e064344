"""Benchmark: the Castelli water-splitting campaign that `make demo` runs.

Measures wall time (total and per stage, from the campaign's own metrics) and what the
campaign found, and writes ``benchmarks/results/demo_campaign.json``.

    .venv/bin/python benchmarks/demo_campaign.py --iterations 10 --runs 1
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch

from materials_ai.campaign.config import load_workflow
from materials_ai.campaign.loop import Campaign
from materials_ai.campaign.state import load_state
from materials_ai.settings import PROJECT_ROOT

WORKFLOW = PROJECT_ROOT / "workflows" / "castelli_water_splitting.yaml"
RESULTS = PROJECT_ROOT / "benchmarks" / "results" / "demo_campaign.json"


def run_once(iterations: int, seed: int, run_dir: Path) -> dict[str, object]:
    """Run the demo campaign once and return its measurements."""
    config = load_workflow(WORKFLOW).with_overrides(
        **{"loop.iterations": iterations, "seed": seed, "tracking.backend": "none"}
    )
    start = time.perf_counter()
    summary = Campaign.start(config, run_dir).run()
    wall = time.perf_counter() - start
    state = load_state(run_dir)
    stage_seconds: dict[str, list[float]] = {}
    for metrics in state.metrics:
        for key, value in metrics.items():
            if key.startswith("seconds_"):
                stage_seconds.setdefault(key.removeprefix("seconds_"), []).append(value)
    return {
        "seed": seed,
        "iterations": iterations,
        "wall_seconds": wall,
        "oracle_calls": summary.oracle_calls,
        "targets_found": summary.targets_found,
        "targets_total": summary.targets_total,
        "median_stage_seconds": {k: statistics.median(v) for k, v in stage_seconds.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    runs = []
    for k in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            result = run_once(args.iterations, args.seed + k, Path(tmp) / "run")
        print(json.dumps(result, indent=1))
        runs.append(result)
    payload = {
        "benchmark": "demo_campaign",
        "command": f"python benchmarks/demo_campaign.py --iterations {args.iterations} "
        f"--runs {args.runs} --seed {args.seed}",
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "torch_threads": torch.get_num_threads(),
        },
        "runs": runs,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(payload, indent=1))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
