"""``campaign resume --iterations N`` (issue 20): stop after N selection rounds in total,
never rewrite the stored workflow.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from materials_ai.campaign.loop import Campaign
from materials_ai.campaign.rounds import rounds_chosen
from materials_ai.campaign.state import load_state
from materials_ai.cli.app import app
from materials_ai.errors import CampaignError
from materials_ai.testing.runs import TinyRun, tiny_env, tiny_run

runner = CliRunner()


def _resume(run: TinyRun, *args: str) -> str:
    with tiny_env(run):
        result = runner.invoke(
            app, ["campaign", "resume", str(run.run_dir), "--no-progress", *args]
        )
    assert result.exit_code == 0, result.output
    return result.output


def test_fewer_rounds_than_done_changes_nothing(tmp_path: Path) -> None:
    run = tiny_run(tmp_path / "copy", stop_after_stages=None)  # finished, 3 rounds
    workflow = (run.run_dir / "workflow.yaml").read_bytes()
    state = (run.run_dir / "state.json").read_bytes()
    output = _resume(run, "--iterations", "1")
    assert "already chosen 3 selection round(s) (finished)" in output
    assert "nothing to do" in output
    assert (run.run_dir / "workflow.yaml").read_bytes() == workflow
    assert (run.run_dir / "state.json").read_bytes() == state


def test_more_rounds_reopen_without_rewriting_the_workflow(tmp_path: Path) -> None:
    run = tiny_run(tmp_path / "copy", stop_after_stages=None)
    workflow = (run.run_dir / "workflow.yaml").read_bytes()
    output = _resume(run, "--iterations", "4")
    assert "finished" in output
    state = load_state(run.run_dir)
    assert state.done and state.iterations == 4 and rounds_chosen(state) == 4
    assert (run.run_dir / "workflow.yaml").read_bytes() == workflow
    # A later resume keeps the new total (and has nothing left to do).
    _resume(run)
    assert rounds_chosen(load_state(run.run_dir)) == 4
    status = runner.invoke(app, ["campaign", "status", str(run.run_dir)])
    assert "of 4 selection rounds" in status.output


def test_a_lower_total_finishes_a_paused_run_at_that_total(tmp_path: Path) -> None:
    run = tiny_run(tmp_path / "copy")  # paused after round 2 of 3
    workflow = (run.run_dir / "workflow.yaml").read_bytes()
    _resume(run, "--iterations", "2")
    state = load_state(run.run_dir)
    assert state.done and rounds_chosen(state) == 2
    assert state.final_iteration == 3
    assert (run.run_dir / "final" / "ranked_candidates.csv").exists()
    assert (run.run_dir / "workflow.yaml").read_bytes() == workflow


def test_same_total_is_a_plain_resume(tmp_path: Path) -> None:
    run = tiny_run(tmp_path / "copy")
    _resume(run, "--iterations", "3")
    state = load_state(run.run_dir)
    assert state.done and rounds_chosen(state) == 3 and state.iterations is None


def test_negative_total_is_a_clear_error(tmp_path: Path) -> None:
    run = tiny_run(tmp_path / "copy")
    with tiny_env(run):
        result = runner.invoke(app, ["campaign", "resume", str(run.run_dir), "--iterations", "-1"])
        with pytest.raises(CampaignError, match="0 or more"):
            Campaign.resume(run.run_dir, iterations=-2)
    assert result.exit_code == 2
    assert "--iterations must be 0 or more, got -1" in result.output
