"""The report's sections as data for ``templates/report.html.j2``.

Each builder returns ``{"id", "title", "blocks"}`` (or None for an optional section that
has nothing to show). A block is one of::

    {"kind": "intro", "text": str}
    {"kind": "dl", "items": [(label, {"kind": "text"|"strong"|"ok"|"lines", ...})]}
    {"kind": "img", "src": data-URI, "alt": str}
    {"kind": "table", "headers": [str], "rows": [[cell]]}

and a cell is ``{"kind": "text", "text": str, "num": bool}``, a status badge
(``kind: badge``) or a prediction (``kind: pred`` with ``mean``, ``std``, ``val``). Every
value is plain text: the template escapes it. Numbers are formatted here, per language.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from materials_ai.acquisition.objective import DesirabilityObjective
from materials_ai.data.records import Molecule
from materials_ai.report import analysis, plots
from materials_ai.report.i18n import (
    crystal_system_label,
    format_integer,
    format_number,
    format_numbers,
    target_label,
)
from materials_ai.report.structures import StructureSummary, summarize_structure
from materials_ai.surrogates.describe import SurrogateDescription, describe_surrogate

if TYPE_CHECKING:
    from materials_ai.report.context import ReportContext

Section = dict[str, Any]
Block = dict[str, Any]

_STATUSES = ("validated", "selected", "candidate")


@dataclass(frozen=True)
class Words:
    """What every section needs to speak: language, strings, the surrogate's description.

    Attributes:
        lang: ``en`` or ``es``.
        t: ``t(key, **fields)``, see :func:`materials_ai.report.i18n.translator`.
        surrogate: The campaign's surrogate in words.
    """

    lang: str
    t: Callable[..., str]
    surrogate: SurrogateDescription

    @classmethod
    def of(cls, ctx: ReportContext, lang: str, t: Callable[..., str]) -> Words:
        """The words for a run's report."""
        return cls(lang, t, describe_surrogate(ctx.config.surrogate, lang))

    def num(self, value: Any, digits: int = 3) -> str:
        """A number in this language (``—`` when missing)."""
        return format_number(value, self.lang, digits)

    def label(self, target: str, unit: str | None = None) -> str:
        """A target's name, with its unit in parentheses when given."""
        name = target_label(target, self.lang)
        return name if unit is None else f"{name} ({unit})"


def criterion_text(
    criterion: Any, unit: str, label: str, t: Callable[..., str], lang: str = "en"
) -> str:
    """One criterion as ``1.4 ≤ band gap ≤ 3.1 eV`` (numbers written as ``lang`` writes)."""

    def n(x: float) -> str:
        return format_number(x, lang, 3, min_digits=1)

    if criterion.min is not None and criterion.max is not None:
        return t(
            "criterion_window", lo=n(criterion.min), hi=n(criterion.max), target=label, unit=unit
        )
    if criterion.min is not None:
        return t("criterion_min", lo=n(criterion.min), target=label, unit=unit)
    return t("criterion_max", hi=n(criterion.max), target=label, unit=unit)


def section(section_id: str, title: str, *blocks: Block) -> Section:
    """A section of the page."""
    return {"id": section_id, "title": title, "blocks": list(blocks)}


def intro(text: str) -> Block:
    """A paragraph of explanation."""
    return {"kind": "intro", "text": text}


def image(png: bytes, alt: str) -> Block:
    """An embedded PNG."""
    return {"kind": "img", "src": plots.png_data_uri(png), "alt": alt}


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], numeric: set[int]) -> Block:
    """A table; a cell is text or a cell dict, ``numeric`` columns align right."""
    body = []
    for row in rows:
        cells = []
        for j, c in enumerate(row):
            cell = dict(c) if isinstance(c, dict) else {"kind": "text", "text": str(c)}
            cell["num"] = j in numeric
            cells.append(cell)
        body.append(cells)
    return {"kind": "table", "headers": list(headers), "rows": body}


