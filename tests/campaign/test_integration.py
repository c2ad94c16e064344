"""A two-iteration campaign on a real subset of the Castelli perovskites, tracked in MLflow."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from materials_ai.campaign.config import load_workflow
from materials_ai.campaign.loop import Campaign
from materials_ai.campaign.state import load_state
from materials_ai.settings import DATA_DIR_ENV, PROJECT_ROOT

pytestmark = pytest.mark.integration


@pytest.fixture
def real_data(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    value = os.environ.get(DATA_DIR_ENV)
    if not value or not Path(value).is_dir():
        pytest.skip(f"{DATA_DIR_ENV} is not set to the dataset mirror")
    monkeypatch.delenv("MATERIALS_AI_CARDS_DIR", raising=False)
    return Path(value)


def test_castelli_two_iterations_with_mlflow(real_data: Path, tmp_path: Path) -> None:
    config = load_workflow(PROJECT_ROOT / "workflows" / "castelli_water_splitting.yaml")
    config = config.with_overrides(
        **{
            "data.limit": 600,
            "data.sample_size": 300,
            "loop.initial_labels": 30,
            "loop.batch_size": 10,
            "loop.iterations": 2,
            "loop.max_oracle_calls": None,
            "surrogate.n_members": 2,
            "surrogate.training.max_epochs": 8,
            "surrogate.training.warm_start_epochs": 4,
            "surrogate.training.min_val_size": 3,
        }
    )
    run_dir = tmp_path / "run"
    summary = Campaign.start(config, run_dir).run()
    assert summary.done
    assert summary.oracle_calls == 50
    state = load_state(run_dir)
    assert len(state.observations) == 50
    # Observed values are the table's own values (replayed, not predicted).
    table = pd.read_csv(
        real_data / "inorganic" / "castelli_cubic_perovskites_18928.csv.gz",
        usecols=["cmr_row_id", "gap_gllbsc_eV", "heat_of_formation_eV"],
        nrows=600,
    )
    table["id"] = table["cmr_row_id"].str.removesuffix(".cif")
    by_id = table.set_index("id")
    for record in state.observations[:10]:
        obs = record.observation
        assert obs["values"]["band_gap"] == pytest.approx(
            by_id.loc[obs["candidate_id"], "gap_gllbsc_eV"]
        )
    ranked = pd.read_csv(summary.ranked_csv)
    assert len(ranked) == 200
    assert ranked["formula"].str.len().min() > 0
    assert len(list(summary.cif_dir.glob("*.cif"))) == 20

    # MLflow: one run, per-iteration metrics, parameters and the ranked list artifact.
    import mlflow

    # The project store: mlflow.db in the folder holding the run directory (issue 18).
    assert summary.tracking_uri == f"sqlite:///{run_dir.resolve().parent / 'mlflow.db'}"
    client = mlflow.MlflowClient(tracking_uri=summary.tracking_uri)
    run = client.get_run(summary.tracking_run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["loop.batch_size"] == "10"
    history = client.get_metric_history(run.info.run_id, "oracle_calls")
    assert [(m.step, m.value) for m in history] == [(1, 40.0), (2, 50.0), (3, 50.0)]
    assert len(client.get_metric_history(run.info.run_id, "val_mae_band_gap_eV")) == 3
    assert len(client.get_metric_history(run.info.run_id, "targets_found")) == 3
    from materials_ai.tracking import local_artifact_path

    final = local_artifact_path(f"{run.info.artifact_uri}/final", summary.tracking_uri)
    assert final is not None and (final / "ranked_candidates.csv").is_file()
