"""Fit + score time of one campaign iteration of a feature GP at a given label count.

Issue-15 target: fit + score ≤ 30 s per iteration on 2 cores with 1,000 labels on the
18,928-candidate Castelli pool, features computed once and cached. One iteration of a
campaign is a *warm-started* fit (the previous iteration's hyperparameters, 20 more
labels) of one GP per target, then the posterior of the whole pool. This script times
exactly that: a cold fit on ``labels - 20`` random labelled rows, then (timed) a warm fit
on ``labels`` rows and the pool's posterior, for each ``hyper_subsample`` setting; and the
held-out MAE of the fitted GPs on 2,000 other rows so a faster setting that loses accuracy
shows it. Usage::

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/gp_iteration_time.py \\
        --features chgnet --labels 1000 --subsample none,300,500 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

from materials_ai.campaign.config import load_workflow
from materials_ai.data.loaders import load_dataset
from materials_ai.data.registry import get_card
from materials_ai.surrogates.config import GPConfig
from materials_ai.surrogates.gp import GPSurrogate

WORKFLOW = Path("workflows/castelli_water_splitting_chgnet_gp.yaml")


def _cpu() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--features", default="chgnet", help="featurizer blocks, '+'-joined")
    parser.add_argument("--labels", type=int, default=1000)
    parser.add_argument("--subsample", default="none,500", help="hyper_subsample settings")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=None)
    parser.add_argument("--workflow", type=Path, default=WORKFLOW, help="its targets and GP")
    args = parser.parse_args()

    workflow = load_workflow(args.workflow)
    targets = workflow.targets
    dataset = load_dataset("castelli_perovskites", targets=targets)
    card = get_card("castelli_perovskites")
    pool = [r.as_candidate(source=dataset.name) for r in dataset.records]
    y_all = np.array([[r.targets.get(t, np.nan) for t in targets] for r in dataset.records])
    blocks = args.features.split("+")
    rows: list[dict[str, Any]] = []
    for setting in args.subsample.split(","):
        cap = None if setting == "none" else int(setting)
        for repeat in range(args.repeats):
            # The shipped workflow's GP settings (conditional_on included), these features.
            config = GPConfig.model_validate(
                {
                    **workflow.surrogate.model_dump(mode="json"),
                    "features": blocks,
                    "hyper_subsample": cap,
                    "seed": repeat,
                }
            )
            surrogate = GPSurrogate(config, targets)
            started = time.perf_counter()
            table = surrogate.featurize_pool(pool, source=f"{card.name}:{card.sha256}")
            featurize_s = time.perf_counter() - started
            rng = np.random.default_rng(repeat)
            order = rng.permutation(len(pool))
            labelled, held_out = order[: args.labels], order[args.labels : args.labels + 2000]
            first = labelled[: args.labels - 20]
            started = time.perf_counter()
            surrogate.fit_pool(table.select(first), y_all[first], seed_offset=1)
            cold_s = time.perf_counter() - started
            started = time.perf_counter()
            report = surrogate.fit_pool(
                table.select(labelled), y_all[labelled], seed_offset=2, warm_start=True
            )
            fit_s = time.perf_counter() - started
            started = time.perf_counter()
            prediction = surrogate.predict_pool(table)
            score_s = time.perf_counter() - started
            error = np.abs(prediction.mean[held_out] - y_all[held_out])
            for target, indicator in config.conditional_on.items():
                # A conditional target predicts the value given its indicator is 1.
                off = y_all[held_out, targets.index(indicator)] != 1.0
                error[off, targets.index(target)] = np.nan
            mae = np.nanmean(error, axis=0)
            row = {
                "hyper_subsample": cap,
                "repeat": repeat,
                "featurize_s (cached)": featurize_s,
                "cold_fit_s": cold_s,
                "warm_fit_s": fit_s,
                "score_s": score_s,
                "iteration_s": fit_s + score_s,
                "lbfgs_steps": [m.epochs for m in report.members],
                "held_out_mae": dict(zip(targets, mae.round(4).tolist(), strict=True)),
                "loadavg_1min": os.getloadavg()[0],
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    summary = {}
    for setting in args.subsample.split(","):
        cap = None if setting == "none" else int(setting)
        mine = [r for r in rows if r["hyper_subsample"] == cap]
        summary[setting] = {
            "median_iteration_s": float(np.median([r["iteration_s"] for r in mine])),
            "median_warm_fit_s": float(np.median([r["warm_fit_s"] for r in mine])),
            "median_score_s": float(np.median([r["score_s"] for r in mine])),
            "median_held_out_mae": {
                t: float(np.median([r["held_out_mae"][t] for r in mine])) for t in targets
            },
        }
    result = {
        "benchmark": "gp_iteration_time",
        "command": "OMP_NUM_THREADS="
        + os.environ.get("OMP_NUM_THREADS", "?")
        + " .venv/bin/python benchmarks/gp_iteration_time.py "
        + f"--features {args.features} --labels {args.labels} --subsample {args.subsample} "
        + f"--repeats {args.repeats} --workflow {args.workflow}",
        "machine": {"cpu": _cpu(), "cores": os.cpu_count()},
        "pool": len(pool),
        "labels": args.labels,
        "features": blocks,
        "runs": rows,
        "summary": summary,
    }
    out = Path(args.out or f"benchmarks/results/gp_iteration_time_{args.features}.json")
    out.write_text(json.dumps(result, indent=1))
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