def found_now(ctx: ReportContext) -> int:
    """Validated candidates that meet every criterion."""
    merged = analysis.merged_observed_values(ctx.state)
    if not merged:
        return 0
    objective = DesirabilityObjective(ctx.config.objective, ctx.config.targets)
    values = np.array([[v.get(t, np.nan) for t in ctx.config.targets] for v in merged.values()])
    return int(objective.satisfied(values).sum())


def summary(ctx: ReportContext, w: Words) -> Section:
    """Campaign, dataset, surrogate, objective, budget, progress."""
    cfg, loop, units, t = ctx.config, ctx.config.loop, ctx.target_units, w.t
    budget = t(
        "budget_text",
        initial=format_integer(loop.initial_labels, w.lang),
        iterations=format_integer(loop.iterations, w.lang),
        batch=format_integer(loop.batch_size, w.lang),
    )
    if loop.max_oracle_calls is not None:
        budget += "; " + t("budget_cap", cap=format_integer(loop.max_oracle_calls, w.lang))
    strategy = str(cfg.acquisition.strategy)
    if strategy == "qucb":
        strategy += f" (β = {w.num(cfg.acquisition.beta, 2)})"
    status = (
        t("status_done") if ctx.state.done else t("status_running", iteration=ctx.state.iteration)
    )
    curve = analysis.discovery_curve(ctx.state.metrics)
    found = found_now(ctx)
    found_text = (
        t("targets_found_of", found=found, total=curve.targets_total)
        if curve.targets_total is not None
        else str(found)
    )
    if curve.targets_total is not None and ctx.pool_size:
        expected = float(
            analysis.random_search_expectation(
                np.array([ctx.state.oracle_calls]), curve.targets_total, ctx.pool_size
            )[0]
        )
        found_text += f" ({t('random_expectation', value=w.num(expected, 1))})"
    counts: dict[str, int] = {}
    for record in ctx.state.observations:
        kind = str(record.observation.get("fidelity", ""))
        counts[kind] = counts.get(kind, 0) + 1
    fidelities = ", ".join(f"{k}: {format_integer(v, w.lang)}" for k, v in counts.items())
    try:
        source = ctx.ranked_source.relative_to(ctx.run_dir)
    except ValueError:
        source = ctx.ranked_source

    def text(value: Any) -> dict[str, Any]:
        return {"kind": "text", "text": str(value)}

    criteria = [
        criterion_text(c, units.get(c.target, ""), w.label(c.target), t, w.lang)
        for c in cfg.objective.criteria
    ]
    items: list[tuple[str, dict[str, Any]]] = [
        (t("campaign"), {"kind": "strong", "text": cfg.name})
    ]
    if cfg.description:
        items.append((t("description"), text(cfg.description)))
    items += [
        (t("dataset"), text(cfg.pool_label)),
        (t("pool_size"), text(format_integer(ctx.pool_size, w.lang))),
        (t("objective"), {"kind": "lines", "lines": criteria}),
        (t("targets"), text(", ".join(w.label(x, units.get(x, "")) for x in cfg.targets))),
        (t("surrogate"), text(w.surrogate.text)),
        (t("budget"), text(budget)),
        (t("strategy"), text(strategy)),
        (t("status"), text(status)),
        (t("oracle_calls"), text(format_integer(ctx.state.oracle_calls, w.lang))),
        (t("targets_found"), {"kind": "ok", "text": found_text}),
        (t("observations_by_fidelity"), text(fidelities or t("none"))),
        (t("ranked_from"), text(f"{source}/ranked_candidates.csv")),
    ]
    return section("summary", t("sec_summary"), {"kind": "dl", "items": items})


def _extra_column(frame: Any, needle: str) -> str | None:
    """First column whose name contains ``needle`` (e.g. ``hull``), if any."""
    for column in frame.columns:
        if needle in str(column).lower():
            return str(column)
    return None


