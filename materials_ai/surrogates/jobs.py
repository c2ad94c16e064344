"""Training, evaluation and prediction jobs on stored splits (behind `materials-ai train`,
`evaluate` and `predict`).

A training job reads a YAML config, trains a deep ensemble on the split's training ids with
early stopping on its validation ids, recalibrates the std on the validation ids, reports
accuracy and calibration on validation and test ids, and writes a model folder::

    surrogate.json, weights.pt   the ensemble (see GraphEnsembleSurrogate.save)
    training.json                the job config, split, metrics, timings, machine
    MODEL_CARD.md                the same for people
    checkpoints/                 per-member checkpoints while training (removed at the end)
"""

from __future__ import annotations

import json
import logging
import os
import platform
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from materials_ai.compute import ComputeConfig
from materials_ai.config_errors import read_yaml_file, validate_config
from materials_ai.errors import ConfigError, SurrogateError
from materials_ai.surrogates.config import EnsembleConfig
from materials_ai.surrogates.inputs import element_symbols
from materials_ai.surrogates.model_card import added_card_sections, model_card
from materials_ai.tracking import TrackingConfig

if TYPE_CHECKING:
    from materials_ai.graphs.packed import PackedGraphs
    from materials_ai.surrogates.ensemble import GraphEnsembleSurrogate
    from materials_ai.surrogates.prediction import Prediction

logger = logging.getLogger(__name__)

TRAINING_FILE = "training.json"


class SplitSpec(BaseModel):
    """Which stored split to use (``datasets/splits/<dataset>/<name>/``).

    Attributes:
        name: Folder name of the split.
        kind: ``holdout`` (train/val/test files) or ``kfold`` (fold_k files).
        fold: For ``kfold``: the test fold; the next fold (cyclically) is validation.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    kind: Literal["holdout", "kfold"] = "holdout"
    fold: int = Field(0, ge=0)


class TrainJobConfig(BaseModel):
    """A training job.

    Attributes:
        name: Model name (folder name by default).
        dataset: Dataset card name.
        targets: Targets to learn.
        split: Stored split.
        max_train: Use at most this many training ids (seeded subsample) — for budgets.
        surrogate: The ensemble.
        recalibrate: Fit std scales on the validation ids.
        tracking: MLflow settings (default: MLflow with a SQLite store, ``mlflow.db``,
            and ``mlartifacts/`` in the folder holding the model folder, e.g. ``models/``);
            ``{backend: none}`` turns it off.
        compute: Executor for training members in parallel.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    dataset: str
    targets: list[str] = Field(min_length=1)
    split: SplitSpec
    max_train: int | None = Field(None, ge=2)
    surrogate: EnsembleConfig = EnsembleConfig()
    recalibrate: bool = True
    tracking: TrackingConfig = TrackingConfig()
    compute: ComputeConfig = ComputeConfig()


def load_train_config(path: str | Path) -> TrainJobConfig:
    """Read a training-job YAML file (unknown keys are errors naming the key)."""
    return validate_config(TrainJobConfig, read_yaml_file(path, "training config"), str(path))


@dataclass(frozen=True)
class SplitIds:
    """Resolved ids of a split."""

    train: tuple[str, ...]
    val: tuple[str, ...]
    test: tuple[str, ...]


def resolve_split(dataset: str, spec: SplitSpec, max_train: int | None = None) -> SplitIds:
    """Read a stored split and return its train / val / test ids."""
    from materials_ai.data.splits import load_folds, load_holdout, split_dir

    folder = split_dir(dataset, spec.name)
    if spec.kind == "holdout":
        split = load_holdout(folder)
        train, val, test = split.train, split.val, split.test
    else:
        folds = load_folds(folder)
        k = len(folds)
        if spec.fold >= k:
            raise ConfigError(f"split {folder} has {k} folds; fold {spec.fold} does not exist")
        test, val = folds[spec.fold], folds[(spec.fold + 1) % k]
        train = tuple(
            i
            for f, ids in enumerate(folds)
            if f not in (spec.fold, (spec.fold + 1) % k)
            for i in ids
        )
    if max_train is not None and max_train < len(train):
        keep = np.sort(np.random.default_rng(0).choice(len(train), max_train, replace=False))
        train = tuple(train[i] for i in keep)
    return SplitIds(tuple(train), tuple(val), tuple(test))


