"""A scalar desirability from several property criteria.

A screen such as "gap in 1.4–3.1 eV, heat of formation ≤ 0.2 eV/atom, CBM above the
H+/H2 level" is a set of criteria, each a window on one target. For a vector of target
values ``y``, criterion ``j`` has the signed margin::

    m_j(y) = min(y_j - lo_j, hi_j - y_j) / scale_j      (one-sided: the bound that exists)

positive inside the window and negative outside, in units of the criterion's ``scale``.
The desirability is the worst margin, ``d(y) = min_j m_j(y)``: ``d >= 0`` exactly when
every criterion holds, and its size says how far the worst criterion is from its edge.
Applied to ensemble members or posterior draws, ``d`` is an MC objective for BoTorch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from materials_ai.errors import ConfigError

if TYPE_CHECKING:
    import torch


class Criterion(BaseModel):
    """One window on one target.

    Attributes:
        target: Target name (as on the dataset card).
        min: Lower bound (target unit), or None.
        max: Upper bound (target unit), or None.
        scale: Size of a unit margin (target unit); e.g. 0.5 eV for a gap window.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    target: str
    min: float | None = None
    max: float | None = None
    scale: float = Field(1.0, gt=0.0)

    @model_validator(mode="after")
    def _check_bounds(self) -> Criterion:
        if self.min is None and self.max is None:
            raise ValueError(f"criterion on {self.target!r} needs min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"criterion on {self.target!r}: min {self.min} > max {self.max}")
        return self


class ObjectiveConfig(BaseModel):
    """All criteria a material must meet.

    Attributes:
        criteria: At least one criterion.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    criteria: list[Criterion] = Field(min_length=1)


class DesirabilityObjective:
    """Evaluate criteria on arrays whose last axis holds the `t` targets.

    Args:
        config: The criteria.
        target_names: Column order of the arrays it will receive.

    Raises:
        ConfigError: If a criterion names a target not in ``target_names``.
    """

    def __init__(self, config: ObjectiveConfig, target_names: Sequence[str]) -> None:
        self.config = config
        self.target_names = tuple(target_names)
        unknown = [c.target for c in config.criteria if c.target not in self.target_names]
        if unknown:
            raise ConfigError(
                f"objective criterion target(s) {unknown} are not among the targets "
                f"{list(self.target_names)}"
            )
        self.columns = [self.target_names.index(c.target) for c in config.criteria]
        inf = float("inf")
        self.lower = np.array([c.min if c.min is not None else -inf for c in config.criteria])
        self.upper = np.array([c.max if c.max is not None else inf for c in config.criteria])
        self.scale = np.array([c.scale for c in config.criteria])

    def margins(self, values: np.ndarray) -> np.ndarray:
        """Scaled signed margins, `... x c` for `... x t` values (positive = inside)."""
        y = np.asarray(values, dtype=np.float64)[..., self.columns]
        return np.minimum(y - self.lower, self.upper - y) / self.scale

    def desirability(self, values: np.ndarray) -> np.ndarray:
        """Worst margin, `...` for `... x t` values; ``>= 0`` iff every criterion holds."""
        return self.margins(values).min(axis=-1)

    def satisfied(self, values: np.ndarray) -> np.ndarray:
        """Boolean `...`: every criterion holds (NaN values never satisfy)."""
        d = self.desirability(values)
        return np.isfinite(d) & (d >= 0)

    def torch_desirability(self, samples: torch.Tensor) -> torch.Tensor:
        """Torch version of :meth:`desirability` for BoTorch MC objectives.

        Args:
            samples: `sample_shape x batch x q x t` posterior samples.

        Returns:
            `sample_shape x batch x q` desirabilities.
        """
        import torch

        y = samples[..., self.columns]
        lower = torch.as_tensor(self.lower, dtype=y.dtype, device=y.device)
        upper = torch.as_tensor(self.upper, dtype=y.dtype, device=y.device)
        scale = torch.as_tensor(self.scale, dtype=y.dtype, device=y.device)
        return (torch.minimum(y - lower, upper - y) / scale).amin(dim=-1)