def candidates(ctx: ReportContext, w: Words, top: int) -> Section:
    """The ranked list: predictions (mean ± std) and validated values per target."""
    t, frame, targets = w.t, ctx.ranked.head(top), list(ctx.config.targets)
    fidelity = analysis.fidelities_by_candidate(ctx.state)
    hull, sustainability = _extra_column(frame, "hull"), _extra_column(frame, "sustainab")
    headers = [t(f"col_{k}") for k in ("rank", "id", "formula", "status", "score", "p_all")]
    headers += [w.label(x, ctx.target_units.get(x, "")) for x in targets]
    headers.append(t("col_fidelity"))
    numeric = {0, 4, 5, *range(6, 6 + len(targets))}
    if hull:
        headers.append(t("col_hull", unit="eV/atom"))
        numeric.add(len(headers) - 1)
    if sustainability:
        headers.append(t("col_sustainability"))
        numeric.add(len(headers) - 1)
    rows = []
    for _, r in frame.iterrows():
        status = str(r.get("status", ""))
        meets = r.get("satisfies_all")  # True, False or NA (not validated)
        badge = {
            "kind": "badge",
            "status": status,
            "label": t(f"status_{status}") if status in _STATUSES else status,
            "ok": t("meets_all") if status == "validated" and str(meets) == "True" else "",
        }
        cells: list[Any] = [
            format_integer(r["rank"], w.lang),
            str(r["id"]),
            str(r["formula"]),
            badge,
            w.num(r.get("score")),
            w.num(r.get("p_all_criteria"), 2),
        ]
        for x in targets:
            validated = r.get(f"{x}_validated")
            cells.append(
                {
                    "kind": "pred",
                    "mean": w.num(r.get(f"{x}_pred_mean")),
                    "std": w.num(r.get(f"{x}_pred_std")),
                    "val": w.num(validated)
                    if validated is not None and np.isfinite(float(validated))
                    else "",
                }
            )
        cells.append(fidelity.get(str(r["id"]), "—"))
        if hull:
            cells.append(w.num(r.get(hull)))
        if sustainability:
            cells.append(w.num(r.get(sustainability), 2))
        rows.append(cells)
    s = w.surrogate
    return section(
        "candidates",
        t("sec_candidates"),
        intro(t("candidates_intro", n=len(frame), mean=s.mean, spread=s.spread, samples=s.samples)),
        intro(t("cells_legend")),
        table(headers, rows, numeric),
    )


def structures(ctx: ReportContext, w: Words, top: int) -> Section:
    """Symmetry and conventional lattice of the top candidates with a structure at hand."""
    t, rows = w.t, []
    summaries: dict[str, StructureSummary] = {}
    for _, r in ctx.ranked.head(top).iterrows():
        cid = str(r["id"])
        structure = ctx.structures.get(cid)
        if structure is None or isinstance(structure, Molecule):  # no cell to summarise
            continue
        s = summaries.setdefault(cid, summarize_structure(structure))
        rows.append(
            [
                format_integer(r["rank"], w.lang),
                cid,
                s.formula,
                s.prototype,
                f"{s.spacegroup_symbol} ({s.spacegroup_number})",
                crystal_system_label(s.crystal_system, w.lang),
                format_numbers((s.a_angstrom, s.b_angstrom, s.c_angstrom), w.lang, 3),
                format_numbers((s.alpha_deg, s.beta_deg, s.gamma_deg), w.lang, 1),
                w.num(s.volume_per_atom_angstrom3, 2),
                format_integer(s.n_sites, w.lang),
            ]
        )
    if not rows:
        return section("structures", t("sec_structures"), intro(t("structures_missing")))
    keys = ("rank", "id", "formula", "prototype", "spacegroup", "system", "lattice", "angles")
    headers = [t(f"col_{k}") for k in (*keys, "volume", "sites")]
    return section(
        "structures",
        t("sec_structures"),
        intro(t("structures_intro")),
        table(headers, rows, {0, 6, 7, 8, 9}),
    )


