"""Benchmark: pool scoring on Dask (speed-up, overhead) and a streamed 10⁶-candidate pool.

Steps (each also runs on its own; results are merged into
``benchmarks/results/dask_scaling.json``):

``model``      train the workflow's 5-member CGCNN ensemble (castelli_water_splitting.yaml)
               briefly on 200 Castelli labels and save it (the weights only set the
               timing's realism, not its cost).
``pool``       score the full Castelli pool (18,928 graphs x 5 members): serial with 1 and
               2 torch threads, and ``score_pool`` on LocalClusters of 1 and 2 worker
               processes x 1 thread (speed-up, and Dask overhead vs. serial 1 thread).
``make-pool``  write a replicated pool (strained Castelli cells, swapped A/B cations) as
               Parquet partitions.
``stream``     ``stream_score`` the replicated pool on a 2-worker LocalCluster, sampling the
               RSS of this process and all its children (peak of the sum) every 0.2 s.

    export MATERIALS_AI_DATA_DIR=../shared/datasets
    .venv/bin/python benchmarks/dask_scaling.py all --n-stream 100000
    .venv/bin/python benchmarks/dask_scaling.py make-pool --n 1000000
    .venv/bin/python benchmarks/dask_scaling.py stream --n 1000000

The machine is shared: the load average before and after each step is recorded with it.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from dask_bench_common import (
    MODEL_DIR,
    WORKFLOW,
    load_average,
    local_executor,
    machine,
    quiet_dask,
    record,
    trained_surrogate,
)
from dask_scaling_stream import pool_dir, step_make_pool, step_stream

# ------------------------------------------------------------------------------------ model


def _castelli() -> Any:
    from materials_ai.campaign.config import load_workflow
    from materials_ai.data.loaders import load_dataset

    workflow = load_workflow(WORKFLOW)
    assert workflow.data is not None, f"{WORKFLOW} names no dataset"
    return workflow, load_dataset(workflow.data.dataset, targets=workflow.targets)


def _castelli_graphs(workflow: Any, dataset: Any) -> Any:
    from materials_ai.data.registry import get_card
    from materials_ai.graphs.cache import load_or_build_graphs

    card = get_card(dataset.name)
    return load_or_build_graphs(
        [r.structure for r in dataset.records],
        dataset.ids,
        workflow.surrogate.graph,
        source=f"{card.name}:{card.sha256}",
    )


def step_model(args: argparse.Namespace) -> None:
    """Train the workflow's ensemble on 200 labels for a few epochs and save it."""
    from materials_ai.surrogates.ensemble import GraphEnsembleSurrogate

    workflow, dataset = _castelli()
    graphs = _castelli_graphs(workflow, dataset)
    rng = np.random.default_rng(0)
    rows = np.sort(rng.choice(len(graphs), size=200, replace=False))
    config = workflow.surrogate.model_copy(
        update={"training": workflow.surrogate.training.model_copy(update={"max_epochs": 20})}
    )
    surrogate = GraphEnsembleSurrogate(config, workflow.targets)
    start = time.perf_counter()
    surrogate.fit_graphs(graphs.select(rows), dataset.target_matrix(workflow.targets)[rows])
    surrogate.save(MODEL_DIR)
    print(f"trained in {time.perf_counter() - start:.1f} s; saved to {MODEL_DIR}")


# ------------------------------------------------------------------------------------- pool


