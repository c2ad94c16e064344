"""Benchmark: surrogate accuracy, calibration and scoring throughput on stored splits.

Reproduces the figures of the surrogate table in ``docs/benchmarks.md``:

* ``castelli``: heat of formation and GLLB-SC gap, 5-fold cross-validation on
  ``datasets/splits/castelli_perovskites/random_5fold_seed0`` (mean over folds);
* ``mp``: formation energy and PBE gap on ``datasets/splits/mp2018/random_80_10_10_seed0``;
* ``recalibrate``: refits the recalibration (std factor + empirical standardized-error
  distribution, on the validation ids) of models those tasks trained, and reports the
  test calibration of both readings;
* ``throughput``: structures/s for ensemble scoring of ≤ 20-atom cells on this machine,
  graph building included.

``--split NAME`` replaces the config's split by another stored split of the same dataset
(``datasets/splits/<dataset>/NAME/``, k-fold or hold-out read from its files), for every
model and config: ``grouped_cation_pair_5fold_seed0`` (Castelli, no cation pair {A, B} in
two folds) and ``grouped_chemsys_80_10_10_seed0`` (MP-2018, no chemical system in two
parts) measure generalization to unseen chemistries. Run folders and the results file then
carry the split name, and every result records the split it used (``"split"``).

Budgets (members, epochs, training-set cap) are arguments, so the same script serves a
quick CPU check and a full run on a GPU machine::

    .venv/bin/python benchmarks/surrogates.py castelli --members 5 --max-epochs 60
    .venv/bin/python benchmarks/surrogates.py castelli --model mace --members 1 --max-epochs 20
    .venv/bin/python benchmarks/surrogates.py mp --config mp2018_cgcnn_small --members 3 \
        --max-epochs 25 --max-train 10000
    .venv/bin/python benchmarks/surrogates.py mp --members 6 --max-epochs 25 --train-workers 2
    .venv/bin/python benchmarks/surrogates.py castelli --split grouped_cation_pair_5fold_seed0
    .venv/bin/python benchmarks/surrogates.py mp --split grouped_chemsys_80_10_10_seed0
    .venv/bin/python benchmarks/surrogates.py recalibrate --config castelli_cgcnn --folds 5
    .venv/bin/python benchmarks/surrogates.py throughput --n 5000
    .venv/bin/python benchmarks/surrogates.py throughput --n 20000 --workers 2

Each run writes ``benchmarks/results/surrogates_<task>.json`` (models under
``runs/benchmarks/surrogates/``).
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

from materials_ai.settings import PROJECT_ROOT

RESULTS = PROJECT_ROOT / "benchmarks" / "results"
RUNS = PROJECT_ROOT / "runs" / "benchmarks" / "surrogates"


def _machine() -> dict[str, Any]:
    import torch

    return {
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_average": os.getloadavg(),
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }


def _split_suffix(args: argparse.Namespace) -> str:
    """Run-folder and results-file suffix of ``--split`` (runs of other splits are kept)."""
    return f"_{args.split}" if args.split else ""


def _job(config_path: Path, args: argparse.Namespace, fold: int | None = None):  # type: ignore[no-untyped-def]
    from materials_ai.data.splits import split_dir, split_kind
    from materials_ai.surrogates.jobs import load_train_config

    job = load_train_config(config_path)
    changes: dict[str, Any] = {
        "surrogate.n_members": args.members,
        "surrogate.training.max_epochs": args.max_epochs,
        "surrogate.training.device": args.device,
        "compute": (
            {"kind": "local", "n_workers": args.train_workers, "threads_per_worker": 1}
            if args.train_workers
            else {"kind": "serial"}
        ),
    }
    data = job.model_dump(mode="json")
    for dotted, value in changes.items():
        node = data
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node[key]
        node[leaf] = value
    if args.max_train:
        data["max_train"] = args.max_train
    if args.tag:
        data["name"] = f"{data['name']}_{args.tag}"
    if args.split:
        kind = split_kind(split_dir(job.dataset, args.split))
        data["split"] = {"name": args.split, "kind": kind, "fold": data["split"]["fold"]}
        data["name"] += _split_suffix(args)
    if fold is not None:
        data["split"]["fold"] = fold
        data["name"] = f"{data['name']}_fold{fold}"
    if args.oxidation:
        data["surrogate"]["graph"]["site_features"] = ["oxidation"]
    return type(job).model_validate(data)


def _split_record(job: Any) -> dict[str, Any]:
    """The split a job used, for the results file."""
    return {"dataset": job.dataset, **job.split.model_dump(mode="json")}


def _train_or_read_back(job: Any, out_dir: Path) -> dict[str, Any]:
    """``run_training``, or the summary of a finished run of the same job in ``out_dir``.

    A long k-fold run (MACE on this 2-core VM: 6–9 min a fold, more under load) can thus
    stop and go on: finished folds are read back, the fold in progress resumes from its
    member checkpoints.
    """
    from materials_ai.surrogates.jobs import TRAINING_FILE, run_training

    done = out_dir / TRAINING_FILE
    if done.exists():
        summary: dict[str, Any] = json.loads(done.read_text())
        if summary.get("config") == job.model_dump(mode="json"):
            print(f"{job.name}: finished earlier, read back from {done}", flush=True)
            return summary
    return run_training(job, out_dir, progress=False)


def run_castelli(args: argparse.Namespace) -> dict[str, Any]:
    """5-fold CV on the Castelli perovskites; metrics averaged over folds."""
    folds = []
    config = (
        PROJECT_ROOT / "configs" / "surrogate" / f"{args.config or 'castelli_' + args.model}.yaml"
    )
    split = None
    for fold in range(args.folds):
        job = _job(config, args, fold)
        if job.split.kind == "holdout":  # one train / val / test cut: a single run
            job = _job(config, args)
        split = _split_record(job)
        if job.split.kind == "kfold":  # the fold is in each run's config
            split = {k: v for k, v in split.items() if k != "fold"} | {"folds": args.folds}
        summary = _train_or_read_back(job, RUNS / job.name)
        folds.append(summary)
        print(f"fold {fold}: {json.dumps(summary['metrics']['test'], indent=None)}", flush=True)
        if job.split.kind == "holdout":
            break
    targets = list(folds[0]["metrics"]["test"])
    mean = {
        t: {
            k: float(np.mean([f["metrics"]["test"][t][k] for f in folds]))
            for k in folds[0]["metrics"]["test"][t]
        }
        for t in targets
    }
    return {
        "task": "castelli_5fold",
        "model": args.model,
        "split": split,
        "folds": folds,
        "mean_test": mean,
    }


def run_mp(args: argparse.Namespace) -> dict[str, Any]:
    """MP-2018 hold-out split."""
    from materials_ai.surrogates.jobs import run_training

    job = _job(
        PROJECT_ROOT / "configs" / "surrogate" / f"{args.config or 'mp2018_cgcnn'}.yaml", args
    )
    summary = run_training(job, RUNS / job.name, progress=False)
    return {
        "task": "mp2018_holdout",
        "split": _split_record(job),
        "summary": summary,
        "test": summary["metrics"]["test"],
    }


def run_recalibrate(args: argparse.Namespace) -> dict[str, Any]:
    """Refit the recalibration of models trained by ``castelli`` / ``mp`` (no training).

    Fits the std factor and the standardized-error distribution on each model's
    validation ids (``materials-ai recalibrate``) and reports the test metrics, with the
    Gaussian reading of the same std factor beside them; Castelli folds are averaged.
    """
    from materials_ai.surrogates.jobs import TRAINING_FILE, recalibrate_model

    name = (args.config or "castelli_cgcnn") + (f"_{args.tag}" if args.tag else "")
    name += _split_suffix(args)
    folders = (
        [RUNS / f"{name}_fold{k}" for k in range(args.folds)]
        if name.startswith("castelli") and not (RUNS / name / TRAINING_FILE).exists()
        else [RUNS / name]
    )
    runs = []
    for folder in folders:
        if not (folder / TRAINING_FILE).exists():
            raise SystemExit(f"{folder}: no trained model; run the castelli or mp task first")
        summary = recalibrate_model(folder)
        after, before = summary["metrics"]["test"], summary["metrics_gaussian"]["test"]
        split = {"dataset": summary["config"]["dataset"], **summary["config"]["split"]}
        runs.append({"folder": folder.name, "split": split, "gaussian": before, "empirical": after})
        print(f"{folder.name}: {json.dumps(after)}", flush=True)

    def mean(kind: str) -> dict[str, dict[str, float]]:
        first = runs[0][kind]
        return {
            t: {k: float(np.mean([r[kind][t][k] for r in runs])) for k in first[t]} for t in first
        }

    return {
        "task": "recalibrate",
        "config": name,
        "split": runs[0]["split"],
        "runs": runs,
        "mean_test_gaussian": mean("gaussian"),
        "mean_test": mean("empirical"),
    }


def run_throughput(args: argparse.Namespace) -> dict[str, Any]:
    """Structures/s for graph building + 5-member ensemble scoring of ≤ 20-atom cells."""
    from materials_ai.campaign.config import load_workflow
    from materials_ai.data.loaders import load_dataset
    from materials_ai.graphs.builder import build_graphs
    from materials_ai.surrogates.ensemble import GraphEnsembleSurrogate

    dataset = load_dataset("mp2018", targets=["band_gap"])
    small = [r for r in dataset.records if len(r.structure) <= 20][: args.n]
    config = load_workflow(PROJECT_ROOT / "workflows" / "castelli_water_splitting.yaml").surrogate
    # Weights do not change the cost: members trained one epoch on 64 structures.
    config = config.model_copy(
        update={
            "n_members": args.members,
            "training": config.training.model_copy(update={"max_epochs": 1}),
        }
    )
    surrogate = GraphEnsembleSurrogate(config, ["band_gap"])
    warm = build_graphs([r.structure for r in small[:64]], [r.id for r in small[:64]], config.graph)
    surrogate.fit_graphs(warm, np.arange(len(warm), dtype=float)[:, None])
    if args.workers:
        return _throughput_distributed(args, surrogate, small)
    runs = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        graphs = build_graphs([r.structure for r in small], [r.id for r in small], config.graph)
        built = time.perf_counter()
        surrogate.predict_graphs(graphs)
        done = time.perf_counter()
        runs.append(
            {
                "graphs_s": built - started,
                "score_s": done - built,
                "structures_per_s": len(small) / (done - started),
            }
        )
        print(runs[-1], flush=True)
    return {
        "task": "throughput",
        "n_structures": len(small),
        "mean_atoms": float(np.mean([len(r.structure) for r in small])),
        "members": args.members,
        "runs": runs,
        "median_structures_per_s": float(np.median([r["structures_per_s"] for r in runs])),
    }


def _first_target(prediction: Any) -> np.ndarray:
    """Score for the streamed throughput run: the first target's mean (picklable)."""
    return np.asarray(prediction.mean[:, 0], dtype=np.float64)


