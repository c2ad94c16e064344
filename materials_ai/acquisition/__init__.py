"""Acquisition: objectives over predicted targets and BoTorch batch selection over a pool.

BoTorch is imported by :mod:`materials_ai.acquisition.model` and
:mod:`materials_ai.acquisition.select`, not here, to keep this package cheap to import.
"""

from __future__ import annotations

from materials_ai.acquisition.config import AcquisitionConfig
from materials_ai.acquisition.objective import Criterion, DesirabilityObjective, ObjectiveConfig

__all__ = ["AcquisitionConfig", "Criterion", "DesirabilityObjective", "ObjectiveConfig"]
