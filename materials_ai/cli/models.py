"""``materials-ai train | evaluate | recalibrate | predict``: surrogate models."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from materials_ai.cli.common import console, err_console, fail
from materials_ai.errors import MaterialsAIError

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
        fail(error)
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
        fail(error)
    console.print(f"recalibrated {model}: std scales {summary['std_scales']}")
    _print_metrics(summary["metrics"])


@models_app.command("predict")
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
        fail(error)
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
