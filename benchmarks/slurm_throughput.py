"""Benchmark: SLURM job submit-to-start latency, and pool scoring on SLURM vs. LocalCluster.

Needs a running SLURM (``make slurm`` starts the one-node cluster of
``scripts/slurm-dev-cluster.sh``). Two measurements, written to
``benchmarks/results/slurm_throughput.json``:

``latency``  ``sbatch`` of a job that records its start time, one job at a time on an idle
             node: submit-to-start seconds (``--runs`` jobs).
``scoring``  ``score_pool`` of the workflow's CGCNN ensemble (castelli_water_splitting.yaml,
             trained briefly on 100 labels) over ``--pool`` Castelli graphs: on a LocalCluster
             of 1 and 2 worker processes and on 1 and 2 SLURM worker jobs
             (configs/compute/slurm.yaml, 1 core each, jobs held for the whole step). Startup
             (cluster start + first call, with worker imports and the queue wait) is
             recorded apart from the steady-state calls.

    export MATERIALS_AI_DATA_DIR=../shared/datasets
    .venv/bin/python benchmarks/slurm_throughput.py --runs 10 --pool 2000 --repeats 3

The machine may be shared: the load average before and after is recorded.
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from materials_ai.settings import PROJECT_ROOT

WORKFLOW = PROJECT_ROOT / "workflows" / "castelli_water_splitting.yaml"
RESULTS = PROJECT_ROOT / "benchmarks" / "results" / "slurm_throughput.json"


def _machine() -> dict[str, Any]:
    version = subprocess.run(["sinfo", "--version"], capture_output=True, text=True).stdout
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "slurm": version.strip(),
        "date": datetime.date.today().isoformat(),
    }


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def latency(runs: int) -> dict[str, Any]:
    """Submit-to-start seconds of ``runs`` trivial jobs, one after another."""
    delays = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(runs):
            stamp = Path(tmp) / f"start-{i}"
            submitted = time.time()
            subprocess.run(
                ["sbatch", "--parsable", "-o", "/dev/null", "--wrap", f"date +%s.%N > {stamp}"],
                check=True,
                capture_output=True,
            )
            deadline = time.monotonic() + 120
            while not (stamp.exists() and stamp.read_text().strip()):
                if time.monotonic() > deadline:
                    raise SystemExit(f"job {i} did not start within 120 s")
                time.sleep(0.02)
            delays.append(float(stamp.read_text()) - submitted)
            time.sleep(0.5)  # let the node go idle again
    return {
        "runs": runs,
        "seconds": [round(d, 3) for d in delays],
        "median_s": round(statistics.median(delays), 3),
        "max_s": round(max(delays), 3),
    }


def _pool(n: int) -> tuple[Any, Any]:
    """The first ``n`` Castelli graphs and the workflow's ensemble trained on 100 of them."""
    from materials_ai.campaign.config import load_workflow
    from materials_ai.data.loaders import load_dataset
    from materials_ai.graphs.builder import build_graphs
    from materials_ai.surrogates.ensemble import GraphEnsembleSurrogate

    workflow = load_workflow(WORKFLOW)
    dataset = load_dataset(workflow.data.dataset, targets=workflow.targets)
    records = dataset.records[:n]
    graphs = build_graphs(
        [r.structure for r in records], [r.id for r in records], workflow.surrogate.graph
    )
    y = dataset.target_matrix(workflow.targets)[:n]
    rows = np.random.default_rng(0).choice(n, size=100, replace=False)
    training = workflow.surrogate.training.model_copy(update={"max_epochs": 5})
    config = workflow.surrogate.model_copy(update={"training": training})
    surrogate = GraphEnsembleSurrogate(config, workflow.targets)
    surrogate.fit_graphs(graphs.select(np.sort(rows)), y[np.sort(rows)])
    return surrogate, graphs


def _executor(kind: str, workers: int) -> Any:
    from materials_ai.compute import ComputeConfig, DaskExecutor, load_compute_config

    if kind == "local":
        config = ComputeConfig(kind="local", n_workers=workers, memory_limit=None)
        return DaskExecutor.from_config(config, progress=False)
    config = load_compute_config(PROJECT_ROOT / "configs" / "compute" / "slurm.yaml")
    adaptive = config.jobqueue.adaptive.model_copy(
        update={"minimum_jobs": workers, "maximum_jobs": workers}
    )
    jobqueue = config.jobqueue.model_copy(update={"adaptive": adaptive})
    return DaskExecutor.from_config(config.model_copy(update={"jobqueue": jobqueue}))


def scoring(pool: int, repeats: int) -> dict[str, Any]:
    """Graphs per second of ``score_pool`` on each executor."""
    import torch

    from materials_ai.surrogates.scoring import score_pool

    torch.set_num_threads(1)
    surrogate, graphs = _pool(pool)
    reference = surrogate.predict_graphs(graphs)
    out: dict[str, Any] = {"pool": len(graphs), "members": surrogate.config.n_members}
    for kind in ("local", "slurm"):
        for workers in (1, 2):
            start = time.perf_counter()
            executor = _executor(kind, workers)
            try:
                first = score_pool(surrogate, graphs, executor=executor)
                startup = time.perf_counter() - start
                assert np.array_equal(np.asarray(first.samples), np.asarray(reference.samples))
                times = []
                for _ in range(repeats):
                    t0 = time.perf_counter()
                    score_pool(surrogate, graphs, executor=executor)
                    times.append(time.perf_counter() - t0)
            finally:
                executor.close()
            best = min(times)
            out[f"{kind}_{workers}"] = {
                "startup_s_incl_first_call": round(startup, 2),
                "seconds": [round(t, 3) for t in times],
                "graphs_per_s_best": round(len(graphs) / best, 1),
                "graphs_per_s_median": round(len(graphs) / statistics.median(times), 1),
            }
            print(kind, workers, out[f"{kind}_{workers}"], flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="latency jobs")
    parser.add_argument("--pool", type=int, default=2000, help="graphs scored")
    parser.add_argument("--repeats", type=int, default=3, help="timed scoring calls")
    args = parser.parse_args()
    for name in ("distributed", "dask_jobqueue"):
        logging.getLogger(name).setLevel(logging.ERROR)
    load_before = _load()
    result: dict[str, Any] = {
        "machine": {**_machine(), "host": socket.gethostname()},
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "load_average_before": load_before,
        "latency": latency(args.runs),
        "scoring": scoring(args.pool, args.repeats),
        "load_average_after": _load(),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
