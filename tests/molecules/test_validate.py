"""Re-validation of a molecular ranked list: real GFN2-xTB, then a tiny PySCF B3LYP."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from pydantic import ValidationError

from materials_ai.errors import DataError
from materials_ai.molecules.oracles import PySCFTask, XTBTask
from materials_ai.molecules.validate import (
    SKIPPED_FILE,
    VALIDATED_FILE,
    ValidationConfig,
    find_ranked_list,
    main,
    parse_rows,
    read_molecule_rows,
    validate_ranked_list,
)
from materials_ai.oracles.config import FidelityChainConfig, PySCFOracleConfig, XTBOracleConfig


def _ranked_run(tmp_path: Path) -> Path:
    """A run directory whose final ranked list has water, ethene, a bad SMILES and MeCN."""
    final = tmp_path / "run" / "final"
    final.mkdir(parents=True)
    pd.DataFrame(
        {
            "rank": [1, 2, 3, 4],
            "id": ["q1", "q2", "q3", "q4"],
            "formula": ["H2O", "C2H4", "?", "C2H3N"],
            "smiles": ["O", "C=C", "C1CC(", "CC#N"],
            "gap_pred_mean": [9.0, 7.5, 7.0, 8.0],
        }
    ).to_csv(final / "ranked_candidates.csv", index=False)
    return tmp_path / "run"


def test_xtb_and_pyscf_configs_are_registered_oracle_kinds() -> None:
    chain = FidelityChainConfig.model_validate(
        {
            "stages": [
                {"oracle": {"kind": "xtb"}, "batch_size": 20},
                {"oracle": {"kind": "pyscf", "grid_level": 1}, "select_top": 2, "rank_by": "gap"},
            ]
        }
    )
    xtb, dft = (s.oracle for s in chain.stages)
    assert isinstance(xtb, XTBOracleConfig) and xtb.task() == XTBTask()
    assert isinstance(dft, PySCFOracleConfig) and dft.task() == PySCFTask(grid_level=1)
    with pytest.raises(ValidationError, match="basiss"):
        PySCFOracleConfig.model_validate({"basiss": "sto-3g"})
    with pytest.raises(ValidationError):
        ValidationConfig.model_validate({"top_xtb": 2, "top_dtf": 1})


def test_invalid_smiles_are_reported_by_row_and_the_rest_parse(tmp_path: Path) -> None:
    rows, skipped = parse_rows(
        [
            {"smiles": "OC1=CC=CC=C1", "id": "phenol", "rank": 1},
            {"smiles": "C1CC(", "id": "broken"},
            {"smiles": float("nan")},
            {"smiles": "c1ccccc1O", "id": "phenol"},
            {"smiles": "CCO"},
        ]
    )
    assert [(r.row, r.id, r.molecule.smiles) for r in rows] == [
        (0, "phenol", "Oc1ccccc1"),
        (4, "row4", "CCO"),
    ]
    assert rows[0].fields == {"rank": 1}
    assert [(s.row, s.id, s.field) for s in skipped] == [
        (1, "broken", "smiles"),
        (2, "row2", "smiles"),
        (3, "phenol", "id"),
    ]
    text = tmp_path / "list.smi"
    text.write_text("# candidates\nc1ccccc1 benzene\n\nnot_a_smiles\nCC\n")
    rows, skipped = read_molecule_rows(text)
    assert [r.id for r in rows] == ["benzene", "row2"] and skipped[0].row == 1


def test_ranked_list_is_found_in_a_run_directory(tmp_path: Path) -> None:
    run = _ranked_run(tmp_path)
    assert find_ranked_list(run) == run / "final" / "ranked_candidates.csv"
    with pytest.raises(DataError, match=r"ranked_candidates\.csv"):
        find_ranked_list(tmp_path)


def test_validation_settings_are_a_two_stage_chain_config() -> None:
    """xTB on all, then DFT on the top M by an xTB value: the workflows' chain config."""
    config = ValidationConfig(
        top_dft=2,
        rank_by="lumo",
        descending=False,
        min_values={"gap": 5.5},
        max_values={"gap": 6.5},
        dft=PySCFOracleConfig(basis="sto-3g"),
        xtb_batch_size=7,
        dft_cores=3,
        dft_timeout_s=60.0,
        max_parallel=2,
    )
    chain = config.chain_config()
    assert isinstance(chain, FidelityChainConfig)
    assert [s.name for s in chain.stages] == ["xtb", "dft"]
    xtb, dft = chain.stages
    assert xtb.oracle == config.xtb and xtb.batch_size == 7 and xtb.select_top is None
    assert xtb.resources.timeout_s == config.xtb_timeout_s
    assert dft.oracle == PySCFOracleConfig(basis="sto-3g") and dft.select_top == 2
    assert (dft.rank_by, dft.descending) == ("lumo", False)
    assert dft.min_values == {"gap": 5.5} and dft.max_values == {"gap": 6.5}
    assert not dft.use_output_structure  # DFT embeds the input molecule itself
    assert (dft.batch_size, dft.resources.cores, dft.resources.timeout_s) == (1, 3, 60.0)
    assert (chain.launcher, chain.max_parallel, chain.job_dir) == (
        "processes",
        2,
        "validation_jobs",
    )
    # It round-trips through the workflow schema (a literal `oracle: {kind: chain}` section).
    assert FidelityChainConfig.model_validate(chain.model_dump(mode="json")) == chain
    assert ValidationConfig(rank_by=None).chain_config().stages[1].rank_by is None


