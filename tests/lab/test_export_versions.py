"""Exports never destroy a lab's work (issue 20): a folder holding a bundle is kept and the
new bundle goes into a version subfolder; a filled results template is never overwritten."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from materials_ai.cli.app import app
from materials_ai.errors import CampaignError
from materials_ai.lab.export import bundle_folder, export_campaign, write_bundle
from materials_ai.testing.runs import TinyRun, tiny_env, tiny_run

runner = CliRunner()


@pytest.fixture
def run(tmp_path: Path) -> TinyRun:
    return tiny_run(tmp_path / "copy")


def _fill(template: Path) -> str:
    lines = template.read_text().splitlines()
    header, first = lines[0], lines[1].split(",")
    first[1:] = ["6.1", "yes", "yes", "Tauc plot"][: len(first) - 1]
    filled = "\n".join([header, ",".join(first), *lines[2:]]) + "\n"
    template.write_text(filled)
    return filled


def test_re_export_keeps_the_filled_template_and_the_cifs(run: TinyRun, tmp_path: Path) -> None:
    out = tmp_path / "to_lab"
    with tiny_env(run):
        first = export_campaign(run.run_dir, out, top=3)
    assert first["folder"] == out
    filled = _fill(first["template"])
    cifs = sorted(p.name for p in (out / "cifs").iterdir())
    assert len(cifs) == 3

    with tiny_env(run):
        second = export_campaign(run.run_dir, out, top=2)
        third = export_campaign(run.run_dir, out, top=2)
    assert second["folder"] == out / "v2" and third["folder"] == out / "v3"
    assert second["template"] == out / "v2" / "results_template.csv"
    assert first["template"].read_text() == filled  # the lab's work is untouched
    assert sorted(p.name for p in (out / "cifs").iterdir()) == cifs
    assert len(list((out / "v2" / "cifs").glob("*.cif"))) == 2


def test_export_command_says_where_the_new_bundle_is(run: TinyRun, tmp_path: Path) -> None:
    with tiny_env(run):
        first = runner.invoke(app, ["campaign", "export", str(run.run_dir), "--top", "2"])
        again = runner.invoke(app, ["campaign", "export", str(run.run_dir), "--top", "2"])
    assert first.exit_code == 0 and again.exit_code == 0, again.output
    assert "holds an earlier bundle (kept as it is)" in again.output.replace("\n", "")
    assert (run.run_dir / "export" / "v2" / "candidates.csv").exists()


def test_export_out_a_file_is_a_clear_error(run: TinyRun, tmp_path: Path) -> None:
    target = tmp_path / "bundle.csv"
    target.write_text("not a folder\n")
    with tiny_env(run):
        result = runner.invoke(app, ["campaign", "export", str(run.run_dir), "--out", str(target)])
    assert result.exit_code == 2
    assert "is a file; give a folder" in result.output
    assert target.read_text() == "not a folder\n"
    with pytest.raises(CampaignError, match="is a file"):
        bundle_folder(target)


def test_write_bundle_refuses_a_folder_holding_a_bundle(run: TinyRun, tmp_path: Path) -> None:
    with tiny_env(run):
        write_bundle(run.run_dir, tmp_path / "b", top=2)
        with pytest.raises(CampaignError, match="already holds a bundle"):
            write_bundle(run.run_dir, tmp_path / "b", top=2)
