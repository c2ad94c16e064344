"""Command-line conventions: `campaign status --json`, rounds counted as asked, `--lang`
choices, exit codes, and `satisfies_all` left empty for unvalidated candidates."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from materials_ai.cli.app import app
from materials_ai.cli.common import EXIT_FAILED, EXIT_USAGE, LANGUAGES, exit_code_for
from materials_ai.errors import (
    CampaignError,
    ConfigError,
    DataError,
    MaterialsAIError,
    OracleError,
    SurrogateError,
)
from materials_ai.testing.campaigns import tiny_workflow
from materials_ai.testing.datasets import write_tiny_dataset

runner = CliRunner()


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A tiny campaign run with ``--iterations 2`` (seed, 2 rounds, final step)."""
    root = tmp_path_factory.mktemp("status")
    tiny = write_tiny_dataset(root / "tiny", n_rows=30)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MATERIALS_AI_CARDS_DIR", str(tiny.cards_dir))
        mp.setenv("MATERIALS_AI_DATA_DIR", str(tiny.data_dir))
        mp.setenv("MATERIALS_AI_CACHE_DIR", str(root / "cache"))
        workflow = root / "wf.yaml"
        data = tiny_workflow(**{"loop.iterations": 5}).model_dump(mode="json")
        workflow.write_text(yaml.safe_dump(data))
        run_dir = root / "run"
        args = ["campaign", "run", str(workflow), "--run-dir", str(run_dir), "--iterations", "2"]
        result = runner.invoke(app, [*args, "--no-progress"])
        assert result.exit_code == 0, result.output
        assert "finished, 2 of 2 selection rounds" in result.output
        yield run_dir


def test_status_json_counts_rounds_as_asked(finished_run: Path) -> None:
    result = runner.invoke(app, ["campaign", "status", "--json", str(finished_run)])
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)  # strict JSON: NaN would not parse as null
    assert info["name"] == "tiny_campaign"
    assert (info["rounds_done"], info["rounds_total"]) == (2, 2)
    assert (info["phase"], info["round"], info["done"]) == ("done", None, True)
    assert info["iteration"] == 3  # internal: seed 0, rounds 1-2, final step 3
    assert [row["round"] for row in info["metrics"]] == [1, 2, "final"]
    assert info["oracle_calls"] == 20 and info["owner"] is None
    assert info["targets"] == ["band_gap", "formation_energy"]
    help_text = " ".join(runner.invoke(app, ["campaign", "status", "--help"]).output.split())
    for key in ("rounds_done", "rounds_total", "phase", "metrics", "owner", "queued"):
        assert key in help_text, key


def test_status_text_never_reports_the_final_step_as_an_iteration(finished_run: Path) -> None:
    result = runner.invoke(app, ["campaign", "status", str(finished_run)])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "2 of 2 selection rounds done; finished" in text
    assert "iteration 3" not in text
    assert "final" in text  # the final row of the table


def test_unvalidated_candidates_have_empty_satisfies_all(
    finished_run: Path, tmp_path: Path
) -> None:
    with (finished_run / "final" / "ranked_candidates.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    unvalidated = [r for r in rows if r["status"] != "validated"]
    assert unvalidated and all(r["satisfies_all"] == "" for r in unvalidated)
    assert all(r["satisfies_all"] in ("True", "False") for r in rows if r not in unvalidated)
    payload = json.loads((finished_run / "final" / "ranked_candidates.json").read_text())
    assert all(
        c["satisfies_all"] is None for c in payload["candidates"] if c["status"] != "validated"
    )

    out = tmp_path / "bundle"
    result = runner.invoke(
        app, ["campaign", "export", str(finished_run), "--out", str(out), "--top", "20"]
    )
    assert result.exit_code == 0, result.output
    bundle = json.loads((out / "candidates.json").read_text())
    assert bundle["campaign"]["selection_rounds"] == 2
    assert bundle["campaign"]["selection_rounds_total"] == 2
    candidates = bundle["candidates"]
    assert any(c["status"] != "validated" for c in candidates)
    for c in candidates:
        if c["status"] != "validated":
            assert c["satisfies_all"] is None, c
        else:
            assert isinstance(c["satisfies_all"], bool), c
    with (out / "candidates.csv").open() as fh:
        lab_rows = list(csv.DictReader(fh))
    assert all(r["satisfies_all"] == "" for r in lab_rows if r["status"] != "validated")


def test_lang_lists_its_choices_and_refuses_others(finished_run: Path) -> None:
    help_text = runner.invoke(app, ["campaign", "export", "--help"]).output
    assert "[en|es]" in help_text
    bad = runner.invoke(app, ["campaign", "export", str(finished_run), "--lang", "fr"])
    assert bad.exit_code == EXIT_USAGE
    text = " ".join(bad.output.split())
    assert "unsupported language 'fr'" in text and "en, es" in text
    assert runner.invoke(app, ["report", "--help"]).output.count("[en|es]") == 1


def test_languages_match_the_documents() -> None:
    from materials_ai.report.i18n import LANGUAGES as DOCUMENT_LANGUAGES

    assert tuple(DOCUMENT_LANGUAGES) == LANGUAGES


def test_exit_codes_are_documented_and_distinct(tmp_path: Path) -> None:
    help_text = " ".join(runner.invoke(app, ["--help"]).output.split())
    assert "Exit codes: 0 success; 1 the work failed" in help_text
    assert "2 usage error or unusable input" in help_text and "130" in help_text
    # Bad input: an unknown option, a missing workflow file.
    assert runner.invoke(app, ["campaign", "status", "--jsn", "x"]).exit_code == EXIT_USAGE
    missing = runner.invoke(
        app, ["campaign", "run", str(tmp_path / "none.yaml"), "--run-dir", str(tmp_path / "r")]
    )
    assert missing.exit_code == EXIT_USAGE, missing.output
    for error in (ConfigError("x"), DataError("x"), CampaignError("x"), ValueError("x")):
        assert exit_code_for(error) == EXIT_USAGE
    # Failed work: training, validation, anything else the platform raises.
    for error in (SurrogateError("x"), OracleError("x"), MaterialsAIError("x")):
        assert exit_code_for(error) == EXIT_FAILED
