"""The campaign's console display: running stage, time left, 80-column round lines."""

from __future__ import annotations

import io
from collections.abc import Sequence

import pytest
from rich.console import Console

from materials_ai.campaign.display import (
    CampaignProgress,
    EtaEstimator,
    remaining_plan,
    round_label,
    round_lines,
)
from materials_ai.campaign.loop import SELECTION_STAGES
from materials_ai.campaign.state import CampaignState, Stage

FINAL = (Stage.COLLECT, Stage.TRAIN, Stage.SCORE, Stage.RECORD)


def _stages_of(iteration: int, final: bool) -> Sequence[Stage]:
    if iteration == 0:
        return (Stage.SEED,)
    return FINAL if final else SELECTION_STAGES


def _state(iteration: int, completed: Sequence[Stage], **kw: object) -> CampaignState:
    return CampaignState(
        workflow_fingerprint="x", iteration=iteration, completed=list(completed), **kw
    )


def test_round_labels_count_as_the_user_asked() -> None:
    assert round_label(0, 3, final=False) == "seed"
    assert round_label(3, 3, final=False) == "round 3/3"
    assert round_label(4, 3, final=True) == "final"


def test_round_lines_fit_80_columns() -> None:
    metrics = {
        "iteration": 2.0,
        "oracle_calls": 1240.0,
        "targets_found": 17.0,
        "val_mae_band_gap_gllbsc_quasiparticle": 0.1234,
        "val_mae_formation_energy_per_atom": 0.0456,
        "val_mae_heat_of_formation_all_elements": 0.0789,
        "val_mae_missing": float("nan"),
    }
    units = {
        "band_gap_gllbsc_quasiparticle": "eV",
        "formation_energy_per_atom": "eV/atom",
        "heat_of_formation_all_elements": "eV/atom",
    }
    lines = round_lines(metrics, final=False, targets_total=19, rounds_total=14, units=units)
    assert lines[0] == "round 2/14: 1240 oracle calls, 17/19 targets found"
    assert all(len(line) <= 80 for line in lines), lines
    text = " ".join(lines)
    assert "band_gap_gllbsc_quasiparticle 0.123 eV" in text
    assert "heat_of_formation_all_elements 0.0789 eV/atom" in text
    assert "missing" not in text  # not measured: left out
    assert len(lines) >= 3  # the MAEs wrapped onto indented lines
    final = round_lines(metrics, final=True, targets_total=None, rounds_total=14)
    assert final[0].startswith("final: 1240 oracle calls, 17 targets found")


def test_eta_waits_for_a_training_then_sums_stage_means() -> None:
    eta = EtaEstimator()
    plan = [Stage.TRAIN, Stage.SCORE, Stage.SELECT, Stage.SUBMIT, Stage.RECORD]
    assert eta.remaining(plan) is None  # no training measured yet
    eta.add("train", 10.0)
    eta.add("train", 20.0)
    eta.add("score", 2.0)
    assert eta.remaining(plan) == pytest.approx(17.0)  # unmeasured stages count 0
    assert eta.remaining(plan, running=Stage.TRAIN, running_for=4.0) == pytest.approx(13.0)
    assert eta.remaining(plan, running=Stage.TRAIN, running_for=40.0) == pytest.approx(2.0)
    seeded = EtaEstimator.from_metrics([{"iteration": 1.0, "seconds_train": 30.0}])
    assert seeded.mean("train") == 30.0


def test_remaining_plan_runs_to_the_final_iteration() -> None:
    state = _state(1, [Stage.COLLECT])
    plan = remaining_plan(state, _stages_of, rounds_total=3, batch_size=5)
    assert plan[:5] == list(SELECTION_STAGES[1:])
    assert plan[5:] == list(SELECTION_STAGES) * 2 + list(FINAL)
    # A call budget that ends the campaign after this round.
    capped = remaining_plan(
        _state(1, [Stage.COLLECT], oracle_calls=10),
        _stages_of,
        rounds_total=3,
        batch_size=5,
        max_oracle_calls=15,
    )
    assert capped == list(SELECTION_STAGES[1:]) + list(FINAL)
    finishing = _state(4, [Stage.COLLECT], final_iteration=4)
    assert remaining_plan(finishing, _stages_of, rounds_total=3, batch_size=5) == list(FINAL[1:])


def test_bar_names_the_running_stage_and_shows_an_eta_after_the_first_training() -> None:
    console = Console(file=io.StringIO(), width=80, force_terminal=False)
    state = _state(1, [Stage.COLLECT])
    with CampaignProgress(
        "demo", state, _stages_of, rounds_total=3, batch_size=5, console=console
    ) as bar:
        bar.stage_started(state, Stage.TRAIN)
        task = bar._progress.tasks[0]
        # The running stage, not the last one finished (collect).
        assert task.description == "round 1/3 · train"
        assert task.fields["eta_s"] is None
        state.completed.append(Stage.TRAIN)
        bar.stage_finished(state, Stage.TRAIN, 12.0)
        bar.stage_started(state, Stage.SCORE)
        task = bar._progress.tasks[0]
        assert task.description == "round 1/3 · score"
        # Left: score, select, submit, record of round 1; rounds 2 and 3; the final
        # iteration's train: three trainings of 12 s.
        assert task.fields["eta_s"] == pytest.approx(36.0, abs=0.5)
        assert 1.0 < task.completed < 2.0