def parity_and_calibration(ctx: ReportContext, w: Words) -> tuple[Section, Section]:
    """Out-of-sample predictions against observations, and their calibration."""
    t, targets = w.t, list(ctx.config.targets)
    pairs = analysis.out_of_sample_pairs(ctx.state, targets)
    labels = {x: w.label(x) for x in targets}
    nonempty = {x: p for x, p in pairs.items() if len(p)}
    if not nonempty:
        empty = intro(t("no_parity"))
        return (
            section("parity", t("sec_parity"), empty),
            section("calibration", t("sec_calibration"), empty),
        )
    stats_rows, cal_rows = [], []
    for x, p in nonempty.items():
        s = analysis.parity_stats(p.predicted_mean, p.observed)
        unit = ctx.target_units.get(x, "")
        stats_rows.append(
            [f"{labels[x]} ({unit})", str(s.n), w.num(s.mae), w.num(s.rmse), w.num(s.r2, 2)]
        )
        z = analysis.z_scores(p)
        cov = analysis.interval_coverage(z, (0.6827, 0.9545))
        z_std = float(np.std(z)) if z.size else float("nan")
        cal_rows.append(
            [labels[x], str(z.size), w.num(cov[0], 2), w.num(cov[1], 2), w.num(z_std, 2)]
        )
    parity = section(
        "parity",
        t("sec_parity"),
        intro(t("parity_intro", spread=w.surrogate.spread)),
        image(plots.parity_png(nonempty, ctx.target_units, labels, t), t("sec_parity")),
        table(
            [t(f"col_{k}") for k in ("target", "n", "mae", "rmse", "r2")], stats_rows, {1, 2, 3, 4}
        ),
    )
    calibration = section(
        "calibration",
        t("sec_calibration"),
        intro(t("calibration_intro")),
        image(plots.calibration_png(nonempty, labels, t), t("sec_calibration")),
        table(
            [t(f"col_{k}") for k in ("target", "n", "cov68", "cov95", "zstd")],
            cal_rows,
            {1, 2, 3, 4},
        ),
    )
    return parity, calibration


def discovery(ctx: ReportContext, w: Words) -> Section:
    """Materials found against oracle calls, with random search's expectation."""
    t = w.t
    if not ctx.state.metrics:
        return section("discovery", t("sec_discovery"), intro(t("no_metrics")))
    curve = analysis.discovery_curve(ctx.state.metrics)
    if curve.targets_total is not None and ctx.pool_size:
        text = t(
            "discovery_intro",
            k=format_integer(curve.targets_total, w.lang),
            n=format_integer(ctx.pool_size, w.lang),
        )
    else:
        text = t("discovery_intro_nok")
    return section(
        "discovery",
        t("sec_discovery"),
        intro(text),
        image(plots.discovery_png(curve, ctx.pool_size, t), t("sec_discovery")),
    )


def acquisition(ctx: ReportContext, w: Words) -> Section:
    """Acquisition values of the picks, per selection round."""
    t, iterations, values = w.t, [], []
    for selection in ctx.state.selections:
        finite = [v for v in selection.acquisition_values if v is not None and math.isfinite(v)]
        if selection.iteration > 0 and finite:
            iterations.append(selection.iteration)
            values.append(finite)
    if not iterations:
        return section("acquisition", t("sec_acquisition"), intro(t("no_acquisition")))
    return section(
        "acquisition",
        t("sec_acquisition"),
        intro(t("acquisition_intro", strategy=ctx.config.acquisition.strategy)),
        image(plots.acquisition_png(iterations, values, t), t("sec_acquisition")),
    )


