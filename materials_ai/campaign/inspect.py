"""Read-only views of a run directory: status and export."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from materials_ai.campaign.config import load_workflow
from materials_ai.campaign.state import load_state
from materials_ai.errors import CampaignError


def campaign_status(run_dir: str | Path) -> dict[str, Any]:
    """Summarise a campaign without loading data or models.

    Returns:
        Keys ``name, iteration, completed, done, oracle_calls, pending, targets, metrics``.
    """
    run_dir = Path(run_dir)
    state = load_state(run_dir)
    config = load_workflow(run_dir / "workflow.yaml")
    return {
        "name": config.name,
        "iteration": state.iteration,
        "completed": ", ".join(s.value for s in state.completed),
        "done": state.done,
        "oracle_calls": state.oracle_calls,
        "pending": len(state.pending),
        "targets": list(config.targets),
        "metrics": state.metrics,
    }


def latest_output_dir(run_dir: Path) -> Path:
    """The folder of the most recent ranked list (``final/`` once finished)."""
    final = run_dir / "final"
    if (final / "ranked_candidates.csv").exists():
        return final
    iterations = sorted((run_dir / "iterations").glob("iter_*"))
    if not iterations:
        raise CampaignError(f"{run_dir} has no ranked list yet (no iteration was recorded)")
    return iterations[-1]


def export_campaign(
    run_dir: str | Path, out_dir: str | Path | None = None, top: int = 50
) -> dict[str, Path]:
    """Copy the latest ranked list (top ``top`` rows) and its CIFs into ``out_dir``.

    Returns:
        Paths written: ``csv``, ``json``, ``cifs``.
    """
    import pandas as pd

    run_dir = Path(run_dir)
    load_state(run_dir)  # fails clearly on a non-campaign folder
    source = latest_output_dir(run_dir)
    out = Path(out_dir) if out_dir is not None else run_dir / "export"
    out.mkdir(parents=True, exist_ok=True)
    table = pd.read_csv(source / "ranked_candidates.csv").head(top)
    table.to_csv(out / "candidates.csv", index=False)
    payload = json.loads((source / "ranked_candidates.json").read_text())
    payload["candidates"] = payload["candidates"][:top]
    (out / "candidates.json").write_text(json.dumps(payload, indent=1))
    cif_out = out / "cifs"
    cif_out.mkdir(exist_ok=True)
    keep = {str(r) for r in table["rank"]}
    for cif in sorted((source / "cifs").glob("*.cif")):
        if str(int(cif.name.split("_", 1)[0])) in keep:
            shutil.copy2(cif, cif_out / cif.name)
    return {"csv": out / "candidates.csv", "json": out / "candidates.json", "cifs": cif_out}
