"""Screens applied to a campaign's pool before the loop starts (``data.screens``).

A workflow may remove candidates from its pool by rule, before any label is seen, e.g.
``data: {dataset: qm9, screens: [pfas_free]}`` keeps only molecules that are not PFAS
under the OECD (2021) definition. Screens follow the candidate-screen protocol of
:mod:`materials_ai.candidates.screens` (``apply(candidates) -> ScreenOutcome``) and are named in its
registry :data:`~materials_ai.candidates.screening.SCREENS`; removed
rows are written with their reasons to ``screened_out.csv`` in the run directory, and the
replay oracle only knows the rows that remain.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from materials_ai.data.records import MaterialsDataset

logger = logging.getLogger(__name__)

SCREENED_FILE = "screened_out.csv"


def make_pool_screen(name: str) -> Any:
    """Build the screen registered as ``name`` (:data:`materials_ai.candidates.screening.SCREENS`).

    Raises:
        ConfigError: For an unknown name (the message lists the known ones).
    """
    from materials_ai.candidates.screening import make_screen

    return make_screen(name)


def apply_pool_screens(
    dataset: MaterialsDataset, names: Sequence[str], run_dir: str | Path | None = None
) -> MaterialsDataset:
    """Return ``dataset`` without the records the named screens remove.

    Args:
        dataset: The loaded pool (labels stay with the records; screens see candidates).
        names: Screen names, applied in order.
        run_dir: Where to write ``screened_out.csv`` (id, screen, code, detail).
    """
    if not names:
        return dataset
    from materials_ai.candidates.screens import run_screens

    candidates = [r.as_candidate(source=dataset.name) for r in dataset.records]
    # Pool screens read only ``id`` and ``structure``, which plain candidates (crystals or
    # molecules) have; the generator's screens need a GeneratedCandidate.
    pool: list[Any] = candidates
    survivors, report = run_screens(pool, [make_pool_screen(n) for n in names])
    keep = {c.id for c in survivors}
    if run_dir is not None:
        import pandas as pd

        rows = [
            {"id": cid, "screen": r.screen, "code": r.code, "detail": r.detail}
            for cid, r in report.removed.items()
        ]
        pd.DataFrame(rows, columns=["id", "screen", "code", "detail"]).to_csv(
            Path(run_dir) / SCREENED_FILE, index=False
        )
    for step in report.steps:
        logger.info("pool screen %s removed %d of %d", step.name, step.n_removed, step.n_in)
    return dataset.subset([i for i, r in enumerate(dataset.records) if r.id in keep])