def _dataset_and_graphs(dataset_name: str, targets: Sequence[str], graph_config, progress: bool):  # type: ignore[no-untyped-def]
    from materials_ai.data.loaders import load_dataset
    from materials_ai.data.registry import get_card
    from materials_ai.graphs.cache import load_or_build_graphs

    dataset = load_dataset(dataset_name, targets=list(targets), progress=progress)
    card = get_card(dataset_name)
    graphs = load_or_build_graphs(
        [r.structure for r in dataset.records],
        dataset.ids,
        graph_config,
        source=f"{card.name}:{card.sha256}",
    )
    return dataset, graphs


def _indices(dataset_ids: Sequence[str], wanted: Sequence[str]) -> np.ndarray:
    position = {i: k for k, i in enumerate(dataset_ids)}
    return np.array([position[i] for i in wanted if i in position], dtype=np.int64)


def _machine() -> dict[str, Any]:
    import torch

    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
    }


def evaluate_parts(
    surrogate: GraphEnsembleSurrogate,
    graphs: PackedGraphs,
    y: np.ndarray,
    parts: dict[str, np.ndarray],
) -> dict[str, dict[str, dict[str, float]]]:
    """Metrics per split part and target: ``{part: {target: metrics}}``."""
    return {
        part: _prediction_metrics(
            surrogate.predict_graphs(graphs.select(idx)), y[idx], use_errors=True
        )
        for part, idx in parts.items()
        if len(idx) > 0
    }


