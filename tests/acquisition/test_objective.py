"""Desirability objectives: closed-form margins, satisfaction, validation, torch parity."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from materials_ai.acquisition import Criterion, DesirabilityObjective, ObjectiveConfig
from materials_ai.errors import ConfigError

NAMES = ("e_form", "band_gap")  # column order of the arrays below


def _objective(*criteria: Criterion, names: tuple[str, ...] = NAMES) -> DesirabilityObjective:
    return DesirabilityObjective(ObjectiveConfig(criteria=list(criteria)), names)


GAP_WINDOW = Criterion(target="band_gap", min=1.4, max=3.1, scale=0.5)
STABLE = Criterion(target="e_form", max=0.2, scale=0.1)
GAP_ABOVE = Criterion(target="band_gap", min=1.0, scale=0.5)


def _rows(*pairs: tuple[float, float]) -> np.ndarray:
    """(e_form, band_gap) rows."""
    return np.array(pairs, dtype=np.float64)


# -- closed-form margins ------------------------------------------------------------------


def test_one_sided_lower_bound_margins() -> None:
    obj = _objective(GAP_ABOVE)
    values = _rows((0.0, 2.0), (0.0, 1.0), (0.0, 0.5), (9.0, 100.0))
    np.testing.assert_allclose(obj.margins(values)[:, 0], [2.0, 0.0, -1.0, 198.0])
    np.testing.assert_allclose(obj.desirability(values), [2.0, 0.0, -1.0, 198.0])


def test_one_sided_upper_bound_margins() -> None:
    obj = _objective(STABLE)
    values = _rows((0.0, 1.0), (0.2, 1.0), (0.5, 1.0), (-1.0, 1.0))
    np.testing.assert_allclose(obj.desirability(values), [2.0, 0.0, -3.0, 12.0])


def test_two_sided_window_margins_use_the_nearer_edge() -> None:
    obj = _objective(GAP_WINDOW)
    values = _rows((0.0, 2.0), (0.0, 3.0), (0.0, 1.0), (0.0, 4.0), (0.0, 1.4), (0.0, 3.1))
    # min(y - 1.4, 3.1 - y) / 0.5
    np.testing.assert_allclose(obj.desirability(values), [1.2, 0.2, -0.8, -1.8, 0.0, 0.0])


def test_desirability_is_the_worst_margin_over_criteria() -> None:
    obj = _objective(GAP_WINDOW, STABLE)
    values = _rows((0.0, 2.0), (0.15, 2.0), (0.3, 3.0))
    margins = obj.margins(values)
    np.testing.assert_allclose(margins, [[1.2, 2.0], [1.2, 0.5], [0.2, -1.0]])
    np.testing.assert_allclose(obj.desirability(values), [1.2, 0.5, -1.0])
    np.testing.assert_array_equal(obj.satisfied(values), [True, True, False])


def test_columns_follow_the_target_names_not_the_criteria_order() -> None:
    obj = _objective(STABLE, GAP_ABOVE, names=("volume", "band_gap", "e_form"))
    assert obj.columns == [2, 1]
    values = np.array([[123.0, 2.0, 0.0]])  # volume, gap, e_form
    np.testing.assert_allclose(obj.margins(values), [[2.0, 2.0]])


def test_desirability_keeps_leading_batch_dimensions() -> None:
    obj = _objective(GAP_WINDOW, STABLE)
    values = np.zeros((4, 3, 2))
    values[..., 1] = 2.0
    assert obj.margins(values).shape == (4, 3, 2)
    assert obj.desirability(values).shape == (4, 3)
    np.testing.assert_allclose(obj.desirability(values), 1.2)


# -- satisfaction -------------------------------------------------------------------------


def test_satisfied_is_true_exactly_inside_the_window() -> None:
    obj = _objective(GAP_WINDOW)
    gaps = np.array([1.3999, 1.4, 1.4001, 2.2, 3.0999, 3.1, 3.1001])
    values = np.column_stack([np.zeros_like(gaps), gaps])
    np.testing.assert_array_equal(
        obj.satisfied(values), [False, True, True, True, True, True, False]
    )


def test_nan_never_satisfies() -> None:
    obj = _objective(GAP_WINDOW, STABLE)
    values = _rows((np.nan, 2.0), (0.0, np.nan), (np.nan, np.nan), (0.0, 2.0))
    np.testing.assert_array_equal(obj.satisfied(values), [False, False, False, True])
    assert np.isnan(obj.desirability(values)[:3]).all()
    # Even a one-sided criterion, whose other edge is infinite, rejects NaN.
    assert not _objective(GAP_ABOVE).satisfied(_rows((0.0, np.nan)))[0]


# -- torch parity -------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_torch_desirability_equals_numpy(dtype: torch.dtype) -> None:
    obj = _objective(GAP_WINDOW, STABLE, GAP_ABOVE)
    rng = np.random.default_rng(0)
    samples = rng.normal(loc=[0.1, 2.0], scale=[0.3, 1.5], size=(5, 4, 3, 2))
    expected = obj.desirability(samples)
    got = obj.torch_desirability(torch.as_tensor(samples, dtype=dtype))
    assert got.shape == (5, 4, 3)
    assert got.dtype == dtype
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    np.testing.assert_allclose(got.numpy(), expected, rtol=tol, atol=tol)
    assert (expected > 0).any() and (expected < 0).any()  # both sides exercised


def test_torch_desirability_propagates_nan() -> None:
    obj = _objective(GAP_WINDOW)
    out = obj.torch_desirability(torch.tensor([[0.0, float("nan")], [0.0, 2.0]]))
    assert torch.isnan(out[0]) and out[1].item() == pytest.approx(1.2)


# -- validation ---------------------------------------------------------------------------


def test_criterion_without_bounds_raises() -> None:
    with pytest.raises(ValidationError, match="'band_gap' needs min, max or both"):
        Criterion(target="band_gap")


def test_criterion_with_min_above_max_raises() -> None:
    with pytest.raises(ValidationError, match=r"min 3\.0 > max 1\.0"):
        Criterion(target="band_gap", min=3.0, max=1.0)
    assert Criterion(target="band_gap", min=1.0, max=1.0).min == 1.0  # a point is allowed


def test_criterion_rejects_bad_scale_and_unknown_keys() -> None:
    with pytest.raises(ValidationError):
        Criterion(target="band_gap", min=1.0, scale=0.0)
    with pytest.raises(ValidationError, match="maximum"):
        Criterion(target="band_gap", min=1.0, maximum=2.0)  # type: ignore[call-arg]


def test_objective_needs_at_least_one_criterion() -> None:
    with pytest.raises(ValidationError):
        ObjectiveConfig(criteria=[])


def test_unknown_target_raises_config_error() -> None:
    config = ObjectiveConfig(criteria=[GAP_WINDOW, Criterion(target="cbm", min=-4.4)])
    with pytest.raises(ConfigError, match=r"\['cbm'\] are not among the targets"):
        DesirabilityObjective(config, NAMES)
