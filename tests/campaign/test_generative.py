"""Generative campaigns: generate, screen, score with a trained model, rank."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from materials_ai.campaign.generative import (
    GenerativeCampaign,
    GenerativeWorkflowConfig,
    load_generative_workflow,
)
from materials_ai.cli.app import app
from materials_ai.data.loaders import load_dataset
from materials_ai.errors import CampaignError, ConfigError
from materials_ai.graphs.builder import build_graphs
from materials_ai.settings import PROJECT_ROOT
from materials_ai.surrogates.ensemble import GraphEnsembleSurrogate
from materials_ai.testing.datasets import TinyDataset
from materials_ai.testing.models import tiny_ensemble_config


@pytest.fixture
def model_dir(tiny_registry: TinyDataset, tmp_path: Path) -> Path:
    dataset = load_dataset("tiny", targets=["formation_energy", "band_gap"])
    config = tiny_ensemble_config(n_members=2)
    surrogate = GraphEnsembleSurrogate(config, ["formation_energy", "band_gap"])
    graphs = build_graphs([r.structure for r in dataset.records], dataset.ids, config.graph)
    surrogate.fit_graphs(graphs, dataset.target_matrix(["formation_energy", "band_gap"]))
    surrogate.save(tmp_path / "model")
    return tmp_path / "model"


def _workflow(model: Path, **changes: object) -> dict:
    data = {
        "kind": "generative",
        "name": "tiny_generative",
        "seed": 3,
        "pool": {
            "generators": [
                {
                    "kind": "prototype",
                    "prototypes": ["perovskite_cubic"],
                    "cations": ["Sr", "Ba", "Ca", "Ti", "Zr"],
                    "anions": ["O"],
                }
            ],
            "known_datasets": ["tiny"],
            "stability": {"reference_dataset": "tiny"},
        },
        "models": [str(model)],
        "objective": {
            "criteria": [
                {"target": "band_gap", "min": 0.0, "scale": 1.0},
                {"target": "e_above_hull", "max": 10.0, "scale": 0.1},
            ]
        },
        "ranking": {"size": 50, "top_cifs": 3},
    }
    data.update(changes)
    return data


def test_generative_campaign_ranks_novel_candidates(model_dir: Path, tmp_path: Path) -> None:
    config = GenerativeWorkflowConfig.model_validate(_workflow(model_dir))
    summary = GenerativeCampaign.start(config, tmp_path / "run").run()
    assert summary.done
    assert summary.n_generated >= summary.n_screened > 0
    table = pd.read_csv(summary.ranked_csv)
    # The known SrTiO3 of the tiny dataset is not proposed again.
    assert "SrTiO3" not in set(table["formula"])
    for column in (
        "e_above_hull_pred_mean",
        "e_above_hull_pred_std",
        "band_gap_pred_mean",
        "prototype",
        "screens_passed",
        "p_within_hull_threshold",
        "sustainability_pred_mean",
    ):
        assert column in table.columns, column
    assert (table["prototype"] == "perovskite_cubic").all()
    scores = table["score"].to_numpy()
    assert np.all(np.diff(scores) <= 1e-12)
    assert len(list(summary.cif_dir.glob("*.cif"))) == 3
    report = json.loads(summary.screen_report.read_text())
    assert [s["name"] for s in report["steps"]][:2] == ["element_policy", "charge"]
    # Resuming a finished campaign changes nothing and reruns nothing.
    again = GenerativeCampaign.resume(tmp_path / "run").run()
    assert again.ranked_csv == summary.ranked_csv
    with pytest.raises(CampaignError, match="already holds"):
        GenerativeCampaign.start(config, tmp_path / "run")


def test_objective_on_a_target_no_model_predicts(model_dir: Path, tmp_path: Path) -> None:
    data = _workflow(model_dir)
    data["objective"]["criteria"].append({"target": "vbm", "min": 5.0})
    config = GenerativeWorkflowConfig.model_validate(data)
    with pytest.raises(ConfigError, match="vbm"):
        GenerativeCampaign.start(config, tmp_path / "run").run()


def test_cli_runs_a_generative_workflow(model_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "gen.yaml"
    path.write_text(yaml.safe_dump(_workflow(model_dir)))
    result = CliRunner().invoke(
        app, ["campaign", "run", str(path), "--run-dir", str(tmp_path / "r"), "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    assert "after screens" in result.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(_workflow(model_dir, modles=["x"])))
    result = CliRunner().invoke(
        app, ["campaign", "run", str(bad), "--run-dir", str(tmp_path / "r2")]
    )
    assert result.exit_code == 2 and "modles" in result.output


def test_shipped_generative_workflows_validate() -> None:
    for path in (PROJECT_ROOT / "workflows").glob("*.yaml"):
        data = yaml.safe_load(path.read_text())
        if data.get("kind") == "generative":
            load_generative_workflow(path)


def test_relax_stage_feeds_relaxed_structures_to_the_ranked_list(
    model_dir: Path, tmp_path: Path
) -> None:
    from pymatgen.core import Structure

    from materials_ai.testing.relax import SCALE, register_fake_potential

    name = register_fake_potential()
    data = _workflow(model_dir, relax={"max_candidates": 4, "relaxation": {"potential": name}})
    config = GenerativeWorkflowConfig.model_validate(data)
    summary = GenerativeCampaign.start(config, tmp_path / "run").run()
    assert summary.done
    relaxed = json.loads((tmp_path / "run" / "relaxed" / "candidates.json").read_text())
    report = relaxed["report"]
    assert report["n_selected"] == 4 and report["n_in"] > 4
    # The fake potential fails on Zr: those candidates are dropped with a reason.
    failed = {k: v for k, v in relaxed["removed"].items() if v.startswith("relaxation failed")}
    assert all("Zr" in k for k in failed)
    table = pd.read_csv(summary.ranked_csv)
    assert 0 < len(table) <= 4
    for column in ("relax_energy_per_atom", "relax_max_force", "relax_volume_change"):
        assert table[column].notna().all(), column
    assert np.allclose(table["relax_volume_change"], SCALE**3 - 1)
    assert table["structure_type"].iloc[0].startswith("(Cubic) Perovskite")
    # The CIFs are the relaxed structures: lattice = generated lattice x SCALE.
    pool = json.loads((tmp_path / "run" / "pool" / "candidates.json").read_text())
    cif = sorted(summary.cif_dir.glob("*.cif"))[0]
    cid = table["id"].iloc[0]
    generated = Structure.from_str(pool["cifs"][cid], fmt="cif")
    assert Structure.from_file(str(cif)).volume == pytest.approx(
        generated.volume * SCALE**3, rel=1e-3
    )
    ranked = json.loads(summary.ranked_json.read_text())
    assert ranked["metadata"]["relaxed"] is True
    # The tiny hull is not MP-2018: CHGNet energies are reported, the surrogate scores.
    assert ranked["metadata"]["formation_energy_from"] == "surrogate"
    state = json.loads((tmp_path / "run" / "generative_state.json").read_text())
    assert state["completed"] == ["generate", "relax", "score", "rank"]


def test_relax_stage_can_be_switched_off(model_dir: Path, tmp_path: Path) -> None:
    config = GenerativeWorkflowConfig.model_validate(_workflow(model_dir, relax={"enabled": False}))
    summary = GenerativeCampaign.start(config, tmp_path / "run").run()
    assert summary.done and not (tmp_path / "run" / "relaxed").exists()
    table = pd.read_csv(summary.ranked_csv)
    assert "relax_energy_per_atom" not in table.columns
    with pytest.raises(ConfigError, match="unknown potential"):
        load_generative_workflow(
            tmp_path / "x.yaml",
            _workflow(model_dir, relax={"relaxation": {"potential": "nope"}}),
        )