def _evaluate_readings(
    surrogate: GraphEnsembleSurrogate,
    graphs: PackedGraphs,
    y: np.ndarray,
    parts: dict[str, np.ndarray],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Metrics with the fitted error distributions, and with the Gaussian reading of the
    same recalibrated std (what an acquisition function sees), from one prediction per part.

    Without fitted distributions both are the same metrics.
    """
    fitted: dict[str, dict[str, dict[str, float]]] = {}
    gaussian: dict[str, dict[str, dict[str, float]]] = {}
    for part, idx in parts.items():
        if len(idx) == 0:
            continue
        prediction = surrogate.predict_graphs(graphs.select(idx))
        fitted[part] = _prediction_metrics(prediction, y[idx], use_errors=True)
        if prediction.errors:
            gaussian[part] = _prediction_metrics(prediction, y[idx], use_errors=False)
    return fitted, (gaussian or fitted)


def _prediction_metrics(
    prediction: Prediction, y: np.ndarray, *, use_errors: bool
) -> dict[str, dict[str, float]]:
    """``{target: metrics}`` of a prediction against `n x t` labels."""
    from materials_ai.surrogates.metals import gap_metrics, is_gap_target
    from materials_ai.surrogates.metrics import regression_metrics

    out: dict[str, dict[str, float]] = {}
    for j, t in enumerate(prediction.target_names):
        args = (y[:, j], prediction.mean[:, j], prediction.std[:, j])
        errors = prediction.errors.get(t) if use_errors else None
        out[t] = regression_metrics(*args, errors=errors)
        if is_gap_target(t):  # metals: classification and non-metal figures
            out[t] |= gap_metrics(*args, errors=errors)
    return out


def run_training(
    config: TrainJobConfig,
    out_dir: str | Path,
    *,
    progress: bool = True,
) -> dict[str, Any]:
    """Train, recalibrate, evaluate and save an ensemble; resumable.

    Re-running the same job into the same folder continues where it stopped: finished
    members are read back from their checkpoints and the member in progress resumes at
    its last epoch.

    Returns:
        The content of ``training.json`` (config, split sizes, metrics, timings).
    """
    from materials_ai.compute import make_executor
    from materials_ai.surrogates.ensemble import GraphEnsembleSurrogate
    from materials_ai.tracking import config_params, make_tracker, metrics_with_units

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    dataset, graphs = _dataset_and_graphs(
        config.dataset, config.targets, config.surrogate.graph, progress
    )
    split = resolve_split(config.dataset, config.split, config.max_train)
    train_idx = _indices(dataset.ids, split.train)
    val_idx = _indices(dataset.ids, split.val)
    test_idx = _indices(dataset.ids, split.test)
    y = dataset.target_matrix(config.targets)
    units = {t.name: t.unit for t in dataset.targets}
    surrogate = GraphEnsembleSurrogate(
        config.surrogate, config.targets, [units[t] for t in config.targets]
    )
    fit_idx = np.concatenate([train_idx, val_idx])
    tracker = make_tracker(config.tracking, out_dir)
    tracker.start_run(config.name, tags={"kind": "training", "dataset": config.dataset})
    tracker.log_params(config_params(config.model_dump(mode="json")))
    executor = make_executor(config.compute, progress=progress)
    try:
        fit_started = time.perf_counter()
        report = surrogate.fit_graphs(
            graphs.select(fit_idx),
            y[fit_idx],
            executor=executor,
            val_indices=np.arange(len(train_idx), len(fit_idx)),
            checkpoint_dir=out_dir / "checkpoints",
        )
        fit_seconds = time.perf_counter() - fit_started
    finally:
        executor.close()
    for i, member in enumerate(report.members):
        for epoch, (tl, vl) in enumerate(
            zip(member.history["train_loss"], member.history["val_loss"], strict=True), 1
        ):
            tracker.log_metrics({f"member{i}_train_loss": tl, f"member{i}_val_loss": vl}, epoch)
    parts = {"val": val_idx, "test": test_idx}
    raw_metrics = evaluate_parts(surrogate, graphs, y, parts)
    if config.recalibrate and len(val_idx) >= 2:
        surrogate.recalibrate(graphs.select(val_idx), y[val_idx])
    metrics, gaussian = _evaluate_readings(surrogate, graphs, y, parts)
    surrogate.save(out_dir)
    shutil.rmtree(out_dir / "checkpoints", ignore_errors=True)
    summary = {
        "name": config.name,
        "config": config.model_dump(mode="json"),
        "split_sizes": {"train": len(train_idx), "val": len(val_idx), "test": len(test_idx)},
        "metrics": metrics,
        "metrics_before_recalibration": raw_metrics,
        "metrics_gaussian": gaussian,
        **_recalibration_summary(surrogate),
        "epochs": [m.epochs for m in report.members],
        "best_epochs": [m.best_epoch for m in report.members],
        "fit_seconds": fit_seconds,
        "total_seconds": time.perf_counter() - started,
        "machine": _machine(),
        "date": time.strftime("%Y-%m-%d"),
    }
    (out_dir / TRAINING_FILE).write_text(json.dumps(summary, indent=1, default=float))
    (out_dir / "MODEL_CARD.md").write_text(model_card(summary))
    flat = {
        f"{part}_{t}_{k}": v
        for part, per_target in metrics.items()
        for t, values in per_target.items()
        for k, v in values.items()
    }
    tracker.log_metrics(metrics_with_units(flat, units), step=0)  # test_band_gap_mae_eV
    tracker.log_artifact(out_dir / "surrogate.json", "model")
    tracker.log_artifact(out_dir / "weights.pt", "model")
    tracker.log_artifact(out_dir / "MODEL_CARD.md", "model")
    tracker.end_run("FINISHED")
    return summary


def _recalibration_summary(surrogate: GraphEnsembleSurrogate) -> dict[str, Any]:
    """The fitted recalibration, as ``training.json`` records it."""
    return {
        "std_scales": dict(surrogate.std_scales),
        # 5 % and 95 % quantiles of the standardized error: the 90 % interval is
        # [mean + std * q05, mean + std * q95].
        "interval_90_z": {
            t: [float(v) for v in e.ppf(np.array([0.05, 0.95]))]
            for t, e in surrogate.error_distributions.items()
        },
    }


def recalibrate_model(model_dir: str | Path) -> dict[str, Any]:
    """Refit a trained model's recalibration on its validation ids and re-evaluate it.

    Fits the std factors and the standardized-error distributions afresh (from the raw
    ensemble) on the validation part of the split in ``training.json`` and the
    applicability domain on its training part (``domain.npz``), then rewrites
    ``surrogate.json``, the metrics of ``training.json`` and ``MODEL_CARD.md``. The weights
    are not touched. Use it after an upgrade that changes the recalibration.

    Returns:
        The updated ``training.json`` content.
    """
    model = _TrainedModel.open(model_dir)
    parts = {"val": model.part("val"), "test": model.part("test")}
    if len(parts["val"]) < 2:
        raise SurrogateError(f"{model.folder}: the split has no validation ids to recalibrate on")
    surrogate = model.surrogate
    train = model.part("train")
    if len(train) >= 2:  # the applicability domain (also for folders trained before it)
        train_graphs = model.graphs.select(train)
        surrogate.fit_domain(train_graphs)
        if surrogate.training_elements is None:  # predict then names unseen elements
            surrogate.training_elements = element_symbols(train_graphs.z)
    surrogate.recalibrate(model.graphs.select(parts["val"]), model.y[parts["val"]])
    summary = model.summary
    summary["metrics"], summary["metrics_gaussian"] = _evaluate_readings(
        surrogate, model.graphs, model.y, parts
    )
    summary |= _recalibration_summary(surrogate)
    summary["recalibrated"] = time.strftime("%Y-%m-%d")
    surrogate.save(model.folder)  # keeps the fit record it was loaded with
    (model.folder / TRAINING_FILE).write_text(json.dumps(summary, indent=1, default=float))
    card_path = model.folder / "MODEL_CARD.md"
    old_card = card_path.read_text() if card_path.exists() else ""
    card_path.write_text(model_card(summary) + added_card_sections(old_card))
    return summary


def evaluate_model(model_dir: str | Path, part: str = "test") -> dict[str, dict[str, float]]:
    """Metrics of a trained model on a part of the split it was trained with."""
    if part not in ("train", "val", "test"):
        raise ConfigError(f"unknown split part {part!r}; use train, val or test")
    model = _TrainedModel.open(model_dir)
    return evaluate_parts(model.surrogate, model.graphs, model.y, {part: model.part(part)})[part]


@dataclass
class _TrainedModel:
    """A model folder written by :func:`run_training`, with its data and split resolved."""

    folder: Path
    summary: dict[str, Any]
    surrogate: GraphEnsembleSurrogate
    graphs: PackedGraphs
    y: np.ndarray
    ids: tuple[str, ...]
    split: SplitIds

    @classmethod
    def open(cls, model_dir: str | Path) -> _TrainedModel:
        from materials_ai.surrogates.ensemble import GraphEnsembleSurrogate

        folder = Path(model_dir)
        info_path = folder / TRAINING_FILE
        if not info_path.exists():
            raise SurrogateError(f"{info_path} not found: the model was not made by `train`")
        summary = json.loads(info_path.read_text())
        config = TrainJobConfig.model_validate(summary["config"])
        surrogate = GraphEnsembleSurrogate.load(folder)
        dataset, graphs = _dataset_and_graphs(
            config.dataset, config.targets, surrogate.config.graph, False
        )
        return cls(
            folder=folder,
            summary=summary,
            surrogate=surrogate,
            graphs=graphs,
            y=dataset.target_matrix(config.targets),
            ids=tuple(dataset.ids),
            split=resolve_split(config.dataset, config.split, config.max_train),
        )

    def part(self, name: str) -> np.ndarray:
        """Row indices of the split part ``train``, ``val`` or ``test``."""
        return _indices(self.ids, getattr(self.split, name))
