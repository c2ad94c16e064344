"""Relaxation throughput: CHGNet relaxations of generated candidates per second on 2 cores.

    MATERIALS_AI_DATA_DIR=../shared/datasets .venv/bin/python \\
        benchmarks/generation_relax_throughput.py [--n 40] [--engines serial,local2]

Protocol: the shipped perovskite workflow's pool (cubic, tilted and double perovskites
plus substitution on 200 known ABX3 parents, default screens; ``pool`` of
``workflows/novel_perovskite_photocatalysts.yaml``), of which a seeded sample of ``--n``
candidates with at most 20 sites is relaxed with the library (``relax_structures``,
:class:`RelaxConfig` defaults: CHGNet 0.3.0, FIRE, cell + positions, fmax 0.1 eV/Å, at
most 300 steps, 8 structures per task) on each engine:

* ``serial``: one process, one torch thread;
* ``local2``: a Dask ``LocalCluster`` of 2 worker processes x 1 thread (the 2 cores).

No relaxation cache is used. Reported per engine: wall seconds (CHGNet load included),
structures/s, optimiser steps/s, failures; and per structure size (5, 10, <= 20 sites).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import generation_common as common

from materials_ai.campaign.config import GeneratedPoolConfig, load_workflow
from materials_ai.candidates import PoolConfig, generate_pool
from materials_ai.candidates.relax import RelaxConfig, relax_structures
from materials_ai.compute import ComputeConfig, make_executor
from materials_ai.settings import PROJECT_ROOT

WORKFLOW = PROJECT_ROOT / "workflows" / "novel_perovskite_photocatalysts.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--engines", default="serial,local2")
    args = parser.parse_args()
    torch.set_num_threads(1)
    # the shipped generated-pool campaign's generators and screens (its ``pool.generate``)
    source = load_workflow(WORKFLOW).pool
    if not isinstance(source, GeneratedPoolConfig):
        raise SystemExit(f"{WORKFLOW} no longer has a generated pool")
    pool = generate_pool(PoolConfig.model_validate(source.generate))
    small = [g for g in pool.generated if len(g.structure) <= common.MAX_SITES]
    rng = np.random.default_rng(common.SEED)
    pick = np.sort(rng.choice(len(small), size=min(args.n, len(small)), replace=False))
    chosen = [small[i] for i in pick]
    ids = [g.id for g in chosen]
    structures = [g.structure for g in chosen]
    sizes = [len(s) for s in structures]
    config = RelaxConfig()
    engines = {
        "serial": ComputeConfig(kind="serial"),
        "local2": ComputeConfig(
            kind="local", n_workers=2, threads_per_worker=1, dashboard_address=None
        ),
    }
    out = {}
    for name in args.engines.split(","):
        load = __import__("os").getloadavg()
        t0 = time.perf_counter()
        with make_executor(engines[name], progress=False) as executor:
            results = relax_structures(ids, structures, config, executor=executor)
        seconds = time.perf_counter() - t0
        ok = [r for r in results if r.ok]
        steps = sum(r.steps for r in ok)
        by_size: dict[str, dict[str, float]] = {}
        for label, lo, hi in (("5 sites", 5, 5), ("10 sites", 10, 10), ("other", 0, 20)):
            group = [
                r
                for r, n in zip(results, sizes, strict=True)
                if r.ok and lo <= n <= hi and (label != "other" or n not in (5, 10))
            ]
            if group:
                by_size[label] = {
                    "n": len(group),
                    "mean_steps": float(np.mean([r.steps for r in group])),
                    "mean_seconds_per_structure": float(np.mean([r.seconds for r in group])),
                }
        out[name] = {
            "compute": engines[name].model_dump(mode="json", exclude={"jobqueue"}),
            "load_average_before": load,
            "wall_seconds": seconds,
            "structures_per_second": len(results) / seconds,
            "steps_per_second": steps / seconds,
            "n_ok": len(ok),
            "n_failed": len(results) - len(ok),
            "n_converged": sum(r.converged for r in ok),
            "mean_steps": steps / max(len(ok), 1),
            "by_size": by_size,
        }
        print(name, {k: v for k, v in out[name].items() if k != "compute"}, flush=True)
    payload = {
        "command": "python benchmarks/generation_relax_throughput.py "
        f"--n {args.n} --engines {args.engines}",
        "machine": common.machine(),
        "n_runs": 1,
        "n_pool": len(pool.generated),
        "n_structures": len(ids),
        "sites": {str(k): sizes.count(k) for k in sorted(set(sizes))},
        "relax_config": config.model_dump(mode="json"),
        "engines": out,
    }
    path = common.write_json("generation_relax_throughput.json", payload)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
