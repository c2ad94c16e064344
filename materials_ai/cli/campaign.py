"""``materials-ai campaign ...`` and ``materials-ai report``: run, resume, inspect, export."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from materials_ai.cli.common import console, err_console, fail
from materials_ai.errors import MaterialsAIError

campaign_app = typer.Typer(
    help="Run, resume, inspect and export discovery campaigns.", no_args_is_help=True
)
report_app = typer.Typer()


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
    clear_old_outputs: Annotated[
        bool,
        typer.Option(
            "--clear-old-outputs",
            help="Delete ranked lists, models and journals another campaign left in "
            "--run-dir (without it, such a folder is refused).",
        ),
    ] = False,
) -> None:
    """Start a campaign from a workflow file (replayed or generative).

    The run holds the run directory's lock until it stops: a second run or resume there
    is refused with the owner named; `campaign ingest` queues lab results for it.
    """
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
        summary = Campaign.start(
            config, run_dir, progress=progress, clear_old_outputs=clear_old_outputs
        ).run()
    except MaterialsAIError as error:
        fail(error)
    _print_summary(summary)


def _is_generative(workflow: Path) -> bool:
    import yaml

    try:
        data = yaml.safe_load(workflow.read_text())
    except (OSError, ValueError, yaml.YAMLError):  # ValueError: not UTF-8 text
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
        fail(error)
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
        int | None,
        typer.Option(
            help="Stop after this many selection rounds in total (kept in the state; "
            "workflow.yaml is not changed). Fewer than already chosen: nothing is run."
        ),
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show progress.")] = True,
) -> None:
    """Continue a campaign where it stopped (refused while another process runs it)."""
    from materials_ai.campaign.loop import Campaign

    if (run_dir / "generative_state.json").exists():
        _run_generative(run_dir / "workflow.yaml", run_dir, None, progress, resume=True)
        return
    try:
        campaign = Campaign.resume(run_dir, iterations=iterations, progress=progress)
        if campaign.idle_reason is not None:
            console.print(campaign.idle_reason)
            return
        summary = campaign.run()
    except MaterialsAIError as error:
        fail(error)
    _print_summary(summary)


@campaign_app.command("repair")
def campaign_repair(
    run_dir: Annotated[Path, typer.Argument(help="Run directory of the campaign.")],
    from_backup: Annotated[
        bool,
        typer.Option("--from-backup", help="Restore state.json.bak (the previous state)."),
    ] = False,
    from_journal: Annotated[
        bool,
        typer.Option(
            "--from-journal", help="Rebuild the state from journal.jsonl (the latest state)."
        ),
    ] = False,
) -> None:
    """Restore a missing or damaged state.json (the damaged file is kept aside).

    Lab observations in the journal or the inbox that the restored state lacks are added
    back. Then `campaign resume` continues from the restored state.
    """
    from materials_ai.campaign.repair import repair_state
    from materials_ai.campaign.rundir import RunDirectory

    if from_backup == from_journal:
        fail(ValueError("give exactly one of --from-backup and --from-journal"))
    try:
        state = repair_state(RunDirectory(run_dir), "backup" if from_backup else "journal")
    except MaterialsAIError as error:
        fail(error)
    stages = ", ".join(s.value for s in state.completed) or "-"
    console.print(
        f"{run_dir / 'state.json'} restored from the {'backup' if from_backup else 'journal'}: "
        f"iteration {state.iteration} (completed stages {stages}), "
        f"{len(state.observations)} observations, {state.oracle_calls} oracle calls"
    )
    console.print(f"continue with: materials-ai campaign resume {run_dir}")


@campaign_app.command("status")
def campaign_status(
    run_dir: Annotated[Path, typer.Argument(help="Run directory of the campaign.")],
) -> None:
    """Show where a campaign stands, iteration by iteration."""
    from materials_ai.campaign.inspect import campaign_status as status

    try:
        info = status(run_dir)
    except MaterialsAIError as error:
        fail(error)
    console.print(f"[bold]{info['name']}[/] in {run_dir}")
    console.print(
        f"  iteration {info['iteration']} of {info['iterations']} selection rounds, "
        f"completed stages {info['completed'] or '-'}, "
        f"{'done' if info['done'] else 'not done'}; oracle calls {info['oracle_calls']}, "
        f"pending {info['pending']}"
    )
    if info["owner"] is not None:
        console.print(f"  running: {info['owner']}")
    if info["queued"]:
        console.print(
            f"  {info['queued']} lab observation(s) queued in the inbox, merged by the next "
            "stage of a running campaign (or the next resume or ingest)"
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
    wait: Annotated[
        float,
        typer.Option(
            help="Seconds to wait for a campaign running in RUN_DIR (exports into the run "
            "directory only)."
        ),
    ] = 0.0,
) -> None:
    """Write the lab hand-off bundle: candidates (CSV/JSON + schema), CIFs, report, README.

    A folder that already holds a bundle is kept as it is (with a template the lab may have
    filled); the new bundle goes into its next version subfolder (v2, v3, ...).
    """
    from materials_ai.lab.export import export_campaign

    try:
        paths = export_campaign(run_dir, out_dir=out, top=top, lang=lang, wait_s=wait)
    except MaterialsAIError as error:
        fail(error)
    folder = paths.pop("folder")
    asked = out if out is not None else run_dir / "export"
    if folder != asked:
        console.print(f"{asked} holds an earlier bundle (kept as it is); this one is in {folder}")
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
    are kept. While a campaign runs in RUN_DIR they are queued in its inbox and it adds them
    at its next stage boundary. Exit code 0: every row accepted; 1: some rows rejected (the
    valid ones were added); 2: the file as a whole is unusable (nothing added).
    """
    from materials_ai.lab.ingest import ingest_results

    try:
        report = ingest_results(run_dir, results, dry_run=dry_run)
    except MaterialsAIError as error:
        fail(error)
    failed = sum(1 for o in report.observations if not o.ok)
    verb = "would add" if dry_run else "queued" if report.queued_for else "added"
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
        if report.queued_for:
            console.print(
                f"a campaign is running in {run_dir} ({report.queued_for}): the observations "
                "are saved in its inbox and it adds them at its next stage boundary"
            )
        elif report.campaign_done:
            console.print(
                "note: this campaign has finished; the observations are stored in its state. "
                f"To train on them: materials-ai campaign resume {run_dir} --iterations N "
                "(N: selection rounds in total, more than it has run)"
            )
        else:
            console.print(
                f"the next training stage uses them: materials-ai campaign resume {run_dir}"
            )
    if report.rejected:
        raise typer.Exit(code=1)


@report_app.command("report")
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
        fail(error)
    console.print(f"report: {path}")
