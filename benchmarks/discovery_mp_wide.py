"""Summarise replayed MP-2018 wide-gap campaigns (``workflows/mp_wide_gap_stable.yaml``).

400 of the 36,738 MP-2018 materials meet both criteria (PBE gap 2.6–3.0 eV, formation
energy ≤ -2.8 eV/atom); no ABX3 descriptor exists for this pool. Runs come from
``materials-ai benchmark replay`` (one folder per surrogate, given as ``LABEL=FOLDER``); per
seed: targets found at 1,000 calls and at the last call, calls to find 100 (25 %) and 200
(half). A label may hold one strategy or several. Usage::

    .venv/bin/python benchmarks/discovery_mp_wide.py \\
        chgnet_gp_constrained=runs/bench_mp_chgnet_gp_constrained \\
        chgnet_gp_thompson=runs/bench_mp_chgnet_gp_thompson \\
        composition_gp_thompson=runs/bench_mp_composition_gp_thompson \\
        --out benchmarks/results/discovery_mp_wide.json
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from materials_ai.campaign.benchmark import discovery_curve, expected_random_calls
from materials_ai.campaign.config import load_workflow

POOL = 36738
TARGETS = 400


def _first(curve: list[int], found: int) -> int | None:
    return next((k + 1 for k, v in enumerate(curve) if v >= found), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="LABEL=FOLDER")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    summary: dict[str, Any] = {}
    for item in args.runs:
        label, _, folder = item.partition("=")
        rows = []
        for run_dir in sorted(Path(folder).glob("*/seed_*")):
            config = load_workflow(run_dir / "workflow.yaml")
            curve = discovery_curve(run_dir, config)
            rows.append(
                {
                    "seed": config.seed,
                    "strategy": config.acquisition.strategy,
                    "surrogate": config.surrogate.model_dump(mode="json"),
                    "oracle_calls": len(curve),
                    "found_at_end": curve[-1] if curve else 0,
                    "found_at_1000": curve[999] if len(curve) >= 1000 else None,
                    "calls_to_100": _first(curve, 100),
                    "calls_to_200": _first(curve, 200),
                }
            )
        summary[label] = {
            "runs": rows,
            "median_found_at_1000": float(
                np.median([r["found_at_1000"] for r in rows if r["found_at_1000"] is not None])
            )
            if any(r["found_at_1000"] is not None for r in rows)
            else None,
        }
        print(
            label,
            [
                (
                    r["seed"],
                    r["oracle_calls"],
                    r["found_at_end"],
                    r["calls_to_100"],
                    r["calls_to_200"],
                )
                for r in rows
            ],
        )
    result = {
        "benchmark": "discovery_mp_wide",
        "workflow": "workflows/mp_wide_gap_stable.yaml",
        "targets_total": TARGETS,
        "pool_size": POOL,
        "random_expected_found_at_1000": 1000 * TARGETS / POOL,
        "random_expected_calls_to_200": expected_random_calls(200, TARGETS, POOL),
        "machine": {
            "cpus": os.cpu_count(),
            "gpu": None,
            "note": "shared 2-vCPU VM, nice, OMP_NUM_THREADS=1, two campaigns at a time",
        },
        "summary": summary,
    }
    args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
