"""Training jobs on stored splits, resumable training, evaluation and file prediction."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from typer.testing import CliRunner

from materials_ai.cli.app import app
from materials_ai.data.splits import random_holdout, save_holdout
from materials_ai.errors import ConfigError
from materials_ai.graphs.builder import build_graphs
from materials_ai.surrogates.files import predict_files
from materials_ai.surrogates.jobs import (
    TrainJobConfig,
    evaluate_model,
    load_train_config,
    recalibrate_model,
    run_training,
)
from materials_ai.surrogates.training import train_member
from materials_ai.testing.datasets import (
    TinyDataset,
    gaas_zincblende,
    si_diamond,
    tiny_structures,
    write_tiny_dataset,
)
from materials_ai.testing.models import TINY_CGCNN, TINY_GRAPH, tiny_ensemble_config

runner = CliRunner()


@pytest.fixture
def tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TinyDataset:
    tiny = write_tiny_dataset(tmp_path / "tiny", n_rows=30)
    monkeypatch.setenv("MATERIALS_AI_CARDS_DIR", str(tiny.cards_dir))
    monkeypatch.setenv("MATERIALS_AI_DATA_DIR", str(tiny.data_dir))
    monkeypatch.setenv("MATERIALS_AI_CACHE_DIR", str(tmp_path / "cache"))
    save_holdout(
        random_holdout(list(tiny.ids), (0.6, 0.2, 0.2), seed=0),
        tiny.cards_dir / "splits" / "tiny" / "holdout",
    )
    return tiny


def _job(**changes: object) -> TrainJobConfig:
    data = {
        "name": "tiny_model",
        "dataset": "tiny",
        "targets": ["band_gap", "formation_energy"],
        "split": {"name": "holdout"},
        "surrogate": tiny_ensemble_config(n_members=2).model_dump(mode="json"),
        "tracking": {"backend": "none"},
    } | changes
    return TrainJobConfig.model_validate(data)


def test_training_job_writes_a_complete_model_folder(tiny: TinyDataset, tmp_path: Path) -> None:
    summary = run_training(_job(), tmp_path / "model", progress=False)
    folder = tmp_path / "model"
    for name in ("surrogate.json", "weights.pt", "training.json", "MODEL_CARD.md"):
        assert (folder / name).exists(), name
    assert not (folder / "checkpoints").exists()
    assert summary["split_sizes"] == {"train": 18, "val": 6, "test": 6}
    test = summary["metrics"]["test"]["band_gap"]
    for key in ("mae", "rmse", "r2", "miscalibration_area", "coverage_90", "spearman_err_std"):
        assert key in test
    assert set(summary["std_scales"]) == {"band_gap", "formation_energy"}
    card = (folder / "MODEL_CARD.md").read_text()
    assert "datasets/splits/tiny/holdout/" in card and "| test | band_gap |" in card
    # evaluate() reproduces the test metrics from the saved model.
    again = evaluate_model(folder, "test")
    assert again["band_gap"]["mae"] == pytest.approx(test["mae"], rel=1e-6)
    saved = json.loads((folder / "surrogate.json").read_text())
    assert saved["std_scales"] == pytest.approx(summary["std_scales"])


def test_training_is_logged_to_mlflow_by_default(tiny: TinyDataset, tmp_path: Path) -> None:
    from mlflow import MlflowClient

    from materials_ai.tracking import default_tracking_uri, local_artifact_path

    data = _job().model_dump(mode="json")
    del data["tracking"]  # the default: MLflow, SQLite store in the model folder
    folder = tmp_path / "model"
    summary = run_training(TrainJobConfig.model_validate(data), folder, progress=False)
    client = MlflowClient(tracking_uri=default_tracking_uri(folder))
    experiment = client.get_experiment_by_name("materials-ai")
    assert experiment is not None
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FINISHED"
    assert run.data.params["dataset"] == "tiny"
    assert run.data.params["surrogate.n_members"] == "2"
    curve = client.get_metric_history(run.info.run_id, "member1_val_loss")
    assert [m.step for m in curve] == list(range(1, summary["epochs"][1] + 1))
    test_mae = summary["metrics"]["test"]["band_gap"]["mae"]
    assert run.data.metrics["test_band_gap_mae_eV"] == pytest.approx(test_mae)
    model = local_artifact_path(f"{run.info.artifact_uri}/model", default_tracking_uri(folder))
    assert model is not None
    assert {p.name for p in model.iterdir()} == {"surrogate.json", "weights.pt", "MODEL_CARD.md"}


def test_interrupted_member_resumes_to_the_same_weights(tmp_path: Path) -> None:
    structures = tiny_structures(12)
    graphs = build_graphs(structures, [str(i) for i in range(12)], TINY_GRAPH)
    y = np.linspace(0.0, 1.0, 12)[:, None]
    config = tiny_ensemble_config().training.model_copy(update={"max_epochs": 6})
    kwargs = dict(
        model_config=TINY_CGCNN,
        graph_config=TINY_GRAPH,
        training=config,
        target_names=("t",),
        seed=5,
        val_indices=np.array([0, 5, 9]),
    )
    reference, _ = train_member(graphs, y, **kwargs)

    class Stop(Exception):
        pass

    def stop_at_3(epoch: int, *_: float) -> None:
        if epoch == 3:
            raise Stop

    ckpt = tmp_path / "member.pt"
    with pytest.raises(Stop):
        train_member(graphs, y, checkpoint_path=ckpt, on_epoch=stop_at_3, **kwargs)
    assert torch.load(ckpt, weights_only=True)["epoch"] == 2
    resumed, report = train_member(graphs, y, checkpoint_path=ckpt, **kwargs)
    assert report.epochs == 6
    for key in reference:
        torch.testing.assert_close(resumed[key], reference[key], rtol=0, atol=0)


def test_finished_members_are_not_retrained(
    tiny: TinyDataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import materials_ai.surrogates.member_task as ensemble

    folder = tmp_path / "model"
    calls = {"n": 0}
    original = ensemble.train_member

    def crash_on_second(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("killed")
        return original(*args, **kwargs)

    monkeypatch.setattr(ensemble, "train_member", crash_on_second)
    with pytest.raises(RuntimeError, match="killed"):
        run_training(_job(), folder, progress=False)
    assert (folder / "checkpoints" / "member_0.done.pt").exists()
    calls["n"] = 10  # from now on train_member works; member 0 must come from disk
    run_training(_job(), folder, progress=False)
    assert calls["n"] == 11  # only member 1 trained again


def test_predict_files_reports_bad_files_and_predicts_the_rest(
    tiny: TinyDataset, tmp_path: Path
) -> None:
    run_training(_job(), tmp_path / "model", progress=False)
    from ase.io import write as ase_write
    from pymatgen.io.ase import AseAtomsAdaptor

    files = tmp_path / "in"
    files.mkdir()
    si_diamond().to(filename=str(files / "si.cif"))
    gaas_zincblende().to(filename=str(files / "POSCAR"), fmt="poscar")
    ase_write(files / "si.extxyz", AseAtomsAdaptor.get_atoms(si_diamond(5.5)), format="extxyz")
    (files / "broken.cif").write_text("data_broken\n_cell_length_a 3\n")
    table, errors = predict_files(tmp_path / "model", sorted(files.iterdir()))
    assert [Path(e[0]).name for e in errors] == ["broken.cif"]
    assert sorted(Path(f).name for f in table["file"]) == ["POSCAR", "si.cif", "si.extxyz"]
    assert {"band_gap_mean", "band_gap_std", "formation_energy_mean"} <= set(table.columns)
    assert np.isfinite(table["band_gap_mean"]).all()
    assert (table["band_gap_lo90"] < table["band_gap_mean"]).all()
    assert (table["band_gap_hi90"] > table["band_gap_mean"]).all()


def test_cli_train_evaluate_predict(tiny: TinyDataset, tmp_path: Path) -> None:
    config = tmp_path / "job.yaml"
    config.write_text(yaml.safe_dump(_job().model_dump(mode="json")))
    out = tmp_path / "m"
    result = runner.invoke(app, ["train", str(config), "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "band_gap" in result.output
    result = runner.invoke(app, ["evaluate", str(out), "--split", "val"])
    assert result.exit_code == 0, result.output
    si_diamond().to(filename=str(tmp_path / "si.cif"))
    (tmp_path / "bad.cif").write_text("nonsense")
    result = runner.invoke(
        app,
        [
            "predict",
            str(out),
            str(tmp_path / "si.cif"),
            str(tmp_path / "bad.cif"),
            "--out",
            str(tmp_path / "p.csv"),
        ],
    )
    assert result.exit_code == 2, result.output  # one input unusable: named, the rest written
    assert "bad.cif" in result.output
    lines = (tmp_path / "p.csv").read_text().splitlines()
    assert len(lines) == 2
    assert "band_gap_mean_eV" in lines[0] and "formation_energy_std_eV_per_atom" in lines[0]


def test_recalibrate_refits_an_old_model_without_touching_its_weights(
    tiny: TinyDataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import materials_ai.surrogates.error_distribution as error_distribution

    folder = tmp_path / "model"
    summary = run_training(_job(), folder, progress=False)
    assert summary["interval_90_z"] == {}  # 6 validation rows: too few for a distribution
    # As in a folder written before the domain and the training elements were saved:
    (folder / "domain.npz").unlink()
    meta = json.loads((folder / "surrogate.json").read_text())
    meta.pop("training_elements")
    (folder / "surrogate.json").write_text(json.dumps(meta))
    weights = (folder / "weights.pt").read_bytes()
    with (folder / "MODEL_CARD.md").open("a") as card:
        card.write("\n## Context and limits\n\nWritten by a person.\n")
    monkeypatch.setattr(error_distribution, "MIN_RESIDUALS", 5)
    result = runner.invoke(app, ["recalibrate", str(folder)])
    assert result.exit_code == 0, result.output
    assert "band_gap" in result.output
    after = json.loads((folder / "surrogate.json").read_text())
    assert set(after["error_quantiles"]) == {"band_gap", "formation_energy"}
    assert after["fit"] == meta["fit"] and after["std_scales"] == pytest.approx(meta["std_scales"])
    assert (folder / "weights.pt").read_bytes() == weights
    # A folder trained before the applicability domain existed gets one from its train ids.
    assert (folder / "domain.npz").exists()
    assert set(json.loads((folder / "surrogate.json").read_text())["training_elements"]) >= {"Si"}
    info = json.loads((folder / "training.json").read_text())
    q05, q95 = info["interval_90_z"]["band_gap"]
    assert q05 < 0 < q95
    card = (folder / "MODEL_CARD.md").read_text()
    assert "recalibrated" in info and "q05" in card and "Gaussian reading" in card
    assert card.endswith("## Context and limits\n\nWritten by a person.\n")  # kept
    assert set(info["metrics_gaussian"]["test"]) == {"band_gap", "formation_energy"}
    # The validation rows the distribution was fitted on are covered as it says.
    again = recalibrate_model(folder)
    assert again["metrics"]["val"]["band_gap"]["coverage_90"] >= 4 / 6


def test_recalibrate_a_folder_that_is_not_a_model(tmp_path: Path) -> None:
    result = runner.invoke(app, ["recalibrate", str(tmp_path)])
    assert result.exit_code != 0
    assert "training.json" in result.output


def test_unknown_key_in_training_config(tmp_path: Path) -> None:
    path = tmp_path / "job.yaml"
    path.write_text(
        yaml.safe_dump(
            {"name": "x", "dataset": "tiny", "targets": ["a"], "split": {"name": "s"}, "epochs": 3}
        )
    )
    with pytest.raises(ConfigError, match="unknown key 'epochs'"):
        load_train_config(path)
