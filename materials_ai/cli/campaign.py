"""``materials-ai campaign ...`` and ``materials-ai report``: run, resume, inspect, export."""

from __future__ import annotations

import json
import math
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.table import Table

from materials_ai.cli.common import console, err_console, fail, lang_option
from materials_ai.errors import MaterialsAIError

if TYPE_CHECKING:
    from materials_ai.campaign.interrupt import CampaignInterrupted
    from materials_ai.campaign.loop import Campaign

campaign_app = typer.Typer(
    help="Run, resume, inspect and export discovery campaigns.", no_args_is_help=True
)
report_app = typer.Typer()


def _print_summary(summary) -> None:  # type: ignore[no-untyped-def]
    total = f" of {summary.targets_total}" if summary.targets_total is not None else ""
    rounds = f"{summary.rounds_done} of {summary.rounds_total} selection rounds"
    status = f"finished, {rounds}" if summary.done else f"paused, {rounds} done"
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
            from materials_ai.tracking import ui_command

            # Artifacts lie in mlartifacts/ beside the store (shared by the folder's runs).
            console.print(
                f"                   view: {ui_command(summary.tracking_uri)}", soft_wrap=True
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
        str | None,
        typer.Option(
            help="MLflow tracking URI (default: MLFLOW_TRACKING_URI, else mlflow.db in the "
            "folder holding the run dir, shared by its campaigns)."
        ),
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
    """Start a campaign from a workflow file (any pool source: dataset, files, generated).

    The run holds the run directory's lock until it stops: a second run or resume there
    is refused with the owner named; `campaign ingest` queues lab results for it.
    """
    from materials_ai.campaign.config import load_workflow
    from materials_ai.campaign.interrupt import CampaignInterrupted, stop_on_signals
    from materials_ai.campaign.loop import Campaign

    if _is_generative(workflow):
        from materials_ai.campaign.generative import retired_workflow_error

        fail(retired_workflow_error(workflow))
    campaign: Campaign | None = None
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
        with stop_on_signals():
            campaign = Campaign.start(
                config, run_dir, progress=progress, clear_old_outputs=clear_old_outputs
            )
            summary = campaign.run()
    except MaterialsAIError as error:
        fail(error)
    except CampaignInterrupted as stop:
        _stopped(stop, run_dir, campaign)
    _print_summary(summary)


def _stopped(stop: CampaignInterrupted, run_dir: Path, campaign: Campaign | None) -> NoReturn:
    """Say where a campaign stopped and how to resume it; exit with 128 + the signal."""
    from materials_ai.campaign.display import round_label
    from materials_ai.campaign.layout import STATE_FILE

    if not (run_dir / STATE_FILE).exists():
        err_console.print(
            f"\n[bold yellow]stopped[/] by {stop.signal_name} before the campaign was "
            f"created; nothing to resume in {run_dir}",
            highlight=False,
        )
        raise typer.Exit(code=stop.exit_code)
    where = ""
    if campaign is not None:
        state = campaign.state
        label = round_label(
            state.iteration,
            campaign.config.loop.iterations,
            final=state.iteration == state.final_iteration,
        )
        stage = campaign.running_stage
        where = f" during {label}" + (f", stage {stage.value}" if stage is not None else "")
    err_console.print(
        f"\n[bold yellow]stopped[/] by {stop.signal_name}{where}; the state of the last "
        f"completed stage is saved in {run_dir}",
        highlight=False,
    )
    err_console.print(
        f"resume with: materials-ai campaign resume {shlex.quote(str(run_dir))}",
        highlight=False,
        markup=False,
    )
    raise typer.Exit(code=stop.exit_code)


def _is_generative(workflow: Path) -> bool:
    from materials_ai.campaign.generative import is_generative_workflow
    from materials_ai.config_errors import read_yaml_file

    try:
        data = read_yaml_file(workflow, "workflow")
    except MaterialsAIError:
        return False  # load_workflow reports the problem
    return is_generative_workflow(data)


def _show_old_generative_run(run_dir: Path) -> bool:
    """Print the outputs of a finished run of the retired generative engine in
    ``run_dir`` (True), fail for an unfinished one, or return False if there is none."""
    from materials_ai.campaign.generative import old_generative_run

    old = old_generative_run(run_dir)
    if old is None:
        return False
    if not old.done:
        fail(old.resume_error())
    console.print(f"{run_dir} holds a finished run of the retired generative engine:")
    for name, path in old.outputs.items():
        console.print(f"  {name + ':':<20}{path}")
    return True


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
    from materials_ai.campaign.interrupt import CampaignInterrupted, stop_on_signals
    from materials_ai.campaign.loop import Campaign

    if _show_old_generative_run(run_dir):
        return
    campaign: Campaign | None = None
    try:
        with stop_on_signals():
            campaign = Campaign.resume(run_dir, iterations=iterations, progress=progress)
            if campaign.idle_reason is not None:
                console.print(campaign.idle_reason)
                return
            summary = campaign.run()
    except MaterialsAIError as error:
        fail(error)
    except CampaignInterrupted as stop:
        _stopped(stop, run_dir, campaign)
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


#: ``campaign status --json``: the keys it prints (also in the command's help).
STATUS_JSON_KEYS = (
    "name, campaign_id, phase (seed | round | final | done), round (the selection round in "
    "progress, null outside rounds), rounds_done, rounds_total (selection rounds completed "
    "/ asked for: --iterations 3 finishes with 3 of 3), iteration, iterations (internal "
    "iteration counter, 0 = seed batch; loop.iterations), completed (stages of the current "
    "iteration done), done, oracle_calls, pending, targets, metrics (one object per "
    'recorded round: round (number or "final"), iteration, oracle_calls, n_labelled, '
    "targets_found, targets_total, best_desirability, val_mae_<target>, seconds_<stage>; "
    "null for a value not measured), observations_by_fidelity, owner (the running "
    "process, null if none), queued (lab observations waiting in the inbox)"
)


def _json_ready(value: Any) -> Any:
    """NaN and infinities become null (JSON has no NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    return value


@campaign_app.command("status")
def campaign_status(
    run_dir: Annotated[Path, typer.Argument(help="Run directory of the campaign.")],
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print one JSON object on standard output instead of the table. Keys: "
            + STATUS_JSON_KEYS
            + ".",
        ),
    ] = False,
) -> None:
    """Show where a campaign stands, round by round (--json: machine-readable)."""
    from materials_ai.campaign.inspect import campaign_status as status

    try:
        info = status(run_dir)
    except MaterialsAIError as error:
        fail(error)
    if as_json:
        typer.echo(json.dumps(_json_ready(info), indent=1, allow_nan=False))
        return
    console.print(f"[bold]{info['name']}[/] in {run_dir}")
    rounds = f"{info['rounds_done']} of {info['rounds_total']} selection rounds done"
    where = {
        "seed": "seed batch",
        "round": f"round {info['round']} in progress",
        "final": "final collect-and-rank step",
        "done": "finished",
    }[info["phase"]]
    stages = f" (completed stages {info['completed']})" if info["completed"] else ""
    console.print(
        f"  {rounds}; {where}{stages}; oracle calls {info['oracle_calls']}, "
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
        "round",
        "oracle calls",
        "labelled",
        "found",
        "best desirability",
        *[f"val MAE {t}" for t in info["targets"]],
    )
    for row in info["metrics"]:
        table.add_row(
            str(row["round"]),
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
    lang: Annotated[str, lang_option("Language of README.txt and report.html")] = "en",
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
    lang: Annotated[str, lang_option()] = "en",
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
