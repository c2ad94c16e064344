"""The command line: thin commands, clear errors, fast help."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from materials_ai.cli.app import app
from materials_ai.testing.campaigns import tiny_workflow
from materials_ai.testing.datasets import TinyDataset, write_tiny_dataset

runner = CliRunner()


@pytest.fixture
def tiny_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TinyDataset:
    tiny = write_tiny_dataset(tmp_path / "tiny", n_rows=30)
    monkeypatch.setenv("MATERIALS_AI_CARDS_DIR", str(tiny.cards_dir))
    monkeypatch.setenv("MATERIALS_AI_DATA_DIR", str(tiny.data_dir))
    monkeypatch.setenv("MATERIALS_AI_CACHE_DIR", str(tmp_path / "cache"))
    return tiny


def _write_workflow(path: Path, **overrides: object) -> Path:
    data = tiny_workflow(**overrides).model_dump(mode="json")
    path.write_text(yaml.safe_dump(data))
    return path


def test_help_does_not_import_heavy_libraries() -> None:
    code = (
        "import sys\n"
        "from materials_ai.cli.app import app\n"
        "heavy = [m for m in ('torch', 'torch_geometric', 'botorch', 'mlflow', 'dask',"
        " 'pymatgen.core') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_campaign_run_status_export_resume(tiny_registry: TinyDataset, tmp_path: Path) -> None:
    workflow = _write_workflow(tmp_path / "wf.yaml", **{"loop.iterations": 1})
    run_dir = tmp_path / "run"
    result = runner.invoke(
        app, ["campaign", "run", str(workflow), "--run-dir", str(run_dir), "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    assert "targets found" in result.output
    assert "oracle calls:    15" in result.output
    assert str(run_dir / "final" / "ranked_candidates.csv") in result.output.replace("\n", "")

    status = runner.invoke(app, ["campaign", "status", str(run_dir)])
    assert status.exit_code == 0, status.output
    assert "done" in status.output and "tiny_campaign" in status.output

    out = tmp_path / "bundle"
    export = runner.invoke(
        app, ["campaign", "export", str(run_dir), "--out", str(out), "--top", "2"]
    )
    assert export.exit_code == 0, export.output
    assert len((out / "candidates.csv").read_text().strip().splitlines()) == 3  # header + 2
    assert len(list((out / "cifs").glob("*.cif"))) == 2

    again = runner.invoke(app, ["campaign", "resume", str(run_dir), "--no-progress"])
    assert again.exit_code == 0, again.output
    assert "finished" in again.output


def test_run_with_iteration_override(tiny_registry: TinyDataset, tmp_path: Path) -> None:
    workflow = _write_workflow(tmp_path / "wf.yaml")
    result = runner.invoke(
        app,
        [
            "campaign",
            "run",
            str(workflow),
            "--run-dir",
            str(tmp_path / "r"),
            "--iterations",
            "0",
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "oracle calls:    10" in result.output


def test_benchmark_replay_first_seed(tiny_registry: TinyDataset, tmp_path: Path) -> None:
    workflow = _write_workflow(tmp_path / "wf.yaml")
    out = tmp_path / "bench"
    args = ["benchmark", "replay", str(workflow), "--strategies", "random", "--budget", "12"]
    result = runner.invoke(app, [*args, "--seeds", "2", "--first-seed", "3", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (out / "random").glob("seed_*")) == ["seed_3", "seed_4"]
    negative = runner.invoke(app, [*args, "--first-seed", "-1", "--out", str(out)])
    assert negative.exit_code == 2


def test_unknown_workflow_key_is_a_clear_error(tmp_path: Path) -> None:
    data = tiny_workflow().model_dump(mode="json")
    data["acquisition"]["stratgy"] = "qucb"
    path = tmp_path / "wf.yaml"
    path.write_text(yaml.safe_dump(data))
    result = runner.invoke(app, ["campaign", "run", str(path), "--run-dir", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert "acquisition.stratgy" in result.output
    assert not (tmp_path / "r").exists()


def test_status_of_a_folder_without_campaign(tmp_path: Path) -> None:
    result = runner.invoke(app, ["campaign", "status", str(tmp_path)])
    assert result.exit_code == 2
    assert "not a campaign run directory" in result.output


def test_datasets_list_and_verify(tiny_registry: TinyDataset) -> None:
    listed = runner.invoke(app, ["datasets", "list"])
    assert listed.exit_code == 0 and "tiny" in listed.output
    verified = runner.invoke(app, ["datasets", "verify"])
    assert verified.exit_code == 0, verified.output
    tiny_registry.path.write_bytes(tiny_registry.path.read_bytes() + b"\n")
    broken = runner.invoke(app, ["datasets", "verify", "tiny"])
    assert broken.exit_code == 1
    assert "sha256" in broken.output
