"""Tests of :mod:`materials_ai.tracking`: null, in-memory and MLflow trackers."""

from __future__ import annotations

import json
import logging
import math
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from materials_ai.errors import MaterialsAIError
from materials_ai.tracking import (
    DatasetInfo,
    InMemoryTracker,
    MlflowTracker,
    NullTracker,
    Tracker,
    TrackingConfig,
    default_tracking_uri,
    flatten_params,
    local_artifact_path,
    make_tracker,
)

PARAMS = {"surrogate": {"kind": "cgcnn", "layers": 3, "dropout": 0.1}, "seed": 7, "tags": []}
FLAT = {
    "surrogate.kind": "cgcnn",
    "surrogate.layers": "3",
    "surrogate.dropout": "0.1",
    "seed": "7",
    "tags": "[]",
}

# ------------------------------------------------------------------------------- helpers


def test_flatten_params_dotted_keys_and_strings() -> None:
    assert flatten_params(PARAMS) == FLAT
    assert flatten_params({"a": {"b": {"c": None}}, "empty": {}}) == {
        "a.b.c": "null",
        "empty": "{}",
    }


def test_default_tracking_uri_is_the_project_store(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    # Every run directory of runs/ shares runs/mlflow.db (absolute, whatever the cwd).
    assert default_tracking_uri(Path("runs/r1")) == f"sqlite:///{tmp_path.resolve()}/runs/mlflow.db"
    assert default_tracking_uri(Path("runs/r2")) == default_tracking_uri(Path("runs/r1"))
    # A run directory with its own store (an older version's layout) keeps it.
    (tmp_path / "runs" / "old").mkdir(parents=True)
    (tmp_path / "runs" / "old" / "mlflow.db").write_bytes(b"")
    assert default_tracking_uri(Path("runs/old")) == (
        f"sqlite:///{tmp_path.resolve()}/runs/old/mlflow.db"
    )


def test_tracking_uri_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run_dir = tmp_path / "runs" / "a"
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert TrackingConfig().resolved_uri(run_dir) == default_tracking_uri(run_dir)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:////env/m.db")
    assert TrackingConfig().resolved_uri(run_dir) == "sqlite:////env/m.db"
    tracker = make_tracker(TrackingConfig(), run_dir)
    assert isinstance(tracker, MlflowTracker) and tracker.tracking_uri == "sqlite:////env/m.db"
    # The workflow's own setting wins over the environment.
    explicit = TrackingConfig(tracking_uri="http://mlflow.example:5000")
    assert explicit.resolved_uri(run_dir) == "http://mlflow.example:5000"
    assert TrackingConfig(backend="none").resolved_uri(run_dir) is None


def test_tracking_config_forbids_unknown_keys() -> None:
    with pytest.raises(ValidationError, match="tracking_url"):
        TrackingConfig.model_validate({"tracking_url": "sqlite:///x.db"})


def test_make_tracker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert isinstance(make_tracker(None, tmp_path), NullTracker)
    assert isinstance(make_tracker(TrackingConfig(backend="none"), tmp_path), NullTracker)
    tracker = make_tracker(TrackingConfig(experiment="e1"), tmp_path)
    assert isinstance(tracker, MlflowTracker)
    assert tracker.tracking_uri == default_tracking_uri(tmp_path)
    assert tracker.experiment == "e1"
    explicit = make_tracker(TrackingConfig(tracking_uri="sqlite:////data/m.db"), tmp_path)
    assert isinstance(explicit, MlflowTracker)
    assert explicit.tracking_uri == "sqlite:////data/m.db"
    assert not (tmp_path.parent / "mlflow.db").exists()  # nothing opened until start_run


def test_import_does_not_load_mlflow() -> None:
    code = "import sys, materials_ai.tracking; print('mlflow' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"


# ------------------------------------------------------------------------ null, in-memory


def test_null_tracker_accepts_everything(tmp_path: Path) -> None:
    with NullTracker() as tracker:
        assert isinstance(tracker, Tracker)
        tracker.start_run("x", tags={"a": "b"})
        tracker.log_params(PARAMS)
        tracker.log_metrics({"loss": 1.0}, step=0)
        tracker.log_artifact(tmp_path / "missing.txt")
        assert tracker.run_id is None


def test_in_memory_tracker_records(tmp_path: Path) -> None:
    artifact = tmp_path / "ranked.csv"
    artifact.write_text("id,score\n1,0.5\n")
    tracker = InMemoryTracker()
    assert isinstance(tracker, Tracker)
    with tracker:
        tracker.start_run("train", tags={"goal": "gap"})
        run_id = tracker.run_id
        assert run_id == "run-0"
        tracker.log_params(PARAMS)
        tracker.log_metrics({"loss": 2.0, "mae_ev": 0.5}, step=0)
        tracker.log_metrics({"loss": 1.0}, step=1)
        tracker.log_artifact(artifact, artifact_path="reports")
        tracker.log_dataset(DatasetInfo("tiny", str(artifact), "ab12", rows=1))
    run = tracker.runs["run-0"]
    assert [(d.name, d.rows, d.context) for d in run.datasets] == [("tiny", 1, "pool")]
    assert tracker.run_id is None
    assert run.status == "FINISHED"
    assert run.name == "train" and run.tags == {"goal": "gap"}
    assert run.params == FLAT
    assert run.metrics == {"loss": [(0, 2.0), (1, 1.0)], "mae_ev": [(0, 0.5)]}
    assert run.metric_values("loss") == [2.0, 1.0]
    assert run.artifacts == [(artifact, "reports")]


def test_in_memory_tracker_resume_failure_and_nan(caplog: pytest.LogCaptureFixture) -> None:
    tracker = InMemoryTracker()
    tracker.start_run("campaign")
    tracker.log_metrics({"best": 1.0}, step=0)
    tracker.end_run()
    with pytest.raises(RuntimeError), tracker:
        tracker.start_run("ignored", run_id="run-0")
        with caplog.at_level(logging.WARNING, logger="materials_ai.tracking"):
            tracker.log_metrics({"best": float("nan"), "worst": math.inf, "n": 3}, step=1)
        raise RuntimeError("boom")
    run = tracker.last_run
    assert run.run_id == "run-0" and run.starts == 2
    assert run.status == "FAILED"
    assert run.metrics == {"best": [(0, 1.0)], "n": [(1, 3.0)]}
    assert "'best'" in caplog.text and "'worst'" in caplog.text
    with pytest.raises(MaterialsAIError, match="no such run"):
        tracker.start_run("x", run_id="run-9")


def test_in_memory_tracker_misuse() -> None:
    tracker = InMemoryTracker()
    with pytest.raises(MaterialsAIError, match="No active run"):
        tracker.log_metrics({"a": 1.0}, step=0)
    tracker.start_run("a")
    with pytest.raises(MaterialsAIError, match="still active"):
        tracker.start_run("b")
    tracker.log_params({"lr": 0.1})
    with pytest.raises(MaterialsAIError, match="cannot change"):
        tracker.log_params({"lr": 0.2})
    with pytest.raises(MaterialsAIError, match="Unknown run status"):
        tracker.end_run("DONE")


# ---------------------------------------------------------------------------------- MLflow


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A run directory whose project store is shared by the module's tests (~5 s to create)."""
    yield tmp_path_factory.mktemp("mlflow-project") / "run"


@pytest.fixture(scope="module")
def reader(store: Path):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=default_tracking_uri(store))


