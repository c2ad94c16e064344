"""The words of a lab bundle: ``README.txt`` and the surrogate-dependent column
descriptions of ``schema.json``.

The README is the template ``materials_ai/report/templates/lab_readme_<lang>.txt.j2``;
what it says about the model (deep-ensemble members or GP posterior draws, the features
read) comes from :func:`materials_ai.surrogates.describe.describe_surrogate` applied to the
campaign's own ``surrogate:`` section, so the lab reads what actually ranked its
candidates.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from materials_ai.lab.schema import BUNDLE_SCHEMA_VERSION, Column, results_columns
from materials_ai.report.i18n import MEASURED_DESCRIPTIONS, format_integer, target_label, translator
from materials_ai.report.render import render
from materials_ai.report.sections import criterion_text
from materials_ai.surrogates.describe import SurrogateDescription, describe_surrogate

__all__ = ["describe_columns", "render_readme"]


def describe_columns(columns: Sequence[Column], surrogate: SurrogateDescription) -> list[Column]:
    """The columns with descriptions that name the surrogate's mean, spread and samples.

    Args:
        columns: Columns of candidates.csv (generic descriptions).
        surrogate: The campaign's surrogate, in English (``schema.json`` is English).
    """
    out = []
    for c in columns:
        text = c.description
        target = text[text.rfind("(") + 1 : -1] if text.endswith(")") else ""
        if c.name == "predicted_desirability":
            text = (
                f"Desirability of the {surrogate.mean}: the worst criterion margin in units of "
                "the criterion's scale; >= 0 when every criterion is met."
            )
        elif c.name == "p_all_criteria":
            text = f"Share of the {surrogate.samples} predicting that every criterion is met (0-1)."
        elif "_pred_mean" in c.name:
            text = f"Surrogate prediction, the {surrogate.mean} ({target})."
        elif "_pred_std" in c.name:
            text = f"Surrogate uncertainty, the {surrogate.spread} ({target})."
        out.append(dataclasses.replace(c, description=text))
    return out


def render_readme(
    config: Any,
    *,
    lang: str,
    units: Mapping[str, str],
    n_candidates: int,
    created: str,
    iteration: int,
    done: bool,
    state_iteration: int,
    oracle_calls: int,
) -> str:
    """README.txt of a bundle.

    Args:
        config: The campaign's workflow (name, targets, objective, surrogate).
        lang: ``en`` or ``es``.
        units: Target -> unit.
        n_candidates: Rows of candidates.csv.
        created: ISO time of the export.
        iteration: Iteration of the exported ranked list.
        done: The campaign has finished.
        state_iteration: The campaign's current iteration (for "in progress").
        oracle_calls: Validations requested so far.
    """
    from materials_ai import __version__

    t = translator(lang)
    criteria = "".join(
        t(
            "readme_criteria_line",
            text=criterion_text(c, units.get(c.target, ""), target_label(c.target, lang), t, lang),
        )
        for c in config.objective.criteria
    )
    measured = results_columns(config.targets, units)
    descriptions = MEASURED_DESCRIPTIONS[lang]
    width = max([24] + [len(m.column) + 2 for m in measured])
    measured_lines = "".join(
        t(
            "readme_measured_column",
            column=m.column.ljust(width),
            description=descriptions.get(m.target, f"{m.target}, {m.unit}"),
        )
        for m in measured
    )
    return render(
        f"lab_readme_{lang}.txt.j2",
        title=t("readme_title", name=config.name),
        schema_version=BUNDLE_SCHEMA_VERSION,
        when=created,
        version=__version__,
        iteration=iteration,
        status=t("status_done") if done else t("status_running", iteration=state_iteration),
        oracle_calls=format_integer(oracle_calls, lang),
        n=n_candidates,
        surrogate=describe_surrogate(config.surrogate, lang),
        criteria=criteria.rstrip("\n"),
        measured_columns=measured_lines,
    )
