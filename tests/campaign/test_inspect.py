"""Read-only views of a run directory: status, latest ranked list, pool size, structures."""

from __future__ import annotations

from pathlib import Path

import pytest

from materials_ai.campaign.inspect import (
    campaign_status,
    candidate_structures,
    latest_ranked_list,
    pool_size,
)
from materials_ai.campaign.state import load_state
from materials_ai.errors import CampaignError
from materials_ai.lab.ingest import ingest_results
from materials_ai.testing.runs import TinyRun, tiny_env, tiny_run


@pytest.fixture
def run(tmp_path: Path) -> TinyRun:
    return tiny_run(tmp_path / "copy")


def test_status_counts_observations_by_fidelity(run: TinyRun, tmp_path: Path) -> None:
    info = campaign_status(run.run_dir)
    assert info["name"] == "tiny_campaign"
    assert info["iteration"] == 3 and not info["done"]
    assert info["pending"] == 5
    assert info["observations_by_fidelity"] == {"replay": 15}
    first = next(r.observation["candidate_id"] for r in load_state(run.run_dir).observations)
    results = tmp_path / "r.csv"
    results.write_text(f"id,measured_band_gap_eV\n{first},6.0\n")
    with tiny_env(run):
        ingest_results(run.run_dir, results)
    assert campaign_status(run.run_dir)["observations_by_fidelity"] == {
        "replay": 15,
        "experiment": 1,
    }


def test_latest_ranked_list_and_pool_size(run: TinyRun, tmp_path: Path) -> None:
    table, payload, folder = latest_ranked_list(run.run_dir)
    assert folder == run.run_dir / "iterations" / "iter_002"
    assert payload["schema_version"] == 1 and "candidates" not in payload
    assert list(table["rank"])[:3] == [1, 2, 3]
    assert pool_size(run.run_dir) is None  # the tiny card is not registered here
    with tiny_env(run):
        assert pool_size(run.run_dir) == 38  # 40 rows, 2 skipped
    with pytest.raises(CampaignError, match="no ranked list yet"):
        (tmp_path / "empty").mkdir()
        latest_ranked_list(tmp_path / "empty")


def test_structures_from_cifs_then_from_the_pool(run: TinyRun) -> None:
    table, _, _ = latest_ranked_list(run.run_dir)
    ids = list(table["id"].head(5))
    formulas = list(table["formula"].head(5))
    from_cifs = candidate_structures(run.run_dir, ids, formulas=formulas, load_pool=False)
    assert set(from_cifs) == set(ids[:3])  # top_cifs = 3
    assert all(
        from_cifs[i].composition.reduced_formula == f
        for i, f in zip(ids[:3], formulas[:3], strict=True)
    )
    with tiny_env(run):
        everything = candidate_structures(run.run_dir, ids, formulas=formulas)
    assert set(everything) == set(ids)
    # Without the data mirror the pool cannot load: what the CIFs give, no error.
    assert set(candidate_structures(run.run_dir, ids, formulas=formulas)) == set(ids[:3])
