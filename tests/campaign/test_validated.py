"""Campaigns validated through a fidelity chain (``oracle: {kind: chain}``).

Unit tests use two sleep stages standing for two fidelities (seconds per run); the last
test runs a real CHGNet stage on a few Castelli rows when chgnet and the data are there.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import numpy as np
import pytest
import yaml

from materials_ai.campaign.config import dump_workflow, parse_workflow
from materials_ai.campaign.loop import Campaign
from materials_ai.campaign.state import load_state
from materials_ai.campaign.validation import learned_values
from materials_ai.data.records import Observation
from materials_ai.errors import ConfigError
from materials_ai.oracles.jobs import JobStore
from materials_ai.testing.campaigns import tiny_chain_oracle, tiny_workflow
from materials_ai.testing.datasets import TinyDataset
from materials_ai.testing.kill import kill_campaign_when_jobs_finished
from materials_ai.testing.simulate import run_counts

pytestmark = pytest.mark.timeout(240)


def _job_runs(run_dir: Path) -> dict[str, int]:
    """Job id -> times a worker started it, over every stage's job store."""
    counts: dict[str, int] = {}
    for stage in ("screen", "dft"):
        root = run_dir / "oracle_jobs" / stage
        if root.exists():
            counts.update(run_counts(root, JobStore(root).list_jobs()))
    return counts


def test_chain_workflow_config_is_validated() -> None:
    config = tiny_workflow(oracle=tiny_chain_oracle())
    assert config.oracle.kind == "chain" and config.oracle.chain is not None
    with pytest.raises(ConfigError, match="learn"):
        tiny_workflow(oracle={**tiny_chain_oracle(), "learn": {"band_gap": "band_gap@x"}})
    with pytest.raises(ConfigError, match="value@fidelity"):
        oracle = tiny_chain_oracle()
        oracle["learn"] = {**oracle["learn"], "band_gap": "band_gap"}
        tiny_workflow(oracle=oracle)
    with pytest.raises(ConfigError, match="chain"):
        tiny_workflow(oracle={"kind": "chain", "learn": {}})
    with pytest.raises(ConfigError, match="kind 'chain' only"):
        tiny_workflow(oracle={"kind": "replay", "learn": {"band_gap": "a@b"}})
    # The replay default is unchanged, and so is its fingerprint.
    assert tiny_workflow().oracle.model_dump() == {"kind": "replay", "chain": None, "learn": {}}


def test_learned_values_take_each_target_from_its_fidelity_only() -> None:
    observations = [
        Observation("a", {"band_gap": 1.0, "e_above_hull": 0.02}, "ml_potential"),
        Observation("a", {"band_gap": 2.5}, "dft_gllbsc").to_dict(),
        Observation("b", {"band_gap": 0.7, "e_above_hull": 0.3}, "ml_potential"),
        Observation("c", {}, "dft_gllbsc", ok=False, reason="SCF did not converge"),
    ]
    learn = {"band_gap": "band_gap@dft_gllbsc", "e_above_hull": "e_above_hull@ml_potential"}
    assert learned_values(observations, learn) == {
        "a": {"band_gap": 2.5, "e_above_hull": 0.02},
        "b": {"e_above_hull": 0.3},  # the ML gap never stands in for the DFT one
    }


