"""A campaign's MLflow run: started once, reattached on resume, with the pool as dataset input."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from materials_ai.campaign.config import WorkflowConfig
    from materials_ai.campaign.rundir import RunDirectory
    from materials_ai.campaign.state import CampaignState
    from materials_ai.tracking import DatasetInfo, Tracker


class Campaign(Protocol):
    """What these functions read of the running campaign (``campaign/loop.py``)."""

    config: WorkflowConfig
    state: CampaignState
    run_dir: Path
    rundir: RunDirectory
    target_units: dict[str, str]
    pool: list[Any]

    @property
    def tracker(self) -> Tracker: ...


def start_tracking(campaign: Campaign) -> None:
    """Start (or reattach to) the campaign's tracked run; log parameters and the pool once.

    The run id is stored in the state, so a resumed campaign logs into the same run.
    """
    from materials_ai.tracking import config_params

    config, state = campaign.config, campaign.state
    tracker = campaign.tracker
    if state.tracking_run_id is not None:
        tracker.start_run(config.name, run_id=state.tracking_run_id)
        return
    note = {"mlflow.note.content": config.description} if config.description else {}
    tracker.start_run(
        config.name,
        tags={
            "workflow": config.name,
            "dataset": config.pool_label,
            # Relative to the project folder that holds the shared store (it can move).
            "run_dir": campaign.run_dir.resolve().name,
            **note,
        },
    )
    tracker.log_params(config_params(config.model_dump(mode="json")))
    tracker.log_dataset(pool_dataset(campaign))
    state.tracking_run_id = tracker.run_id
    campaign.rundir.write_state(state)


def pool_dataset(campaign: Campaign) -> DatasetInfo:
    """The pool as a tracked dataset input: its card's data file, or the kept pool file."""
    from materials_ai.campaign.pool_sources import POOL_DIR, POOL_FILE
    from materials_ai.data.registry import dataset_path, get_card, sha256_file
    from materials_ai.errors import DataError
    from materials_ai.tracking import DatasetInfo

    config = campaign.config
    units = {t: campaign.target_units.get(t, "") for t in config.targets}
    n_rows = len(campaign.pool)
    if config.data is not None:
        card = get_card(config.data.dataset)
        try:
            path = str(dataset_path(card, config.data.data_dir, must_exist=False))
        except DataError:  # no data folder configured: the card's relative file name
            path = card.file
        tags = {"title": card.title, "level_of_theory": card.level_of_theory}
        return DatasetInfo(card.name, path, card.sha256, n_rows, units, tags=tags)
    kept = campaign.run_dir / POOL_DIR / POOL_FILE
    digest = sha256_file(kept) if kept.is_file() else ""
    return DatasetInfo(config.pool_label, str(kept), digest, n_rows, units)
