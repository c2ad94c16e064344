"""Model cards: the Markdown summary a training job writes beside a model (``MODEL_CARD.md``).

:func:`model_card` renders a ``training.json`` summary; :func:`added_card_sections` keeps
the sections people added to an earlier card when a job rewrites it (recalibration).
"""

from __future__ import annotations

from typing import Any

import yaml

__all__ = ["added_card_sections", "model_card", "surrogate_sentence"]


def added_card_sections(card: str) -> str:
    """The sections people added to a generated model card (after its ``## Training``)."""
    start = card.find("\n## Training")
    if start < 0:
        return ""
    added = card.find("\n## ", start + 1)
    return "" if added < 0 else card[added + 1 :].rstrip() + "\n"


def surrogate_sentence(surrogate: dict[str, Any]) -> str:
    """A card's opening words: the surrogate, its inputs, what its mean and std are
    (:func:`materials_ai.surrogates.describe.describe_surrogate` of the config that ran)."""
    from materials_ai.surrogates.describe import describe_surrogate

    d = describe_surrogate(surrogate)
    return f"{d.text[0].upper()}{d.text[1:]}; predictions are the {d.mean} ± the {d.spread}"


def model_card(summary: dict[str, Any]) -> str:
    """Render a model card (Markdown) from a ``training.json`` summary."""
    cfg = summary["config"]
    lines = [
        f"# {summary['name']}",
        "",
        f"{surrogate_sentence(cfg['surrogate'])}. Dataset `{cfg['dataset']}`, targets "
        f"{', '.join(cfg['targets'])}.",
        "",
        "## Data and split",
        "",
        f"- dataset card: `datasets/{cfg['dataset']}.yaml`",
        f"- split: `datasets/splits/{cfg['dataset']}/{cfg['split']['name']}/` "
        f"({cfg['split']['kind']}"
        + (f", test fold {cfg['split']['fold']}" if cfg["split"]["kind"] == "kfold" else "")
        + ")",
        f"- sizes: train {summary['split_sizes']['train']}, validation "
        f"{summary['split_sizes']['val']}, test {summary['split_sizes']['test']}",
        "",
        "## Hyper-parameters",
        "",
        "```yaml",
        yaml.safe_dump(cfg["surrogate"], sort_keys=False).rstrip(),
        "```",
        "",
        "## Metrics (after std recalibration on the validation split)",
        "",
        "| part | target | MAE | RMSE | R² | miscal. area | 90 % coverage | Spearman(|err|, std) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for part, per_target in summary["metrics"].items():
        for target, m in per_target.items():
            lines.append(
                f"| {part} | {target} | {m['mae']:.4g} | {m['rmse']:.4g} | {m['r2']:.3f} | "
                f"{m.get('miscalibration_area', float('nan')):.3f} | "
                f"{m.get('coverage_90', float('nan')):.3f} | "
                f"{m.get('spearman_err_std', float('nan')):.3f} |"
            )
    gap_rows = [
        (part, target, m)
        for part, per_target in summary["metrics"].items()
        for target, m in per_target.items()
        if "metal_auc" in m
    ]
    if gap_rows:
        lines += [
            "",
            "Metals (P(gap <= 0.1 eV) from the recalibrated ensemble; see "
            "`materials_ai.surrogates.metals`):",
            "",
            "| part | target | metal share | ROC AUC | accuracy | MAE non-metals | MAE clipped |",
            "|---|---|---|---|---|---|---|",
        ]
        for part, target, m in gap_rows:
            lines.append(
                f"| {part} | {target} | {m['metal_fraction']:.3f} | {m['metal_auc']:.3f} | "
                f"{m['metal_accuracy']:.3f} | {m['mae_nonmetal']:.4g} | {m['mae_clipped']:.4g} |"
            )
    interval_z = summary.get("interval_90_z") or {}
    lines += [
        "",
        f"Std scales (recalibration): {summary['std_scales'] or 'none'}",
        "",
        "90 % intervals: `[mean + std * q05, mean + std * q95]` with the quantiles of the "
        "standardized error fitted on the validation split "
        + (
            "(" + "; ".join(f"{t}: {q[0]:.2f}, {q[1]:.2f}" for t, q in interval_z.items()) + ")"
            if interval_z
            else "(none fitted: Gaussian, ±1.645 std)"
        )
        + ".",
        "",
    ]
    gaussian = (summary.get("metrics_gaussian") or {}).get("test", {})
    if interval_z and gaussian:
        lines += [
            "Gaussian reading of the same std (`mean ± 1.645 std`, what acquisition functions "
            "use), test split: "
            + "; ".join(
                f"{t}: miscal. area {m.get('miscalibration_area', float('nan')):.3f}, "
                f"90 % coverage {m.get('coverage_90', float('nan')):.3f}"
                for t, m in gaussian.items()
            )
            + ".",
            "",
        ]
    lines += [
        "## Training",
        "",
        f"- epochs per member: {summary['epochs']} (best: {summary['best_epochs']})",
        f"- fit time: {summary['fit_seconds'] / 60:.1f} min; job total "
        f"{summary['total_seconds'] / 60:.1f} min; date {summary['date']}",
        f"- machine: {summary['machine']}",
        "",
    ]
    return "\n".join(lines)
