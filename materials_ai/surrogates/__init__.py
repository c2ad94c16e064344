"""Surrogate models: graph networks, deep ensembles, training and persistence.

``GraphEnsembleSurrogate`` and ``FitReport`` are imported on first access, so importing
this package does not import torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from materials_ai.surrogates.base import Surrogate
from materials_ai.surrogates.config import CGCNNConfig, EnsembleConfig, TrainingConfig
from materials_ai.surrogates.prediction import Prediction

if TYPE_CHECKING:
    from materials_ai.surrogates.ensemble import FitReport, GraphEnsembleSurrogate

__all__ = [
    "CGCNNConfig",
    "EnsembleConfig",
    "FitReport",
    "GraphEnsembleSurrogate",
    "Prediction",
    "Surrogate",
    "TrainingConfig",
]


def __getattr__(name: str) -> Any:
    if name in ("GraphEnsembleSurrogate", "FitReport"):
        from materials_ai.surrogates import ensemble

        return getattr(ensemble, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