def _throughput_distributed(
    args: argparse.Namespace, surrogate: Any, records: list[Any]
) -> dict[str, Any]:
    """The same structures streamed on a LocalCluster: read, graphs, every member, top-k.

    The structures are written as Parquet partitions first (not timed), and the cluster is
    started and warmed before the clock runs; each repeat is one ``stream_score`` call.
    """
    import tempfile

    from materials_ai.compute import ComputeConfig, make_executor
    from materials_ai.surrogates.scoring import (
        CompactStructures,
        stream_score,
        write_partition,
    )

    folder = Path(tempfile.mkdtemp(prefix="throughput-"))
    n_parts = 4 * args.workers
    size = -(-len(records) // n_parts)
    paths = []
    for p in range(n_parts):
        chunk = records[p * size : (p + 1) * size]
        compact = CompactStructures.from_structures(
            [r.structure for r in chunk], [r.id for r in chunk]
        )
        paths.append(write_partition(folder / f"part-{p:03d}.parquet", compact))
    config = ComputeConfig(
        kind="local", n_workers=args.workers, threads_per_worker=1, memory_limit=None
    )
    runs = []
    with make_executor(config, progress=False) as executor:
        stream_score(surrogate, paths[:1], score=_first_target, executor=executor)  # warm
        for _ in range(args.repeats):
            started = time.perf_counter()
            result = stream_score(surrogate, paths, score=_first_target, executor=executor)
            seconds = time.perf_counter() - started
            runs.append(
                {
                    "seconds": seconds,
                    "scored": result.n_scored,
                    "structures_per_s": result.n_scored / seconds,
                }
            )
            print(runs[-1], flush=True)
    return {
        "task": "throughput",
        "mode": f"stream_score on a LocalCluster, {args.workers} workers x 1 thread",
        "n_structures": len(records),
        "mean_atoms": float(np.mean([len(r.structure) for r in records])),
        "members": args.members,
        "runs": runs,
        "median_structures_per_s": float(np.median([r["structures_per_s"] for r in runs])),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task", choices=["castelli", "mp", "recalibrate", "throughput"])
    parser.add_argument("--model", choices=["cgcnn", "mace"], default="cgcnn")
    parser.add_argument(
        "--config",
        default=None,
        help="configs/surrogate/<CONFIG>.yaml (mp: default mp2018_cgcnn, the shipped model "
        "is mp2018_cgcnn_small; castelli: default castelli_<model>)",
    )
    parser.add_argument("--members", type=int, default=5)
    parser.add_argument("--max-epochs", type=int, default=60)
    parser.add_argument("--max-train", type=int, default=None)
    parser.add_argument(
        "--device", choices=["cpu", "cuda", "auto"], default="cpu", help="training device"
    )
    parser.add_argument(
        "--train-workers",
        type=int,
        default=0,
        help="train members in parallel on this many Dask workers (0: one after another)",
    )
    parser.add_argument(
        "--tag",
        default="",
        help="suffix of the run folders and the results file (keeps runs of other budgets)",
    )
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument(
        "--split",
        default=None,
        help="stored split datasets/splits/<dataset>/SPLIT/ instead of the config's, e.g. "
        "grouped_cation_pair_5fold_seed0 (castelli) or grouped_chemsys_80_10_10_seed0 (mp); "
        "k-fold or hold-out is read from its files",
    )
    parser.add_argument("--oxidation", action="store_true", help="oxidation-state features")
    parser.add_argument("--n", type=int, default=5000, help="throughput: structures")
    parser.add_argument("--repeats", type=int, default=3, help="throughput: runs")
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="throughput: Dask worker processes (0: graphs and scoring in this process)",
    )
    args = parser.parse_args()
    started = time.perf_counter()
    tasks = {
        "castelli": run_castelli,
        "mp": run_mp,
        "recalibrate": run_recalibrate,
        "throughput": run_throughput,
    }
    result = tasks[args.task](args)
    result["arguments"] = vars(args)
    result["machine"] = _machine()
    result["wall_seconds"] = time.perf_counter() - started
    RESULTS.mkdir(parents=True, exist_ok=True)
    suffix = ("_oxidation" if args.oxidation else "") + (
        f"_{(args.config or args.model).removeprefix('castelli_')}"
        if args.task == "castelli"
        else f"_{args.config or 'mp2018_cgcnn'}"
        if args.task == "mp"
        else f"_{args.config or 'castelli_cgcnn'}"
        if args.task == "recalibrate"
        else ""
    )
    if args.task == "throughput" and args.workers:
        suffix += f"_{args.workers}workers"
    if args.task != "throughput":
        suffix += _split_suffix(args)
    if args.tag:
        suffix += f"_{args.tag}"
    out = RESULTS / f"surrogates_{args.task}{suffix}.json"
    out.write_text(json.dumps(result, indent=1, default=float))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
