"""What a stage function may read and change of the campaign running it.

The stage functions (:mod:`materials_ai.campaign.stages`) do the work of each stage; the
stage machine (:class:`materials_ai.campaign.loop.Campaign`) decides which one runs next,
persists the state and passes itself in. This protocol is that hand-over, so that the
stages depend on a contract and not on the class that calls them (no import cycle).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import numpy as np

    from materials_ai.acquisition.objective import DesirabilityObjective
    from materials_ai.campaign.config import WorkflowConfig
    from materials_ai.campaign.oracle_plans import ValidationPlan
    from materials_ai.campaign.state import CampaignState
    from materials_ai.compute import Executor
    from materials_ai.data.records import Candidate
    from materials_ai.oracles.base import Oracle
    from materials_ai.surrogates.base import PoolFeatures, PoolSurrogate
    from materials_ai.tracking import Tracker


class CampaignContext(Protocol):
    """The campaign as its stages see it (attributes of a prepared campaign)."""

    config: WorkflowConfig
    run_dir: Path
    state: CampaignState
    progress: bool
    objective: DesirabilityObjective
    plan: ValidationPlan
    stage_seconds: dict[str, float]
    pool: list[Candidate]
    index_of: dict[str, int]
    chemsys_codes: np.ndarray | None
    features: PoolFeatures | None
    oracle: Oracle | None
    surrogate: PoolSurrogate[Any] | None
    target_units: dict[str, str]
    targets_total: int | None

    @property
    def executor(self) -> Executor:
        """The parallel executor (built on first use)."""
        ...

    @property
    def tracker(self) -> Tracker:
        """The experiment tracker (built on first use)."""
        ...

    @property
    def in_final_iteration(self) -> bool:
        """Whether the current iteration is the last one."""
        ...