def _timed(fn: Callable[[], Any], repeats: int) -> tuple[list[float], Any]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return times, result


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process and its descendants (workers) so far."""
    import psutil

    total = 0.0
    me = psutil.Process()
    for proc in [me, *me.children(recursive=True)]:
        try:
            t = proc.cpu_times()
        except psutil.Error:
            continue
        total += t.user + t.system
    return total


_PLAIN: dict[str, Any] = {}


def _plain_init() -> None:
    """Initializer of the plain-process baseline: load graphs and weights once."""
    import torch

    from materials_ai.surrogates.scoring import EnsembleWeights

    torch.set_num_threads(1)
    workflow, dataset = _castelli()
    _PLAIN["graphs"] = _castelli_graphs(workflow, dataset)
    _PLAIN["weights"] = EnsembleWeights.from_surrogate(trained_surrogate())


def _plain_score(bounds: list[tuple[int, int]]) -> np.ndarray:
    """Score the mini-batches ``bounds`` of the pool in a plain worker process."""
    start, stop = bounds[0][0], bounds[-1][1]
    part = _PLAIN["graphs"].select(np.arange(start, stop))
    batches = [np.arange(a - start, b - start, dtype=np.int64) for a, b in bounds]
    return _PLAIN["weights"].predict_samples(part, batches)  # type: ignore[no-any-return]


def step_pool(args: argparse.Namespace) -> None:
    """Serial vs. Dask scoring of the full Castelli pool.

    The four settings run interleaved (serial 1 thread, serial 2 threads, 1 worker,
    2 workers; then again), so that load from other users of a shared machine falls on
    all of them alike. Besides wall time, the CPU seconds of this process and the worker
    processes are recorded: on a busy machine they show the overhead that wall time hides.
    """
    import torch

    from materials_ai.surrogates.scoring import score_pool

    quiet_dask()
    load_before = load_average()
    workflow, dataset = _castelli()
    graphs = _castelli_graphs(workflow, dataset)
    del dataset
    surrogate = trained_surrogate()
    out: dict[str, Any] = {
        "machine": machine(),
        "pool": len(graphs),
        "members": surrogate.config.n_members,
        "repeats": args.repeats,
        "load_average_before": load_before,
    }
    torch.set_num_threads(1)
    surrogate.predict_graphs(graphs.select(np.arange(256)))  # build the models
    reference = surrogate.predict_graphs(graphs)
    executors: dict[int, Any] = {}
    startup: dict[int, dict[str, float]] = {}
    for workers in (1, 2):
        start = time.perf_counter()
        executors[workers] = local_executor(workers)
        started = time.perf_counter() - start
        first_start = time.perf_counter()
        first = score_pool(surrogate, graphs, executor=executors[workers])
        startup[workers] = {
            "cluster_start_seconds": started,
            "first_call_seconds_incl_worker_imports": time.perf_counter() - first_start,
        }
        assert np.array_equal(np.asarray(first.samples), np.asarray(reference.samples))

    def serial(threads: int) -> Any:
        torch.set_num_threads(threads)
        try:
            return surrogate.predict_graphs(graphs)
        finally:
            torch.set_num_threads(1)

    # The hardware's own 2-process scaling, without Dask: two plain processes (data
    # loaded once by an initializer) each score half of the pool's mini-batches.
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from materials_ai.surrogates.scoring import plan_partitions

    plain_pool = ProcessPoolExecutor(
        2, mp_context=multiprocessing.get_context("spawn"), initializer=_plain_init
    )
    halves = plan_partitions(len(graphs), 64, -(-len(graphs) // 2))

    def plain_2_processes() -> Any:
        parts = list(plain_pool.map(_plain_score, halves))
        return surrogate_prediction(np.concatenate(parts, axis=1))

    from materials_ai.surrogates.scoring import EnsembleWeights

    surrogate_prediction = EnsembleWeights.from_surrogate(surrogate).prediction
    list(plain_pool.map(_plain_score, halves))  # start and load both processes
    settings: dict[str, Callable[[], Any]] = {
        "serial_1_thread": functools.partial(serial, 1),
        "serial_2_thread": functools.partial(serial, 2),
        "dask_1_worker": functools.partial(score_pool, surrogate, graphs, executor=executors[1]),
        "dask_2_worker": functools.partial(score_pool, surrogate, graphs, executor=executors[2]),
        "plain_2_processes": plain_2_processes,
    }
    runs: dict[str, dict[str, Any]] = {
        name: {"seconds": [], "cpu_seconds": [], "loadavg": []} for name in settings
    }
    identical = True
    try:
        for _ in range(args.repeats):
            for name, fn in settings.items():
                cpu0, t0 = _cpu_seconds(), time.perf_counter()
                prediction = fn()
                runs[name]["seconds"].append(time.perf_counter() - t0)
                runs[name]["cpu_seconds"].append(_cpu_seconds() - cpu0)
                runs[name]["loadavg"].append(load_average())
                identical &= bool(
                    np.array_equal(np.asarray(prediction.samples), np.asarray(reference.samples))
                )
                print(name, runs[name]["seconds"][-1], runs[name]["cpu_seconds"][-1], flush=True)
    finally:
        plain_pool.shutdown()
        for workers, executor in executors.items():
            close_start = time.perf_counter()
            executor.close()
            startup[workers]["close_seconds"] = time.perf_counter() - close_start
    for run in runs.values():
        run["median"] = statistics.median(run["seconds"])
        run["median_cpu"] = statistics.median(run["cpu_seconds"])
    for workers in (1, 2):
        runs[f"dask_{workers}_worker"].update(startup[workers])
    serial1 = runs["serial_1_thread"]["median"]
    serial2 = runs["serial_2_thread"]["median"]
    dask1 = runs["dask_1_worker"]["median"]
    dask2 = runs["dask_2_worker"]["median"]
    out["runs"] = runs
    out["all_results_bitwise_identical_to_serial_1_thread"] = identical
    out["speedup_dask_1_to_2_workers"] = dask1 / dask2
    out["speedup_dask_2_workers_vs_serial_2_threads"] = serial2 / dask2
    out["speedup_serial_1_to_2_threads"] = serial1 / serial2
    out["speedup_serial_1_thread_to_plain_2_processes"] = (
        serial1 / runs["plain_2_processes"]["median"]
    )
    out["dask_overhead_1_worker_vs_serial_1_thread"] = dask1 / serial1 - 1.0
    out["dask_cpu_overhead_1_worker_vs_serial_1_thread"] = (
        runs["dask_1_worker"]["median_cpu"] / runs["serial_1_thread"]["median_cpu"] - 1.0
    )
    out["graphs_per_second_dask_2_workers"] = len(graphs) / dask2
    out["load_average_after"] = load_average()
    record("pool_scoring", out)


# ------------------------------------------------------------------------------------ micro


def _noop(x: int) -> int:
    return x


def _size_of(obj: Any) -> int:
    import pickle

    import cloudpickle

    return len(cloudpickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))


def step_micro(args: argparse.Namespace) -> None:
    """Costs that decide how the design scales: payload sizes, per-task and scatter time."""
    from materials_ai.surrogates.scoring import EnsembleWeights

    quiet_dask()
    load_before = load_average()
    surrogate = trained_surrogate()
    weights = EnsembleWeights.from_surrogate(surrogate)
    workflow, dataset = _castelli()
    graphs = _castelli_graphs(workflow, dataset)
    del dataset
    partition = graphs.select(np.arange(4732))
    out: dict[str, Any] = {
        "machine": machine(),
        "weights_bytes": _size_of(weights),
        "partition_4732_graphs_bytes": _size_of(partition),
        "pool_18928_graphs_bytes": _size_of(graphs),
        "load_average_before": load_before,
    }
    with local_executor(2) as executor:
        executor.map(_noop, list(range(20)))  # warm
        tasks = 2000
        times, _ = _timed(lambda: executor.map(_noop, list(range(tasks))), 3)
        out["noop_map_2000_tasks_seconds"] = times
        out["per_task_overhead_ms"] = 1000 * statistics.median(times) / tasks
        times, _ = _timed(lambda: list(executor.imap_unordered(_noop, list(range(tasks)))), 3)
        out["noop_imap_unordered_2000_tasks_seconds"] = times
        times, _ = _timed(lambda: executor.scatter(weights), 3)
        out["scatter_weights_broadcast_2_workers_seconds"] = times
        ref = executor.scatter(weights)
        times, _ = _timed(lambda: executor.map(_size_of, [partition]), 3)
        out["ship_one_partition_round_trip_seconds"] = times
        del ref
    out["load_average_after"] = load_average()
    record("micro", out)


def step_all(args: argparse.Namespace) -> None:
    """Run model, pool, make-pool and stream as separate processes (clean RSS figures)."""
    me = [sys.executable, __file__]
    if not (MODEL_DIR / "surrogate.json").exists():
        subprocess.run([*me, "model"], check=True)
    subprocess.run([*me, "pool", "--repeats", str(args.repeats)], check=True)
    n = str(args.n_stream)
    if not list(pool_dir(args.n_stream).glob("part-*.parquet")):
        subprocess.run([*me, "make-pool", "--n", n], check=True)
    subprocess.run([*me, "stream", "--n", n], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="step", required=True)
    sub.add_parser("model", help=step_model.__doc__)
    sub.add_parser("micro", help=step_micro.__doc__)
    pool = sub.add_parser("pool", help=step_pool.__doc__)
    pool.add_argument("--repeats", type=int, default=3)
    make = sub.add_parser("make-pool", help=step_make_pool.__doc__)
    make.add_argument("--n", type=int, default=100_000)
    make.add_argument("--partition-size", type=int, default=10_000)
    stream = sub.add_parser("stream", help=step_stream.__doc__)
    stream.add_argument("--n", type=int, default=100_000)
    stream.add_argument("--workers", type=int, default=2)
    stream.add_argument("--k", type=int, default=200)
    stream.add_argument("--batch-size", type=int, default=64)
    stream.add_argument("--resume", action="store_true", help="keep finished partitions")
    stream.add_argument(
        "--compute",
        type=Path,
        default=None,
        help="compute config YAML (configs/compute/*.yaml) instead of a local cluster",
    )
    every = sub.add_parser("all", help=step_all.__doc__)
    every.add_argument("--repeats", type=int, default=3)
    every.add_argument("--n-stream", type=int, default=100_000)
    args = parser.parse_args()
    steps = {
        "model": step_model,
        "micro": step_micro,
        "pool": step_pool,
        "make-pool": step_make_pool,
        "stream": step_stream,
        "all": step_all,
    }
    steps[args.step](args)


if __name__ == "__main__":
    main()
