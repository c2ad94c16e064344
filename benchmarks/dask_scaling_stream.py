"""Streamed scoring of a replicated pool, the ``make-pool`` and ``stream`` steps of
``dask_scaling.py`` (run them through that script; its docstring has the commands)."""

from __future__ import annotations

import argparse
import threading
import time
from pathlib import Path
from typing import Any

from dask_bench_common import (
    WORK,
    WORKFLOW,
    load_average,
    local_executor,
    machine,
    quiet_dask,
    record,
    trained_surrogate,
)


def pool_dir(n: int) -> Path:
    return WORK / f"pool_{n}"


def step_make_pool(args: argparse.Namespace) -> None:
    """Write ``--n`` replicated Castelli candidates as Parquet partitions."""
    from materials_ai.data.loaders import load_dataset
    from materials_ai.surrogates.scoring import (
        CompactStructures,
        replicate_structures,
        write_partition,
    )

    dataset = load_dataset("castelli_perovskites", targets=["band_gap"])
    base = CompactStructures.from_structures([r.structure for r in dataset.records], dataset.ids)
    folder = pool_dir(args.n)
    folder.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    paths = []
    for p, first in enumerate(range(0, args.n, args.partition_size)):
        size = min(args.partition_size, args.n - first)
        part = replicate_structures(base, size, seed=0, start=first)
        paths.append(write_partition(folder / f"part-{p:05d}.parquet", part))
    seconds = time.perf_counter() - start
    size_mb = sum(p.stat().st_size for p in paths) / 2**20
    print(f"{args.n} candidates in {len(paths)} files, {size_mb:.0f} MiB, {seconds:.1f} s")


class _RssSampler:
    """Samples the summed RSS of this process and its descendants in a thread."""

    def __init__(self, interval_s: float = 0.2) -> None:
        import psutil

        self._me = psutil.Process()
        self._interval = interval_s
        self.peak_total = 0
        self.peak_by_pid: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        import psutil

        total = 0
        for proc in [self._me, *self._me.children(recursive=True)]:
            try:
                rss = proc.memory_info().rss
            except psutil.Error:
                continue
            total += rss
            self.peak_by_pid[proc.pid] = max(self.peak_by_pid.get(proc.pid, 0), rss)
        self.peak_total = max(self.peak_total, total)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self._interval)

    def __enter__(self) -> _RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _executor(args: argparse.Namespace) -> Any:
    if args.compute is None:
        return local_executor(args.workers)
    from materials_ai.compute import load_compute_config, make_executor

    return make_executor(load_compute_config(args.compute), progress=False)


def step_stream(args: argparse.Namespace) -> None:
    """Stream-score the replicated pool on a 2-worker LocalCluster."""
    from materials_ai.acquisition.objective import DesirabilityObjective
    from materials_ai.campaign.config import load_workflow
    from materials_ai.surrogates.scoring import PosteriorMeanDesirability, stream_score

    quiet_dask()
    folder = pool_dir(args.n)
    paths = sorted(folder.glob("part-*.parquet"))
    if not paths:
        raise SystemExit(f"no partitions in {folder}: run `make-pool --n {args.n}` first")
    workflow = load_workflow(WORKFLOW)
    score = PosteriorMeanDesirability(DesirabilityObjective(workflow.objective, workflow.targets))
    surrogate = trained_surrogate()
    checkpoint = WORK / f"stream_{args.n}_checkpoint"
    if not args.resume and checkpoint.exists():
        for f in checkpoint.glob("partition_*.npz"):
            f.unlink()
    load_before = load_average()
    done = [0]

    def progress(summary: Any) -> None:
        done[0] += summary.n_candidates
        elapsed = time.perf_counter() - start
        print(
            f"partition {summary.partition}: {summary.seconds:.1f} s; "
            f"{done[0]} candidates in {elapsed:.0f} s ({done[0] / elapsed:.0f}/s)",
            flush=True,
        )

    with _RssSampler() as rss:
        start = time.perf_counter()
        with _executor(args) as executor:
            started = time.perf_counter() - start
            result = stream_score(
                surrogate,
                paths,
                score=score,
                executor=executor,
                k=args.k,
                batch_size=args.batch_size,
                checkpoint_dir=checkpoint,
                on_partition=progress,
            )
        wall = time.perf_counter() - start
    scored_now = result.n_candidates * (1 - result.n_resumed / max(1, result.n_partitions))
    record(
        f"stream_{args.n}",
        {
            "machine": machine(),
            "candidates": result.n_candidates,
            "scored": result.n_scored,
            "failed": len(result.failed),
            "partitions": result.n_partitions,
            "partitions_resumed_from_checkpoint": result.n_resumed,
            "workers": args.workers,
            "batch_size": args.batch_size,
            "k": args.k,
            "wall_seconds_incl_cluster_start": wall,
            "cluster_start_seconds": started,
            "candidates_per_second": scored_now / wall,
            "peak_rss_all_processes_gib": rss.peak_total / 2**30,
            "peak_rss_per_process_gib": sorted(
                (v / 2**30 for v in rss.peak_by_pid.values()), reverse=True
            ),
            "n_predicted_inside_screen": result.n_satisfying,
            "top5": [
                {"id": i, "score": float(s)}
                for i, s in zip(result.ids[:5], result.scores[:5], strict=False)
            ],
            "pool_mean_prediction": dict(
                zip(result.target_names, result.mean_stats.mean.tolist(), strict=True)
            ),
            "load_average_before": load_before,
            "load_average_after": load_average(),
        },
    )
