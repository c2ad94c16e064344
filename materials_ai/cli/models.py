"""``materials-ai train | evaluate | recalibrate | predict``: surrogate models."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from materials_ai.cli.common import EXIT_USAGE, console, err_console, fail
from materials_ai.errors import MaterialsAIError

if TYPE_CHECKING:
    import pandas as pd

models_app = typer.Typer()


@models_app.command("train")
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
        fail(error)
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


@models_app.command("evaluate")
def evaluate(
    model: Annotated[Path, typer.Argument(help="Model folder written by `train`.")],
    split: Annotated[str, typer.Option(help="Split part: train, val or test.")] = "test",
) -> None:
    """Report accuracy and calibration of a trained model on its split."""
    from materials_ai.surrogates.jobs import evaluate_model

    try:
        metrics = evaluate_model(model, split)
    except MaterialsAIError as error:
        fail(error, code=EXIT_USAGE)  # an unusable model folder or input
    _print_metrics({split: metrics})


@models_app.command("recalibrate")
def recalibrate(
    model: Annotated[Path, typer.Argument(help="Model folder written by `train`.")],
) -> None:
    """Refit a model's std recalibration and error distribution on its validation split."""
    from materials_ai.surrogates.jobs import recalibrate_model

    try:
        summary = recalibrate_model(model)
    except MaterialsAIError as error:
        fail(error, code=EXIT_USAGE)  # an unusable model folder or input
    console.print(f"recalibrated {model}: std scales {summary['std_scales']}")
    _print_metrics(summary["metrics"])


@models_app.command("predict")
def predict(
    model: Annotated[Path, typer.Argument(help="Model folder (surrogate.json + weights).")],
    files: Annotated[
        list[Path], typer.Argument(help="CIF, POSCAR/CONTCAR, extxyz, mol or sdf files.")
    ],
    out: Annotated[
        Path | None, typer.Option(help="Write the predictions as CSV to this file.")
    ] = None,
) -> None:
    """Predict structures from files: mean ± std and 90 % interval per target, in its unit.

    Files that cannot be read or predicted are named with the reason and skipped; the
    others are predicted. Exit code 0: every file predicted; 2: some input was unusable
    (named, the rest predicted and written) or the model folder or --out is unusable
    (nothing predicted).
    """
    from materials_ai.errors import DataError
    from materials_ai.surrogates.files import predict_files

    if out is not None:
        if out.is_dir():
            fail(
                DataError(
                    f"--out {out} is a folder; give a file name, e.g. {out / 'predictions.csv'}"
                )
            )
        if not out.parent.is_dir():
            fail(DataError(f"--out {out}: the folder {out.parent} does not exist"))
    try:
        table, errors = predict_files(model, files)
    except MaterialsAIError as error:
        fail(error, code=EXIT_USAGE)  # an unusable model folder or input
    for path, reason in errors:
        err_console.print(f"[yellow]skipped[/] {escape(path)}: {escape(reason)}", highlight=False)
    _print_domain_notes(table)
    if out is not None:
        try:
            _csv_table(table).to_csv(out, index=False, float_format="%.6g")
        except OSError as error:
            fail(DataError(f"--out {out}: cannot write: {error.strerror or error}"))
        console.print(f"{len(table)} prediction(s) written to {out}")
    elif not table.empty:
        console.print(_rich_table(table))
    if errors:
        names = ", ".join(path for path, _ in errors)
        err_console.print(
            f"[bold yellow]{len(errors)} of {len(files)} input(s) failed:[/] {escape(names)}",
            highlight=False,
        )
        raise typer.Exit(code=EXIT_USAGE)


def _targets(table: pd.DataFrame) -> list[str]:
    return [c.removesuffix("_mean") for c in table.columns if c.endswith("_mean")]


def _unit(table: pd.DataFrame, column: str) -> str:
    return str(table.attrs.get("units", {}).get(column, ""))


def _csv_table(table: pd.DataFrame) -> pd.DataFrame:
    """Columns with units in their names, like the lab bundle's (``band_gap_mean_eV``)."""
    from materials_ai.lab.schema import unit_token

    renamed = {}
    for column in table.columns:
        token = unit_token(_unit(table, column))
        if token:
            renamed[column] = f"{column}_{token}"
    return table.rename(columns=renamed)


def _rich_table(table: pd.DataFrame) -> Table:
    """Mean ± std and the 90 % interval per target, each headed with its unit."""
    view = Table()
    view.add_column("file", overflow="fold")
    view.add_column("formula")
    targets = _targets(table)
    for target in targets:
        unit = _unit(table, f"{target}_mean")
        suffix = f" ({unit})" if unit else ""
        view.add_column(f"{target}{suffix}\nmean ± std", justify="right")
        view.add_column(f"90 % interval{suffix}", justify="right")
    extra = [c for c in ("domain_distance", "unseen_elements") if c in table.columns]
    for column in extra:
        view.add_column(column.replace("_", " "), justify="right")
    for _, row in table.iterrows():
        cells = [escape(str(row["file"])), escape(str(row["formula"]))]
        for t in targets:
            cells.append(f"{row[f'{t}_mean']:.4g} ± {row[f'{t}_std']:.2g}")
            cells.append(f"{row[f'{t}_lo90']:.4g} to {row[f'{t}_hi90']:.4g}")
        if "domain_distance" in extra:
            flag = " (outside)" if row["outside_domain"] else ""
            cells.append(f"{row['domain_distance']:.3g}{flag}")
        if "unseen_elements" in extra:
            cells.append(str(row["unseen_elements"]) or "-")
        view.add_row(*cells)
    return view


def _print_domain_notes(table: pd.DataFrame) -> None:
    """Name the structures outside the model's training domain, and why."""
    notes = []
    for _, row in table.iterrows():
        reasons = []
        if str(row.get("unseen_elements") or ""):
            reasons.append(f"element(s) {row['unseen_elements']} never seen in training")
        if bool(row.get("outside_domain", False)):
            reasons.append(f"domain distance {row['domain_distance']:.3g} > 1")
        if reasons:
            notes.append(f"{row['file']} ({'; '.join(reasons)})")
    if notes:
        err_console.print(
            f"[yellow]note[/] {len(notes)} structure(s) lie outside the model's training "
            f"domain; trust their predictions less: {escape(', '.join(notes))}",
            highlight=False,
        )
