"""QM9 HOMO / LUMO / gap: a deep ensemble of 2D molecular GNNs on the stored split.

    MATERIALS_AI_DATA_DIR=../shared/datasets .venv/bin/python benchmarks/molecules_qm9_gap.py

Trains ``--members`` MolGNN members (``model.kind: mol_gnn``, GINE layers with bond
features, mean+sum readout) jointly on HOMO, LUMO and gap (eV) with the platform's
``GraphEnsembleSurrogate.fit_graphs`` on a seeded subsample of the training ids of
``datasets/splits/qm9/random_80_10_10_seed0`` (``--n-train``), early stopping on the first
2,000 validation ids, std recalibration (``calibration.py``) on the next 4,000 validation
ids, and reports MAE / RMSE / R² / miscalibration area / 90 % coverage (``metrics.py``) on
all 13,083 test ids. Member checkpoints make an interrupted run resumable.

Writes ``benchmarks/results/molecules_qm9_gap.json`` and the model to
``models/qm9_mol_gnn/`` (``surrogate.json`` + ``weights.pt``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from materials_ai.data import load_dataset
from materials_ai.data.registry import get_card
from materials_ai.data.splits import load_holdout, split_dir
from materials_ai.graphs.cache import load_or_build_graphs
from materials_ai.surrogates.config import EnsembleConfig, MolGNNConfig, TrainingConfig
from materials_ai.surrogates.ensemble import GraphEnsembleSurrogate
from materials_ai.surrogates.metrics import regression_metrics

ROOT = Path(__file__).resolve().parents[1]
TARGETS = ["homo", "lumo", "gap"]
SPLIT = "random_80_10_10_seed0"
N_VAL_EARLY_STOP = 2000
N_VAL_RECALIBRATE = 4000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=30000)
    parser.add_argument("--members", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=14)
    parser.add_argument("--hidden", type=int, default=96)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--conv", default="gine")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "models" / "qm9_mol_gnn")
    parser.add_argument(
        "--results", type=Path, default=ROOT / "benchmarks" / "results" / "molecules_qm9_gap.json"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    torch.set_num_threads(args.threads)
    load_start = os.getloadavg()
    started = time.perf_counter()

    ds = load_dataset("qm9", targets=TARGETS)
    card = get_card("qm9")
    graphs = load_or_build_graphs(
        [r.structure for r in ds.records],
        ds.ids,
        EnsembleConfig().graph,
        source=f"{card.name}:{card.sha256}",
    )
    prep_seconds = time.perf_counter() - started
    split = load_holdout(split_dir("qm9", SPLIT))
    position = {i: k for k, i in enumerate(ds.ids)}
    rng = np.random.default_rng(0)
    train_ids = list(split.train)
    if args.n_train < len(train_ids):
        keep = np.sort(rng.choice(len(train_ids), args.n_train, replace=False))
        train_ids = [train_ids[i] for i in keep]
    train_idx = np.array([position[i] for i in train_ids])
    val_es = np.array([position[i] for i in split.val[:N_VAL_EARLY_STOP]])
    val_cal = np.array(
        [position[i] for i in split.val[N_VAL_EARLY_STOP : N_VAL_EARLY_STOP + N_VAL_RECALIBRATE]]
    )
    test_idx = np.array([position[i] for i in split.test])
    y = ds.target_matrix(TARGETS)

    config = EnsembleConfig(
        n_members=args.members,
        seed=0,
        model=MolGNNConfig(
            conv=args.conv, hidden_dim=args.hidden, n_layers=args.layers, readout="mean_sum"
        ),
        training=TrainingConfig(
            max_epochs=args.epochs,
            batch_size=args.batch_size,
            learning_rate=2e-3,
            weight_decay=1e-5,
            loss="l1",
            patience=6,
            lr_patience=2,
        ),
    )
    surrogate = GraphEnsembleSurrogate(config, TARGETS, ["eV"] * 3)
    fit_idx = np.concatenate([train_idx, val_es])
    checkpoints = args.out / "checkpoints"
    fit_start = time.perf_counter()
    report = surrogate.fit_graphs(
        graphs.select(fit_idx),
        y[fit_idx],
        val_indices=np.arange(len(train_idx), len(fit_idx)),
        checkpoint_dir=checkpoints,
    )
    fit_seconds = time.perf_counter() - fit_start

    def evaluate(idx: np.ndarray) -> dict[str, dict[str, float]]:
        pred = surrogate.predict_graphs(graphs.select(idx))
        return {
            t: regression_metrics(y[idx, j], pred.mean[:, j], pred.std[:, j])
            for j, t in enumerate(TARGETS)
        }

    raw_test = evaluate(test_idx)
    scales = surrogate.recalibrate(graphs.select(val_cal), y[val_cal])
    infer_start = time.perf_counter()
    test = evaluate(test_idx)
    infer_seconds = time.perf_counter() - infer_start
    surrogate.save(args.out)
    shutil.rmtree(checkpoints, ignore_errors=True)
    result = {
        "benchmark": "qm9_homo_lumo_gap_2d_ensemble",
        "date": time.strftime("%Y-%m-%d"),
        "split": f"datasets/splits/qm9/{SPLIT}",
        "n_train": len(train_idx),
        "n_val_early_stop": len(val_es),
        "n_val_recalibration": len(val_cal),
        "n_test": len(test_idx),
        "config": config.model_dump(mode="json"),
        "test_metrics": test,
        "test_metrics_before_recalibration": raw_test,
        "std_scales": scales,
        "member_val_mae": [m.val_mae for m in report.members],
        "epochs": [m.epochs for m in report.members],
        "best_epochs": [m.best_epoch for m in report.members],
        "fit_seconds": fit_seconds,
        "prep_seconds": prep_seconds,
        "test_inference_seconds": infer_seconds,
        "total_seconds": time.perf_counter() - started,
        "target_gap_mae_ev": 0.15,
        "gap_mae_ev": test["gap"]["mae"],
        "load_average_start": load_start,
        "load_average_end": os.getloadavg(),
        "machine": {
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(),
        },
    }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(result, indent=1, default=float))
    print(
        json.dumps({k: result[k] for k in ("gap_mae_ev", "fit_seconds", "epochs")}, default=float)
    )
    for t in TARGETS:
        m = test[t]
        print(
            f"{t}: MAE {m['mae']:.3f} eV, RMSE {m['rmse']:.3f}, R2 {m['r2']:.3f}, "
            f"miscal {m.get('miscalibration_area', float('nan')):.3f}, "
            f"cov90 {m.get('coverage_90', float('nan')):.3f}"
        )


if __name__ == "__main__":
    main()
