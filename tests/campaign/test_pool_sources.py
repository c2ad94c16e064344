"""Pool sources: one campaign over dataset rows, user structure files or generated candidates.

Fast tests validate with the two sleep stages of ``tiny_chain_oracle`` (seconds); the slow
ones run a real CHGNet stage (and GPAW where it is installed) on a few structures.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pymatgen.core import Structure
from pymatgen.io.cif import CifWriter
from typer.testing import CliRunner

from materials_ai.campaign.config import WorkflowConfig, dump_workflow, parse_workflow
from materials_ai.campaign.loop import Campaign
from materials_ai.campaign.oracle_plans import ORACLE_PLANS
from materials_ai.campaign.pool import load_pool_dataset
from materials_ai.campaign.pool_sources import POOL_SOURCES, load_pool, structure_files
from materials_ai.campaign.state import load_state
from materials_ai.data.registry import get_card
from materials_ai.errors import ConfigError
from materials_ai.testing.campaigns import tiny_chain_oracle, tiny_workflow
from materials_ai.testing.datasets import TinyDataset, gaas_zincblende, si_diamond, srtio3_cubic

pytestmark = pytest.mark.timeout(300)

HAS_CHGNET = importlib.util.find_spec("chgnet") is not None
HAS_GPAW = importlib.util.find_spec("gpaw") is not None
REQUIRED = os.environ.get("MATERIALS_AI_REQUIRE_ORACLES") == "1"
DATA_DIR = os.environ.get("MATERIALS_AI_DATA_DIR", "")
HAS_MP2018 = Path(DATA_DIR, "inorganic", "mp2018_mtcgcnn_36738.csv.xz").is_file()

#: A generated pool of a few cubic oxide perovskites (seconds; no known-structure data).
TINY_GENERATED = {
    "kind": "generated",
    "generate": {
        "seed": 0,
        "generators": [
            {
                "kind": "prototype",
                "prototypes": ["perovskite_cubic"],
                "cations": ["Ca", "Sr", "Ba", "Ti", "Zr", "Hf", "Sn"],
                "anions": ["O"],
            }
        ],
        "screens": {"novelty": {"enabled": False}},
    },
}


def user_structures() -> dict[str, Structure]:
    """Twelve small crystals: Si, GaAs, SrTiO3 and simple substitutions of them."""
    out: dict[str, Structure] = {}
    for i, scale in enumerate((1.0, 1.02)):
        out[f"Si_{i}"] = si_diamond(5.431 * scale)
        out[f"GaAs_{i}"] = gaas_zincblende(5.653 * scale)
        out[f"SrTiO3_{i}"] = srtio3_cubic(3.905 * scale)
        ge = si_diamond(5.658 * scale)
        ge.replace_species({"Si": "Ge"})
        out[f"Ge_{i}"] = ge
        bazr = srtio3_cubic(4.19 * scale)
        bazr.replace_species({"Sr": "Ba", "Ti": "Zr"})
        out[f"BaZrO3_{i}"] = bazr
        inp = gaas_zincblende(5.869 * scale)
        inp.replace_species({"Ga": "In", "As": "P"})
        out[f"InP_{i}"] = inp
    return out


def write_cifs(folder: Path, structures: dict[str, Structure]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, structure in structures.items():
        CifWriter(structure).write_file(str(folder / f"{name}.cif"))
    return folder


def pool_workflow(pool: dict[str, Any], **overrides: Any) -> WorkflowConfig:
    """The tiny workflow over ``pool`` instead of the tiny dataset, validated by the
    sleep chain (band_gap from the dft_test volume, formation_energy from the screen one)."""
    data = tiny_workflow(oracle=tiny_chain_oracle()).model_dump(mode="json")
    del data["data"]
    data["pool"] = pool
    data["loop"].update(initial_labels=4, batch_size=2, iterations=2, top_cifs=2)
    data["oracle"]["chain"]["stages"][1]["select_top"] = 2
    config = parse_workflow(data, "<pool_workflow>")
    return config.with_overrides(**overrides) if overrides else config


# -- configuration -----------------------------------------------------------------------


def test_pool_section_defaults_to_the_dataset_and_is_checked(tmp_path: Path) -> None:
    config = tiny_workflow()
    assert config.pool.kind == "dataset" and config.pool_label == "tiny"
    # A workflow with only `data:` keeps its fingerprint (the default pool is not hashed).
    assert "pool" not in config.model_dump(mode="json", exclude_defaults=True)
    assert set(POOL_SOURCES.names()) >= {"dataset", "structures", "generated"}
    structures = pool_workflow({"kind": "structures", "paths": [str(tmp_path)]})
    assert structures.data is None and structures.pool_label == "structures"
    with pytest.raises(ConfigError, match="typo"):
        pool_workflow({"kind": "structures", "paths": ["x"], "typo": 1})
    with pytest.raises(ConfigError, match="data"):
        parse_workflow({**structures.model_dump(mode="json"), "data": {"dataset": "tiny"}})
    with pytest.raises(ConfigError, match="data"):
        parse_workflow({**config.model_dump(mode="json"), "data": None})
    with pytest.raises(ConfigError, match="prototypes"):
        pool_workflow(
            {
                "kind": "generated",
                "generate": {"generators": [{"kind": "prototype", "prototypes": ["x"]}]},
            }
        )


def test_structures_and_generated_pools_reject_a_replay_oracle(tmp_path: Path) -> None:
    base = tiny_workflow().model_dump(mode="json")
    del base["data"]
    for pool in ({"kind": "structures", "paths": [str(tmp_path)]}, TINY_GENERATED):
        with pytest.raises(ConfigError, match=r"replay.*labels.*kind: chain"):
            parse_workflow({**base, "pool": pool}, "<test>")


# -- dataset -----------------------------------------------------------------------------


def test_dataset_source_is_todays_pool(tiny_registry: TinyDataset, tmp_path: Path) -> None:
    for config in (tiny_workflow(), tiny_workflow(oracle=tiny_chain_oracle())):
        plan = ORACLE_PLANS.get(config.oracle.kind)(config, None)  # type: ignore[arg-type]
        pool = load_pool(config, tmp_path, plan)
        today = load_pool_dataset(config, tmp_path, reads_labels=plan.reads_labels)
        card = get_card("tiny")
        assert pool.dataset.name == today.name == "tiny"
        assert pool.dataset.ids == today.ids
        assert [r.targets for r in pool.dataset.records] == [r.targets for r in today.records]
        assert pool.source_key == f"{card.name}:{card.sha256}"
        assert pool.target_units == plan.target_units({n: t.unit for n, t in card.targets.items()})
        assert not (tmp_path / "pool").exists()


# -- structures --------------------------------------------------------------------------


def test_structure_files_ids_and_errors(tmp_path: Path) -> None:
    folder = write_cifs(tmp_path / "cifs", {"b": si_diamond(), "a": srtio3_cubic()})
    (folder / "sub").mkdir()
    (folder / "sub" / "POSCAR").write_text(
        "Si\n1.0\n0 2.7 2.7\n2.7 0 2.7\n2.7 2.7 0\nSi\n2\nDirect\n0 0 0\n0.25 0.25 0.25\n"
    )
    (folder / "notes.txt").write_text("not a structure")
    assert [cid for cid, _ in structure_files([str(folder)])] == ["a", "b", "sub/POSCAR"]
    assert [cid for cid, _ in structure_files([str(folder / "*.cif")])] == ["a", "b"]
    with pytest.raises(ConfigError, match="both give candidate id 'a'"):
        structure_files([str(folder), str(folder / "a.cif")])
    with pytest.raises(ConfigError, match="no file, folder"):
        structure_files([str(tmp_path / "missing")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no CIF"):
        structure_files([str(tmp_path / "empty")])


def test_structures_pool_is_kept_in_the_run_directory(tmp_path: Path) -> None:
    folder = write_cifs(tmp_path / "cifs", user_structures())
    config = pool_workflow({"kind": "structures", "paths": [str(folder)]})
    plan = ORACLE_PLANS.get("chain")(config, None)  # type: ignore[arg-type]
    first = load_pool(config, tmp_path / "run", plan)
    assert first.dataset.ids == sorted(user_structures())
    assert first.source_key.startswith("structures:")
    assert first.target_units["band_gap"] == first.target_units["formation_energy"]
    # The files may change or go: the run keeps reading its own copy.
    for cif in folder.glob("*.cif"):
        cif.unlink()
    again = load_pool(config, tmp_path / "run", plan)
    assert again.dataset.ids == first.dataset.ids and again.source_key == first.source_key
    for a, b in zip(first.dataset.records, again.dataset.records, strict=True):
        assert a.structure == b.structure


def test_campaign_over_user_cifs_through_the_chain(tmp_path: Path) -> None:
    folder = write_cifs(tmp_path / "cifs", user_structures())
    config = pool_workflow({"kind": "structures", "paths": [str(folder)]})
    summary = Campaign.start(config, tmp_path / "run").run()
    state = load_state(tmp_path / "run")
    assert summary.done and not state.pending and state.oracle_calls == 8
    picked = [i for s in state.selections for i in s.candidate_ids]
    assert set(picked) <= set(user_structures()) and len(picked) == len(set(picked))
    ranked = json.loads(summary.ranked_json.read_text())
    assert {row["id"] for row in ranked["candidates"]} <= set(user_structures())


def test_cli_campaign_run_on_a_folder_of_user_cifs(tmp_path: Path) -> None:
    from materials_ai.cli.app import app

    folder = write_cifs(tmp_path / "cifs", user_structures())
    workflow = tmp_path / "workflow.yaml"
    config = pool_workflow({"kind": "structures", "paths": [str(folder)]})
    dump_workflow(config, workflow)
    result = CliRunner().invoke(
        app, ["campaign", "run", str(workflow), "--run-dir", str(tmp_path / "run")]
    )
    assert result.exit_code == 0, result.output
    assert load_state(tmp_path / "run").done
    assert (tmp_path / "run" / "final" / "ranked_candidates.csv").is_file()


# -- generated ---------------------------------------------------------------------------


class _Interrupt(Exception):
    pass


def test_generated_pool_survives_an_interruption(tmp_path: Path) -> None:
    config = pool_workflow(TINY_GENERATED)
    run_dir = tmp_path / "run"

    def stop(iteration: int, stage: object) -> None:
        if iteration == 1 and str(getattr(stage, "value", stage)) == "train":
            raise _Interrupt

    with pytest.raises(_Interrupt):
        Campaign.start(config, run_dir).run(after_stage=stop)
    kept = (run_dir / "pool" / "candidates.json").read_bytes()
    ids = [row["id"] for row in json.loads(kept)["rows"]]
    assert len(ids) >= 6 and (run_dir / "pool" / "screen_report.json").is_file()

    campaign = Campaign.resume(run_dir)
    summary = campaign.run()
    assert summary.done and [c.id for c in campaign.pool] == ids
    assert (run_dir / "pool" / "candidates.json").read_bytes() == kept
    state = load_state(run_dir)
    assert len(state.selections) >= 2 and state.oracle_calls == 8
    assert {i for s in state.selections for i in s.candidate_ids} <= set(ids)


# -- real oracles (slow) -----------------------------------------------------------------


def _chgnet_oracle(*, gpaw: bool) -> dict[str, Any]:
    """CHGNet (cheap settings of test_validated) and, with ``gpaw``, GPAW on the best one
    (the cheap settings of tests/oracles/test_dft.py)."""
    stages: list[dict[str, Any]] = [
        {
            "name": "chgnet",
            "oracle": {"kind": "chgnet", "model": "0.3.0", "fmax_ev_per_a": 0.1, "max_steps": 60},
            "batch_size": 8,
            "resources": {"cores": 1, "memory": "2GiB", "timeout_s": 600},
        }
    ]
    if gpaw:
        stages.append(
            {
                "name": "gpaw",
                "oracle": {"kind": "gpaw", "ecut_ev": 200, "kpts": [3, 3, 3], "maxiter": 150},
                "rank_by": "e_above_hull",
                "select_top": 1,
                "resources": {"cores": 1, "memory": "4GiB", "timeout_s": 600},
            }
        )
    band_gap = "band_gap@dft_gllbsc" if gpaw else "formation_energy@ml_potential"
    return {
        "kind": "chain",
        "learn": {"band_gap": band_gap, "e_above_hull": "e_above_hull@ml_potential"},
        "chain": {
            "job_dir": "oracle_jobs",
            "launcher": "processes",
            "max_parallel": 2,
            "poll_s": 0.5,
            "stages": stages,
        },
    }


def _real_workflow(pool: dict[str, Any], *, gpaw: bool, iterations: int) -> WorkflowConfig:
    data = tiny_workflow().model_dump(mode="json")
    del data["data"]
    data.update(pool=pool, targets=["band_gap", "e_above_hull"], oracle=_chgnet_oracle(gpaw=gpaw))
    data["objective"] = {
        "criteria": [
            {"target": "band_gap", "min": 1.0, "max": 3.0, "scale": 0.5},
            {"target": "e_above_hull", "max": 0.1, "scale": 0.1},
        ]
    }
    data["loop"].update(initial_labels=4, batch_size=2, iterations=iterations, top_cifs=2)
    return parse_workflow(data, "<real>")


@pytest.mark.integration
@pytest.mark.slow  # one or two minutes: CHGNet relaxations (and GPAW where installed)
@pytest.mark.skipif(not (HAS_CHGNET and HAS_MP2018), reason="needs chgnet and the MP-2018 data")
def test_cli_user_cifs_with_the_chgnet_gpaw_chain(tmp_path: Path) -> None:
    from materials_ai.cli.app import app

    gpaw = HAS_GPAW or REQUIRED
    folder = write_cifs(tmp_path / "cifs", user_structures())
    config = _real_workflow({"kind": "structures", "paths": [str(folder)]}, gpaw=gpaw, iterations=1)
    workflow = tmp_path / "workflow.yaml"
    dump_workflow(config, workflow)
    result = CliRunner().invoke(
        app, ["campaign", "run", str(workflow), "--run-dir", str(tmp_path / "run")]
    )
    assert result.exit_code == 0, result.output
    state = load_state(tmp_path / "run")
    assert state.done and state.oracle_calls == 6
    by_fidelity: dict[str, list[dict[str, Any]]] = {}
    for record in state.observations:
        by_fidelity.setdefault(record.observation["fidelity"], []).append(record.observation)
    chgnet = by_fidelity["ml_potential"]
    assert len(chgnet) == 6 and sum(o["ok"] for o in chgnet) >= 5
    assert all(np.isfinite(o["values"]["e_above_hull"]) for o in chgnet if o["ok"])
    if gpaw:
        assert len(by_fidelity["dft_gllbsc"]) == 2  # the best of each batch


@pytest.mark.integration
@pytest.mark.slow  # about a minute: 8 CHGNet relaxations (and 3 GPAW runs where installed)
@pytest.mark.skipif(not (HAS_CHGNET and HAS_MP2018), reason="needs chgnet and the MP-2018 data")
def test_generated_pool_with_chgnet_runs_two_rounds_and_resumes(tmp_path: Path) -> None:
    gpaw = HAS_GPAW or REQUIRED
    config = _real_workflow(TINY_GENERATED, gpaw=gpaw, iterations=2)
    run_dir = tmp_path / "run"
    with pytest.raises(_Interrupt):

        def stop(iteration: int, stage: object) -> None:
            if iteration == 2:
                raise _Interrupt

        Campaign.start(config, run_dir).run(after_stage=stop)
    ids = [r["id"] for r in json.loads((run_dir / "pool" / "candidates.json").read_text())["rows"]]
    campaign = Campaign.resume(run_dir)
    assert campaign.run().done and [c.id for c in campaign.pool] == ids
    state = load_state(run_dir)
    assert len(state.selections) == 3 and state.oracle_calls == 8  # seed batch + 2 rounds
    chgnet = [
        r.observation for r in state.observations if r.observation["fidelity"] == "ml_potential"
    ]
    assert len(chgnet) == 8 and sum(o["ok"] for o in chgnet) >= 6
    dft = [r.observation for r in state.observations if r.observation["fidelity"] == "dft_gllbsc"]
    assert len(dft) == (3 if gpaw else 0)  # the best of each batch
    assert len(state.observations) == len(chgnet) + len(dft)
