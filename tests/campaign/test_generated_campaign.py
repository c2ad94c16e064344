"""A generated pool through the whole loop: pre-screen, acquire, validate, learn, resume.

The oracle is the two sleep stages of ``tiny_chain_oracle`` (seconds), the pre-screen
model a GP on composition features trained here on a few labels (seconds); the shipped
workflow itself (CHGNet-feature head, CHGNet relaxations) is run by hand, see
workflows/novel_perovskite_photocatalysts.yaml.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from materials_ai.acquisition.objective import Criterion
from materials_ai.campaign.config import (
    WorkflowConfig,
    dump_workflow,
    load_workflow,
    parse_workflow,
)
from materials_ai.campaign.loop import Campaign
from materials_ai.campaign.oracle_plans import ORACLE_PLANS
from materials_ai.campaign.pool_prescreen import PrescreenConfig, prescreen
from materials_ai.campaign.pool_sources import load_pool
from materials_ai.campaign.state import Stage, load_state
from materials_ai.candidates.pool import PoolResult
from materials_ai.errors import ConfigError
from materials_ai.oracles.jobs import JobStore
from materials_ai.settings import PROJECT_ROOT
from materials_ai.testing.campaigns import tiny_chain_oracle, tiny_workflow
from materials_ai.testing.datasets import TinyDataset
from materials_ai.testing.kill import kill_campaign_when_jobs_finished
from materials_ai.testing.models import labelled_dataset
from materials_ai.testing.simulate import run_counts

pytestmark = pytest.mark.timeout(240)

#: A few cubic oxide perovskites (seconds to generate; no known-structure data needed).
TINY_GENERATED: dict[str, Any] = {
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


def _workflow(pool: dict[str, Any]) -> WorkflowConfig:
    """The tiny workflow over ``pool``, validated by the sleep chain (band_gap from the
    ``dft_test`` volume of the first candidate of each batch, formation_energy from the
    ``screen`` volume of all): 3 seed labels, then 2 rounds of 2; a worker process runs
    up to 2 jobs of a batch, one after the other."""
    data = tiny_workflow(
        oracle=tiny_chain_oracle(seconds=1.0, batch_size=2, max_parallel=2, select_top=1)
    ).model_dump(mode="json")
    del data["data"]
    data["pool"] = pool
    data["loop"].update({"initial_labels": 3, "batch_size": 2, "iterations": 2})
    return parse_workflow(data, "<generated>")


@functools.cache
def _generated_pool() -> PoolResult:
    from materials_ai.candidates import generate_pool
    from materials_ai.candidates.config import PoolConfig

    return generate_pool(PoolConfig.model_validate(TINY_GENERATED["generate"]))


@pytest.fixture(scope="module")
def gap_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved GP (composition features) whose ``band_gap`` grows with the mean Z and
    whose ``formation_energy`` (eV/atom) falls with it."""
    from materials_ai.surrogates.config import GPConfig
    from materials_ai.surrogates.gp import GPSurrogate

    structures = [c.structure for c in _generated_pool().candidates][::2]
    z = np.array([np.mean([s.specie.Z for s in st]) for st in structures])
    targets = ["band_gap", "formation_energy"]
    surrogate = GPSurrogate(
        GPConfig(kind="gp", descriptor="composition", max_iter=10), targets, ["eV", "eV/atom"]
    )
    surrogate.fit(labelled_dataset(structures, np.stack([z / 10, -z / 20], axis=1), targets))
    folder = tmp_path_factory.mktemp("gap_model") / "model"
    surrogate.save(folder)
    return folder


# -- pre-screen ----------------------------------------------------------------------------


def test_prescreen_keeps_the_largest_margins_in_pool_order(gap_model: Path, tmp_path: Path) -> None:
    from materials_ai.surrogates.kinds import load_surrogate

    pool = _generated_pool()
    gap = load_surrogate(gap_model).predict(pool.candidates).mean[:, 0]  # type: ignore[attr-defined]
    low, high = np.quantile(gap, [0.2, 0.8])
    config = PrescreenConfig.model_validate(
        {
            "model": str(gap_model),
            "criteria": [{"target": "band_gap", "min": low, "max": high, "scale": 0.5}],
            "keep": 3,
        }
    )
    result = prescreen(pool, config, None, tmp_path)
    margin = np.minimum(gap - low, high - gap)
    inside = np.flatnonzero(margin >= 0)
    assert len(inside) > 3  # the cap matters
    expected = np.sort(inside[np.argsort(-margin[inside], kind="stable")][:3])
    ids = [g.id for g in pool.generated]
    assert [g.id for g in result.pool.generated] == [ids[i] for i in expected]
    np.testing.assert_allclose(result.columns["prescreen_band_gap"], gap[expected], rtol=1e-6)
    summary = json.loads((tmp_path / "prescreen.json").read_text())
    assert summary["n_in"] == summary["n_after_stability"] == len(ids)
    assert summary["n_kept"] == 3
    assert summary["n_passed"] == len(inside)


