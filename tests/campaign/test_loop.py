"""The campaign stage machine on a synthetic dataset (tiny models, seconds per run)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from materials_ai.campaign.loop import Campaign
from materials_ai.campaign.state import Stage, load_state
from materials_ai.errors import CampaignError, DatasetNotFoundError
from materials_ai.testing.campaigns import tiny_workflow
from materials_ai.testing.datasets import TinyDataset
from materials_ai.testing.fakes import FixedSurrogate, TableOracle
from materials_ai.tracking import InMemoryTracker


class Interrupt(Exception):
    """Injected interruption."""


def _comparable(run_dir: Path) -> dict:
    state = load_state(run_dir)
    return {
        "observations": [r.model_dump() for r in state.observations],
        "selections": [s.model_dump() for s in state.selections],
        "metrics": [
            {k: v for k, v in m.items() if not k.startswith("seconds_")} for m in state.metrics
        ],
        "oracle_calls": state.oracle_calls,
        "ranked": pd.read_csv(run_dir / "final" / "ranked_candidates.csv")
        .fillna("NaN")
        .to_dict("list"),
    }


def test_campaign_runs_end_to_end(tiny_registry: TinyDataset, tmp_path: Path) -> None:
    tracker = InMemoryTracker()
    summary = Campaign.start(tiny_workflow(), tmp_path / "run", tracker=tracker).run()
    state = load_state(tmp_path / "run")

    assert summary.done and state.done
    # 10 seed labels + 2 batches of 5.
    assert summary.oracle_calls == 20 == state.oracle_calls
    assert [s.iteration for s in state.selections] == [0, 1, 2]
    picked = [i for s in state.selections for i in s.candidate_ids]
    assert len(picked) == len(set(picked)) == 20
    # The corrupted and unlabelled rows never enter the pool.
    assert not {"tiny-5", "tiny-7"} & set(picked)
    skipped = pd.read_csv(tmp_path / "run" / "skipped_rows.csv")
    assert set(skipped["id"]) == {"tiny-5", "tiny-7"}
    assert set(skipped["field"]) == {"cif", "band_gap_eV"}

    ranked = pd.read_csv(summary.ranked_csv)
    assert list(ranked["rank"]) == list(range(1, len(ranked) + 1))
    for column in (
        "id",
        "formula",
        "band_gap_pred_mean",
        "band_gap_pred_std",
        "band_gap_validated",
        "acquisition_value",
        "status",
    ):
        assert column in ranked.columns
    scores = ranked["score"].to_numpy()
    assert np.all(np.diff(scores[np.isfinite(scores)]) <= 1e-12)
    validated = ranked[ranked["status"] == "validated"]
    assert validated["band_gap_validated"].notna().all()
    assert len(list(summary.cif_dir.glob("*.cif"))) == 3
    payload = json.loads(summary.ranked_json.read_text())
    assert payload["schema_version"] == 1
    assert payload["target_units"] == {"band_gap": "eV", "formation_energy": "eV/atom"}

    # Per-iteration outputs and metrics, logged with the iteration as step.
    assert (tmp_path / "run" / "iterations" / "iter_001" / "ranked_candidates.csv").exists()
    run = tracker.last_run
    assert run is not None
    assert run.metrics["oracle_calls"] == [(1, 15.0), (2, 20.0), (3, 20.0)]
    assert run.status == "FINISHED"
    assert any(path.name == "ranked_candidates.json" for path, _ in run.artifacts)
    assert "val_mae_band_gap_eV" in run.metrics  # tracked with its unit


def test_targets_found_counts_validated_hits(tiny_registry: TinyDataset, tmp_path: Path) -> None:
    summary = Campaign.start(tiny_workflow(), tmp_path / "run").run()
    state = load_state(tmp_path / "run")
    gaps = {r.observation["candidate_id"]: r.observation["values"] for r in state.observations}
    expected = sum(
        1 for v in gaps.values() if 5.0 <= v["band_gap"] <= 8.0 and v["formation_energy"] <= -2
    )
    assert summary.targets_found == expected
    # Rows 18..30 meet both criteria in the synthetic table (rows 5, 7 unusable).
    assert summary.targets_total == 13


def _fixed_parts(tiny: TinyDataset) -> tuple[FixedSurrogate, TableOracle]:
    """A fixed surrogate that ranks rows by their index, and an oracle of the tiny labels
    shifted by +1 eV (so that values from the table are told apart from the dataset's)."""
    means = {cid: [5.0 + k / 10, -2.5] for k, cid in enumerate(tiny.ids)}
    labels = {
        cid: {"band_gap": gap + 1.0, "formation_energy": e_form}
        for cid, gap, e_form in zip(tiny.ids, tiny.band_gaps, tiny.formation_energies, strict=True)
        if np.isfinite(gap)
    }
    return FixedSurrogate(("band_gap", "formation_energy"), means), TableOracle(labels)


def test_surrogate_only_ever_sees_collected_labels(
    tiny_registry: TinyDataset, tmp_path: Path
) -> None:
    surrogate, oracle = _fixed_parts(tiny_registry)
    campaign = Campaign.start(tiny_workflow(), tmp_path / "run", surrogate=surrogate, oracle=oracle)
    collected_before_fit: list[set[str]] = []

    def record(iteration: int, stage: Stage) -> None:
        if stage == Stage.COLLECT:
            collected_before_fit.append(campaign.state.labelled_ids())

    campaign.run(after_stage=record)
    assert len(surrogate.fits) == 3  # two selection iterations + the final retrain
    for ids, labelled in zip(surrogate.fits, collected_before_fit, strict=True):
        assert set(ids) == labelled
    assert len(surrogate.fits[0]) == 10


def test_injected_oracle_answers_every_selection(
    tiny_registry: TinyDataset, tmp_path: Path
) -> None:
    surrogate, oracle = _fixed_parts(tiny_registry)
    Campaign.start(tiny_workflow(), tmp_path / "run", surrogate=surrogate, oracle=oracle).run()
    state = load_state(tmp_path / "run")
    # The initial labels, then one batch of 5 per iteration, all asked of the given oracle.
    assert [len(batch) for batch in oracle.submissions] == [10, 5, 5]
    assert [tuple(s.candidate_ids) for s in state.selections][-2:] == oracle.submissions[1:]
    asked = [cid for batch in oracle.submissions for cid in batch]
    observed = {r.observation["candidate_id"]: r.observation for r in state.observations}
    assert set(observed) == set(asked)
    measured = [cid for cid in asked if observed[cid]["ok"]]
    assert len(measured) >= len(asked) - 2  # rows 5 and 7 have no usable label
    for cid in measured:  # the table's values (dataset gap + 1 eV), not a replay's
        row = tiny_registry.ids.index(cid)
        assert observed[cid]["values"]["band_gap"] == pytest.approx(
            tiny_registry.band_gaps[row] + 1.0
        )


def test_resume_after_every_stage_matches_uninterrupted_run(
    tiny_registry: TinyDataset, tmp_path: Path
) -> None:
    config = tiny_workflow()
    Campaign.start(config, tmp_path / "a").run()

    def stop(iteration: int, stage: Stage) -> None:
        raise Interrupt(f"after {stage.value} of iteration {iteration}")

    Campaign.start(config, tmp_path / "b")
    interruptions = 0
    while not load_state(tmp_path / "b").done:
        with pytest.raises(Interrupt):
            Campaign.resume(tmp_path / "b").run(after_stage=stop)
        interruptions += 1
    # seed + 2 x 6 selection stages + 4 final stages, one process each.
    assert interruptions == 17
    assert _comparable(tmp_path / "a") == _comparable(tmp_path / "b")


def test_crash_inside_a_stage_is_redone_on_resume(
    tiny_registry: TinyDataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tiny_workflow()
    Campaign.start(config, tmp_path / "a").run()

    import materials_ai.acquisition.select as select_module

    original = select_module.select_batch
    calls = {"n": 0}

    def flaky(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("worker lost")
        return original(*args, **kwargs)

    monkeypatch.setattr(select_module, "select_batch", flaky)
    with pytest.raises(RuntimeError, match="worker lost"):
        Campaign.start(config, tmp_path / "b").run()
    state = load_state(tmp_path / "b")
    assert state.iteration == 2 and Stage.SELECT not in state.completed
    Campaign.resume(tmp_path / "b").run()
    assert _comparable(tmp_path / "a") == _comparable(tmp_path / "b")


def test_same_seed_same_picks_other_seed_other_picks(
    tiny_registry: TinyDataset, tmp_path: Path
) -> None:
    def picks(seed: int, name: str) -> list[list[str]]:
        Campaign.start(tiny_workflow(seed=seed), tmp_path / name).run()
        return [s.candidate_ids for s in load_state(tmp_path / name).selections]

    first = picks(1, "a")
    assert first == picks(1, "b")
    other = picks(2, "c")
    assert first[0] != other[0]
    assert first[1] != other[1]


def test_oracle_call_budget_caps_the_last_batch(tiny_registry: TinyDataset, tmp_path: Path) -> None:
    config = tiny_workflow(**{"loop.iterations": 5, "loop.max_oracle_calls": 17})
    summary = Campaign.start(config, tmp_path / "run").run()
    state = load_state(tmp_path / "run")
    assert summary.oracle_calls == 17
    assert [len(s.candidate_ids) for s in state.selections] == [10, 5, 2]


def test_start_refuses_an_existing_campaign(tiny_registry: TinyDataset, tmp_path: Path) -> None:
    Campaign.start(tiny_workflow(), tmp_path / "run")
    with pytest.raises(CampaignError, match="already holds a campaign"):
        Campaign.start(tiny_workflow(), tmp_path / "run")
    with pytest.raises(CampaignError, match="not a campaign run directory"):
        Campaign.resume(tmp_path / "elsewhere")


def test_resume_refuses_an_edited_workflow(tiny_registry: TinyDataset, tmp_path: Path) -> None:
    Campaign.start(tiny_workflow(), tmp_path / "run")
    path = tmp_path / "run" / "workflow.yaml"
    path.write_text(path.read_text().replace("seed: 7", "seed: 8"))
    with pytest.raises(CampaignError, match="changed since the campaign started"):
        Campaign.resume(tmp_path / "run")


def test_resume_can_extend_the_budget(tiny_registry: TinyDataset, tmp_path: Path) -> None:
    campaign = Campaign.start(tiny_workflow(**{"loop.iterations": 1}), tmp_path / "run")
    campaign.run(max_stages=3)  # seed, collect, train
    summary = Campaign.resume(tmp_path / "run", iterations=2).run()
    assert summary.done
    assert summary.oracle_calls == 20


def test_missing_data_file_names_the_file(
    tiny_registry: TinyDataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("MATERIALS_AI_DATA_DIR", str(empty))
    with pytest.raises(DatasetNotFoundError) as info:
        Campaign.start(tiny_workflow(), tmp_path / "run").run()
    assert "inorganic/tiny.csv" in str(info.value)


def test_resume_with_more_iterations_reopens_a_finished_campaign(
    tiny_registry: TinyDataset, tmp_path: Path
) -> None:
    Campaign.start(tiny_workflow(**{"loop.iterations": 1}), tmp_path / "run").run()
    assert load_state(tmp_path / "run").done
    summary = Campaign.resume(tmp_path / "run", iterations=2).run()
    state = load_state(tmp_path / "run")
    assert summary.done and state.done
    assert summary.oracle_calls == 20  # one more batch of 5 than the 1-iteration run
    assert [s.iteration for s in state.selections] == [0, 1, 2]
    assert (tmp_path / "run" / "final" / "ranked_candidates.csv").exists()
