"""The ``materials-ai`` command.

Commands only parse arguments, call library functions and print results; anything
worth testing lives in the library. Heavy imports happen inside the commands so that
``materials-ai --help`` answers at once.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from materials_ai.errors import MaterialsAIError

app = typer.Typer(
    name="materials-ai",
    help="AI-driven discovery of semiconductor materials.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
campaign_app = typer.Typer(
    help="Run, resume, inspect and export discovery campaigns.", no_args_is_help=True
)
datasets_app = typer.Typer(help="Inspect and verify the dataset registry.", no_args_is_help=True)
app.add_typer(campaign_app, name="campaign")
app.add_typer(datasets_app, name="datasets")
benchmark_app = typer.Typer(
    help="Retrospective benchmarks of discovery strategies.", no_args_is_help=True
)
app.add_typer(benchmark_app, name="benchmark")

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


def _version() -> str:
    """The installed distribution's version; ``materials_ai.__version__`` without metadata."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("materials-ai")
    except PackageNotFoundError:  # e.g. run from a source tree that is not installed
        from materials_ai import __version__

        return __version__


def _print_version(value: bool) -> None:
    if value:
        console.print(f"materials-ai {_version()}", highlight=False)
        raise typer.Exit()


@app.callback()
def _main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress details.")] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print the version and exit.",
            callback=_print_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


def _fail(error: Exception) -> None:
    err_console.print(f"[bold red]error:[/] {error}")
    raise typer.Exit(code=2)


def _print_summary(summary) -> None:  # type: ignore[no-untyped-def]
    total = f" of {summary.targets_total}" if summary.targets_total is not None else ""
    status = "finished" if summary.done else f"paused at iteration {summary.iteration}"
    console.print(f"\n[bold]{summary.name}[/] — {status}")
    console.print(f"  targets found:   [bold green]{summary.targets_found}{total}[/]")
    console.print(f"  oracle calls:    {summary.oracle_calls}")
    if summary.ranked_csv:
        console.print(f"  ranked list:     {summary.ranked_csv}")
        console.print(f"                   {summary.ranked_json}")
        console.print(f"  top-candidate CIFs: {summary.cif_dir}")
    if summary.tracking_uri:
        console.print(f"  MLflow store:    {summary.tracking_uri} (run {summary.tracking_run_id})")
        if summary.tracking_uri.startswith("sqlite:///"):
            console.print(
                f"                   view: mlflow ui --backend-store-uri {summary.tracking_uri}"
            )
    console.print(f"  run directory:   {summary.run_dir}")