def test_mlflow_tracker_logs_and_reads_back(store: Path, reader, tmp_path: Path) -> None:
    artifact = tmp_path / "ranked.csv"
    artifact.write_text("id,score\n1,0.5\n")
    report_dir = tmp_path / "report"
    report_dir.mkdir()
    (report_dir / "index.html").write_text("<html></html>")

    tracker = MlflowTracker(default_tracking_uri(store), "test-log")
    assert isinstance(tracker, MlflowTracker)
    with tracker:
        tracker.start_run("train", tags={"goal": "band-gap"})
        run_id = tracker.run_id
        assert run_id is not None
        tracker.log_params(PARAMS)
        many = {f"p{i:03d}": i for i in range(150)}  # more than one 100-param batch
        tracker.log_params({"grid": many})
        for step, loss in enumerate([3.0, 2.0, 1.5]):
            tracker.log_metrics({"loss": loss, "mae_ev": loss / 10}, step=step)
        tracker.log_artifact(artifact)
        tracker.log_artifact(report_dir, artifact_path="report")
    assert tracker.run_id is None

    run = reader.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "train"
    assert run.data.tags["goal"] == "band-gap"
    assert {k: run.data.params[k] for k in FLAT} == FLAT
    assert run.data.params["grid.p149"] == "149"
    assert len(run.data.params) == len(FLAT) + 150
    history = reader.get_metric_history(run_id, "loss")
    assert [(m.step, m.value) for m in sorted(history, key=lambda m: m.step)] == [
        (0, 3.0),
        (1, 2.0),
        (2, 1.5),
    ]
    assert [m.step for m in reader.get_metric_history(run_id, "mae_ev")] == [0, 1, 2]
    # Artifacts live in mlartifacts/ beside the database, under MLflow's proxied root (no
    # absolute path in the store), where `mlflow ui` started in that folder serves them.
    experiment = reader.get_experiment(run.info.experiment_id)
    assert experiment.artifact_location == "mlflow-artifacts:/test-log"
    root = local_artifact_path(run.info.artifact_uri, default_tracking_uri(store))
    assert root == store.parent / "mlartifacts" / "test-log" / run_id / "artifacts"
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) == [
        "ranked.csv",
        "report/index.html",
    ]
    assert (root / "ranked.csv").read_text() == artifact.read_text()


