"""The campaign's candidate pool: which dataset rows it holds, and their chemical systems."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from materials_ai.errors import CampaignError

if TYPE_CHECKING:
    from materials_ai.campaign.config import WorkflowConfig
    from materials_ai.data.records import Candidate, MaterialsDataset

logger = logging.getLogger(__name__)


def load_pool_dataset(
    config: WorkflowConfig, run_dir: Path, *, reads_labels: bool, progress: bool = False
) -> MaterialsDataset:
    """Load the pool's rows: all, the first ``limit``, or a seeded sample of them.

    A sample is drawn over row numbers before loading, so only the sampled rows are
    parsed. Rows that cannot be used are written to ``run_dir/skipped_rows.csv``.

    Args:
        config: The workflow (its ``data`` section and targets).
        run_dir: The run directory.
        reads_labels: Read the workflow targets' labels (a replayed oracle answers from
            them); false uses the table as a pool only.
        progress: Show loading progress.
    """
    from materials_ai.data.loaders import load_dataset
    from materials_ai.data.registry import get_card

    data = config.data
    if data is None:
        raise CampaignError(f"pool kind {config.pool.kind!r} has no dataset to load")
    n_rows = get_card(data.dataset).rows
    if data.limit is not None:
        n_rows = min(n_rows, data.limit)
    rows: list[int] | None = None
    if data.sample_size is not None and data.sample_size < n_rows:
        rng = np.random.default_rng(data.sample_seed)
        rows = np.sort(rng.choice(n_rows, size=data.sample_size, replace=False)).tolist()
    dataset = load_dataset(
        data.dataset,
        targets=config.targets if reads_labels else [],
        data_dir=data.data_dir,
        limit=data.limit if rows is None else None,
        rows=rows,
        progress=progress,
    )
    if dataset.skipped:
        import pandas as pd

        pd.DataFrame([dataclasses.asdict(s) for s in dataset.skipped]).to_csv(
            run_dir / "skipped_rows.csv", index=False
        )
        logger.warning(
            "%d rows of %s skipped (see %s)",
            len(dataset.skipped),
            data.dataset,
            run_dir / "skipped_rows.csv",
        )
    return dataset


def screened_pool(
    dataset: MaterialsDataset, config: WorkflowConfig, run_dir: Path
) -> MaterialsDataset:
    """Apply the workflow's pool screens (rules applied before any label) and check size.

    Raises:
        CampaignError: If too few rows are left for the seed labels.
    """
    if (
        config.data is not None and config.data.screens
    ):  # e.g. pfas_free: rules applied before any label
        from materials_ai.campaign.pool_screens import apply_pool_screens

        dataset = apply_pool_screens(dataset, config.data.screens, run_dir)
    if len(dataset) < config.loop.initial_labels + 1:
        raise CampaignError(
            f"pool {dataset.name!r} has {len(dataset)} usable rows; the campaign needs "
            f"more than initial_labels = {config.loop.initial_labels}"
        )
    return dataset


def chemsys_codes(pool: Sequence[Candidate]) -> np.ndarray:
    """An integer code per candidate, equal for candidates of the same chemical system."""
    chemsys = ["-".join(sorted(str(e) for e in c.structure.composition.elements)) for c in pool]
    return np.unique(chemsys, return_inverse=True)[1].astype(np.int64)