@campaign_app.command("run")
def campaign_run(
    workflow: Annotated[Path, typer.Argument(help="Workflow YAML file.")],
    run_dir: Annotated[Path, typer.Option("--run-dir", help="Run directory to create.")],
    iterations: Annotated[
        int | None, typer.Option(help="Override loop.iterations (selection rounds).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Override the workflow seed.")] = None,
    compute: Annotated[
        Path | None, typer.Option(help="Compute config YAML (configs/compute/*.yaml).")
    ] = None,
    tracking_uri: Annotated[
        str | None, typer.Option(help="MLflow tracking URI (default: SQLite in the run dir).")
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show progress.")] = True,
) -> None:
    """Start a campaign from a workflow file (replayed or generative)."""
    from materials_ai.campaign.config import load_workflow
    from materials_ai.campaign.loop import Campaign

    if _is_generative(workflow):
        _run_generative(workflow, run_dir, seed, progress)
        return
    try:
        config = load_workflow(workflow)
        overrides: dict[str, object] = {}
        if iterations is not None:
            overrides["loop.iterations"] = iterations
        if seed is not None:
            overrides["seed"] = seed
        if tracking_uri is not None:
            overrides["tracking.tracking_uri"] = tracking_uri
        if compute is not None:
            from materials_ai.compute import load_compute_config

            overrides["compute"] = load_compute_config(compute).model_dump(mode="json")
        if overrides:
            config = config.with_overrides(**overrides)
        summary = Campaign.start(config, run_dir, progress=progress).run()
    except MaterialsAIError as error:
        _fail(error)
    _print_summary(summary)


def _is_generative(workflow: Path) -> bool:
    import yaml

    try:
        data = yaml.safe_load(workflow.read_text())
    except (OSError, yaml.YAMLError):
        return False  # load_workflow reports the problem
    return isinstance(data, dict) and data.get("kind") == "generative"


def _run_generative(
    workflow: Path, run_dir: Path, seed: int | None, progress: bool, resume: bool = False
) -> None:
    from materials_ai.campaign.generative import GenerativeCampaign, load_generative_workflow

    try:
        if resume:
            campaign = GenerativeCampaign.resume(run_dir, progress=progress)
        else:
            config = load_generative_workflow(workflow)
            if seed is not None:
                config = config.model_copy(update={"seed": seed})
            campaign = GenerativeCampaign.start(config, run_dir, progress=progress)
        summary = campaign.run()
    except MaterialsAIError as error:
        _fail(error)
    console.print(f"\n[bold]{summary.name}[/] — generative campaign finished")
    console.print(f"  generated:        {summary.n_generated}")
    console.print(f"  after screens:    {summary.n_screened}")
    console.print(f"  meeting criteria: [bold green]{summary.n_meeting_all}[/] (predicted)")
    console.print(f"  ranked list:      {summary.ranked_csv}")
    console.print(f"  top-candidate CIFs: {summary.cif_dir}")
    console.print(f"  screen report:    {summary.screen_report}")


@campaign_app.command("resume")
def campaign_resume(
    run_dir: Annotated[Path, typer.Argument(help="Run directory of the campaign.")],
    iterations: Annotated[
        int | None, typer.Option(help="Change the number of selection rounds.")
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show progress.")] = True,
) -> None:
    """Continue a campaign where it stopped."""
    from materials_ai.campaign.loop import Campaign

    if (run_dir / "generative_state.json").exists():
        _run_generative(run_dir / "workflow.yaml", run_dir, None, progress, resume=True)
        return
    try:
        summary = Campaign.resume(run_dir, iterations=iterations, progress=progress).run()
    except MaterialsAIError as error:
        _fail(error)
    _print_summary(summary)


@campaign_app.command("status")
def campaign_status(
    run_dir: Annotated[Path, typer.Argument(help="Run directory of the campaign.")],
) -> None:
    """Show where a campaign stands, iteration by iteration."""
    from materials_ai.campaign.inspect import campaign_status as status

    try:
        info = status(run_dir)
    except MaterialsAIError as error:
        _fail(error)
    console.print(f"[bold]{info['name']}[/] in {run_dir}")
    console.print(
        f"  iteration {info['iteration']}, completed stages {info['completed'] or '-'}, "
        f"{'done' if info['done'] else 'not done'}; oracle calls {info['oracle_calls']}, "
        f"pending {info['pending']}"
    )
    table = Table(
        "iteration",
        "oracle calls",
        "labelled",
        "found",
        "best desirability",
        *[f"val MAE {t}" for t in info["targets"]],
    )
    for row in info["metrics"]:
        table.add_row(
            str(int(row["iteration"])),
            str(int(row["oracle_calls"])),
            str(int(row["n_labelled"])),
            f"{int(row['targets_found'])}"
            + (f"/{int(row['targets_total'])}" if "targets_total" in row else ""),
            f"{row.get('best_desirability', float('nan')):.3f}",
            *[f"{row.get(f'val_mae_{t}', float('nan')):.3g}" for t in info["targets"]],
        )
    console.print(table)


@campaign_app.command("export")
def campaign_export(
    run_dir: Annotated[Path, typer.Argument(help="Run directory of the campaign.")],
    out: Annotated[
        Path | None, typer.Option(help="Output folder (default RUN_DIR/export).")
    ] = None,
    top: Annotated[int, typer.Option(help="Candidates to export.")] = 50,
    lang: Annotated[str, typer.Option(help="Language of README.txt and report: en, es.")] = "en",
) -> None:
    """Write the lab hand-off bundle: candidates (CSV/JSON + schema), CIFs, report, README."""
    from materials_ai.lab.export import export_campaign

    try:
        paths = export_campaign(run_dir, out_dir=out, top=top, lang=lang)
    except MaterialsAIError as error:
        _fail(error)
    for key, path in paths.items():
        console.print(f"{key}: {path}")


@campaign_app.command("ingest")
def campaign_ingest(
    run_dir: Annotated[Path, typer.Argument(help="Run directory of the campaign.")],
    results: Annotated[Path, typer.Argument(help="Lab results CSV (results_template.csv).")],
    dry_run: Annotated[bool, typer.Option(help="Validate only; change nothing.")] = False,
) -> None:
    """Add lab results as observations of fidelity "experiment".

    Rows with problems are listed (row number, column, reason) and left out; the valid rows
    are kept. Exit code 0: every row accepted; 1: some rows rejected (the valid ones were
    added); 2: the file as a whole is unusable (nothing added).
    """
    from materials_ai.lab.ingest import ingest_results

    try:
        report = ingest_results(run_dir, results, dry_run=dry_run)
    except MaterialsAIError as error:
        _fail(error)
    failed = sum(1 for o in report.observations if not o.ok)
    verb = "would add" if dry_run else "added"
    console.print(
        f"{results}: {verb} {len(report.observations)} experiment observation(s) "
        f"({report.n_measured} measured, {failed} failed synthesis or impure phase); "
        f"columns {report.columns or '{}'}"
    )
    for skipped in report.skipped:
        console.print(f"  [dim]skipped[/] {skipped}")
    if report.rejected:
        err_console.print(
            f"[bold yellow]{len(report.rejected_rows)} row(s) rejected:[/] "
            + ", ".join(str(r) for r in report.rejected_rows)
        )
        for problem in report.rejected:
            err_console.print(f"  [yellow]rejected[/] {problem}")
    if report.observations and not dry_run:
        if report.campaign_done:
            console.print(
                "note: this campaign has finished; the observations are stored in its state, "
                "but a finished campaign does not retrain when resumed."
            )
        else:
            console.print(
                f"the next training stage uses them: materials-ai campaign resume {run_dir}"
            )
    if report.rejected:
        raise typer.Exit(code=1)


@app.command("report")
def report(
    run_dir: Annotated[Path, typer.Argument(help="Run directory of the campaign.")],
    lang: Annotated[str, typer.Option(help="Language: en or es.")] = "en",
    out: Annotated[
        Path | None, typer.Option(help="HTML file (default RUN_DIR/report.html).")
    ] = None,
    top: Annotated[int, typer.Option(help="Ranked candidates shown.")] = 25,
) -> None:
    """Write a self-contained HTML report of a campaign (plots embedded, opens offline)."""
    from materials_ai.report.html import write_report

    try:
        path = write_report(run_dir, out, lang=lang, top=top)
    except MaterialsAIError as error:
        _fail(error)
    console.print(f"report: {path}")


@datasets_app.command("list")
def datasets_list() -> None:
    """List the dataset cards."""
    from materials_ai.data.registry import list_cards

    table = Table("name", "rows", "level of theory", "targets", "file")
    for card in list_cards():
        table.add_row(
            card.name, str(card.rows), card.level_of_theory, ", ".join(card.targets), card.file
        )
    console.print(table)


@datasets_app.command("verify")
def datasets_verify(
    names: Annotated[list[str] | None, typer.Argument(help="Datasets (default: all).")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Data folder.")] = None,
) -> None:
    """Check that each dataset file exists and matches its card's sha256."""
    from materials_ai.data.registry import get_card, list_cards, verify_checksum

    cards = [get_card(n) for n in names] if names else list_cards()
    failed = False
    for card in cards:
        try:
            path = verify_checksum(card, data_dir)
            console.print(f"[green]ok[/]      {card.name}: {path}")
        except MaterialsAIError as error:
            failed = True
            console.print(f"[red]failed[/]  {card.name}: {error}")
    if failed:
        raise typer.Exit(code=1)


@app.command("train")
def train(
    config: Annotated[Path, typer.Argument(help="Training-job YAML (configs/surrogate/*.yaml).")],
    out: Annotated[
        Path | None, typer.Option(help="Model folder (default models/<name>); resumes if present.")
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show progress.")] = True,
) -> None:
    """Train, recalibrate and evaluate a surrogate ensemble on a stored split."""
    from materials_ai.settings import PROJECT_ROOT
    from materials_ai.surrogates.jobs import load_train_config, run_training

    try:
        job = load_train_config(config)
        summary = run_training(job, out or PROJECT_ROOT / "models" / job.name, progress=progress)
    except MaterialsAIError as error:
        _fail(error)
    _print_metrics(summary["metrics"])
    console.print(
        f"model written to {out or 'models/' + job.name} "
        f"({summary['fit_seconds'] / 60:.1f} min of training)"
    )


def _print_metrics(metrics: dict) -> None:  # type: ignore[type-arg]
    table = Table(
        "part", "target", "MAE", "RMSE", "R²", "miscal. area", "90% coverage", "Spearman |err|~std"
    )
    for part, per_target in metrics.items():
        for target, m in per_target.items():
            table.add_row(
                part,
                target,
                f"{m['mae']:.4g}",
                f"{m['rmse']:.4g}",
                f"{m['r2']:.3f}",
                f"{m.get('miscalibration_area', float('nan')):.3f}",
                f"{m.get('coverage_90', float('nan')):.3f}",
                f"{m.get('spearman_err_std', float('nan')):.3f}",
            )
    console.print(table)
    gaps = [
        (part, target, m)
        for part, per_target in metrics.items()
        for target, m in per_target.items()
        if "metal_auc" in m
    ]
    if gaps:
        metals = Table(
            "part",
            "target",
            "metal share",
            "P(metal) ROC AUC",
            "accuracy",
            "MAE non-metals",
            "MAE clipped at 0",
            title="Metals: P(gap <= 0.1 eV) from the ensemble",
        )
        for part, target, m in gaps:
            metals.add_row(
                part,
                target,
                f"{m['metal_fraction']:.3f}",
                f"{m['metal_auc']:.3f}",
                f"{m['metal_accuracy']:.3f}",
                f"{m['mae_nonmetal']:.4g}",
                f"{m['mae_clipped']:.4g}",
            )
        console.print(metals)


@app.command("evaluate")
def evaluate(
    model: Annotated[Path, typer.Argument(help="Model folder written by `train`.")],
    split: Annotated[str, typer.Option(help="Split part: train, val or test.")] = "test",
) -> None:
    """Report accuracy and calibration of a trained model on its split."""
    from materials_ai.surrogates.jobs import evaluate_model

    try:
        metrics = evaluate_model(model, split)
    except MaterialsAIError as error:
        _fail(error)
    _print_metrics({split: metrics})


@app.command("recalibrate")
def recalibrate(
    model: Annotated[Path, typer.Argument(help="Model folder written by `train`.")],
) -> None:
    """Refit a model's std recalibration and error distribution on its validation split."""
    from materials_ai.surrogates.jobs import recalibrate_model

    try:
        summary = recalibrate_model(model)
    except MaterialsAIError as error:
        _fail(error)
    console.print(f"recalibrated {model}: std scales {summary['std_scales']}")
    _print_metrics(summary["metrics"])


@app.command("predict")
def predict(
    model: Annotated[Path, typer.Argument(help="Model folder (surrogate.json + weights.pt).")],
    files: Annotated[list[Path], typer.Argument(help="CIF, POSCAR or extxyz files.")],
    out: Annotated[Path | None, typer.Option(help="Write the table as CSV here.")] = None,
) -> None:
    """Predict structures from files (mean ± std per target); bad files are reported."""
    from materials_ai.surrogates.files import predict_files

    try:
        table, errors = predict_files(model, files)
    except MaterialsAIError as error:
        _fail(error)
    for path, reason in errors:
        err_console.print(f"[yellow]skipped[/] {path}: {reason}")
    if "outside_domain" in table.columns and table["outside_domain"].any():
        outside = table.loc[table["outside_domain"], "file"].tolist()
        err_console.print(
            f"[yellow]warning[/] {len(outside)} structure(s) lie outside the model's training "
            f"data (domain_distance > 1; trust their predictions less): {', '.join(outside)}"
        )
    if out is not None:
        table.to_csv(out, index=False)
        console.print(f"{len(table)} predictions written to {out}")
    else:
        console.print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    if errors and table.empty:
        raise typer.Exit(code=1)


@benchmark_app.command("replay")
def benchmark_replay(
    workflow: Annotated[Path, typer.Argument(help="Workflow YAML (replay oracle).")],
    strategies: Annotated[
        str,
        typer.Option(
            help="Comma-separated: random,greedy,qucb,qlogei,thompson,constrained,qnehvi."
        ),
    ] = "random,qucb",
    seeds: Annotated[int, typer.Option(help="Seeds per strategy (0 .. N-1).")] = 5,
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
                list(range(seeds)),
                out,
                budget=budget,
                executor=executor,
            )
        finally:
            if executor is not None:
                executor.close()
    except MaterialsAIError as error:
        _fail(error)
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


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except MaterialsAIError as error:  # pragma: no cover - commands catch their own
        err_console.print(f"[bold red]error:[/] {error}")
        sys.exit(2)
