"""The fidelity chain, its config, and fidelity-aware training targets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from materials_ai.data.records import Candidate, Observation
from materials_ai.errors import OracleError
from materials_ai.oracles import Oracle, Ticket
from materials_ai.oracles.chain import OracleChain
from materials_ai.oracles.config import FidelityChainConfig
from materials_ai.oracles.fidelity import fidelity_counts, fidelity_table, qualify, split_target
from materials_ai.testing.simulate import demo_structures

pytestmark = pytest.mark.timeout(120)


def _chain_config(
    tmp_path: Path, *, max_parallel: int = 2, cheap_seconds: float = 0.0, **stage2: object
) -> FidelityChainConfig:
    return FidelityChainConfig.model_validate(
        {
            "job_dir": str(tmp_path / "jobs"),
            "max_parallel": max_parallel,
            "stages": [
                {
                    "oracle": {"kind": "sleep", "seconds": cheap_seconds, "fail_ids": ["CaO"]},
                    "name": "cheap",
                    "batch_size": 4,
                },
                {
                    "oracle": {"kind": "sleep", "seconds": 0.0},
                    "name": "expensive",
                    "select_top": 2,
                    **stage2,
                },
            ],
        }
    )


def test_chain_config_rejects_unknown_keys_and_duplicate_names() -> None:
    with pytest.raises(ValueError, match="fmax"):
        FidelityChainConfig.model_validate(
            {"stages": [{"oracle": {"kind": "chgnet", "fmax": 0.1}}]}
        )
    with pytest.raises(ValueError, match="unique"):
        FidelityChainConfig.model_validate(
            {"stages": [{"oracle": {"kind": "sleep"}}, {"oracle": {"kind": "sleep"}}]}
        )
    config = FidelityChainConfig.model_validate(
        {"stages": [{"oracle": {"kind": "chgnet"}}, {"oracle": {"kind": "gpaw"}, "select_top": 5}]}
    )
    assert config.stages[1].oracle.task().settings()["ecut_ev"] == 600.0  # type: ignore[union-attr]
    assert config.stages[0].oracle.task().fidelity == "ml_potential"  # type: ignore[union-attr]


def test_chain_runs_cheap_stage_on_all_and_expensive_on_top_m(tmp_path: Path) -> None:
    chain = _chain_config(tmp_path).build(tmp_path)
    assert isinstance(chain, Oracle)
    # Priority order: cand0 MgO, cand1 CaO (fails the cheap stage), cand2 SrO, cand3 BaO.
    candidates = [Candidate(f"cand{i}", s) for i, s in enumerate(demo_structures(4))]
    tickets = chain.submit(candidates)
    assert chain.wait(tickets, timeout_s=90, poll_s=0.2)
    observations = chain.collect(tickets)
    by_fidelity: dict[str, list[str]] = {}
    for obs in observations:
        by_fidelity.setdefault(f"{obs.provenance['job_id'].split('--')[0]}", []).append(
            obs.candidate_id
        )
    assert sorted(by_fidelity["cheap"]) == ["cand0", "cand1", "cand2", "cand3"]
    # The failed candidate is skipped; the first two that passed go on, in priority order.
    assert by_fidelity["expensive"] == ["cand0", "cand2"]
    assert chain.stage_summary() == [
        {"stage": 0, "submitted": 4, "finished": 4, "ok": 3},
        {"stage": 1, "submitted": 2, "finished": 2, "ok": 2},
    ]
    # A new process (a resumed campaign) rebuilds the chain from config and chain.json.
    again = _chain_config(tmp_path).build(tmp_path)
    assert again.collect(tickets) == observations
    state = json.loads((tmp_path / "jobs" / "chain.json").read_text())
    [group] = state["groups"].values()
    assert group["selected"][1] == ["cand0", "cand2"]


def test_chain_filters_and_ranks_by_a_value(tmp_path: Path) -> None:
    chain = _chain_config(
        tmp_path, rank_by="n_sites", descending=True, max_values={"n_sites": 1.0}
    ).build(tmp_path)
    candidates = [Candidate(f"cand{i}", s) for i, s in enumerate(demo_structures(2))]
    tickets = chain.submit(candidates)
    assert chain.wait(tickets, timeout_s=60, poll_s=0.2)
    # Every structure has 2 sites > 1.0: nothing goes to the expensive stage, and the
    # tickets are settled with their cheap observation only.
    observations = chain.collect(tickets)
    assert len(observations) == 2
    assert chain.stage_summary()[1]["submitted"] == 0


def test_chain_rejects_foreign_tickets(tmp_path: Path) -> None:
    chain = _chain_config(tmp_path).build(tmp_path)
    from materials_ai.oracles import Ticket

    with pytest.raises(OracleError):
        chain.collect([Ticket("replay:x", "x", "replay")])
    assert isinstance(chain, OracleChain)


def test_fidelity_names_and_training_table() -> None:
    assert qualify("band_gap", "dft_gllbsc") == "band_gap@dft_gllbsc"
    assert split_target("band_gap@dft_gllbsc") == ("band_gap", "dft_gllbsc")
    assert split_target("band_gap") == ("band_gap", None)
    observations: list[Observation | dict[str, Any]] = [
        Observation("a", {"band_gap": 1.0, "e_above_hull": 0.02}, "ml_potential"),
        Observation("a", {"band_gap": 2.5}, "dft_gllbsc"),
        Observation("a", {"band_gap": 0.5}, "ml_potential"),  # later, but lower fidelity
        Observation("b", {"e_above_hull": 0.3}, "ml_potential"),
        Observation("c", {}, "dft_gllbsc", ok=False, reason="SCF did not converge"),
        Observation("d", {"band_gap": 3.0}, "replay").to_dict(),  # stored form works too
    ]
    table = fidelity_table(
        observations, ["band_gap", "band_gap@dft_gllbsc", "e_above_hull@ml_potential"]
    )
    assert table == {
        "a": {"band_gap": 2.5, "band_gap@dft_gllbsc": 2.5, "e_above_hull@ml_potential": 0.02},
        "b": {"e_above_hull@ml_potential": 0.3},
        "d": {"band_gap": 3.0},
    }
    assert fidelity_counts(observations) == {
        "ml_potential": 3,
        "dft_gllbsc": 1,
        "dft_gllbsc:failed": 1,
        "replay": 1,
    }


def test_wait_relaunches_the_rest_of_a_crashed_last_stage_batch(tmp_path: Path) -> None:
    config = FidelityChainConfig.model_validate(
        {
            "job_dir": str(tmp_path / "jobs"),
            "stages": [
                {"oracle": {"kind": "sleep", "seconds": 0.0}, "name": "cheap", "batch_size": 3},
                # One worker for the whole batch; MgO (first) kills it with SIGSEGV.
                {
                    "oracle": {"kind": "sleep", "seconds": 0.0, "crash_ids": ["MgO"]},
                    "name": "expensive",
                    "batch_size": 3,
                },
            ],
        }
    )
    chain = config.build(tmp_path)
    candidates = [Candidate(f"cand{i}", s) for i, s in enumerate(demo_structures(3))]
    tickets = chain.submit(candidates)
    assert chain.wait(tickets, timeout_s=90, poll_s=0.2)
    expensive = [
        o for o in chain.collect(tickets) if o.provenance["job_id"].startswith("expensive")
    ]
    by_id = {o.candidate_id: o for o in expensive}
    assert not by_id["cand0"].ok and "signal 11" in by_id["cand0"].reason
    assert by_id["cand1"].ok and by_id["cand2"].ok  # re-launched, not left queued


def test_stage_observations_show_each_stage_a_candidate_entered(tmp_path: Path) -> None:
    config = _chain_config(
        tmp_path, max_parallel=1, cheap_seconds=0.3, rank_by="volume_per_atom", descending=True
    )
    chain = config.build(tmp_path)
    # MgO, CaO (fails the cheap stage), SrO, BaO: volume per atom rises along the list.
    candidates = [Candidate(f"cand{i}", s) for i, s in enumerate(demo_structures(4))]
    tickets = chain.submit(candidates)
    # Running: the cheap stage is entered, its job unfinished; no selection yet.
    assert chain.stage_observations(tickets[0]) == {"cheap": None}
    assert chain.wait(tickets, timeout_s=90, poll_s=0.2)
    views = {t.candidate_id: chain.stage_observations(t) for t in tickets}
    assert {cid: list(view) for cid, view in views.items()} == {
        "cand0": ["cheap"],
        "cand1": ["cheap"],
        "cand2": ["cheap", "expensive"],  # the two largest volumes per atom go on
        "cand3": ["cheap", "expensive"],
    }
    failed = views["cand1"]["cheap"]
    assert failed is not None and not failed.ok and "CaO" in failed.reason
    # The same observations collect gives (wall time included), from a new process too.
    again = config.build(tmp_path)
    for ticket in tickets:
        view = again.stage_observations(ticket)
        assert list(view.values()) == chain.collect([ticket])
        assert all(o is not None and "wall_s" in o.provenance for o in view.values())
    with pytest.raises(OracleError):
        chain.stage_observations(Ticket("replay:x", "x", "replay"))
