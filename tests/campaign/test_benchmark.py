"""Retrospective replay benchmarks."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from materials_ai.campaign.benchmark import (
    calls_to_fractions,
    expected_random_calls,
    plot_discovery_curves,
    replay_benchmark,
)
from materials_ai.campaign.state import load_state
from materials_ai.testing.campaigns import tiny_workflow
from materials_ai.testing.datasets import TinyDataset


def test_random_expectation_matches_the_published_figures() -> None:
    # Castelli screen: 19 targets among 18,928 (issue figures: ≈ 9,460 and ≈ 18,000).
    assert expected_random_calls(10, 19, 18928) == pytest.approx(9464.5)
    assert expected_random_calls(19, 19, 18928) == pytest.approx(17983, abs=1)


def test_calls_to_fractions() -> None:
    curve = [0, 0, 1, 1, 2, 3, 3, 4]
    assert calls_to_fractions(curve, 4) == {"0.25": 3, "0.5": 5, "1": 8}
    assert calls_to_fractions(curve[:6], 4) == {"0.25": 3, "0.5": 5, "1": None}


def test_replay_benchmark_runs_strategies_and_seeds(
    tiny_registry: TinyDataset, tmp_path: Path
) -> None:
    config = tiny_workflow(**{"loop.initial_labels": 6, "loop.batch_size": 4})
    result = replay_benchmark(config, ["random", "greedy"], [0, 1], tmp_path / "bench", budget=18)
    assert result["targets_total"] == 13 and result["pool_size"] == 38
    assert len(result["runs"]) == 4
    for run in result["runs"]:
        curve = run["curve"]
        assert all(b - a in (0, 1) for a, b in itertools.pairwise(curve))
        assert len(curve) <= 18
        state = load_state(tmp_path / "bench" / run["strategy"] / f"seed_{run['seed']}")
        submitted = [c for s in state.selections for c in s.candidate_ids]
        assert len(submitted) == len(set(submitted)) == len(curve)
    random_runs = [r for r in result["runs"] if r["strategy"] == "random"]
    # The random baseline trains nothing.
    random_state = load_state(tmp_path / "bench" / "random" / "seed_0")
    assert random_state.model_dir is None and random_state.scores_file is None
    assert len(random_runs) == 2
    saved = json.loads((tmp_path / "bench" / "results.json").read_text())
    assert saved["summary"].keys() == {"random", "greedy"}
    # A second call reads the finished runs back instead of recomputing them.
    again = replay_benchmark(config, ["random", "greedy"], [0, 1], tmp_path / "bench", budget=18)
    assert [r["curve"] for r in again["runs"]] == [r["curve"] for r in result["runs"]]
    assert [r["targets_total"] for r in again["runs"]] == [13] * 4
    assert [r["calls_to"] for r in again["runs"]] == [r["calls_to"] for r in result["runs"]]
    png = plot_discovery_curves(result, tmp_path / "curves.png")
    assert png.stat().st_size > 10_000
