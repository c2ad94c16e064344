"""Training of one graph network: mini-batches, early stopping, LR schedule, seeded."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from materials_ai.errors import SurrogateError
from materials_ai.graphs.config import GraphConfig
from materials_ai.graphs.packed import PackedGraphs
from materials_ai.surrogates.cgcnn import CGCNN
from materials_ai.surrogates.config import ModelConfig, TrainingConfig
from materials_ai.surrogates.networks import NETWORKS

logger = logging.getLogger(__name__)

StateDict = dict[str, torch.Tensor]


@dataclass
class MemberReport:
    """What one member's training did.

    Attributes:
        seed: Seed of the member.
        epochs: Epochs run.
        best_epoch: Epoch whose weights were kept.
        n_train: Training examples.
        n_val: Validation examples (0: no early stopping).
        val_mae: Target name -> MAE on the member's validation split (target units);
            empty when ``n_val`` is 0.
        history: ``train_loss`` and ``val_loss`` per epoch (standardised units).
        seconds: Wall time.
    """

    seed: int
    epochs: int
    best_epoch: int
    n_train: int
    n_val: int
    val_mae: dict[str, float]
    history: dict[str, list[float]] = field(default_factory=dict)
    seconds: float = 0.0


def _save_checkpoint(path: Path, payload: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)


def build_model(model_config: ModelConfig, graph_config: GraphConfig, n_targets: int) -> CGCNN:
    """Create an untrained member network of the architecture ``model_config.kind``.

    Raises:
        ConfigError: If no network is registered as that kind
            (:data:`materials_ai.surrogates.networks.NETWORKS`).
    """
    network = NETWORKS.get(model_config.kind)(model_config, graph_config, n_targets)
    return network  # type: ignore[return-value]


def member_states(
    weights: Mapping[str, object],
    model_config: ModelConfig,
    graph_config: GraphConfig,
    *,
    n_members: int,
    n_targets: int,
    source: Path,
) -> list[StateDict]:
    """Split a saved ensemble's ``member<i>.<name>`` weights into `s` state dicts, checked
    against the architecture (weights of another model are an error at load time, not at
    the first prediction).

    Raises:
        SurrogateError: Naming ``source`` and the first mismatch.
    """
    states: list[StateDict] = [{} for _ in range(n_members)]
    for key, value in weights.items():
        member, _, name = key.partition(".")
        index = member.removeprefix("member")
        if not (index.isdigit() and int(index) < n_members and name and torch.is_tensor(value)):
            raise SurrogateError(
                f"{source}: entry {key!r} is not a weight of the {n_members} members that "
                "surrogate.json describes (weights of another model?)"
            )
        states[int(index)][name] = value  # type: ignore[assignment]
    reference = build_model(model_config, graph_config, n_targets).state_dict()
    for i, state in enumerate(states):
        for name, tensor in reference.items():
            if name not in state or state[name].shape != tensor.shape:
                found = "missing" if name not in state else f"shape {tuple(state[name].shape)}"
                raise SurrogateError(
                    f"{source}: member {i} weight {name!r} is {found}; the architecture in "
                    f"surrogate.json needs {tuple(tensor.shape)} (weights of another model?)"
                )
    return states


def split_indices(n: int, config: TrainingConfig, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split ``range(n)`` into shuffled train and validation indices.

    No validation split is made when it would hold fewer than ``config.min_val_size``.
    """
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    n_val = round(n * config.val_fraction)
    if n_val < config.min_val_size or n - n_val < 2:
        return perm, perm[:0]
    return perm[n_val:], perm[:n_val]


def _loss_of(diff: torch.Tensor, kind: str) -> torch.Tensor:
    if kind == "mse":
        return (diff**2).mean()
    if kind == "l1":
        return diff.abs().mean()
    return nn.functional.huber_loss(diff, torch.zeros_like(diff), delta=1.0)


def _masked_loss(
    pred: torch.Tensor, target: torch.Tensor, kind: str | Sequence[str]
) -> torch.Tensor:
    """Loss over the finite labels; one kind for all targets or one kind per target.

    With one kind per target, each target's loss is averaged over its own labels and the
    targets with any label are averaged with equal weight.
    """
    mask = torch.isfinite(target)
    if not bool(mask.any()):
        return pred.sum() * 0.0
    if isinstance(kind, str):
        return _loss_of(pred[mask] - target[mask], kind)
    if len(kind) != target.shape[1]:
        raise SurrogateError(f"{len(kind)} losses given for {target.shape[1]} targets")
    losses = [
        _loss_of(pred[mask[:, j], j] - target[mask[:, j], j], k)
        for j, k in enumerate(kind)
        if bool(mask[:, j].any())
    ]
    return torch.stack(losses).mean()


