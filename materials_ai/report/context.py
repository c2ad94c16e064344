"""What the report shows, read from a run directory (:class:`ReportContext`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from materials_ai.campaign.config import WorkflowConfig
from materials_ai.campaign.state import CampaignState
from materials_ai.data.records import Molecule

if TYPE_CHECKING:
    import pandas as pd
    from pymatgen.core import Structure

__all__ = ["ReportContext"]


@dataclass
class ReportContext:
    """Everything the report shows, read from a run directory.

    Attributes:
        run_dir: The run directory.
        config: Its workflow.
        state: Its state.
        ranked: Latest ranked list (one row per candidate, best first).
        ranked_source: Folder of that list.
        ranked_metadata: The list's JSON metadata (``campaign``, ``iteration`` …).
        target_units: Target name -> unit.
        pool_size: Candidates in the pool (None when unknown).
        structures: Candidate id -> structure, for the candidates whose structure is at hand.
    """

    run_dir: Path
    config: WorkflowConfig
    state: CampaignState
    ranked: pd.DataFrame
    ranked_source: Path
    ranked_metadata: Mapping[str, Any]
    target_units: Mapping[str, str]
    pool_size: int | None
    structures: Mapping[str, Structure | Molecule] = field(default_factory=dict)
