"""Lab results ingested while a campaign runs (issue 20): queued in the inbox, merged by the
running campaign at its next stage boundary, never lost and never added twice."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from materials_ai.campaign.loop import Campaign
from materials_ai.campaign.rundir import RunDirectory
from materials_ai.campaign.state import Stage, load_state
from materials_ai.cli.app import app
from materials_ai.lab.ingest import IngestReport, ingest_results
from materials_ai.testing.owner import run_owner
from materials_ai.testing.runs import TinyRun, tiny_env, tiny_run

runner = CliRunner()
HEADER = "id,measured_band_gap_eV,phase_pure,synthesized,notes\n"


@pytest.fixture
def run(tmp_path: Path) -> TinyRun:
    return tiny_run(tmp_path / "copy")


def _validated(run: TinyRun) -> list[str]:
    return [
        r.observation["candidate_id"]
        for r in load_state(run.run_dir).observations
        if r.observation["ok"]
    ]


def _experiments(run_dir: Path) -> list[dict]:
    return [
        r.observation
        for r in load_state(run_dir).observations
        if r.observation["fidelity"] == "experiment"
    ]


def _results(tmp_path: Path, name: str, rows: str) -> Path:
    path = tmp_path / name
    path.write_text(HEADER + rows)
    return path


def test_ingest_during_a_run_is_in_the_final_state(run: TinyRun, tmp_path: Path) -> None:
    """`ingest` from inside the running campaign (its stage hook, while it owns the run)."""
    a, b = _validated(run)[:2]
    results = _results(tmp_path, "results.csv", f"{a},6.1,yes,yes,UV-vis\n{b},,,no,\n")
    reports: list[IngestReport] = []

    def ingest_once(iteration: int, stage: Stage) -> None:
        if not reports:  # after COLLECT of round 3, i.e. during TRAIN's turn
            reports.append(ingest_results(run.run_dir, results))
            assert _experiments(run.run_dir) == []  # queued, not yet in the state

    with tiny_env(run):
        summary = Campaign.resume(run.run_dir).run(after_stage=ingest_once)
    (report,) = reports
    assert report.queued_for is not None and "pid" in report.queued_for
    assert summary.done
    added = _experiments(run.run_dir)
    assert [(o["candidate_id"], o["ok"]) for o in added] == [(a, True), (b, False)]
    assert added[0]["values"] == {"band_gap": 6.1}
    # Merged at the boundary after the stage that was running: the next stage trains on it.
    state = load_state(run.run_dir)
    merged = [r for r in state.observations if r.observation["fidelity"] == "experiment"]
    assert {r.iteration for r in merged} == {3}
    # Ingesting the same file again adds nothing.
    with tiny_env(run):
        again = ingest_results(run.run_dir, results)
    assert again.observations == [] and len(_experiments(run.run_dir)) == 2


def test_ingest_while_another_process_runs_then_its_next_stage_merges(
    run: TinyRun, tmp_path: Path
) -> None:
    a, b, c = _validated(run)[:3]
    first = _results(tmp_path, "first.csv", f"{a},6.1,yes,yes,\n")
    second = _results(tmp_path, "second.csv", f"{a},6.1,yes,yes,\n{b},5.5,yes,yes,\n")
    with run_owner(run.run_dir) as owner, tiny_env(run):
        result = runner.invoke(app, ["campaign", "ingest", str(run.run_dir), str(first)])
        assert result.exit_code == 0, result.output
        assert "queued 1 experiment observation(s)" in result.output
        assert f"pid {owner.pid}" in result.output and "next stage boundary" in result.output
        # A second file repeating the queued row queues only the new one.
        report = ingest_results(run.run_dir, second)
        assert [o.candidate_id for o in report.observations] == [b]
        assert [s.row for s in report.skipped] == [2]
        status = runner.invoke(app, ["campaign", "status", str(run.run_dir)])
        assert "2 lab observation(s) queued" in status.output
        assert _experiments(run.run_dir) == []
        owner.kill()  # the owner dies before merging: the rows wait in the inbox

    third = _results(tmp_path, "third.csv", f"{c},4.0,yes,yes,\n")
    with tiny_env(run):
        Campaign.resume(run.run_dir).run(max_stages=1)  # the next owner merges first
        assert [o["candidate_id"] for o in _experiments(run.run_dir)] == [a, b]
        assert ingest_results(run.run_dir, third).queued_for is None  # nobody runs: added
        Campaign.resume(run.run_dir).run()
    ids = [o["candidate_id"] for o in _experiments(run.run_dir)]
    assert ids == [a, b, c]  # each acknowledged row once
    assert len({o["provenance"]["ingest_id"] for o in _experiments(run.run_dir)}) == 3


def test_rows_queued_as_the_owner_stops_are_merged_by_its_release(
    run: TinyRun, tmp_path: Path
) -> None:
    a = _validated(run)[0]
    results = _results(tmp_path, "results.csv", f"{a},6.1,yes,yes,\n")
    with run_owner(run.run_dir) as owner, tiny_env(run):
        assert ingest_results(run.run_dir, results).queued_for is not None
        owner.release()  # a clean stop: the owner merges what is queued
        assert [o["candidate_id"] for o in _experiments(run.run_dir)] == [a]
    assert RunDirectory(run.run_dir).queued_observations(load_state(run.run_dir)) == []


def test_dry_run_queues_nothing(run: TinyRun, tmp_path: Path) -> None:
    a = _validated(run)[0]
    results = _results(tmp_path, "results.csv", f"{a},6.1,yes,yes,\n")
    with run_owner(run.run_dir), tiny_env(run):
        report = ingest_results(run.run_dir, results, dry_run=True)
    assert len(report.observations) == 1 and report.queued_for is None
    inbox = run.run_dir / "inbox.jsonl"
    assert not inbox.exists() or inbox.read_text() == ""
    assert _experiments(run.run_dir) == []
