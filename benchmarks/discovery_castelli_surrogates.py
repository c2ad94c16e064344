"""Surrogates side by side on the replayed Castelli water-splitting screen (issue 15).

Each surrogate's campaigns are run (resumably) by the CLI, one folder per strategy, e.g.::

    MATERIALS_AI_DATA_DIR=../shared/datasets OMP_NUM_THREADS=1 \\
    .venv/bin/materials-ai benchmark replay workflows/castelli_water_splitting_chgnet_gp.yaml \\
        --strategies constrained --seeds 5 --budget 1000 --out runs/bench_chgnet_gp_constrained

(a run stops once all 19 targets are found). This script reads the run directories of
every ``LABEL=FOLDER`` given (``FOLDER/<strategy>/seed_N/``) and writes, per surrogate
and strategy, each seed's calls to find 10 and all 19 of the 19 targets (``None``: not
within the run's calls) and the medians under the keys ``calls_to_10_of_19`` and
``calls_to_19_of_19``. Figures of earlier sessions' runs (whose folders are gone) are
carried over from their results files: with ``--previous`` from ``discovery_castelli_gp.py``'s,
and with ``--carry LABEL=RESULTS.json`` the per-run records of this script's own file (a run
folder of the same strategy and seed with at least as many calls replaces a carried run).
Usage::

    .venv/bin/python benchmarks/discovery_castelli_surrogates.py \\
        chgnet_gp=runs/bench_chgnet_gp_constrained chgnet_gp=runs/bench_chgnet_gp_thompson \\
        --previous descriptor_gp=benchmarks/results/discovery_castelli_gp.json \\
        --out benchmarks/results/discovery_castelli_surrogates.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
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


def _median(values: list[int | None]) -> float | None:
    """Median with "not reached" counted as infinitely many calls (None if the median is)."""
    numeric = [math.inf if v is None else float(v) for v in values]
    median = float(np.median(numeric)) if numeric else math.inf
    return None if math.isinf(median) else median


def _run(run_dir: Path) -> dict[str, Any]:
    config = load_workflow(run_dir / "workflow.yaml")
    state = load_state(run_dir)
    curve = discovery_curve(run_dir, config)
    seconds = sum(v for m in state.metrics for k, v in m.items() if k.startswith("seconds_"))
    train = [float(m["seconds_train"]) for m in state.metrics if m.get("seconds_train")]
    return {
        "strategy": config.acquisition.strategy,
        "seed": config.seed,
        "surrogate": config.surrogate.model_dump(mode="json"),
        "oracle_calls": len(curve),
        "finished": state.done or (run_dir / "all_targets_found").exists(),
        "found_at_300": curve[min(300, len(curve)) - 1] if curve else 0,
        "calls_to_10_of_19": _first(curve, 10),
        "calls_to_19_of_19": _first(curve, TARGETS),
        "compute_seconds": round(seconds, 1),
        "last_train_seconds": round(train[-1], 1) if train else None,
        "curve": curve,
    }


def _summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    # Runs whose call count to 10 is known: they reached 10 targets, or spent 300 calls
    # without (a run stops early once all 19 are found; an interrupted one may not count).
    past_300 = [r for r in runs if r["oracle_calls"] >= 300 or r["calls_to_10_of_19"] is not None]
    finished = [r for r in runs if r["finished"]]
    return {
        "seeds": sorted(r["seed"] for r in runs),
        "seeds_finished": sorted(r["seed"] for r in finished),
        "calls_to_10_of_19": _median([r["calls_to_10_of_19"] for r in past_300]),
        "calls_to_10_of_19_per_seed": [r["calls_to_10_of_19"] for r in runs],
        "calls_to_19_of_19": _median([r["calls_to_19_of_19"] for r in finished])
        if len(finished) == len(runs)
        else None,
        "calls_to_19_of_19_per_seed": [r["calls_to_19_of_19"] for r in runs],
        "found_at_300_per_seed": [r["found_at_300"] for r in runs],
        "found_at_end_per_seed": [r["curve"][-1] if r["curve"] else 0 for r in runs],
        "oracle_calls_per_seed": [r["oracle_calls"] for r in runs],
        "median_compute_seconds": float(np.median([r["compute_seconds"] for r in runs]))
        if runs
        else None,
    }


def _previous(path: Path) -> dict[str, Any]:
    """Per-strategy figures from an earlier results file (discovery_castelli_gp.py's)."""
    data = json.loads(path.read_text())
    out: dict[str, Any] = {}
    runs = data.get("runs", [])
    for strategy in sorted({r["strategy"] for r in runs}):
        longest: dict[int, dict[str, Any]] = {}
        for r in runs:
            seed = r["seed"]
            if r["strategy"] == strategy and (
                seed not in longest or r["oracle_calls"] > longest[seed]["oracle_calls"]
            ):
                longest[seed] = r
        seeds = sorted(longest)
        out[strategy] = {
            "seeds": seeds,
            "calls_to_10_of_19": _median([longest[s]["calls_to_10"] for s in seeds]),
            "calls_to_10_of_19_per_seed": [longest[s]["calls_to_10"] for s in seeds],
            "calls_to_19_of_19_per_seed": [longest[s]["calls_to_19"] for s in seeds],
            "calls_to_19_of_19": _median([longest[s]["calls_to_19"] for s in seeds])
            if all(longest[s]["done"] for s in seeds)
            else None,
            "budgets": sorted({longest[s]["budget"] for s in seeds}),
            "source": str(path),
        }
    return out


def _carried(path: Path, label: str) -> list[dict[str, Any]]:
    """The per-run records under ``label`` in an earlier results file of this script."""
    data = json.loads(path.read_text())
    runs = data.get("runs", {}).get(label)
    if not runs:
        raise SystemExit(f"{path}: no runs under the label {label!r} (has {sorted(data['runs'])})")
    return [{**r, "carried_from": str(path)} for r in runs]


def _merge(fresh: list[dict[str, Any]], carried: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fresh runs plus carried ones; of two runs of one strategy and seed, the longer wins."""
    best: dict[tuple[str, int], dict[str, Any]] = {}
    for r in [*carried, *fresh]:
        key = (r["strategy"], r["seed"])
        if key not in best or r["oracle_calls"] >= best[key]["oracle_calls"]:
            best[key] = r
    return [best[k] for k in sorted(best)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="LABEL=FOLDER (a benchmark replay --out)")
    parser.add_argument("--previous", action="append", default=[], help="LABEL=RESULTS.json")
    parser.add_argument(
        "--carry", action="append", default=[], help="LABEL=RESULTS.json of this script"
    )
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--transfer-head",
        action="store_true",
        help="register mp2018_chgnet_head_no_castelli (benchmarks/discovery_castelli_transfer.py)",
    )
    args = parser.parse_args()
    if args.transfer_head:
        sys.path.insert(0, str(Path(__file__).parent))
        from discovery_castelli_transfer import register

        register()
    by_label: dict[str, list[dict[str, Any]]] = {}
    for item in args.runs:
        label, _, folder = item.partition("=")
        for run_dir in sorted(Path(folder).glob("*/seed_*")):
            if (run_dir / "state.json").exists():
                by_label.setdefault(label, []).append(_run(run_dir))
    for item in args.carry:
        label, _, path = item.partition("=")
        by_label[label] = _merge(by_label.get(label, []), _carried(Path(path), label))
    summary: dict[str, Any] = {}
    for label, runs in by_label.items():
        summary[label] = {
            strategy: _summarise([r for r in runs if r["strategy"] == strategy])
            for strategy in sorted({r["strategy"] for r in runs})
        }
        summary[label]["surrogate"] = runs[0]["surrogate"]
    for item in args.previous:
        label, _, path = item.partition("=")
        summary[label] = _previous(Path(path))
    result = {
        "benchmark": "discovery_castelli_surrogates",
        "workflow_screen": "Castelli water splitting (19 of 18,928)",
        "initial_labels": 100,
        "batch_size": 20,
        "targets_total": TARGETS,
        "pool_size": POOL,
        "random_expected_calls_to_10_of_19": expected_random_calls(10, TARGETS, POOL),
        "random_expected_calls_to_19_of_19": expected_random_calls(19, TARGETS, POOL),
        "machine": {
            "cpus": os.cpu_count(),
            "gpu": None,
            "python": platform.python_version(),
            "note": "shared 2-vCPU VM, other jobs running, nice, OMP_NUM_THREADS=1",
        },
        "summary": summary,
        "runs": {label: runs for label, runs in by_label.items()},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    for label, per in summary.items():
        for strategy, s in per.items():
            if strategy == "surrogate":
                continue
            print(
                f"{label:>16} {strategy:>12} to10 {s['calls_to_10_of_19']} "
                f"{s['calls_to_10_of_19_per_seed']} to19 {s['calls_to_19_of_19']} "
                f"{s['calls_to_19_of_19_per_seed']}"
            )


if __name__ == "__main__":
    main()
