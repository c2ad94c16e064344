"""Campaigns: workflow configs, persisted state, the stage machine, and run inspection."""

from __future__ import annotations

from materials_ai.campaign.config import WorkflowConfig, load_workflow, parse_workflow
from materials_ai.campaign.loop import Campaign, CampaignSummary
from materials_ai.campaign.state import CampaignState, Stage

__all__ = [
    "Campaign",
    "CampaignState",
    "CampaignSummary",
    "Stage",
    "WorkflowConfig",
    "load_workflow",
    "parse_workflow",
]
