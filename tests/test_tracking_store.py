"""The default MLflow store of a project folder (issue 18): campaigns of one folder share
it, it survives moving the folder, and each run records its dataset, plain parameters and
metric names with units."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from materials_ai.campaign.loop import Campaign
from materials_ai.testing.campaigns import tiny_workflow
from materials_ai.testing.datasets import TinyDataset, write_tiny_dataset
from materials_ai.tracking import default_tracking_uri, local_artifact_path


@pytest.fixture
def tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TinyDataset:
    """Dataset ``tiny`` (30 rows) registered through the environment, outside the project."""
    data = write_tiny_dataset(tmp_path / "tiny", n_rows=30)
    monkeypatch.setenv("MATERIALS_AI_CARDS_DIR", str(data.cards_dir))
    monkeypatch.setenv("MATERIALS_AI_DATA_DIR", str(data.data_dir))
    monkeypatch.setenv("MATERIALS_AI_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return data


def _run(name: str, run_dir: Path, **overrides: object) -> None:
    config = tiny_workflow(
        **{
            "name": name,
            "description": f"{name}: tracking test",
            "tracking.backend": "mlflow",
            "tracking.experiment": "tiny-project",
            "loop.iterations": 1,
            **overrides,
        }
    )
    summary = Campaign.start(config, run_dir).run()
    assert summary.done
    assert summary.tracking_uri == default_tracking_uri(run_dir)


def test_two_campaigns_share_the_project_store_which_can_move(
    tiny: TinyDataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow

    project = tmp_path / "project"
    # Random selection: no model to train, so both campaigns take seconds.
    _run("random_baseline", project / "runs" / "a", **{"acquisition.strategy": "random"})
    _run("random_again", project / "runs" / "b", **{"acquisition.strategy": "random", "seed": 8})
    store = project / "runs" / "mlflow.db"
    assert default_tracking_uri(project / "runs" / "a") == f"sqlite:///{store.resolve()}"
    assert not (project / "runs" / "a" / "mlflow.db").exists()

    # `mlflow.search_runs` over the default store lists both campaigns side by side.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store}")
    runs = mlflow.search_runs(experiment_names=["tiny-project"])
    assert sorted(runs["tags.mlflow.runName"]) == ["random_again", "random_baseline"]
    assert set(runs["status"]) == {"FINISHED"}
    assert sorted(runs["tags.run_dir"]) == ["a", "b"]
    by_name = runs.set_index("tags.mlflow.runName")
    assert by_name.loc["random_again", "tags.mlflow.note.content"] == "random_again: tracking test"

    # Parameters: plain values, no settings of other compute kinds.
    params = {
        k.removeprefix("params."): v
        for k, v in by_name.loc["random_again"].items()
        if k.startswith("params.") and isinstance(v, str)
    }
    assert params["targets"] == '["band_gap", "formation_energy"]'
    assert params["compute.kind"] == "serial"
    assert [k for k in params if k.startswith("compute.")] == ["compute.kind"]
    assert params["loop.warm_start"] == "true"
    # Metrics: units in the names (the error metrics' units: tests/test_tracking_params.py).
    metrics = {
        k.removeprefix("metrics."): v
        for k, v in by_name.loc["random_again"].items()
        if k.startswith("metrics.") and pd.notna(v)
    }
    assert "time_select_s" in metrics and "oracle_calls" in metrics
    assert not [k for k in metrics if k.startswith("seconds_")]

    # The pool is a dataset input whose source is the card's data file.
    client = mlflow.MlflowClient(f"sqlite:///{store}")
    run_id = by_name.loc["random_baseline", "run_id"]
    (used,) = client.get_run(run_id).inputs.dataset_inputs
    assert used.dataset.name == "tiny"
    assert used.dataset.digest == tiny.card.sha256[:36]
    assert json.loads(used.dataset.source)["uri"] == str(tiny.path.resolve())
    assert json.loads(used.dataset.profile)["num_rows"] == 30
    monkeypatch.delenv("MLFLOW_TRACKING_URI")

    # Move the whole project folder: the store records no path of it, so the artifacts
    # are found at the new place (`mlflow ui` started in runs/ serves mlartifacts/).
    moved = tmp_path / "moved" / "elsewhere"
    moved.parent.mkdir()
    shutil.move(project, moved)
    new_store = moved / "runs" / "mlflow.db"
    assert str(project).encode() not in new_store.read_bytes()
    reader = mlflow.MlflowClient(f"sqlite:///{new_store}")
    for run_dir in ("a", "b"):
        (run,) = [
            r
            for r in reader.search_runs(
                [reader.get_experiment_by_name("tiny-project").experiment_id],
                filter_string=f"tags.run_dir = '{run_dir}'",
            )
        ]
        ranked = local_artifact_path(
            f"{run.info.artifact_uri}/final/ranked_candidates.csv", f"sqlite:///{new_store}"
        )
        assert ranked is not None and ranked.is_relative_to(moved)
        expected = moved / "runs" / run_dir / "final" / "ranked_candidates.csv"
        assert ranked.read_text() == expected.read_text()