def _job_files(jobs: Path) -> dict[str, float]:
    """Every file of the stage job stores with its modification time (ns)."""
    return {
        str(p.relative_to(jobs)): p.stat().st_mtime_ns
        for stage in ("xtb", "dft")
        for p in (jobs / stage).rglob("*")
        if p.is_file()
    }


def test_validate_a_ranked_list_with_real_xtb_and_pyscf(tmp_path: Path) -> None:
    """Two molecules through GFN2-xTB, the larger xTB gap through B3LYP/def2-SVP."""
    run = _ranked_run(tmp_path)
    config = ValidationConfig(
        top_xtb=2, top_dft=1, dft=PySCFOracleConfig(grid_level=1), wait_timeout_s=300
    )
    # Not waiting: both xTB jobs are reported pending and DFT is not selected yet.
    early = validate_ranked_list(run, config.model_copy(update={"wait_timeout_s": 0.0}))
    assert list(early.table["xtb_status"]) == ["pending", "pending", ""]
    assert not early.table["dft_selected"].any() and set(early.table["dft_status"]) == {""}
    assert early.summary["xtb"]["pending"] == 2 and early.summary["dft"]["submitted"] == 0
    # A rerun that waits continues the same jobs and the chain picks the DFT molecule.
    result = validate_ranked_list(run, config)
    final = run / "final"
    assert result.csv_path == final / VALIDATED_FILE
    table = pd.read_csv(result.csv_path, dtype={"id": str}, keep_default_na=False)
    assert list(table["id"]) == ["q1", "q2", "q4"]  # the bad SMILES row is reported instead
    assert list(table.columns[:3]) == ["rank", "id", "smiles"]
    skipped = pd.read_csv(final / SKIPPED_FILE)
    assert skipped.to_dict("records") == [
        {
            "row": 2,
            "id": "q3",
            "field": "smiles",
            "reason": "invalid SMILES 'C1CC(' (RDKit cannot parse it)",
        }
    ]
    water, ethene, mecn = table.to_dict("records")
    assert water["xtb_status"] == ethene["xtb_status"] == "done" and mecn["xtb_status"] == ""
    assert float(ethene["xtb_gap"]) < float(water["xtb_gap"])
    # Water has the larger xTB gap, so it alone goes to DFT (B3LYP/def2-SVP gap ≈ 9.1 eV).
    assert water["dft_selected"] and not ethene["dft_selected"]
    assert water["dft_status"] == "done" and ethene["dft_status"] == ""
    assert float(water["dft_gap"]) == pytest.approx(9.13, abs=0.2)
    assert float(water["dft_gap"]) == pytest.approx(
        float(water["dft_lumo"]) - float(water["dft_homo"])
    )
    summary = json.loads((final / "validation_summary.json").read_text())
    assert summary["xtb"]["done"] == 2 and summary["dft"]["done"] == 1
    assert summary["n_skipped"] == 1
    jobs = final / "validation_jobs"
    assert len(list((jobs / "xtb").iterdir())) == 2 and len(list((jobs / "dft").iterdir())) == 1
    # One OracleChain ran it: stages xtb -> dft, one group, DFT picked by the chain.
    state = json.loads((jobs / "chain.json").read_text())
    assert state["stages"] == ["xtb", "dft"]
    [group] = state["groups"].values()
    assert group["candidates"] == ["q1", "q2"] and group["selected"][1] == ["q1"]
    assert summary["chain"]["stages"][1]["select_top"] == 1 and summary["settled"] == 2
    # A second run collects the finished jobs instead of recomputing them: the same chain
    # group, no new job, no job file rewritten.
    files = _job_files(jobs)
    again = validate_ranked_list(run, config)
    assert _job_files(jobs) == files
    assert len(json.loads((jobs / "chain.json").read_text())["groups"]) == 1
    assert again.table["dft_wall_s"].iloc[0] == pytest.approx(float(water["dft_wall_s"]))
    assert again.summary["dft"]["seconds"] < 5.0 and again.summary["xtb"]["done"] == 2


def test_command_line_on_a_smiles_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "picks.smi"
    source.write_text("O water\nC1CC( broken\n")
    code = main(
        [str(source), "--out-dir", str(tmp_path / "out"), "--top-xtb", "2", "--top-dft", "0"]
    )
    out = capsys.readouterr().out
    assert code == 0 and "xTB 1/1 done" in out and "row 1 (id 'broken')" in out
    assert (tmp_path / "out" / VALIDATED_FILE).exists()
    assert main([str(tmp_path / "missing.csv")]) == 1


def test_entry_points_named_by_the_workflow_exist() -> None:
    root = Path(__file__).resolve().parents[2]
    text = (root / "workflows" / "pfas_free_molecules.yaml").read_text()
    for script in ("benchmarks/molecules_validate.py",):
        assert script in text and (root / script).is_file()
    assert "materials_ai.molecules.validate" in text
