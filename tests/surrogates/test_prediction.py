"""The Prediction record: shape checks and statistics over members."""

from __future__ import annotations

import numpy as np
import pytest

from materials_ai.surrogates import Prediction

NAMES = ("band_gap", "e_form")


def _prediction(n: int = 3, s: int | None = 4) -> Prediction:
    rng = np.random.default_rng(0)
    samples = None if s is None else rng.normal(size=(s, n, 2))
    return Prediction(np.zeros((n, 2)), np.ones((n, 2)), samples, NAMES)


def test_valid_shapes_are_accepted() -> None:
    p = _prediction()
    assert len(p) == 3
    assert _prediction(s=None).samples is None


@pytest.mark.parametrize(
    ("mean", "std", "samples", "names", "message"),
    [
        (np.zeros(3), np.zeros(3), None, ("a",), "mean and std must both be n x t"),
        (np.zeros((3, 2)), np.zeros((3, 1)), None, NAMES, "mean and std must both be n x t"),
        (np.zeros((3, 2)), np.zeros((2, 2)), None, NAMES, "mean and std must both be n x t"),
        (np.zeros((3, 2)), np.zeros((3, 2)), None, ("a",), "2 target columns but 1 names"),
        (np.zeros((3, 2)), np.zeros((3, 2)), np.zeros((4, 3, 1)), NAMES, "samples must be s x n"),
        (np.zeros((3, 2)), np.zeros((3, 2)), np.zeros((4, 2, 2)), NAMES, "samples must be s x n"),
        (np.zeros((3, 2)), np.zeros((3, 2)), np.zeros((3, 2)), NAMES, "samples must be s x n"),
    ],
)
def test_shape_errors(
    mean: np.ndarray,
    std: np.ndarray,
    samples: np.ndarray | None,
    names: tuple[str, ...],
    message: str,
) -> None:
    with pytest.raises(ValueError, match=message):
        Prediction(mean, std, samples, names)


def test_from_samples_mean_and_unbiased_std() -> None:
    # 3 members, 2 candidates, 2 targets.
    samples = np.array(
        [
            [[1.0, 10.0], [0.0, -1.0]],
            [[3.0, 10.0], [2.0, -1.0]],
            [[8.0, 10.0], [4.0, -4.0]],
        ]
    )
    p = Prediction.from_samples(samples, NAMES)
    np.testing.assert_allclose(p.mean, [[4.0, 10.0], [2.0, -2.0]])
    # ddof=1: var(1, 3, 8) = (9 + 1 + 16) / 2 = 13; var(0, 2, 4) = 8 / 2 = 4; var(-1,-1,-4) = 3
    np.testing.assert_allclose(p.std, [[np.sqrt(13.0), 0.0], [2.0, np.sqrt(3.0)]])
    assert p.samples is samples
    assert p.target_names == NAMES


def test_from_samples_with_one_member_has_zero_std() -> None:
    samples = np.array([[[1.5, 2.5]]])
    p = Prediction.from_samples(samples, NAMES)
    np.testing.assert_array_equal(p.mean, [[1.5, 2.5]])
    np.testing.assert_array_equal(p.std, [[0.0, 0.0]])


def test_column_and_select() -> None:
    samples = np.arange(24, dtype=np.float64).reshape(4, 3, 2)
    p = Prediction.from_samples(samples, NAMES)
    mean, std = p.column("e_form")
    np.testing.assert_array_equal(mean, samples[:, :, 1].mean(axis=0))
    np.testing.assert_allclose(std, samples[:, :, 1].std(axis=0, ddof=1))
    with pytest.raises(ValueError):
        p.column("volume")
    sub = p.select(np.array([2, 0]))
    assert len(sub) == 2
    np.testing.assert_array_equal(sub.mean, p.mean[[2, 0]])
    np.testing.assert_array_equal(sub.std, p.std[[2, 0]])
    assert sub.samples is not None
    np.testing.assert_array_equal(sub.samples, samples[:, [2, 0]])
    assert _prediction(s=None).select(np.array([1])).samples is None


def test_prediction_is_frozen() -> None:
    p = _prediction()
    with pytest.raises(AttributeError):
        p.mean = np.ones((3, 2))  # type: ignore[misc]