def _batches(indices: np.ndarray, batch_size: int) -> list[np.ndarray]:
    n_batches = max(1, int(np.ceil(len(indices) / batch_size)))
    return [b for b in np.array_split(indices, n_batches) if len(b)]


#: Graphs per mini-batch at inference. Small batches keep the per-edge tensors in the
#: core's L2 cache: on this project's 2-core VM a CGCNN member scored ≤ 20-atom MP cells
#: at ~1,300-1,500 graphs/s in batches of 64-128 and ~560-950 in batches of 256
#: (1,024: ~420). See docs/benchmarks.md, "Scoring throughput".
INFERENCE_BATCH_SIZE = 64


@torch.no_grad()
def predict_standardised(
    model: CGCNN,
    graphs: PackedGraphs,
    indices: np.ndarray,
    batch_size: int = INFERENCE_BATCH_SIZE,
) -> torch.Tensor:
    """Predict graphs ``indices`` in standardised units, `n x t`."""
    model.eval()
    device = model.y_mean.device
    outs = [model(graphs.to_batch(b).to(device)).cpu() for b in _batches(indices, batch_size)]
    return torch.cat(outs) if outs else torch.zeros(0, model.y_mean.numel())


def resolve_device(name: str) -> torch.device:
    """``cpu``, ``cuda`` or ``auto`` (CUDA when available) as a torch device.

    Raises:
        SurrogateError: If ``cuda`` is asked for and torch sees no CUDA device.
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise SurrogateError("training.device is 'cuda' but torch sees no CUDA device")
    return torch.device(name)


def _cpu_state(model: nn.Module) -> StateDict:
    """A copy of the model's weights on the CPU (what members store and save)."""
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def train_member(
    graphs: PackedGraphs,
    y: np.ndarray,
    *,
    model_config: ModelConfig,
    graph_config: GraphConfig,
    training: TrainingConfig,
    target_names: tuple[str, ...],
    seed: int,
    init_state: Mapping[str, torch.Tensor] | None = None,
    pretrained_state: Mapping[str, torch.Tensor] | None = None,
    on_epoch: Callable[[int, float, float], None] | None = None,
    val_indices: np.ndarray | None = None,
    checkpoint_path: Path | None = None,
) -> tuple[StateDict, MemberReport]:
    """Train one ensemble member.

    Args:
        graphs: `n` training graphs.
        y: `n x t` labels in target units; NaN marks a missing label (masked in the loss).
        model_config: Architecture.
        graph_config: Graph settings (the distance expansion uses its cutoff).
        training: Optimiser, batching and early-stopping settings.
        target_names: `t` names (for the report).
        seed: Seeds initialisation, split and shuffling.
        pretrained_state: Weights of a model trained on another task (transfer learning):
            every tensor whose name and shape match is copied (the atom embedding, the
            convolutions, the hidden readout layers); the output layer and the target
            standardisation are not. Trains for ``max_epochs``.
        init_state: Weights to start from (warm start); the target standardisation of a
            warm start is recomputed from ``y``.
        on_epoch: Called as ``on_epoch(epoch, train_loss, val_loss)``.
        val_indices: Rows of ``graphs`` that form the validation split (a fixed, stored
            split); the others are trained on. Default: a random split drawn from ``seed``
            with ``training.val_fraction``.
        checkpoint_path: Write the full training state here after every epoch and, if
            the file exists at the start, continue from it (same result as an
            uninterrupted run). The caller deletes it when the member is done.

    Returns:
        The best weights (by validation loss, or the last ones without a split) and a
        report.
    """
    start = time.perf_counter()
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 2 or y.shape[0] != len(graphs) or y.shape[1] != len(target_names):
        raise SurrogateError(f"labels must be {len(graphs)} x {len(target_names)}; got {y.shape}")
    if len(graphs) < 2:
        raise SurrogateError(f"need at least 2 labelled structures to train; got {len(graphs)}")
    finite_per_target = np.isfinite(y).sum(axis=0)
    if (finite_per_target == 0).any():
        missing = [t for t, c in zip(target_names, finite_per_target, strict=True) if c == 0]
        raise SurrogateError(f"no finite label for target(s) {missing}")

    torch.manual_seed(seed)
    model = build_model(model_config, graph_config, len(target_names))
    if init_state is not None:
        model.load_state_dict(dict(init_state))
    elif pretrained_state is not None:
        own = model.state_dict()
        shared = {
            k: v
            for k, v in pretrained_state.items()
            if k in own and own[k].shape == v.shape and k not in ("y_mean", "y_std")
        }
        model.load_state_dict(shared, strict=False)
    if val_indices is None:
        train_idx, val_idx = split_indices(len(graphs), training, seed)
    else:
        val_idx = np.asarray(val_indices, dtype=np.int64)
        train_idx = np.setdiff1d(np.arange(len(graphs)), val_idx)
    # Standardise with training rows only: validation statistics must not leak in.
    y_mean = np.nanmean(y[train_idx], axis=0)
    y_std = np.nanstd(y[train_idx], axis=0)
    y_mean = np.where(np.isfinite(y_mean), y_mean, 0.0)
    y_std = np.where(np.isfinite(y_std) & (y_std > 1e-8), y_std, 1.0)
    model.y_mean.copy_(torch.as_tensor(y_mean, dtype=torch.float32))
    model.y_std.copy_(torch.as_tensor(y_std, dtype=torch.float32))
    y_std_cpu = torch.as_tensor((y - y_mean) / y_std, dtype=torch.float32)
    device = resolve_device(training.device)
    model.to(device)
    y_std_t = y_std_cpu.to(device)

    max_epochs = training.warm_start_epochs if init_state is not None else training.max_epochs
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=training.learning_rate, weight_decay=training.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, factor=0.5, patience=training.lr_patience
    )
    generator = np.random.default_rng(seed + 1_000_003)
    best_state: StateDict = _cpu_state(model)
    best_val = float("inf")
    best_epoch = 0
    history: dict[str, list[float]] = {"train_loss": [], "val_loss": []}
    first_epoch = 1
    if checkpoint_path is not None and Path(checkpoint_path).exists():
        saved = torch.load(checkpoint_path, map_location="cpu", weights_only=True)
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        generator.bit_generator.state = saved["numpy_rng"]
        torch.set_rng_state(saved["torch_rng"])
        best_state, best_val, best_epoch = (
            saved["best_state"],
            saved["best_val"],
            saved["best_epoch"],
        )
        history = saved["history"]
        first_epoch = int(saved["epoch"]) + 1
        logger.info(
            "member seed %d resumes at epoch %d from %s", seed, first_epoch, checkpoint_path
        )
    epoch = first_epoch - 1
    stopped = False
    for epoch in range(first_epoch, max_epochs + 1):
        model.train()
        total, count = 0.0, 0
        for batch_idx in _batches(generator.permutation(train_idx), training.batch_size):
            if len(batch_idx) < 2:
                continue
            optimizer.zero_grad(set_to_none=True)
            pred = model(graphs.to_batch(batch_idx).to(device))
            loss = _masked_loss(pred, y_std_t[batch_idx], training.loss)
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(batch_idx)
            count += len(batch_idx)
        train_loss = total / max(count, 1)
        if len(val_idx):
            pred_val = predict_standardised(model, graphs, val_idx)
            val_loss = float(_masked_loss(pred_val, y_std_cpu[val_idx], "l1"))
        else:
            val_loss = train_loss
        history["train_loss"].append(train_loss)
        history["val_loss"].append(val_loss)
        scheduler.step(val_loss)
        logger.info(
            "seed %d epoch %d/%d: train loss %.4f, val loss %.4f, lr %.2e",
            seed,
            epoch,
            max_epochs,
            train_loss,
            val_loss,
            optimizer.param_groups[0]["lr"],
        )
        if on_epoch is not None:
            on_epoch(epoch, train_loss, val_loss)
        if val_loss < best_val - 1e-6:
            best_val, best_epoch = val_loss, epoch
            best_state = _cpu_state(model)
        elif len(val_idx) and epoch - best_epoch >= training.patience:
            stopped = True
        if checkpoint_path is not None:
            _save_checkpoint(
                Path(checkpoint_path),
                {
                    "model": _cpu_state(model),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "numpy_rng": generator.bit_generator.state,
                    "torch_rng": torch.get_rng_state(),
                    "best_state": best_state,
                    "best_val": best_val,
                    "best_epoch": best_epoch,
                    "history": history,
                    "epoch": epoch,
                },
            )
        if stopped:
            break
    if not len(val_idx):
        best_state, best_epoch = _cpu_state(model), epoch

    val_mae: dict[str, float] = {}
    if len(val_idx):
        model.load_state_dict(best_state)
        pred = predict_standardised(model, graphs, val_idx).numpy() * y_std + y_mean
        err = np.abs(pred - y[val_idx])
        for j, name in enumerate(target_names):
            col = err[:, j][np.isfinite(err[:, j])]
            val_mae[name] = float(col.mean()) if col.size else float("nan")
    report = MemberReport(
        seed=seed,
        epochs=epoch,
        best_epoch=best_epoch,
        n_train=len(train_idx),
        n_val=len(val_idx),
        val_mae=val_mae,
        history=history,
        seconds=time.perf_counter() - start,
    )
    logger.debug("member seed %d: %d epochs, best %d, val MAE %s", seed, epoch, best_epoch, val_mae)
    return best_state, report
