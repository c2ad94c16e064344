"""Retrospective discovery benchmarks: replayed campaigns, strategies side by side.

For each strategy and seed, a campaign runs against the replay oracle, and the order in
which it asked for validations gives its discovery curve: targets found after each oracle
call. The figures of merit are the calls needed to find 25 %, 50 % and 100 % of the
targets the table holds, compared with random search, whose expectation for finding
``r`` of ``K`` targets among ``N`` candidates without replacement is ``r (N + 1) / (K + 1)``.

Runs are resumable: a run directory that already holds a finished (or stopped-early)
campaign is read, not recomputed.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from materials_ai.campaign.config import WorkflowConfig
from materials_ai.campaign.state import Stage, load_state
from materials_ai.errors import CampaignError

FRACTIONS = (0.25, 0.5, 1.0)


class _AllFound(Exception):
    """Raised by the stage hook to stop a benchmark run once every target is found."""


@dataclass
class RunResult:
    """One strategy × seed.

    Attributes:
        strategy: Acquisition strategy.
        seed: Workflow seed.
        oracle_calls: Validations requested.
        targets_total: Targets in the replayed table.
        curve: Targets found after each oracle call (length ``oracle_calls``).
        calls_to: Fraction -> oracle calls to reach it (None: not reached in budget).
        wall_seconds: Wall time of the run (0 when read back from disk).
    """

    strategy: str
    seed: int
    oracle_calls: int
    targets_total: int
    curve: list[int]
    calls_to: dict[str, int | None]
    wall_seconds: float


def expected_random_calls(found: int, targets: int, pool: int) -> float:
    """Expected draws without replacement to find ``found`` of ``targets`` in ``pool``."""
    return found * (pool + 1) / (targets + 1)


def discovery_curve(run_dir: Path, config: WorkflowConfig) -> list[int]:
    """Targets found after each oracle call, in submission order."""
    from materials_ai.acquisition.objective import DesirabilityObjective

    state = load_state(run_dir)
    objective = DesirabilityObjective(config.objective, config.targets)
    values = {
        r.observation["candidate_id"]: r.observation["values"]
        for r in state.observations
        if r.observation["ok"]
    }
    order = [cid for selection in state.selections for cid in selection.candidate_ids]
    hits = [
        bool(objective.satisfied(np.array([[values[c].get(t, np.nan) for t in config.targets]]))[0])
        if c in values
        else False
        for c in order
    ]
    return np.cumsum(hits).astype(int).tolist()


def calls_to_fractions(curve: Sequence[int], total: int) -> dict[str, int | None]:
    """Oracle calls at which ``curve`` first reaches each fraction of ``total``."""
    out: dict[str, int | None] = {}
    for fraction in FRACTIONS:
        needed = math.ceil(fraction * total)
        reached = [k + 1 for k, found in enumerate(curve) if found >= needed]
        out[f"{fraction:g}"] = reached[0] if reached and needed > 0 else None
    return out


def _run_one(args: tuple[WorkflowConfig, str, int, str, int]) -> dict[str, Any]:
    """Run (or read back) one strategy × seed; picklable for executors."""
    from materials_ai.campaign.loop import Campaign

    base, strategy, seed, run_dir_text, budget = args
    run_dir = Path(run_dir_text)
    q = base.loop.batch_size
    iterations = max(0, math.ceil((budget - base.loop.initial_labels) / q))
    config = base.with_overrides(
        {
            "acquisition.strategy": strategy,
            "seed": seed,
            "loop.iterations": iterations,
            "loop.max_oracle_calls": budget,
            "loop.final_retrain": False,
            "tracking.backend": "none",
        }
    )
    started = time.perf_counter()
    if (run_dir / "state.json").exists():
        campaign = Campaign.resume(run_dir)
    else:
        campaign = Campaign.start(config, run_dir)
    finished_early = (run_dir / "all_targets_found").exists()
    if not campaign.state.done and not finished_early:

        def stop_when_all_found(iteration: int, stage: Stage) -> None:
            total = campaign.targets_total
            if stage == Stage.COLLECT and total and campaign.targets_found() >= total:
                raise _AllFound

        try:
            campaign.run(after_stage=stop_when_all_found)
        except _AllFound:
            (run_dir / "all_targets_found").touch()
    if campaign.targets_total is None:  # a finished run read back: load the table's count
        campaign._prepare()
    total = campaign.targets_total or 0
    curve = discovery_curve(run_dir, config)
    result = RunResult(
        strategy=strategy,
        seed=seed,
        oracle_calls=len(curve),
        targets_total=total,
        curve=curve,
        calls_to=calls_to_fractions(curve, total),
        wall_seconds=time.perf_counter() - started,
    )
    (run_dir / "result.json").write_text(json.dumps(asdict(result)))
    return asdict(result)


def replay_benchmark(
    config: WorkflowConfig,
    strategies: Sequence[str],
    seeds: Sequence[int],
    out_dir: str | Path,
    *,
    budget: int = 1000,
    executor: Any = None,
) -> dict[str, Any]:
    """Run every strategy with every seed and summarise.

    Args:
        config: The workflow (its pool, objective, surrogate, batch size).
        strategies: Acquisition strategies to compare.
        seeds: Workflow seeds (seed labels and every random choice derive from them).
        out_dir: One run directory per strategy × seed is kept here.
        budget: Oracle calls per run (seed labels included).
        executor: Runs strategy × seed combinations in parallel when given.

    Returns:
        ``{"runs": [...], "summary": {strategy: {...}}, "random_expected": {...}}``; also
        written to ``out_dir/results.json``.
    """
    if not strategies or not seeds:
        raise CampaignError("a benchmark needs at least one strategy and one seed")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tasks = [
        (config, strategy, seed, str(out_dir / strategy / f"seed_{seed}"), budget)
        for strategy in strategies
        for seed in seeds
    ]
    if executor is None:
        runs = [_run_one(task) for task in tasks]
    else:
        runs = executor.map(_run_one, tasks, desc="replay campaigns")
    total = runs[0]["targets_total"]
    pool = _pool_size(out_dir / strategies[0] / f"seed_{seeds[0]}")
    summary: dict[str, Any] = {}
    for strategy in strategies:
        mine = [r for r in runs if r["strategy"] == strategy]
        summary[strategy] = {
            f"median_calls_to_{key}": _median_calls([r["calls_to"][key] for r in mine])
            for key in mine[0]["calls_to"]
        } | {
            "median_found_at_budget": float(np.median([r["curve"][-1] for r in mine])),
            "seeds": [r["seed"] for r in mine],
            "median_wall_seconds": float(np.median([r["wall_seconds"] for r in mine])),
        }
    result = {
        "workflow": config.name,
        "budget": budget,
        "batch_size": config.loop.batch_size,
        "initial_labels": config.loop.initial_labels,
        "targets_total": total,
        "pool_size": pool,
        "random_expected": {
            f"{f:g}": expected_random_calls(math.ceil(f * total), total, pool) for f in FRACTIONS
        },
        "summary": summary,
        "runs": runs,
    }
    (out_dir / "results.json").write_text(json.dumps(result, indent=1))
    return result


def _median_calls(values: Sequence[int | None]) -> float | None:
    """Median with "not reached" counted as infinitely many calls."""
    numeric = [math.inf if v is None else float(v) for v in values]
    median = float(np.median(numeric))
    return None if math.isinf(median) else median


def _pool_size(run_dir: Path) -> int:
    from materials_ai.campaign.loop import Campaign

    campaign = Campaign.resume(run_dir)
    campaign._prepare()
    return len(campaign.pool)


def plot_discovery_curves(result: dict[str, Any], path: str | Path) -> Path:
    """Discovery curves (median and min–max over seeds per strategy, random expectation)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    budget = result["budget"]
    total = result["targets_total"]
    pool = result["pool_size"]
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    calls = np.arange(1, budget + 1)
    for strategy in result["summary"]:
        curves = [r["curve"] for r in result["runs"] if r["strategy"] == strategy]
        padded = np.array(
            [
                np.pad(c, (0, budget - len(c)), mode="edge")
                if len(c) < budget
                else np.asarray(c[:budget])
                for c in curves
            ],
            dtype=float,
        )
        median = np.median(padded, axis=0)
        (line,) = ax.plot(calls, median, label=f"{strategy} (n={len(curves)})")
        if len(curves) > 1:
            ax.fill_between(
                calls, padded.min(axis=0), padded.max(axis=0), color=line.get_color(), alpha=0.15
            )
    ax.plot(calls, calls * total / pool, "k--", label="random (expected)")
    ax.axhline(total, color="grey", lw=0.8)
    ax.set_xlabel("oracle calls (seed labels included)")
    ax.set_ylabel(f"targets found (of {total})")
    ax.set_title(result["workflow"])
    ax.set_xlim(0, budget)
    ax.set_ylim(0, total * 1.05)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
