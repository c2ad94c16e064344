"""The retired generative engine: what replaced it, and its old run directories.

Workflows of ``kind: generative`` generated a pool, ranked it once with pretrained models
and never validated a candidate. A generated pool is now a pool source of the one
:class:`~materials_ai.campaign.loop.Campaign` (``pool: {kind: generated}``, see
:mod:`materials_ai.campaign.pool_sources`): its candidates are scored, acquired, validated
by the workflow's oracle (e.g. a CHGNet relaxation, then GPAW on the best few) and learned
from, batch after batch (``workflows/novel_perovskite_photocatalysts.yaml``). A pretrained
model may still pre-screen the generated pool (``pool.prescreen``,
:mod:`materials_ai.campaign.pool_prescreen`).

This module only recognises the old workflow files and run directories, so that the CLI
can say what to do with them instead of failing on an unknown key.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from materials_ai.errors import CampaignError, ConfigError

__all__ = [
    "STATE_FILE",
    "GenerativeRun",
    "is_generative_workflow",
    "old_generative_run",
    "retired_workflow_error",
]

#: The state file of a run directory of the retired engine.
STATE_FILE = "generative_state.json"

#: The stages the retired engine ran, in order (its run is finished after ``rank``).
_STAGES = ("generate", "relax", "score", "rank")

_MIGRATION = (
    "write it as a campaign over a generated pool instead: move `pool:` to "
    "`pool: {kind: generated, generate: <old pool>}`, turn `models:` into "
    "`pool.prescreen: {model: ..., criteria: ...}` or drop them, and add `targets`, "
    "`surrogate`, `loop` and an `oracle: {kind: chain, ...}` "
    "(see workflows/novel_perovskite_photocatalysts.yaml)"
)


def is_generative_workflow(data: Any) -> bool:
    """Whether a parsed workflow mapping is of the retired ``kind: generative``."""
    return isinstance(data, dict) and data.get("kind") == "generative"


def retired_workflow_error(path: str | Path) -> ConfigError:
    """The error for a ``kind: generative`` workflow file at ``path``."""
    return ConfigError(
        f"{path}: workflow kind 'generative' was retired (it ranked generated candidates "
        f"once and validated none); {_MIGRATION}"
    )


class GenerativeRun:
    """A run directory of the retired engine (read only).

    Args:
        run_dir: The run directory (holds ``generative_state.json``).
    """

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)

    @property
    def done(self) -> bool:
        """Whether its last stage (``rank``) completed."""
        try:
            state = json.loads((self.run_dir / STATE_FILE).read_text())
        except (OSError, ValueError):
            return False
        return isinstance(state, dict) and "rank" in state.get("completed", [])

    @property
    def outputs(self) -> dict[str, Path]:
        """Its outputs that exist: ranked list (CSV, JSON), top CIFs, screen report."""
        final = self.run_dir / "final"
        paths = {
            "ranked list": final / "ranked_candidates.csv",
            "ranked list (JSON)": final / "ranked_candidates.json",
            "top-candidate CIFs": final / "cifs",
            "screen report": self.run_dir / "screen_report.json",
        }
        return {name: path for name, path in paths.items() if path.exists()}

    def resume_error(self) -> CampaignError:
        """Why it cannot be resumed (it is not finished and its engine is gone)."""
        return CampaignError(
            f"{self.run_dir} holds an unfinished run of the retired generative engine "
            f"(stages {', '.join(_STAGES)}), which cannot be resumed; start the workflow "
            f"again as a campaign: {_MIGRATION}"
        )


def old_generative_run(run_dir: str | Path) -> GenerativeRun | None:
    """The retired engine's run in ``run_dir``, or None if it holds none."""
    path = Path(run_dir)
    return GenerativeRun(path) if (path / STATE_FILE).is_file() else None
