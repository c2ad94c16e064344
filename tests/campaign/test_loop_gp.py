"""Campaigns with the exact-GP surrogate (``surrogate.kind: gp``) on the synthetic pool."""

from __future__ import annotations

from pathlib import Path

import pytest

from materials_ai.campaign.loop import Campaign
from materials_ai.campaign.state import Stage, load_state
from materials_ai.surrogates.config import GPConfig
from materials_ai.surrogates.gp import GPSurrogate
from materials_ai.testing.campaigns import tiny_workflow
from materials_ai.testing.datasets import TinyDataset

GP = {"kind": "gp", "seed": 1, "descriptor": "composition", "n_samples": 8, "max_iter": 30}


class Interrupt(Exception):
    """Injected interruption."""


def _workflow(strategy: str = "qucb"):  # type: ignore[no-untyped-def]
    return tiny_workflow(**{"surrogate": GP, "acquisition.strategy": strategy})


@pytest.mark.parametrize("strategy", ["qucb", "constrained"])
def test_gp_campaign_runs(tiny_registry: TinyDataset, tmp_path: Path, strategy: str) -> None:
    config = _workflow(strategy)
    assert isinstance(config.surrogate, GPConfig)
    summary = Campaign.start(config, tmp_path / "run").run()
    state = load_state(tmp_path / "run")
    assert summary.done and summary.oracle_calls == 20
    picked = [i for s in state.selections for i in s.candidate_ids]
    assert len(picked) == len(set(picked)) == 20
    assert state.fit is not None and state.fit["n_train"] == 20
    assert set(state.fit["val_mae"]) == {"band_gap", "formation_energy"}
    model = GPSurrogate.load(tmp_path / "run" / state.model_dir)
    assert model.is_fitted and model.config.descriptor == "composition"
    assert summary.ranked_csv is not None and summary.ranked_csv.exists()


def test_gp_campaign_resumes_to_the_same_picks(tiny_registry: TinyDataset, tmp_path: Path) -> None:
    Campaign.start(_workflow(), tmp_path / "straight").run()

    def stop(iteration: int, stage: Stage) -> None:
        if iteration == 2 and stage == Stage.TRAIN:
            raise Interrupt

    with pytest.raises(Interrupt):
        Campaign.start(_workflow(), tmp_path / "cut").run(after_stage=stop)
    Campaign.resume(tmp_path / "cut").run()
    straight, cut = load_state(tmp_path / "straight"), load_state(tmp_path / "cut")
    assert [s.candidate_ids for s in cut.selections] == [
        s.candidate_ids for s in straight.selections
    ]
