"""Stand-ins for a campaign's parts: a fixed surrogate and a table oracle.

Tests of the campaign loop inject them (``Campaign.start(config, run_dir,
surrogate=FixedSurrogate(...), oracle=TableOracle(...))``) instead of monkeypatching the
real classes: both honour the protocols the loop declares
(:class:`~materials_ai.surrogates.base.PoolSurrogate`,
:class:`~materials_ai.oracles.base.Oracle`), run in milliseconds, and record what the loop
asked of them.

* :class:`FixedSurrogate` predicts the same values whatever it was fitted on: a table of
  candidate id -> `t` means (a default for the others), with `s` members spread evenly
  around each mean. Every fit is recorded (the ids it was given).
* :class:`TableOracle` answers from a table of candidate id -> target -> value, at once,
  and records every submission.

Importing this module registers the surrogate kind ``fixed`` (so that a saved
:class:`FixedSurrogate` loads back on resume).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from materials_ai.data.records import Candidate
from materials_ai.errors import SurrogateError
from materials_ai.oracles.base import Ticket
from materials_ai.oracles.replay import ReplayOracle
from materials_ai.surrogates.kinds import CONFIG_FILE, SURROGATES, SurrogateKind
from materials_ai.surrogates.prediction import Prediction

__all__ = ["FixedFitReport", "FixedSurrogate", "TableOracle", "TableRows"]


@dataclass(frozen=True)
class TableRows:
    """The featurized pool of a :class:`FixedSurrogate`: just the candidate ids."""

    ids: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.ids)

    def select(self, indices: np.ndarray) -> TableRows:
        """The rows ``indices``, in that order."""
        return TableRows(tuple(self.ids[int(i)] for i in indices))


@dataclass(frozen=True)
class _Member:
    epochs: int = 0


@dataclass(frozen=True)
class FixedFitReport:
    """What a :class:`FixedSurrogate` fit reports (no training happens).

    Attributes:
        n_train: Labelled candidates given.
        val_mae: Empty (nothing is held out).
        members: One entry per member, ``epochs`` 0.
        seconds: Wall time of the (empty) fit.
        warm_start: As asked.
    """

    n_train: int
    val_mae: dict[str, float]
    members: tuple[_Member, ...]
    seconds: float
    warm_start: bool


@dataclass
class FixedSurrogate:
    """A pool surrogate whose predictions never change.

    Args:
        target_names: The `t` targets.
        means: Candidate id -> `t` predicted means (target units).
        default: `t` means of every candidate not in ``means``.
        spread: Half-width of the members around the mean (target units); the members
            are ``mean + spread * linspace(-1, 1, n_members)``.
        n_members: Ensemble members `s` (>= 2 for a non-zero std).

    Attributes:
        fits: The ids of the labelled rows of each fit, in call order.
    """

    target_names: tuple[str, ...]
    means: Mapping[str, Sequence[float]] = field(default_factory=dict)
    default: Sequence[float] | None = None
    spread: float = 0.1
    n_members: int = 4
    fits: list[tuple[str, ...]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.target_names = tuple(self.target_names)
        if self.default is None:
            self.default = [0.0] * len(self.target_names)
        if len(self.default) != len(self.target_names) or any(
            len(v) != len(self.target_names) for v in self.means.values()
        ):
            raise SurrogateError(
                f"FixedSurrogate: every mean needs {len(self.target_names)} values "
                f"({', '.join(self.target_names)})"
            )

    def featurize_pool(
        self, candidates: Sequence[Candidate], *, source: str | None, executor: Any = None
    ) -> TableRows:
        """The candidates' ids (nothing to compute)."""
        return TableRows(tuple(c.id for c in candidates))

    def fit_pool(
        self,
        features: TableRows,
        y: np.ndarray,
        *,
        warm_start: bool = False,
        executor: Any = None,
        seed_offset: int = 0,
    ) -> FixedFitReport:
        """Record the fit (``features.ids``); the predictions do not change."""
        start = time.perf_counter()
        if len(features) != len(y):
            raise SurrogateError(f"FixedSurrogate: {len(features)} rows but {len(y)} labels")
        self.fits.append(tuple(features.ids))
        return FixedFitReport(
            n_train=len(features),
            val_mae={},
            members=tuple(_Member() for _ in range(self.n_members)),
            seconds=time.perf_counter() - start,
            warm_start=warm_start,
        )

    def predict_pool(self, features: TableRows, *, executor: Any = None) -> Prediction:
        """Members `s x n x t` around the fixed means."""
        default = list(self.default or [])
        mean = np.array([list(self.means.get(i, default)) for i in features.ids], np.float64)
        mean = mean.reshape(len(features), len(self.target_names))
        offsets = self.spread * np.linspace(-1.0, 1.0, self.n_members)
        samples = mean[None, :, :] + offsets[:, None, None]
        return Prediction.from_samples(samples, self.target_names)

    def save(self, path: str | Path) -> None:
        """Write ``surrogate.json`` (kind ``fixed``, the table)."""
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        data = {
            "kind": "fixed",
            "config": {"kind": "fixed"},
            "target_names": list(self.target_names),
            "means": {k: list(v) for k, v in self.means.items()},
            "default": list(self.default or []),
            "spread": self.spread,
            "n_members": self.n_members,
        }
        (folder / CONFIG_FILE).write_text(json.dumps(data, indent=1))

    @classmethod
    def load(cls, path: Path) -> FixedSurrogate:
        """Read a folder written by :meth:`save`."""
        data = json.loads((Path(path) / CONFIG_FILE).read_text())
        return cls(
            tuple(data["target_names"]),
            data["means"],
            data["default"],
            float(data["spread"]),
            int(data["n_members"]),
        )


def _no_config(config: Any, target_names: Sequence[str], target_units: Sequence[str]) -> Any:
    raise SurrogateError("a 'fixed' surrogate is injected by tests, not built from a workflow")


SURROGATES.add("fixed", SurrogateKind(create=_no_config, load=FixedSurrogate.load), replace=True)


class TableOracle(ReplayOracle):
    """An oracle that answers at once from a table, and records what it was asked.

    Args:
        values: Candidate id -> target name -> value (a candidate not in the table gets
            a failed observation).
        name: Oracle name (prefix of its ticket ids).

    Attributes:
        submissions: The candidate ids of each :meth:`submit` call, in call order.
    """

    def __init__(self, values: Mapping[str, Mapping[str, float]], *, name: str = "table"):
        super().__init__(values, name=name, provenance={"source": "table"})
        self.submissions: list[tuple[str, ...]] = []

    def submit(self, candidates: Sequence[Candidate]) -> list[Ticket]:
        """Accept candidates (recorded); every ticket is ready at once."""
        self.submissions.append(tuple(c.id for c in candidates))
        return super().submit(candidates)
