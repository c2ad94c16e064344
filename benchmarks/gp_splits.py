"""GP heads on pretrained features: accuracy and 90 % coverage on random vs grouped folds.

Castelli cubic perovskites, 5-fold cross-validation on the stored splits
``random_5fold_seed0`` and ``grouped_cation_pair_5fold_seed0`` (no {A, B} cation pair in two
folds: new chemistry). For each test fold ``k``: fold ``k+1`` is the calibration fold, and
``n_train`` rows drawn (seeded) from the other three folds train one exact GP per target
(an exact GP is cubic in its rows; a campaign has at most ~1,000 labels). Reported per split
and target: MAE, and the coverage of central 90 % intervals read three ways:

- ``latent``: the GP's posterior std of the latent function (what acquisition reads);
- ``predictive``: that std with the learned observation noise added;
- ``recalibrated``: the predictive std times one factor per target fitted on the
  calibration fold (the factor that makes its 90 % intervals cover 90 %);
- ``loo_calibrated``: the predictive std times the GP's own leave-one-out factor on its
  training rows (what ``calibrate_std: true`` does inside a campaign, no held-out data).

Usage::

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/gp_splits.py --features chgnet \\
        --n-train 1000 --hyper-subsample 300
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from materials_ai.data.loaders import load_dataset
from materials_ai.data.registry import get_card
from materials_ai.data.splits import load_folds, split_dir
from materials_ai.surrogates.config import GPConfig
from materials_ai.surrogates.gp import GPSurrogate

TARGETS = ("heat_of_formation", "band_gap")
SPLITS = ("random_5fold_seed0", "grouped_cation_pair_5fold_seed0")
Z90 = 1.6448536269514722


def _coverage(y: np.ndarray, mean: np.ndarray, std: np.ndarray) -> float:
    return float(np.mean(np.abs(y - mean) <= Z90 * np.maximum(std, 1e-12)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", default="chgnet", help="featurizer blocks, '+'-joined")
    parser.add_argument("--n-train", type=int, default=1000)
    parser.add_argument("--hyper-subsample", type=int, default=300)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()

    dataset = load_dataset("castelli_perovskites", targets=list(TARGETS))
    card = get_card("castelli_perovskites")
    pool = [r.as_candidate(source=dataset.name) for r in dataset.records]
    index = {c.id: i for i, c in enumerate(pool)}
    y_all = np.array([[r.targets[t] for t in TARGETS] for r in dataset.records])
    config = GPConfig.model_validate(
        {
            "kind": "gp",
            "features": args.features.split("+"),
            "hyper_subsample": args.hyper_subsample,
        }
    )
    table = GPSurrogate(config, TARGETS).featurize_pool(pool, source=f"{card.name}:{card.sha256}")
    results: dict[str, Any] = {}
    for split in SPLITS:
        folds = [np.array([index[i] for i in f]) for f in load_folds(split_dir(card.name, split))]
        per_fold = []
        for k in range(len(folds)):
            test, calib = folds[k], folds[(k + 1) % len(folds)]
            rest = np.concatenate([f for j, f in enumerate(folds) if j not in (k, (k + 1) % 5)])
            train = np.random.default_rng(k).choice(rest, size=args.n_train, replace=False)
            surrogate = GPSurrogate(config.model_copy(update={"seed": k}), TARGETS)
            report = surrogate.fit_descriptors(table.values[train], y_all[train])
            noise = np.array([m.noise_std for m in report.members])
            loo = np.array([m.loo_std_factor for m in report.members])
            row: dict[str, Any] = {"fold": k}
            for part, rows in (("calib", calib), ("test", test)):
                mean, std = surrogate.predict_marginals(table.values[rows])
                row[part] = (mean, std, np.sqrt(std**2 + noise**2), y_all[rows])
            mean_c, _, pred_c, y_c = row["calib"]
            factor = np.array(
                [
                    np.quantile(np.abs(y_c[:, j] - mean_c[:, j]) / pred_c[:, j], 0.9) / Z90
                    for j in range(len(TARGETS))
                ]
            )
            mean, latent, predictive, y = row["test"]
            per_fold.append(
                {
                    "fold": k,
                    "mae": dict(
                        zip(TARGETS, np.abs(mean - y).mean(axis=0).round(4).tolist(), strict=True)
                    ),
                    "coverage_latent": {
                        t: _coverage(y[:, j], mean[:, j], latent[:, j])
                        for j, t in enumerate(TARGETS)
                    },
                    "coverage_predictive": {
                        t: _coverage(y[:, j], mean[:, j], predictive[:, j])
                        for j, t in enumerate(TARGETS)
                    },
                    "coverage_recalibrated": {
                        t: _coverage(y[:, j], mean[:, j], predictive[:, j] * factor[j])
                        for j, t in enumerate(TARGETS)
                    },
                    "coverage_loo_calibrated": {
                        t: _coverage(y[:, j], mean[:, j], predictive[:, j] * loo[j])
                        for j, t in enumerate(TARGETS)
                    },
                    "std_factor": dict(zip(TARGETS, factor.round(3).tolist(), strict=True)),
                    "loo_std_factor": dict(zip(TARGETS, loo.round(3).tolist(), strict=True)),
                }
            )
            print(split, json.dumps(per_fold[-1]), flush=True)
        results[split] = {
            "folds": per_fold,
            "mean": {
                key: {t: float(np.mean([f[key][t] for f in per_fold])) for t in TARGETS}
                for key in (
                    "mae",
                    "coverage_latent",
                    "coverage_predictive",
                    "coverage_recalibrated",
                    "coverage_loo_calibrated",
                )
            },
        }
    out = {
        "benchmark": "gp_splits",
        "dataset": card.name,
        "features": args.features.split("+"),
        "n_train": args.n_train,
        "hyper_subsample": args.hyper_subsample,
        "command": f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '?')} .venv/bin/python "
        f"benchmarks/gp_splits.py --features {args.features} --n-train {args.n_train} "
        f"--hyper-subsample {args.hyper_subsample}",
        "machine": {"cores": os.cpu_count(), "gpu": None},
        "results": results,
    }
    path = Path(args.out or f"benchmarks/results/gp_splits_castelli_{args.features}.json")
    path.write_text(json.dumps(out, indent=1))
    print(json.dumps({s: r["mean"] for s, r in results.items()}, indent=1))


if __name__ == "__main__":
    main()
