"""``conditional_on``: a target's GP learns from the rows whose indicator target is 1."""

from __future__ import annotations

import numpy as np
import pytest

from materials_ai.errors import ConfigError, SurrogateError
from materials_ai.surrogates.config import GPConfig
from materials_ai.surrogates.gp import GPSurrogate

TARGETS = ("gap", "semiconductor")


def _config(**kwargs: object) -> GPConfig:
    return GPConfig.model_validate(
        {"kind": "gp", "conditional_on": {"gap": "semiconductor"}, **kwargs}
    )


def _data(n_semiconductors: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Zero-inflated gaps: 40 metals (gap 0) and ``n_semiconductors`` with gap 2 + x."""
    n = 40 + n_semiconductors
    x = rng.uniform(size=(n, 2))
    semiconductor = np.r_[np.zeros(40), np.ones(n_semiconductors)]
    gap = np.where(semiconductor == 1, 2.0 + x[:, 0], 0.0)
    return x, np.c_[gap, semiconductor]


def test_conditional_target_learns_from_semiconductors_only() -> None:
    x, y = _data(12, np.random.default_rng(0))
    surrogate = GPSurrogate(_config(), TARGETS)
    report = surrogate.fit_descriptors(x, y)
    by_target = {m.target: m.n_train for m in report.members}
    assert by_target == {"gap": 12, "semiconductor": 52}
    # Given it is a semiconductor, the gap is 2-3 eV everywhere (metals pull nothing to 0).
    mean, _ = surrogate.predict_marginals(x[:40])
    assert np.all(mean[:, 0] > 1.5)
    # Without the option the metals' zeros dominate the same rows.
    plain = GPSurrogate(GPConfig.model_validate({"kind": "gp"}), TARGETS)
    plain.fit_descriptors(x, y)
    assert np.median(plain.predict_marginals(x[:40])[0][:, 0]) < 0.5


def test_too_few_indicator_rows_fall_back_to_every_row() -> None:
    x, y = _data(2, np.random.default_rng(1))
    report = GPSurrogate(_config(min_conditional_labels=3), TARGETS).fit_descriptors(x, y)
    assert {m.target: m.n_train for m in report.members}["gap"] == 42


@pytest.mark.parametrize("mapping", [{"gap": "metal"}, {"band": "semiconductor"}, {"gap": "gap"}])
def test_unknown_or_self_conditions_are_named(mapping: dict[str, str]) -> None:
    config = GPConfig.model_validate({"kind": "gp", "conditional_on": mapping})
    with pytest.raises(ConfigError, match="conditional_on"):
        GPSurrogate(config, TARGETS)


def test_a_target_with_one_label_gets_a_prior_around_it() -> None:
    # A computed campaign's seed batch may yield one DFT gap (the other job failed).
    rng = np.random.default_rng(2)
    x = rng.uniform(size=(8, 3))
    y = np.c_[rng.normal(size=8), np.r_[2.5, np.full(7, np.nan)]]
    surrogate = GPSurrogate(GPConfig.model_validate({"kind": "gp"}), ("a", "b"))
    surrogate.fit_descriptors(x, y)
    mean, std = surrogate.predict_marginals(rng.uniform(size=(4, 3)))
    np.testing.assert_allclose(mean[:, 1], 2.5, atol=1e-6)
    assert np.all(std[:, 1] > 0.1)
    with pytest.raises(SurrogateError, match="no observation yet"):
        surrogate.fit_descriptors(x, np.c_[y[:, 0], np.full(8, np.nan)])
