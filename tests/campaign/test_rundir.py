"""The run directory (issue 20): one owner (lock), state backups, the journal, stale outputs.

Lock contention uses two real processes: a child that owns the run (``run_owner``) and this
test process (or the CLI in it) trying to run, resume, export or repair.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from materials_ai.campaign.loop import Campaign
from materials_ai.campaign.repair import rebuild_from_journal
from materials_ai.campaign.rundir import RunDirectory
from materials_ai.campaign.state import load_state
from materials_ai.cli.app import app
from materials_ai.errors import (
    CampaignError,
    CorruptStateError,
    RunDirectoryLockedError,
    StaleOutputsError,
)
from materials_ai.lab.export import export_campaign
from materials_ai.report.html import write_report
from materials_ai.testing.campaigns import tiny_workflow
from materials_ai.testing.datasets import TinyDataset
from materials_ai.testing.owner import run_owner
from materials_ai.testing.runs import TinyRun, tiny_env, tiny_run

runner = CliRunner()


@pytest.fixture
def run(tmp_path: Path) -> TinyRun:
    """A paused 3-round tiny campaign (seed and rounds 1-2 done)."""
    return tiny_run(tmp_path / "copy")


def _picks(run_dir: Path) -> list[list[str]]:
    return [s.candidate_ids for s in load_state(run_dir).selections]


# -- one owner -----------------------------------------------------------------------------


def test_second_process_is_refused_with_the_owner_named(run: TinyRun) -> None:
    before = (run.run_dir / "state.json").read_bytes()
    with run_owner(run.run_dir) as owner, tiny_env(run):
        with pytest.raises(RunDirectoryLockedError) as info:
            Campaign.resume(run.run_dir).run()
        message = str(info.value)
        assert f"pid {owner.pid} on " in message and "since 20" in message
        assert "test owner" in message
        assert info.value.owner["pid"] == owner.pid

        result = runner.invoke(app, ["campaign", "resume", str(run.run_dir), "--no-progress"])
        assert result.exit_code == 2, result.output
        assert f"is in use by pid {owner.pid}" in result.output

        # Read-only commands do not wait for the owner, and say who runs it.
        status = runner.invoke(app, ["campaign", "status", str(run.run_dir)])
        assert status.exit_code == 0, status.output
        assert f"running: pid {owner.pid}" in status.output
        assert write_report(run.run_dir).exists()

        # An export into the run directory is refused; one elsewhere only reads the run.
        result = runner.invoke(app, ["campaign", "export", str(run.run_dir), "--top", "2"])
        assert result.exit_code == 2, result.output
        assert f"pid {owner.pid}" in result.output and "--out" in result.output
        assert not (run.run_dir / "export").exists()
        with pytest.raises(RunDirectoryLockedError):
            export_campaign(run.run_dir, top=2, wait_s=0.5)
        outside = export_campaign(run.run_dir, run.run_dir.parent / "bundle", top=2)
        assert outside["csv"].exists()
    # The refused attempts changed nothing.
    assert (run.run_dir / "state.json").read_bytes() == before


def test_stale_lock_of_a_killed_owner_is_taken_over(
    run: TinyRun, caplog: pytest.LogCaptureFixture
) -> None:
    with run_owner(run.run_dir) as owner:
        owner.kill()  # kill -9: the kernel drops the lock, the lock file keeps its content
        assert json.loads((run.run_dir / "campaign.lock").read_text())["pid"] == owner.pid
        assert RunDirectory(run.run_dir).owner() is None  # status: not running
        with caplog.at_level(logging.WARNING), tiny_env(run):
            summary = Campaign.resume(run.run_dir).run()
    assert summary.done
    assert f"stale lock left by pid {owner.pid}" in caplog.text
    # A clean release leaves an empty lock file.
    assert (run.run_dir / "campaign.lock").read_text() == ""


def test_lock_waits_for_a_release(run: TinyRun) -> None:
    rundir = RunDirectory(run.run_dir)
    with run_owner(run.run_dir) as owner:
        with (
            pytest.raises(RunDirectoryLockedError, match="is in use by pid"),
            rundir.lock("test", wait_s=0.3),
        ):
            pass
        owner.release()
        with rundir.lock("test", wait_s=5) as me:
            assert me.pid != owner.pid


# -- state backups and the journal ---------------------------------------------------------


def test_every_write_keeps_the_previous_state(run: TinyRun) -> None:
    rundir = RunDirectory(run.run_dir)
    state = rundir.read_state()
    previous = rundir.state_file.read_text()
    state.oracle_calls += 1
    with rundir.lock("test"):
        rundir.write_state(state)
    assert rundir.backup_file.read_text() == previous
    assert load_state(run.run_dir).oracle_calls == state.oracle_calls


def test_journal_replays_to_the_state(run: TinyRun) -> None:
    rundir = RunDirectory(run.run_dir)
    assert rebuild_from_journal(rundir).model_dump_json() == (rundir.read_state().model_dump_json())
    with tiny_env(run):
        Campaign.resume(run.run_dir).run()
    assert rebuild_from_journal(rundir).model_dump_json() == (rundir.read_state().model_dump_json())
    lines = [json.loads(x) for x in rundir.journal_file.read_text().splitlines()]
    observations = [x for x in lines if x["kind"] == "observation"]
    assert len(observations) == len(rundir.read_state().observations)  # one line each
    assert lines[0]["kind"] == "snapshot"


def test_journal_ignores_a_write_cut_short(run: TinyRun) -> None:
    rundir = RunDirectory(run.run_dir)
    good = rundir.read_state().model_dump_json()
    with open(rundir.journal_file, "a") as fh:  # a crash in the middle of a group
        fh.write('{"kind":"observation","seq":0,"record":{"iteration":9,"observation":{}}}\n')
        fh.write('{"kind":"checkpo')
    assert rebuild_from_journal(rundir).model_dump_json() == good


@pytest.mark.parametrize("source", ["journal", "backup"])
def test_corrupt_state_names_the_repair_and_repair_restores(
    run: TinyRun, tmp_path: Path, source: str
) -> None:
    reference = tiny_run(tmp_path / "reference", stop_after_stages=None)
    state_file = run.run_dir / "state.json"
    good = load_state(run.run_dir)
    state_file.write_text('{"format_version": 1, "iteration": ')  # cut short

    with pytest.raises(CorruptStateError) as info:
        load_state(run.run_dir)
    message = str(info.value)
    assert f"materials-ai campaign repair {run.run_dir} --from-journal" in message
    assert f"materials-ai campaign repair {run.run_dir} --from-backup" in message
    for command in (["status"], ["resume", "--no-progress"], ["export"]):
        result = runner.invoke(app, ["campaign", command[0], str(run.run_dir), *command[1:]])
        assert result.exit_code == 2, result.output
        assert "--from-journal" in result.output

    result = runner.invoke(app, ["campaign", "repair", str(run.run_dir), f"--from-{source}"])
    assert result.exit_code == 0, result.output
    restored = load_state(run.run_dir)
    assert list(run.run_dir.glob("state.json.damaged-*"))
    if source == "journal":  # the state of the last completed stage
        assert restored.model_dump_json() == good.model_dump_json()
    else:  # one stage earlier: that stage is redone on resume
        assert restored.iteration == 2 and restored.completed[-1].value == "submit"
    with tiny_env(run):
        Campaign.resume(run.run_dir).run()
    assert _picks(run.run_dir) == _picks(reference.run_dir)
    assert load_state(run.run_dir).done


def test_missing_state_with_a_journal_gives_the_repair(run: TinyRun) -> None:
    (run.run_dir / "state.json").unlink()
    result = runner.invoke(app, ["campaign", "status", str(run.run_dir)])
    assert result.exit_code == 2
    assert "state.json is missing" in result.output and "--from-journal" in result.output
    result = runner.invoke(app, ["campaign", "repair", str(run.run_dir)])
    assert result.exit_code == 2 and "exactly one of" in result.output
    assert (
        runner.invoke(app, ["campaign", "repair", str(run.run_dir), "--from-journal"]).exit_code
        == 0
    )
    assert load_state(run.run_dir).iteration == 3


def test_repair_is_refused_while_a_campaign_runs(run: TinyRun) -> None:
    with run_owner(run.run_dir) as owner:
        result = runner.invoke(app, ["campaign", "repair", str(run.run_dir), "--from-backup"])
    assert result.exit_code == 2 and f"pid {owner.pid}" in result.output


# -- outputs of another campaign -----------------------------------------------------------


def test_new_campaign_refuses_old_outputs(tiny_registry: TinyDataset, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    Campaign.start(tiny_workflow(**{"loop.iterations": 1}), run_dir).run()
    old_final = (run_dir / "final" / "ranked_candidates.json").read_text()
    (run_dir / "state.json").unlink()  # the user removes the state only

    with pytest.raises(StaleOutputsError) as info:
        Campaign.start(tiny_workflow(**{"seed": 11}), run_dir)
    message = str(info.value)
    assert "final/" in message and "iterations/" in message
    assert "--clear-old-outputs" in message and "--from-journal" in message
    assert not (run_dir / "state.json").exists()

    workflow = tmp_path / "wf.yaml"
    workflow.write_text(yaml.safe_dump(tiny_workflow(seed=11).model_dump(mode="json")))
    args = ["campaign", "run", str(workflow), "--run-dir", str(run_dir), "--no-progress"]
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "outputs of another campaign" in result.output
    result = runner.invoke(app, [*args, "--clear-old-outputs"])
    assert result.exit_code == 0, result.output
    state = load_state(run_dir)
    payload = json.loads((run_dir / "final" / "ranked_candidates.json").read_text())
    assert payload != json.loads(old_final)
    assert payload["metadata"]["campaign_id"] == state.campaign_id is not None


def test_export_and_report_refuse_a_foreign_ranked_list(run: TinyRun, tmp_path: Path) -> None:
    other = tiny_run(tmp_path / "other", stop_after_stages=None)  # another campaign
    shutil.copytree(other.run_dir / "final", run.run_dir / "final")
    with tiny_env(run):
        with pytest.raises(StaleOutputsError, match="belongs to another campaign"):
            export_campaign(run.run_dir, tmp_path / "bundle", top=2)
        result = runner.invoke(app, ["report", str(run.run_dir)])
    assert result.exit_code == 2 and "belongs to another campaign" in result.output
    assert not (tmp_path / "bundle").exists()


def test_a_ranked_list_cut_short_is_passed_over(run: TinyRun) -> None:
    """A kill inside RECORD (or a read while it writes) leaves a folder without its JSON."""
    partial = run.run_dir / "iterations" / "iter_003"
    partial.mkdir()
    shutil.copy(run.run_dir / "iterations" / "iter_002" / "ranked_candidates.csv", partial)
    assert RunDirectory(run.run_dir).latest_output_dir() == partial.with_name("iter_002")
    _, payload, folder = RunDirectory(run.run_dir).latest_ranked_list()
    assert folder.name == "iter_002" and payload["metadata"]["iteration"] == 2


def test_start_refuses_a_directory_that_holds_a_campaign(
    tiny_registry: TinyDataset, tmp_path: Path
) -> None:
    Campaign.start(tiny_workflow(), tmp_path / "run")
    with pytest.raises(CampaignError, match="already holds a campaign"):
        Campaign.start(tiny_workflow(), tmp_path / "run", clear_old_outputs=True)
