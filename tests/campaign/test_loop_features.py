"""Two Castelli iterations with the shipped GP on CHGNet + MP-2018-head features (learned
features, a Bayesian head, band gap and edges conditional on being a semiconductor)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from materials_ai.campaign.config import load_workflow
from materials_ai.campaign.loop import Campaign
from materials_ai.campaign.state import Stage, load_state
from materials_ai.settings import DATA_DIR_ENV, PROJECT_ROOT
from materials_ai.surrogates.kinds import load_surrogate

pytestmark = pytest.mark.integration

OVERRIDES = {
    "data.sample_size": 300,
    "loop.initial_labels": 30,
    "loop.batch_size": 10,
    "loop.iterations": 2,
    "loop.max_oracle_calls": None,
    "surrogate.n_samples": 16,
    "tracking.backend": "none",
}


class Interrupt(Exception):
    """Injected interruption."""


@pytest.fixture
def real_data(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    value = os.environ.get(DATA_DIR_ENV)
    if not value or not Path(value).is_dir():
        pytest.skip(f"{DATA_DIR_ENV} is not set to the dataset mirror")
    monkeypatch.delenv("MATERIALS_AI_CARDS_DIR", raising=False)
    monkeypatch.setenv("MATERIALS_AI_CACHE_DIR", str(tmp_path / "cache"))
    return Path(value)


def test_chgnet_gp_campaign_runs_resumes_and_reloads(real_data: Path, tmp_path: Path) -> None:
    path = PROJECT_ROOT / "workflows" / "castelli_water_splitting_chgnet_gp.yaml"
    config = load_workflow(path).with_overrides(**OVERRIDES)
    summary = Campaign.start(config, tmp_path / "straight").run()
    assert summary.done and summary.oracle_calls == 50
    state = load_state(tmp_path / "straight")
    assert state.fit is not None and state.fit["n_train"] == 50
    assert set(state.fit["val_mae"]) == {
        "heat_of_formation",
        "band_gap",
        "vbm",
        "cbm",
        "semiconductor",
    }
    # The ranked list says how far each candidate lies from the training data.
    ranked = pd.read_csv(tmp_path / "straight" / "final" / "ranked_candidates.csv")
    assert {"domain_distance", "outside_domain"} <= set(ranked.columns)
    validated = ranked[ranked["status"] == "validated"]
    assert (validated["domain_distance"] < 1.5).all()  # labelled rows lie inside
    # The features were cached: one file per featurizer for this pool.
    for name in ("chgnet", "mp2018_chgnet_head"):
        assert len(list((tmp_path / "cache" / "features").glob(f"{name}-*.npz"))) == 1

    # Interrupted after training in iteration 2, then resumed: the same picks.
    def stop(iteration: int, stage: Stage) -> None:
        if iteration == 2 and stage == Stage.TRAIN:
            raise Interrupt

    with pytest.raises(Interrupt):
        Campaign.start(config, tmp_path / "cut").run(after_stage=stop)
    Campaign.resume(tmp_path / "cut").run()
    cut = load_state(tmp_path / "cut")
    assert [s.candidate_ids for s in cut.selections] == [s.candidate_ids for s in state.selections]

    # The saved surrogate reloads and scores the pool exactly as the campaign did.
    campaign = Campaign.resume(tmp_path / "straight")
    campaign._prepare()
    model = load_surrogate(tmp_path / "straight" / state.model_dir)
    again = model.predict_pool(campaign.features)
    with np.load(tmp_path / "straight" / state.scores_file) as scores:
        samples = scores["samples"]
    np.testing.assert_allclose(again.samples, samples, atol=1e-9)
