"""Training of one member: splits, masked loss, errors, learning, determinism."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from materials_ai.errors import SurrogateError
from materials_ai.graphs import PackedGraphs, build_graphs
from materials_ai.surrogates.config import TrainingConfig
from materials_ai.surrogates.training import _masked_loss, split_indices, train_member
from materials_ai.testing.models import (
    TINY_CGCNN,
    TINY_GRAPH,
    binary_zincblende_cells,
    mean_atomic_numbers,
)


@pytest.fixture(scope="module")
def toy() -> tuple[PackedGraphs, np.ndarray]:
    """18 C/Si/Ge zinc-blende cells; target: mean atomic number."""
    structures = binary_zincblende_cells(("C", "Si", "Ge"), (5.2, 5.8))
    graphs = build_graphs(structures, [f"zb{i}" for i in range(len(structures))], TINY_GRAPH)
    return graphs, mean_atomic_numbers(structures)[:, None]


def _train(graphs: PackedGraphs, y: np.ndarray, seed: int = 0, **training: object):  # type: ignore[no-untyped-def]
    config = TrainingConfig(**{"max_epochs": 3, "batch_size": 6, **training})  # type: ignore[arg-type]
    names = tuple(f"t{j}" for j in range(y.shape[1]))
    return train_member(
        graphs,
        y,
        model_config=TINY_CGCNN,
        graph_config=TINY_GRAPH,
        training=config,
        target_names=names,
        seed=seed,
    )


# -- splits and loss -------------------------------------------------------------------


def test_split_indices_partition_and_sizes() -> None:
    config = TrainingConfig(val_fraction=0.25, min_val_size=2)
    train, val = split_indices(20, config, seed=3)
    assert len(val) == 5 and len(train) == 15
    assert sorted(np.concatenate([train, val]).tolist()) == list(range(20))
    again = split_indices(20, config, seed=3)
    np.testing.assert_array_equal(again[1], val)
    other = split_indices(20, config, seed=4)
    assert other[1].tolist() != val.tolist()


def test_split_indices_skips_validation_when_too_small() -> None:
    config = TrainingConfig(val_fraction=0.15, min_val_size=8)
    train, val = split_indices(40, config, seed=0)  # 6 < 8
    assert len(val) == 0 and sorted(train.tolist()) == list(range(40))
    train, val = split_indices(60, config, seed=0)  # 9 >= 8
    assert len(val) == 9 and len(train) == 51
    train, val = split_indices(10, TrainingConfig(val_fraction=0.0), seed=0)
    assert len(val) == 0 and len(train) == 10


def test_masked_loss_ignores_nan_labels() -> None:
    pred = torch.tensor([[1.0, 2.0], [3.0, 4.0], [0.0, 0.0]])
    target = torch.tensor([[0.0, float("nan")], [3.0, float("nan")], [float("nan"), 2.0]])
    # Finite pairs: (1, 0), (3, 3), (0, 2).
    assert float(_masked_loss(pred, target, "mse")) == pytest.approx((1 + 0 + 4) / 3)
    assert float(_masked_loss(pred, target, "l1")) == pytest.approx((1 + 0 + 2) / 3)
    # Huber (delta 1): 0.5 * 1^2, 0, 1 * (2 - 0.5).
    assert float(_masked_loss(pred, target, "huber")) == pytest.approx((0.5 + 0 + 1.5) / 3)


def test_masked_loss_of_an_all_missing_batch_is_zero_with_a_gradient() -> None:
    pred = torch.tensor([[1.0], [2.0]], requires_grad=True)
    loss = _masked_loss(pred, torch.full((2, 1), float("nan")), "mse")
    assert float(loss.detach()) == 0.0
    loss.backward()
    assert pred.grad is not None and torch.equal(pred.grad, torch.zeros(2, 1))


# -- errors --------------------------------------------------------------------------------


def test_too_few_examples_raise(toy: tuple[PackedGraphs, np.ndarray]) -> None:
    graphs, y = toy
    with pytest.raises(SurrogateError, match="at least 2 labelled structures"):
        _train(graphs.select([0]), y[:1])


def test_label_shape_mismatch_raises(toy: tuple[PackedGraphs, np.ndarray]) -> None:
    graphs, y = toy
    with pytest.raises(SurrogateError, match=r"labels must be 18 x 1"):
        _train(graphs, y[:5])


def test_fully_nan_target_raises_and_names_it(toy: tuple[PackedGraphs, np.ndarray]) -> None:
    graphs, y = toy
    y2 = np.column_stack([y[:, 0], np.full(len(y), np.nan)])
    with pytest.raises(SurrogateError, match=r"no finite label for target\(s\) \['t1'\]"):
        _train(graphs, y2)


def test_partly_missing_labels_train_with_finite_losses(
    toy: tuple[PackedGraphs, np.ndarray],
) -> None:
    graphs, y = toy
    y2 = np.column_stack([y[:, 0], np.where(np.arange(len(y)) % 2 == 0, -y[:, 0], np.nan)])
    state, report = _train(graphs, y2, max_epochs=4)
    assert report.epochs == 4
    assert np.isfinite(report.history["train_loss"]).all()
    assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())
    # Standardisation ignores the NaNs.
    np.testing.assert_allclose(
        state["y_mean"].numpy(), [y[:, 0].mean(), -y[::2, 0].mean()], rtol=1e-5
    )


# -- learning, report, determinism -----------------------------------------------------------


def test_training_reduces_the_loss_on_a_learnable_task(
    toy: tuple[PackedGraphs, np.ndarray],
) -> None:
    graphs, y = toy
    seen: list[tuple[int, float, float]] = []
    config = TrainingConfig(max_epochs=30, batch_size=6, learning_rate=1e-2, val_fraction=0.0)
    state, report = train_member(
        graphs,
        y,
        model_config=TINY_CGCNN,
        graph_config=TINY_GRAPH,
        training=config,
        target_names=("mean_z",),
        seed=0,
        on_epoch=lambda e, tr, va: seen.append((e, tr, va)),
    )
    losses = report.history["train_loss"]
    assert len(losses) == report.epochs == 30
    assert losses[-1] < 0.2 * losses[0]
    assert [e for e, _, _ in seen] == list(range(1, 31))
    assert report.n_val == 0 and report.val_mae == {}
    assert report.best_epoch == 30  # without a split, the last weights are kept
    assert report.seconds > 0
    assert state["y_mean"].item() == pytest.approx(y.mean(), rel=1e-6)
    assert state["y_std"].item() == pytest.approx(y.std(), rel=1e-6)


def test_validation_split_and_early_stopping_report(
    toy: tuple[PackedGraphs, np.ndarray],
) -> None:
    graphs, y = toy
    _, report = _train(graphs, y, max_epochs=6, val_fraction=0.25, min_val_size=2, patience=2)
    assert report.n_val == round(18 * 0.25) and report.n_train == 18 - report.n_val
    assert 1 <= report.best_epoch <= report.epochs <= 6
    assert len(report.history["val_loss"]) == report.epochs
    # Stopped early exactly when patience ran out, or ran every epoch.
    assert report.epochs == 6 or report.epochs - report.best_epoch >= 2
    best = min(report.history["val_loss"])
    assert report.history["val_loss"][report.best_epoch - 1] == pytest.approx(best)
    assert set(report.val_mae) == {"t0"} and report.val_mae["t0"] >= 0


def test_same_seed_gives_identical_weights(toy: tuple[PackedGraphs, np.ndarray]) -> None:
    graphs, y = toy
    a, report_a = _train(graphs, y, seed=7)
    b, report_b = _train(graphs, y, seed=7)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert report_a.history == report_b.history


def test_different_seeds_give_different_weights(toy: tuple[PackedGraphs, np.ndarray]) -> None:
    graphs, y = toy
    a, _ = _train(graphs, y, seed=1)
    b, _ = _train(graphs, y, seed=2)
    assert not torch.equal(a["embedding.weight"], b["embedding.weight"])


def test_init_state_warm_starts_with_warm_start_epochs(
    toy: tuple[PackedGraphs, np.ndarray],
) -> None:
    graphs, y = toy
    cold, cold_report = _train(graphs, y, max_epochs=15, learning_rate=1e-2, val_fraction=0.0)
    config = TrainingConfig(
        max_epochs=15, batch_size=6, learning_rate=1e-2, val_fraction=0.0, warm_start_epochs=2
    )
    _, warm_report = train_member(
        graphs,
        y,
        model_config=TINY_CGCNN,
        graph_config=TINY_GRAPH,
        training=config,
        target_names=("t0",),
        seed=0,
        init_state=cold,
    )
    assert warm_report.epochs == 2
    # Starting from trained weights, the first epoch is far better than a fresh start.
    assert warm_report.history["train_loss"][0] < 0.5 * cold_report.history["train_loss"][0]


def test_per_target_losses_weigh_each_target_on_its_own_labels() -> None:
    import torch

    from materials_ai.surrogates.training import _masked_loss

    pred = torch.tensor([[1.0, 0.0], [0.0, 0.0], [0.0, 3.0]])
    target = torch.tensor([[0.0, float("nan")], [0.0, 0.0], [float("nan"), 1.0]])
    # column 0: errors 1, 0 -> L1 0.5; column 1: errors 0, 2 -> MSE 2.0
    assert float(_masked_loss(pred, target, ("l1", "mse"))) == pytest.approx((0.5 + 2.0) / 2)
    assert float(_masked_loss(pred, target, "l1")) == pytest.approx((1 + 0 + 0 + 2) / 4)
    with pytest.raises(SurrogateError, match="2 targets"):
        _masked_loss(pred, target, ("l1",))


def test_an_ensemble_refuses_a_loss_list_of_the_wrong_length() -> None:
    from materials_ai.surrogates.ensemble import GraphEnsembleSurrogate
    from materials_ai.testing.models import tiny_ensemble_config

    config = tiny_ensemble_config(loss=("l1", "mse"))
    with pytest.raises(SurrogateError, match="one per target"):
        GraphEnsembleSurrogate(config, ["band_gap"])
    GraphEnsembleSurrogate(config, ["formation_energy", "band_gap"])  # accepted


def test_device_auto_falls_back_to_the_cpu_and_cuda_without_a_gpu_is_refused() -> None:
    import torch

    from materials_ai.surrogates.training import resolve_device

    assert resolve_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    if not torch.cuda.is_available():
        with pytest.raises(SurrogateError, match="no CUDA device"):
            resolve_device("cuda")