def test_prescreen_runs_the_stability_screen_on_the_models_formation_energy(
    gap_model: Path, tiny_registry: TinyDataset, tmp_path: Path
) -> None:
    from materials_ai.candidates.config import StabilityConfig
    from materials_ai.candidates.stability import HullReference

    pool = _generated_pool()
    everything = PrescreenConfig.model_validate(
        {
            "model": str(gap_model),
            "criteria": [{"target": "band_gap", "min": -100.0}],
            "stability": True,
        }
    )
    assert prescreen(pool, everything.model_copy(update={"stability": False})).summary[
        "n_kept"
    ] == len(pool.generated)
    stability = StabilityConfig(reference_dataset="tiny", require_covered_hull=True)
    result = prescreen(pool, everything, stability, tmp_path)
    # The tiny hull holds Si, GaAs and SrTiO3: only Sr-Ti oxides have every pair covered.
    hull = HullReference.from_card("tiny", "formation_energy")
    covered = [
        g.id for g in pool.generated if not hull.uncovered_pairs(g.candidate.structure.composition)
    ]
    assert 0 < len(covered) < len(pool.generated)
    assert [g.id for g in result.pool.generated] == covered
    assert all(np.isfinite(r["e_above_hull_pred_ev_per_atom"]) for r in result.pool.rows())
    assert result.summary["n_after_stability"] == result.summary["n_kept"] == len(covered)
    # With the stability screen, criteria may bound the predicted energy above the hull.
    e_hull = np.array([r["e_above_hull_pred_ev_per_atom"] for r in result.pool.rows()])
    bound = float(np.median(e_hull))
    near = everything.model_copy(
        update={"criteria": [*everything.criteria, Criterion(target="e_above_hull", min=bound)]}
    )
    again = prescreen(pool, near, stability)
    assert [g.id for g in again.pool.generated] == [
        i for i, e in zip(covered, e_hull, strict=True) if e >= bound
    ]
    assert again.columns["prescreen_e_above_hull"] == [e for e in e_hull if e >= bound]


def test_prescreen_errors_name_the_setting(gap_model: Path) -> None:
    pool = _generated_pool()
    wrong = PrescreenConfig.model_validate(
        {"model": str(gap_model), "criteria": [{"target": "e_form", "max": 0.0}]}
    )
    with pytest.raises(ConfigError, match=r"pool.prescreen: .*\['e_form'\]"):
        prescreen(pool, wrong)
    from materials_ai.candidates.config import StabilityConfig

    energy = PrescreenConfig.model_validate(
        {"model": str(gap_model), "criteria": [{"target": "band_gap", "min": 0}], "stability": True}
    )
    with pytest.raises(ConfigError, match=r"\['e_f'\]"):
        prescreen(pool, energy, StabilityConfig(target="e_f"))
    missing = wrong.model_copy(update={"model": "models/no_such_model"})
    with pytest.raises(ConfigError, match=r"pool\.prescreen\.model"):
        prescreen(pool, missing)
    with pytest.raises(ConfigError, match="keep"):
        _workflow(
            {
                **TINY_GENERATED,
                "prescreen": {"model": "m", "criteria": [{"target": "x", "max": 1}], "keep": 0},
            }
        )