def pareto(ctx: ReportContext, w: Words) -> Section | None:
    """Validated candidates in the plane of two criteria and the non-dominated set (only
    for objectives with two or more criteria)."""
    t, targets, criteria = w.t, list(ctx.config.targets), ctx.config.objective.criteria
    if len(criteria) < 2:
        return None
    objective = DesirabilityObjective(ctx.config.objective, targets)
    axis_targets: list[str] = []
    for c in criteria:
        if c.target not in axis_targets:
            axis_targets.append(c.target)
    merged = analysis.merged_observed_values(ctx.state)
    ids = list(merged)
    values = np.array([[merged[i].get(x, np.nan) for x in targets] for i in ids]).reshape(
        len(ids), len(targets)
    )
    margins = objective.margins(values) if len(ids) else np.zeros((0, len(criteria)))
    front = analysis.pareto_mask(margins)
    meets = objective.satisfied(values) if len(ids) else np.zeros(0, dtype=bool)
    if len(axis_targets) < 2:
        axis_targets = axis_targets * 2
    tx, ty = axis_targets[0], axis_targets[1]
    x, y = values[:, targets.index(tx)], values[:, targets.index(ty)]
    shown = np.isfinite(x) & np.isfinite(y)
    if not shown.any():
        return section("pareto", t("sec_pareto"), intro(t("no_pareto")))

    def window(target: str) -> tuple[float | None, float | None]:
        crit = next(c for c in criteria if c.target == target)
        return crit.min, crit.max

    units = ctx.target_units
    png = plots.pareto_png(
        x[shown],
        y[shown],
        front[shown],
        meets[shown],
        window(tx),
        window(ty),
        w.label(tx, units.get(tx, "")),
        w.label(ty, units.get(ty, "")),
        t,
    )
    order = np.argsort(-np.nan_to_num(objective.desirability(values), nan=-np.inf))
    formula = dict(zip(ctx.ranked["id"].astype(str), ctx.ranked["formula"], strict=False))
    rows = [
        [
            ids[i],
            str(formula.get(ids[i], "")),
            *[w.num(values[i, targets.index(c.target)]) for c in criteria],
            format_numbers(margins[i], w.lang, 2),
        ]
        for i in order
        if front[i]
    ]
    headers = [t("col_id"), t("col_formula")]
    headers += [w.label(c.target, units.get(c.target, "")) for c in criteria]
    headers.append(t("col_pareto_margins"))
    return section(
        "pareto",
        t("sec_pareto"),
        intro(t("pareto_intro", c=len(criteria))),
        image(png, t("sec_pareto")),
        table(headers, rows[:30], set(range(2, 2 + len(criteria)))),
    )


def lab_results(ctx: ReportContext, w: Words) -> Section | None:
    """Observations ingested from laboratory files (None when there are none)."""
    t = w.t
    records = [
        r.observation
        for r in ctx.state.observations
        if r.observation.get("fidelity") == "experiment"
    ]
    if not records:
        return None

    def yes_no(value: Any) -> str:
        return t("unknown") if value is None else (t("yes") if value else t("no"))

    rows = []
    for obs in records:
        prov = obs.get("provenance", {})
        values = ", ".join(
            f"{w.label(k)} = {w.num(v)} {ctx.target_units.get(k, '')}"
            for k, v in obs.get("values", {}).items()
        )
        rows.append(
            [
                str(obs.get("candidate_id", "")),
                str(prov.get("file", "")),
                str(prov.get("row", "")),
                values or str(obs.get("reason", "")),
                yes_no(prov.get("phase_pure")),
                yes_no(prov.get("synthesized")),
                str(prov.get("notes", "")),
                t("yes") if obs.get("ok") else t("no"),
            ]
        )
    keys = ("id", "file", "row", "values", "phase_pure", "synthesized", "notes", "ok")
    return section(
        "lab-results",
        t("sec_lab"),
        intro(t("lab_intro")),
        table([t(f"col_{k}") for k in keys], rows, {2}),
    )
