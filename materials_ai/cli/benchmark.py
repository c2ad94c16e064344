"""``materials-ai benchmark ...``: retrospective benchmarks of discovery strategies."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from materials_ai.cli.common import console, fail
from materials_ai.errors import MaterialsAIError

benchmark_app = typer.Typer(
    help="Retrospective benchmarks of discovery strategies.", no_args_is_help=True
)


@benchmark_app.command("replay")
def benchmark_replay(
    workflow: Annotated[Path, typer.Argument(help="Workflow YAML (replay oracle).")],
    strategies: Annotated[
        str,
        typer.Option(
            help="Comma-separated: random,greedy,qucb,qlogei,thompson,constrained,qnehvi."
        ),
    ] = "random,qucb",
    seeds: Annotated[int, typer.Option(help="Seeds per strategy (first .. first+N-1).")] = 5,
    first_seed: Annotated[
        int,
        typer.Option(
            min=0, help="First seed: continue a benchmark with more seeds in another folder."
        ),
    ] = 0,
    budget: Annotated[int, typer.Option(help="Oracle calls per run.")] = 1000,
    out: Annotated[Path, typer.Option(help="Folder for runs and results.")] = Path(
        "runs/benchmark"
    ),
    compute: Annotated[
        Path | None, typer.Option(help="Compute config: run campaigns in parallel on Dask.")
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Override a workflow setting, KEY=VALUE with a dotted key and a YAML value, "
            "e.g. --set 'surrogate.features=[mp2018_embedding]'. Repeatable.",
        ),
    ] = None,
) -> None:
    """Replay campaigns per strategy and seed; report calls to find 25/50/100 % of targets."""
    from materials_ai.campaign.benchmark import plot_discovery_curves, replay_benchmark
    from materials_ai.campaign.config import load_workflow, parse_overrides

    try:
        config = load_workflow(workflow)
        if set_:
            config = config.with_overrides(parse_overrides(set_))
        executor = None
        if compute is not None:
            from materials_ai.compute import load_compute_config, make_executor

            executor = make_executor(load_compute_config(compute))
        try:
            result = replay_benchmark(
                config,
                [s.strip() for s in strategies.split(",") if s.strip()],
                list(range(first_seed, first_seed + seeds)),
                out,
                budget=budget,
                executor=executor,
            )
        finally:
            if executor is not None:
                executor.close()
    except MaterialsAIError as error:
        fail(error)
    plot = plot_discovery_curves(result, out / "discovery_curves.png")
    table = Table(
        "strategy",
        "median calls 25 %",
        "median calls 50 %",
        "median calls 100 %",
        "median found at budget",
    )
    expected = result["random_expected"]
    table.add_row(
        "random (expected)",
        *(f"{expected[k]:.0f}" for k in ("0.25", "0.5", "1")),
        f"{budget * result['targets_total'] / result['pool_size']:.1f}",
    )
    for strategy, row in result["summary"].items():
        table.add_row(
            strategy,
            *(
                "> budget"
                if row[f"median_calls_to_{k}"] is None
                else f"{row[f'median_calls_to_{k}']:.0f}"
                for k in ("0.25", "0.5", "1")
            ),
            f"{row['median_found_at_budget']:.1f}",
        )
    console.print(table)
    console.print(f"results: {out / 'results.json'}; plot: {plot}")
