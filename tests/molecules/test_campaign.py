"""The same campaign loop on molecules: replay oracle, PFAS pool screen, ranked list."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from materials_ai.campaign.config import parse_workflow
from materials_ai.campaign.loop import Campaign
from materials_ai.errors import ConfigError
from materials_ai.molecules.pfas import is_pfas
from materials_ai.testing.molecules import INVALID_ROW, TinyMolecules, tiny_molecule_workflow

WORKFLOW = Path(__file__).resolve().parents[2] / "workflows" / "pfas_free_molecules.yaml"


def _check_run(run_dir: Path, n_iterations: int) -> pd.DataFrame:
    state = json.loads((run_dir / "state.json").read_text())
    assert state["done"] is True
    rounds = {s["iteration"] for s in state["selections"]}
    assert rounds == set(range(n_iterations + 1))  # seed + selection iterations
    ranked = pd.read_csv(run_dir / "final" / "ranked_candidates.csv")
    assert {"smiles", "formula", "gap_pred_mean", "gap_pred_std"} <= set(ranked.columns)
    assert not any(is_pfas(s) for s in ranked["smiles"])
    assert ranked["gap_pred_std"].notna().all()
    assert list((run_dir / "final" / "cifs").glob("*.mol"))
    return ranked


def test_two_iteration_molecular_campaign_end_to_end(
    tiny_mol: TinyMolecules, tmp_path: Path
) -> None:
    config = tiny_molecule_workflow(**{"loop.ranked_list_size": 100})
    summary = Campaign.start(config, tmp_path / "run").run()
    assert summary.done and summary.oracle_calls == 8 + 2 * 4
    ranked = _check_run(tmp_path / "run", 2)
    assert len(ranked) == 39 - 2  # 40 rows, one invalid SMILES, two PFAS removed
    skipped = pd.read_csv(tmp_path / "run" / "skipped_rows.csv")
    assert skipped.to_dict("records")[0]["row"] == INVALID_ROW
    screened = pd.read_csv(tmp_path / "run" / "screened_out.csv")
    assert set(screened["id"]) == {"m33", "m34"}
    assert (screened["code"] == "PFAS (OECD 2021)").all()
    assert summary.targets_total is not None and summary.targets_total > 0
    # The lab bundle of a molecular campaign: molfiles instead of CIFs, no lattice columns.
    from materials_ai.lab.export import write_bundle

    paths = write_bundle(tmp_path / "run", tmp_path / "to_lab", top=5, lang="en")
    table = pd.read_csv(paths["csv"], dtype={"id": str})
    assert table["cif_file"].str.endswith(".mol").all()
    assert table["spacegroup_number"].isna().all()
    for name in table["cif_file"]:
        assert "M  END" in (paths["csv"].parent / name).read_text()


def test_unknown_pool_screen_is_a_config_error() -> None:
    data = tiny_molecule_workflow().model_dump(mode="json")
    data["data"]["screens"] = ["pfas_fre"]
    with pytest.raises(ConfigError, match="pfas_fre"):
        parse_workflow(data)


def test_shipped_workflow_parses() -> None:
    from materials_ai.campaign.config import load_workflow

    config = load_workflow(WORKFLOW)
    assert config.data.dataset == "qm9" and config.data.screens == ("pfas_free",)
    assert config.surrogate.model.kind == "mol_gnn"


@pytest.mark.integration
def test_two_iterations_on_real_qm9(real_data_dir: Path, tmp_path: Path) -> None:
    config = tiny_molecule_workflow(
        "qm9", **{"data.sample_size": 150, "data.sample_seed": 0, "loop.ranked_list_size": 200}
    )
    summary = Campaign.start(config, tmp_path / "run").run()
    assert summary.done and summary.oracle_calls == 16
    ranked = _check_run(tmp_path / "run", 2)
    # Replayed values are QM9's B3LYP gaps in eV.
    validated = ranked["gap_validated"].dropna()
    assert len(validated) == 16 and validated.between(0.5, 17.0).all()
    # The workflow's validation step on the finished run: xTB on the top 2, DFT on 1.
    from materials_ai.molecules.validate import ValidationConfig, validate_ranked_list
    from materials_ai.oracles.config import PySCFOracleConfig

    config = ValidationConfig(
        top_xtb=2,
        top_dft=1,
        dft=PySCFOracleConfig(basis="sto-3g", grid_level=1),
        wait_timeout_s=300,
    )
    result = validate_ranked_list(tmp_path / "run", config)
    assert result.csv_path == tmp_path / "run" / "final" / "validated_candidates.csv"
    table = result.table
    assert list(table["id"]) == [str(i) for i in ranked["id"]]
    assert list(table["xtb_status"][:2]) == ["done", "done"]
    assert table["xtb_gap"][:2].between(0.5, 17.0).all()
    assert (table["dft_status"] == "done").sum() == 1