def test_tiny_campaign_through_the_chain(tiny_registry: TinyDataset, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    summary = Campaign.start(tiny_workflow(oracle=tiny_chain_oracle()), run_dir).run()
    state = load_state(run_dir)
    assert summary.done and state.done and not state.pending
    assert summary.targets_total is None  # no replayed table to count against
    # 10 seed labels + 2 batches of 5, every one through the cheap stage ...
    assert state.oracle_calls == 20
    by_fidelity: dict[str, list[dict]] = {}
    for record in state.observations:
        by_fidelity.setdefault(record.observation["fidelity"], []).append(record.observation)
    assert len(by_fidelity["screen"]) == 20
    # ... and the first 3 of each batch through the expensive one.
    assert len(by_fidelity["dft_test"]) == 9
    for selection in state.selections:
        dft_ids = [
            r.observation["candidate_id"]
            for r in state.observations
            if r.observation["fidelity"] == "dft_test" and r.iteration == selection.iteration
        ]
        assert dft_ids == selection.candidate_ids[:3]
    # Provenance: code, versions, settings and the job directory of every observation.
    obs = by_fidelity["dft_test"][0]
    provenance = obs["provenance"]
    assert provenance["code"] == "sleep"
    assert "materials_ai" in provenance["versions"]
    assert provenance["settings"]["seconds"] == 0.0
    assert Path(provenance["job_dir"]).is_dir()
    # The surrogate learned band_gap from the dft_test value only.
    from materials_ai.campaign.stages import training_data

    campaign = Campaign.resume(run_dir)
    campaign._prepare()
    indices, y = training_data(campaign)
    dft = {o["candidate_id"]: o["values"]["volume_per_atom"] for o in by_fidelity["dft_test"]}
    gaps = {campaign.pool[int(i)].id: y[k, 0] for k, i in enumerate(indices)}
    assert {k for k, v in gaps.items() if np.isfinite(v)} == set(dft)
    assert all(gaps[k] == pytest.approx(v) for k, v in dft.items())
    assert np.isfinite(y[:, 1]).sum() == 20
    # Fidelity counts are logged per iteration; every job ran exactly once.
    assert state.metrics[-1]["observations_dft_test"] == 9.0
    assert set(_job_runs(run_dir).values()) == {1}
    ranked = json.loads(summary.ranked_json.read_text())
    assert ranked["target_units"]["band_gap"] == "Å^3/atom"


def test_failed_jobs_are_failed_observations_and_the_campaign_goes_on(
    tiny_registry: TinyDataset, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    oracle = tiny_chain_oracle(fail_ids=("GaAs",))
    summary = Campaign.start(tiny_workflow(oracle=oracle), run_dir).run()
    state = load_state(run_dir)
    assert summary.done
    failed = [r.observation for r in state.observations if not r.observation["ok"]]
    assert failed and all(o["reason"] == "forced failure for GaAs" for o in failed)
    assert all(o["fidelity"] == "screen" for o in failed)
    # A failed candidate is never sent on to the expensive stage, nor selected again.
    failed_ids = {o["candidate_id"] for o in failed}
    dft_ids = {
        r.observation["candidate_id"]
        for r in state.observations
        if r.observation["fidelity"] == "dft_test"
    }
    assert not failed_ids & dft_ids
    picked = [i for s in state.selections for i in s.candidate_ids]
    assert len(picked) == len(set(picked))
    assert state.metrics[-1]["observations_screen_failed"] == float(len(failed))


def test_kill_9_and_resume_collects_finished_jobs_without_recomputing(
    tiny_registry: TinyDataset, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    config = tiny_workflow(
        oracle=tiny_chain_oracle(seconds=1.0, batch_size=1, max_parallel=2),
        **{"loop.iterations": 1},
    )
    workflow = tmp_path / "workflow.yaml"
    dump_workflow(config, workflow)
    screen = run_dir / "oracle_jobs" / "screen"
    # Kill the campaign once some seed jobs have finished while others still run.
    kill_campaign_when_jobs_finished(workflow, run_dir, job_folder=screen, n_finished=3)
    store = JobStore(screen)
    jobs = store.list_jobs()
    finished_at_kill = {j for j in jobs if store.info(j).finished}
    assert 3 <= len(finished_at_kill) < 10
    state = load_state(run_dir)
    assert state.iteration == 1 and len(state.pending) == 10 and not state.observations

    summary = Campaign.resume(run_dir).run()
    state = load_state(run_dir)
    assert summary.done and not state.pending
    # Nothing lost: every candidate of the seed batch and of the one selection round
    # has its cheap observation; nothing recomputed: every job started exactly once.
    screen_ids = [
        r.observation["candidate_id"]
        for r in state.observations
        if r.observation["fidelity"] == "screen"
    ]
    assert len(screen_ids) == len(set(screen_ids)) == 15
    runs = _job_runs(run_dir)
    assert len(runs) == 15 + 6 and set(runs.values()) == {1}
    for job_id in finished_at_kill:
        assert store.read_status(job_id)["history"][-1]["state"] == "done"


HAS_CHGNET = importlib.util.find_spec("chgnet") is not None
DATA_DIR = os.environ.get("MATERIALS_AI_DATA_DIR", "")
HAS_CASTELLI = Path(DATA_DIR, "inorganic", "castelli_cubic_perovskites_18928.csv.gz").is_file()


@pytest.mark.integration
@pytest.mark.slow  # 25-70 s depending on the machine's load; `make test-all` runs it
@pytest.mark.skipif(
    not (HAS_CHGNET and HAS_CASTELLI), reason="needs chgnet and the Castelli/MP-2018 data"
)
def test_real_chgnet_stage_on_castelli_rows(tmp_path: Path) -> None:
    data = yaml.safe_load(
        (Path(__file__).parents[2] / "workflows/castelli_validated_chgnet_gpaw.yaml").read_text()
    )
    data["data"] = {"dataset": "castelli_perovskites", "limit": 12}
    data["surrogate"] = tiny_workflow().surrogate.model_dump(mode="json")
    # Seed batch, then the final retrain: one CHGNet worker (about 25 s on 2 idle cores).
    data["loop"] = {**data["loop"], "initial_labels": 4, "batch_size": 2, "iterations": 0}
    data["tracking"] = {"backend": "none"}
    chain = data["oracle"]["chain"]
    chain["stages"] = chain["stages"][:1]  # CHGNet only: GPAW has its own tests
    chain["stages"][0]["oracle"].update(fmax_ev_per_a=0.1, max_steps=60)
    chain["poll_s"] = 0.5
    data["oracle"]["learn"] = {
        "band_gap": "formation_energy@ml_potential",  # CHGNet has no gap: a stand-in
        "e_above_hull": "e_above_hull@ml_potential",
    }
    config = parse_workflow(data, "<test>")
    summary = Campaign.start(config, tmp_path / "run").run()
    state = load_state(tmp_path / "run")
    assert summary.done and state.oracle_calls == 4
    observations = [r.observation for r in state.observations]
    assert len(observations) == 4
    for obs in observations:
        assert obs["fidelity"] == "ml_potential", obs
        assert obs["provenance"]["code"] == "chgnet"
        assert obs["provenance"]["versions"]["chgnet"] == "0.4.2"
        if obs["ok"]:
            assert np.isfinite(obs["values"]["e_above_hull"])
    assert sum(o["ok"] for o in observations) >= 3
    assert (tmp_path / "run" / "final" / "ranked_candidates.csv").exists()