def test_prescreened_pool_is_kept_with_the_predicted_values(
    gap_model: Path, tmp_path: Path
) -> None:
    pool = {
        **TINY_GENERATED,
        "prescreen": {
            "model": str(gap_model),
            "criteria": [{"target": "band_gap", "min": 0.0, "scale": 0.5}],
            "keep": 6,
        },
    }
    config = _workflow(pool)
    plan = ORACLE_PLANS.get("chain")(config, None)  # type: ignore[arg-type]
    loaded = load_pool(config, tmp_path, plan)
    rows = json.loads((tmp_path / "pool" / "candidates.json").read_text())["rows"]
    assert len(loaded.dataset) == len(rows) == 6
    assert all(np.isfinite(r["prescreen_band_gap"]) for r in rows)
    assert json.loads((tmp_path / "pool" / "prescreen.json").read_text())["n_kept"] == 6
    # Nothing passes: a clear error, not an empty campaign.
    none_pass = {**pool, "prescreen": {**pool["prescreen"], "criteria": [
        {"target": "band_gap", "min": 1e6}
    ]}}  # fmt: skip
    with pytest.raises(Exception, match="no generated candidate meets"):
        load_pool(_workflow(none_pass), tmp_path / "other", plan)


# -- kill -9 during validation -------------------------------------------------------------


def _job_runs(run_dir: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for stage in ("screen", "dft"):
        root = run_dir / "oracle_jobs" / stage
        if root.exists():
            counts.update(run_counts(root, JobStore(root).list_jobs()))
    return counts


def test_kill_9_during_validation_of_a_generated_pool_then_resume_loses_nothing(
    tmp_path: Path,
) -> None:
    run_dir = tmp_path / "run"
    config = _workflow(TINY_GENERATED)
    workflow = tmp_path / "workflow.yaml"
    dump_workflow(config, workflow)
    screen = run_dir / "oracle_jobs" / "screen"
    # Kill it while the first selected batch (after the 3 seed labels) is validated.
    kill_campaign_when_jobs_finished(
        workflow, run_dir, job_folder=screen, n_finished=4, timeout_s=150, poll_s=0.05
    )
    state = load_state(run_dir)
    # Round 1 was submitted and iteration 2 waits for it (COLLECT not done): mid-validation.
    assert state.iteration == 2 and [s.iteration for s in state.selections] == [0, 1]
    assert Stage.COLLECT not in state.completed and state.pending
    runs_at_kill = _job_runs(run_dir)
    pool_file = (run_dir / "pool" / "candidates.json").read_bytes()
    ids = [r["id"] for r in json.loads(pool_file)["rows"]]

    campaign = Campaign.resume(run_dir)
    summary = campaign.run()
    state = load_state(run_dir)
    assert summary.done and not state.pending and state.oracle_calls == 3 + 2 * 2
    assert [c.id for c in campaign.pool] == ids
    assert (run_dir / "pool" / "candidates.json").read_bytes() == pool_file
    # Nothing lost: every acquired candidate has its cheap observation, once.
    acquired = [i for s in state.selections for i in s.candidate_ids]
    assert len(acquired) == len(set(acquired)) == 7 and set(acquired) <= set(ids)
    screened = [
        r.observation["candidate_id"]
        for r in state.observations
        if r.observation["fidelity"] == "screen"
    ]
    assert sorted(screened) == sorted(acquired)
    dft = [r for r in state.observations if r.observation["fidelity"] == "dft_test"]
    assert len(dft) == 3  # the first of each batch, at the second fidelity
    # Nothing recomputed: every job (both stages) started exactly once.
    runs = _job_runs(run_dir)
    assert set(runs_at_kill) <= set(runs) and set(runs.values()) == {1}
    # The ranked list shows the validated values of what was acquired.
    table = pd.read_csv(run_dir / "final" / "ranked_candidates.csv")
    validated = table[table["status"] == "validated"]
    assert set(validated["id"]) == set(acquired)
    assert validated["formation_energy_validated"].notna().all()
    assert table.loc[table["status"] != "validated", "formation_energy_validated"].isna().all()
    assert [m["iteration"] for m in state.metrics] == [1, 2, 3]  # the seed records none


# -- the shipped workflow --------------------------------------------------------------------


def test_shipped_generative_workflow_is_a_validated_campaign() -> None:
    config = load_workflow(PROJECT_ROOT / "workflows" / "novel_perovskite_photocatalysts.yaml")
    assert config.pool.kind == "generated" and config.oracle.kind == "chain"
    prescreen_config = config.pool.prescreen  # type: ignore[union-attr]
    assert prescreen_config is not None
    assert (PROJECT_ROOT / prescreen_config.model / "surrogate.json").is_file()
    assert config.oracle.chain is not None
    assert config.oracle.chain.stages[0].oracle.kind == "chgnet"
    assert config.loop.iterations >= 3
    assert config.surrogate.kind == "gp"