def test_mlflow_tracker_logs_a_dataset_input(store: Path, reader, tmp_path: Path) -> None:
    data_file = tmp_path / "table.csv.gz"
    info = DatasetInfo(
        name="castelli_perovskites",
        source=str(data_file),
        digest="ab" * 32,
        rows=600,
        targets={"band_gap": "eV", "heat_of_formation": "eV/atom"},
        tags={"level_of_theory": "GPAW GLLB-SC"},
    )
    with MlflowTracker(default_tracking_uri(store), "test-dataset") as tracker:
        tracker.start_run("campaign")
        run_id = tracker.run_id
        tracker.log_dataset(info)
    (used,) = reader.get_run(run_id).inputs.dataset_inputs
    assert used.dataset.name == "castelli_perovskites"
    assert used.dataset.digest == ("ab" * 32)[:36]
    assert used.dataset.source_type == "local"
    assert json.loads(used.dataset.source) == {"uri": str(data_file.resolve())}
    assert json.loads(used.dataset.profile)["num_rows"] == 600
    columns = json.loads(used.dataset.schema)["mlflow_colspec"]
    assert [c["name"] for c in columns] == ["band_gap", "heat_of_formation"]
    assert {t.key: t.value for t in used.tags} == {
        "mlflow.data.context": "pool",
        "level_of_theory": "GPAW GLLB-SC",
    }


def test_mlflow_tracker_resumes_run_by_id(
    store: Path, reader, caplog: pytest.LogCaptureFixture
) -> None:
    uri = default_tracking_uri(store)
    first = MlflowTracker(uri, "test-resume")
    first.start_run("campaign", tags={"stage": "one"})
    run_id = first.run_id
    assert run_id is not None
    first.log_params({"batch_size": 4})
    first.log_metrics({"best_gap_ev": 1.2}, step=0)
    first.log_metrics({"best_gap_ev": 1.5}, step=1)
    first.end_run("KILLED")  # the process was interrupted
    assert reader.get_run(run_id).info.status == "KILLED"

    # A new process (a new tracker) resumes the run from the id stored in campaign state.
    second = MlflowTracker(uri, "test-resume")
    with second:
        second.start_run("campaign", tags={"stage": "two"}, run_id=run_id)
        assert second.run_id == run_id
        assert reader.get_run(run_id).info.status == "RUNNING"
        with caplog.at_level(logging.WARNING, logger="materials_ai.tracking"):
            second.log_params({"batch_size": 4})  # same value: skipped silently
            second.log_params({"batch_size": 8})  # changed: warned, not logged
        second.log_metrics({"best_gap_ev": 1.9}, step=2)

    run = reader.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["batch_size"] == "4"
    assert "'batch_size'" in caplog.text and "immutable" in caplog.text
    assert run.data.tags["stage"] == "two"
    history = sorted(reader.get_metric_history(run_id, "best_gap_ev"), key=lambda m: m.step)
    assert [(m.step, m.value) for m in history] == [(0, 1.2), (1, 1.5), (2, 1.9)]
    experiment_id = reader.get_experiment_by_name("test-resume").experiment_id
    assert len(reader.search_runs([experiment_id])) == 1

    with pytest.raises(MaterialsAIError, match="not found"):
        MlflowTracker(uri, "test-resume").start_run("x", run_id="0" * 32)
    with pytest.raises(MaterialsAIError, match="belongs to experiment"):
        MlflowTracker(uri, "another-experiment").start_run("x", run_id=run_id)


def test_mlflow_tracker_skips_non_finite_metrics(
    store: Path, reader, caplog: pytest.LogCaptureFixture
) -> None:
    tracker = MlflowTracker(default_tracking_uri(store), "test-nan")
    with pytest.raises(ValueError, match="diverged"), tracker:
        tracker.start_run("nan")
        run_id = tracker.run_id
        with caplog.at_level(logging.WARNING, logger="materials_ai.tracking"):
            tracker.log_metrics({"loss": float("nan"), "mae_ev": 0.3}, step=0)
            tracker.log_metrics({"loss": float("-inf")}, step=1)
        raise ValueError("training diverged")
    assert run_id is not None
    run = reader.get_run(run_id)
    assert run.info.status == "FAILED"
    assert reader.get_metric_history(run_id, "loss") == []
    assert [m.value for m in reader.get_metric_history(run_id, "mae_ev")] == [0.3]
    assert caplog.text.count("Skipping non-finite metric 'loss'") == 2


def test_mlflow_tracker_requires_active_run(store: Path) -> None:
    tracker = MlflowTracker(default_tracking_uri(store), "test-misuse")
    with pytest.raises(MaterialsAIError, match="No active run"):
        tracker.log_metrics({"a": 1.0}, step=0)
    tracker.start_run("misuse")
    try:
        with pytest.raises(MaterialsAIError, match="Artifact not found"):
            tracker.log_artifact(store / "missing.txt")
    finally:
        tracker.end_run()
