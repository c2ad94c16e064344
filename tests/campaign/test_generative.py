"""The retired generative engine: clear errors for its workflows, old run directories read.

Generated pools now run through the one Campaign (tests/campaign/test_pool_sources.py and
tests/campaign/test_generated_campaign.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from materials_ai.campaign.generative import (
    STATE_FILE,
    is_generative_workflow,
    old_generative_run,
)
from materials_ai.cli.app import app
from materials_ai.settings import PROJECT_ROOT

OLD_WORKFLOW = {
    "kind": "generative",
    "name": "old_generative",
    "pool": {"generators": [{"kind": "prototype", "prototypes": ["perovskite_cubic"]}]},
    "models": ["models/mp2018_cgcnn_small"],
    "objective": {"criteria": [{"target": "band_gap", "min": 1.0}]},
}


def _old_run(run_dir: Path, completed: list[str]) -> Path:
    """A run directory as the retired engine left it after ``completed`` stages."""
    run_dir.mkdir(parents=True)
    (run_dir / "workflow.yaml").write_text(yaml.safe_dump(OLD_WORKFLOW))
    (run_dir / STATE_FILE).write_text(json.dumps({"completed": completed, "seconds": {}}))
    if "rank" in completed:
        (run_dir / "final" / "cifs").mkdir(parents=True)
        (run_dir / "final" / "ranked_candidates.csv").write_text("id\nx\n")
    return run_dir


def test_no_shipped_workflow_is_of_the_retired_kind() -> None:
    for path in sorted((PROJECT_ROOT / "workflows").glob("*.yaml")):
        assert not is_generative_workflow(yaml.safe_load(path.read_text())), path


def test_cli_run_of_a_generative_workflow_says_how_to_migrate(tmp_path: Path) -> None:
    workflow = tmp_path / "old.yaml"
    workflow.write_text(yaml.safe_dump(OLD_WORKFLOW))
    result = CliRunner().invoke(
        app, ["campaign", "run", str(workflow), "--run-dir", str(tmp_path / "run")]
    )
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "'generative' was retired" in text and "kind: generated" in text
    assert "novel_perovskite_photocatalysts.yaml" in text
    assert not (tmp_path / "run").exists()


def test_resume_of_a_finished_old_run_lists_its_outputs(tmp_path: Path) -> None:
    run_dir = _old_run(tmp_path / "run", ["generate", "relax", "score", "rank"])
    old = old_generative_run(run_dir)
    assert old is not None and old.done
    assert set(old.outputs) == {"ranked list", "top-candidate CIFs"}
    result = CliRunner().invoke(app, ["campaign", "resume", str(run_dir)])
    assert result.exit_code == 0, result.output
    assert "retired generative engine" in result.output
    assert "ranked_candidates.csv" in result.output


def test_resume_of_an_unfinished_old_run_is_a_clear_error(tmp_path: Path) -> None:
    run_dir = _old_run(tmp_path / "run", ["generate"])
    assert old_generative_run(tmp_path) is None
    result = CliRunner().invoke(app, ["campaign", "resume", str(run_dir)])
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "unfinished run of the retired generative engine" in text
    assert "cannot be resumed" in text
    assert not (run_dir / "state.json").exists()
