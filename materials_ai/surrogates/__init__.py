"""Surrogate models: graph networks, deep ensembles, training and persistence."""

from __future__ import annotations

from materials_ai.surrogates.base import Surrogate
from materials_ai.surrogates.config import CGCNNConfig, EnsembleConfig, TrainingConfig
from materials_ai.surrogates.prediction import Prediction

__all__ = ["CGCNNConfig", "EnsembleConfig", "Prediction", "Surrogate", "TrainingConfig"]
