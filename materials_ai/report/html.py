"""The campaign report: one self-contained HTML file (plots embedded as base64 PNG).

``write_report(run_dir, out, lang="en")`` reads a run directory (state, workflow, latest
ranked list and its CIFs) and writes a page with these sections, each an element with a
stable ``id`` that tests and links rely on:

==================  ===================================================================
``summary``         campaign, dataset, objective, budget, oracle calls, materials found
``candidates``      ranked candidates: predicted mean ± std, validated values, fidelity,
                    hull distance and sustainability score when the ranked list has them
``structures``      formula, prototype guess, space group, conventional lattice
``parity``          predictions made at selection time against later observations
``calibration``     interval coverage against nominal probability, z-score histogram
``discovery``       materials found against oracle calls, random-search expectation
``acquisition``     acquisition values of the picks, per selection round
``pareto``          validated candidates in the plane of two criteria, non-dominated set
                    (only when the objective has two or more criteria)
``lab-results``     observations ingested from laboratory files (only when there are any)
==================  ===================================================================

The page loads nothing: a Content-Security-Policy forbids every network or file request,
so a reference that slipped in would fail loudly (a console error) instead of silently
phoning home. A few lines of inline script check, once the page has loaded, that every
embedded image decoded, and report a failure with ``console.error``.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from materials_ai.acquisition.objective import DesirabilityObjective
from materials_ai.campaign.config import WorkflowConfig
from materials_ai.campaign.state import CampaignState
from materials_ai.data.records import Molecule
from materials_ai.report import analysis, plots
from materials_ai.report.i18n import crystal_system_label, target_label, translator
from materials_ai.report.structures import StructureSummary, summarize_structure

if TYPE_CHECKING:
    import pandas as pd
    from pymatgen.core import Structure

#: Ids of the report's sections, in page order (optional ones included).
SECTION_IDS = (
    "summary",
    "candidates",
    "structures",
    "parity",
    "calibration",
    "discovery",
    "acquisition",
    "pareto",
    "lab-results",
)

#: Content-Security-Policy of the page: inline style and script, data: images, nothing else.
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"

_STATUSES = ("validated", "selected", "candidate")

_CSS = """
body{font-family:"Liberation Sans",Arial,Helvetica,sans-serif;margin:0;color:#1d1d1f;
background:#fafafa;line-height:1.45}
header{background:#12355b;color:#fff;padding:18px 32px}
header h1{margin:0 0 4px 0;font-size:1.6em}
header p{margin:0;opacity:.85;font-size:.9em}
nav{padding:8px 32px;background:#e8eef5;font-size:.9em}
nav a{margin-right:14px;color:#12355b;text-decoration:none}
main{padding:8px 32px 24px 32px;max-width:1280px}
section{background:#fff;border:1px solid #dde3ea;border-radius:6px;margin:16px 0;
padding:12px 20px}
h2{color:#12355b;font-size:1.25em;margin:6px 0 10px 0}
p.intro{color:#444;font-size:.92em;max-width:980px}
table{border-collapse:collapse;font-size:.85em;margin:6px 0}
th,td{border-bottom:1px solid #e4e8ee;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f1f4f8;font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
dl.summary{display:grid;grid-template-columns:max-content auto;gap:4px 18px;margin:0}
dl.summary dt{font-weight:600;color:#333}
dl.summary dd{margin:0}
.pred{color:#555}
.val{font-weight:600}
.ok{color:#007a52;font-weight:600}
.badge{display:inline-block;padding:0 6px;border-radius:8px;font-size:.85em;
background:#eef1f5}
.badge.validated{background:#d8f0e6}
.badge.selected{background:#fff1d6}
img.plot{max-width:100%;height:auto;display:block;margin:6px 0}
footer{color:#666;font-size:.8em;padding:0 32px 24px 32px}
"""

_SCRIPT = """
window.addEventListener("load", function () {
  var bad = [];
  document.querySelectorAll("img").forEach(function (img) {
    if (!(img.complete && img.naturalWidth > 0)) { bad.push(img.alt || "image"); }
  });
  document.documentElement.setAttribute("data-images-ok", bad.length ? "0" : "1");
  if (bad.length) { console.error("report: images failed to decode: " + bad.join(", ")); }
});
"""


@dataclass
class ReportContext:
    """Everything the report shows, read from a run directory.

    Attributes:
        run_dir: The run directory.
        config: Its workflow.
        state: Its state.
        ranked: Latest ranked list (one row per candidate, best first).
        ranked_source: Folder of that list.
        ranked_metadata: The list's JSON metadata (``campaign``, ``iteration`` …).
        target_units: Target name -> unit.
        pool_size: Candidates in the pool (None when unknown).
        structures: Candidate id -> structure, for the candidates whose structure is at hand.
    """

    run_dir: Path
    config: WorkflowConfig
    state: CampaignState
    ranked: pd.DataFrame
    ranked_source: Path
    ranked_metadata: Mapping[str, Any]
    target_units: Mapping[str, str]
    pool_size: int | None
    structures: Mapping[str, Structure | Molecule] = field(default_factory=dict)


def load_report_context(
    run_dir: str | Path,
    *,
    top: int = 25,
    structures: Mapping[str, Structure | Molecule] | None = None,
    load_pool: bool = False,
) -> ReportContext:
    """Read what the report needs from ``run_dir``.

    Args:
        run_dir: The run directory.
        top: Candidates whose structures are wanted.
        structures: Structures already at hand (id -> structure); others are read from the
            ranked lists' CIFs (and from the pool when ``load_pool``).
        load_pool: Load the dataset for candidates without a CIF.
    """
    from materials_ai.campaign.inspect import candidate_structures, pool_size
    from materials_ai.campaign.rundir import RunDirectory

    rundir = RunDirectory(run_dir)  # read only: never waits for a running campaign
    run_dir = rundir.path
    state = rundir.read_state()
    config = rundir.read_workflow(state)
    table, payload, folder = rundir.latest_ranked_list(state)
    units = dict(payload.get("target_units") or {})
    head = table.head(top)
    ids = [str(i) for i in head["id"]]
    found = dict(structures or {})
    wanted = [i for i in ids if i not in found]
    if wanted:
        formulas = [str(f) for f, i in zip(head["formula"], ids, strict=True) if i in wanted]
        found.update(candidate_structures(run_dir, wanted, formulas=formulas, load_pool=load_pool))
    return ReportContext(
        run_dir=run_dir,
        config=config,
        state=state,
        ranked=table,
        ranked_source=folder,
        ranked_metadata=dict(payload.get("metadata") or {}),
        target_units=units,
        pool_size=pool_size(run_dir),
        structures=found,
    )


# -- formatting -------------------------------------------------------------------------


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _num(value: Any, digits: int = 3) -> str:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return "—"
    if not math.isfinite(x):
        return "—"
    return f"{x:.{digits}f}"


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], numeric: set[int]) -> str:
    """An HTML table; cells are already-escaped HTML, ``numeric`` column indices align right."""
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="num">{c}</td>' if j in numeric else f"<td>{c}</td>"
            for j, c in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _img(png: bytes, alt: str) -> str:
    return f'<img class="plot" src="{plots.png_data_uri(png)}" alt="{_esc(alt)}">'


def _section(section_id: str, title: str, body: str) -> str:
    return f'<section id="{section_id}"><h2>{_esc(title)}</h2>{body}</section>'


def _intro(text: str) -> str:
    return f'<p class="intro">{_esc(text)}</p>'


def criterion_text(criterion: Any, unit: str, label: str, t: Callable[..., str]) -> str:
    """One criterion as ``1.4 ≤ band gap ≤ 3.1 eV``."""
    if criterion.min is not None and criterion.max is not None:
        return t("criterion_window", lo=criterion.min, hi=criterion.max, target=label, unit=unit)
    if criterion.min is not None:
        return t("criterion_min", lo=criterion.min, target=label, unit=unit)
    return t("criterion_max", hi=criterion.max, target=label, unit=unit)


# -- sections ---------------------------------------------------------------------------


def _found_now(ctx: ReportContext) -> int:
    merged = analysis.merged_observed_values(ctx.state)
    if not merged:
        return 0
    objective = DesirabilityObjective(ctx.config.objective, ctx.config.targets)
    values = np.array([[v.get(t, np.nan) for t in ctx.config.targets] for v in merged.values()])
    return int(objective.satisfied(values).sum())


def _summary(ctx: ReportContext, lang: str, t: Callable[..., str]) -> str:
    cfg = ctx.config
    loop = cfg.loop
    units = ctx.target_units
    criteria = "<br>".join(
        _esc(criterion_text(c, units.get(c.target, ""), target_label(c.target, lang), t))
        for c in cfg.objective.criteria
    )
    targets = ", ".join(
        f"{_esc(target_label(x, lang))} ({_esc(units.get(x, ''))})" for x in cfg.targets
    )
    budget = t(
        "budget_text",
        initial=loop.initial_labels,
        iterations=loop.iterations,
        batch=loop.batch_size,
    )
    if loop.max_oracle_calls is not None:
        budget += "; " + t("budget_cap", cap=loop.max_oracle_calls)
    strategy = str(cfg.acquisition.strategy)
    if strategy == "qucb":
        strategy += f" (β = {cfg.acquisition.beta:g})"
    status = (
        t("status_done") if ctx.state.done else t("status_running", iteration=ctx.state.iteration)
    )
    curve = analysis.discovery_curve(ctx.state.metrics)
    found = _found_now(ctx)
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
        found_text += f" ({t('random_expectation', value=expected)})"
    fidelity_counts: dict[str, int] = {}
    for record in ctx.state.observations:
        kind = str(record.observation.get("fidelity", ""))
        fidelity_counts[kind] = fidelity_counts.get(kind, 0) + 1
    fidelities = ", ".join(f"{k}: {v}" for k, v in fidelity_counts.items()) or t("none")
    try:
        source = ctx.ranked_source.relative_to(ctx.run_dir)
    except ValueError:
        source = ctx.ranked_source
    items: list[tuple[str, str]] = [
        (t("campaign"), f"<strong>{_esc(cfg.name)}</strong>"),
    ]
    if cfg.description:
        items.append((t("description"), _esc(cfg.description)))
    items += [
        (t("dataset"), _esc(cfg.pool_label)),
        (t("pool_size"), _esc(ctx.pool_size if ctx.pool_size is not None else "—")),
        (t("objective"), criteria),
        (t("targets"), targets),
        (t("budget"), _esc(budget)),
        (t("strategy"), _esc(strategy)),
        (t("status"), _esc(status)),
        (t("oracle_calls"), _esc(ctx.state.oracle_calls)),
        (t("targets_found"), f'<span class="ok">{_esc(found_text)}</span>'),
        (t("observations_by_fidelity"), _esc(fidelities)),
        (t("ranked_from"), _esc(f"{source}/ranked_candidates.csv")),
    ]
    body = "".join(f"<dt>{_esc(k)}</dt><dd>{v}</dd>" for k, v in items)
    return _section("summary", t("sec_summary"), f'<dl class="summary">{body}</dl>')


def _extra_column(table: pd.DataFrame, needle: str) -> str | None:
    """First column whose name contains ``needle`` (e.g. ``hull``), if any."""
    for column in table.columns:
        if needle in str(column).lower():
            return str(column)
    return None


def _candidates(ctx: ReportContext, lang: str, t: Callable[..., str], top: int) -> str:
    table = ctx.ranked.head(top)
    targets = list(ctx.config.targets)
    fidelity = analysis.fidelities_by_candidate(ctx.state)
    hull = _extra_column(table, "hull")
    sustainability = _extra_column(table, "sustainab")
    headers = [
        t("col_rank"),
        t("col_id"),
        t("col_formula"),
        t("col_status"),
        t("col_score"),
        t("col_p_all"),
    ]
    headers += [_esc(f"{target_label(x, lang)} ({ctx.target_units.get(x, '')})") for x in targets]
    headers.append(t("col_fidelity"))
    if hull:
        headers.append(t("col_hull", unit="eV/atom"))
    if sustainability:
        headers.append(t("col_sustainability"))
    numeric = {0, 4, 5, *range(6, 6 + len(targets))}
    if hull:
        numeric.add(len(headers) - (2 if sustainability else 1))
    if sustainability:
        numeric.add(len(headers) - 1)
    rows = []
    for _, r in table.iterrows():
        status = str(r.get("status", ""))
        label = t(f"status_{status}") if status in _STATUSES else status
        badge = f'<span class="badge {_esc(status)}">{_esc(label)}</span>'
        if bool(r.get("satisfies_all", False)) and status == "validated":
            badge += f' <span class="ok" title="{_esc(t("meets_all"))}">✔</span>'
        cells = [
            _esc(int(r["rank"])),
            _esc(r["id"]),
            _esc(r["formula"]),
            badge,
            _num(r.get("score")),
            _num(r.get("p_all_criteria"), 2),
        ]
        for x in targets:
            pred = (
                f'<span class="pred">{_num(r.get(f"{x}_pred_mean"))} ± '
                f"{_num(r.get(f'{x}_pred_std'))}</span>"
            )
            validated = r.get(f"{x}_validated")
            if validated is not None and np.isfinite(float(validated)):
                pred += f'<br><span class="val">{_num(validated)}</span>'
            cells.append(pred)
        cells.append(_esc(fidelity.get(str(r["id"]), "—")))
        if hull:
            cells.append(_num(r.get(hull)))
        if sustainability:
            cells.append(_num(r.get(sustainability), 2))
        rows.append(cells)
    intro = _intro(t("candidates_intro", n=len(table)))
    legend = _intro(t("cells_legend"))
    return _section(
        "candidates", t("sec_candidates"), intro + legend + _table(headers, rows, numeric)
    )


def _structures(ctx: ReportContext, lang: str, t: Callable[..., str], top: int) -> str:
    rows = []
    summaries: dict[str, StructureSummary] = {}
    for _, r in ctx.ranked.head(top).iterrows():
        cid = str(r["id"])
        structure = ctx.structures.get(cid)
        if structure is None or isinstance(structure, Molecule):  # no cell to summarise
            continue
        s = summaries.setdefault(cid, summarize_structure(structure))
        rows.append(
            [
                _esc(int(r["rank"])),
                _esc(cid),
                _esc(s.formula),
                _esc(s.prototype),
                _esc(f"{s.spacegroup_symbol} ({s.spacegroup_number})"),
                _esc(crystal_system_label(s.crystal_system, lang)),
                f"{s.a_angstrom:.3f}, {s.b_angstrom:.3f}, {s.c_angstrom:.3f}",
                f"{s.alpha_deg:.1f}, {s.beta_deg:.1f}, {s.gamma_deg:.1f}",
                _num(s.volume_per_atom_angstrom3, 2),
                _esc(s.n_sites),
            ]
        )
    if not rows:
        return _section("structures", t("sec_structures"), _intro(t("structures_missing")))
    headers = [
        t("col_rank"),
        t("col_id"),
        t("col_formula"),
        t("col_prototype"),
        t("col_spacegroup"),
        t("col_system"),
        t("col_lattice"),
        t("col_angles"),
        t("col_volume"),
        t("col_sites"),
    ]
    return _section(
        "structures",
        t("sec_structures"),
        _intro(t("structures_intro")) + _table(headers, rows, {0, 6, 7, 8, 9}),
    )


def _parity_and_calibration(
    ctx: ReportContext, lang: str, t: Callable[..., str]
) -> tuple[str, str]:
    targets = list(ctx.config.targets)
    pairs = analysis.out_of_sample_pairs(ctx.state, targets)
    labels = {x: target_label(x, lang) for x in targets}
    nonempty = {x: p for x, p in pairs.items() if len(p)}
    if not nonempty:
        empty = _intro(t("no_parity"))
        return (
            _section("parity", t("sec_parity"), empty),
            _section("calibration", t("sec_calibration"), empty),
        )
    stats_rows = []
    cal_rows = []
    for x, p in nonempty.items():
        s = analysis.parity_stats(p.predicted_mean, p.observed)
        unit = ctx.target_units.get(x, "")
        stats_rows.append(
            [_esc(f"{labels[x]} ({unit})"), _esc(s.n), _num(s.mae), _num(s.rmse), _num(s.r2, 2)]
        )
        z = analysis.z_scores(p)
        cov = analysis.interval_coverage(z, (0.6827, 0.9545))
        cal_rows.append(
            [
                _esc(labels[x]),
                _esc(z.size),
                _num(cov[0], 2),
                _num(cov[1], 2),
                _num(float(np.std(z)) if z.size else float("nan"), 2),
            ]
        )
    parity = _section(
        "parity",
        t("sec_parity"),
        _intro(t("parity_intro"))
        + _img(plots.parity_png(nonempty, ctx.target_units, labels, t), t("sec_parity"))
        + _table(
            [t("col_target"), t("col_n"), t("col_mae"), t("col_rmse"), t("col_r2")],
            stats_rows,
            {1, 2, 3, 4},
        ),
    )
    calibration = _section(
        "calibration",
        t("sec_calibration"),
        _intro(t("calibration_intro"))
        + _img(plots.calibration_png(nonempty, labels, t), t("sec_calibration"))
        + _table(
            [t("col_target"), t("col_n"), t("col_cov68"), t("col_cov95"), t("col_zstd")],
            cal_rows,
            {1, 2, 3, 4},
        ),
    )
    return parity, calibration


def _discovery(ctx: ReportContext, t: Callable[..., str]) -> str:
    if not ctx.state.metrics:
        return _section("discovery", t("sec_discovery"), _intro(t("no_metrics")))
    curve = analysis.discovery_curve(ctx.state.metrics)
    if curve.targets_total is not None and ctx.pool_size:
        intro = t("discovery_intro", k=curve.targets_total, n=ctx.pool_size)
    else:
        intro = t("discovery_intro_nok")
    return _section(
        "discovery",
        t("sec_discovery"),
        _intro(intro) + _img(plots.discovery_png(curve, ctx.pool_size, t), t("sec_discovery")),
    )


def _acquisition(ctx: ReportContext, t: Callable[..., str]) -> str:
    iterations, values = [], []
    for selection in ctx.state.selections:
        finite = [v for v in selection.acquisition_values if v is not None and math.isfinite(v)]
        if selection.iteration > 0 and finite:
            iterations.append(selection.iteration)
            values.append(finite)
    if not iterations:
        return _section("acquisition", t("sec_acquisition"), _intro(t("no_acquisition")))
    return _section(
        "acquisition",
        t("sec_acquisition"),
        _intro(t("acquisition_intro", strategy=ctx.config.acquisition.strategy))
        + _img(plots.acquisition_png(iterations, values, t), t("sec_acquisition")),
    )


def _pareto(ctx: ReportContext, lang: str, t: Callable[..., str]) -> str | None:
    criteria = ctx.config.objective.criteria
    if len(criteria) < 2:
        return None
    objective = DesirabilityObjective(ctx.config.objective, ctx.config.targets)
    axis_targets: list[str] = []
    for c in criteria:
        if c.target not in axis_targets:
            axis_targets.append(c.target)
    merged = analysis.merged_observed_values(ctx.state)
    ids = list(merged)
    values = np.array(
        [[merged[i].get(x, np.nan) for x in ctx.config.targets] for i in ids]
    ).reshape(len(ids), len(ctx.config.targets))
    margins = objective.margins(values) if len(ids) else np.zeros((0, len(criteria)))
    front = analysis.pareto_mask(margins)
    meets = objective.satisfied(values) if len(ids) else np.zeros(0, dtype=bool)
    if len(axis_targets) < 2:
        axis_targets = axis_targets * 2
    tx, ty = axis_targets[0], axis_targets[1]
    jx, jy = ctx.config.targets.index(tx), ctx.config.targets.index(ty)
    x, y = values[:, jx], values[:, jy]
    shown = np.isfinite(x) & np.isfinite(y)
    if not shown.any():
        return _section("pareto", t("sec_pareto"), _intro(t("no_pareto")))

    def window(target: str) -> tuple[float | None, float | None]:
        crit = next(c for c in criteria if c.target == target)
        return crit.min, crit.max

    ux, uy = ctx.target_units.get(tx, ""), ctx.target_units.get(ty, "")
    png = plots.pareto_png(
        x[shown],
        y[shown],
        front[shown],
        meets[shown],
        window(tx),
        window(ty),
        f"{target_label(tx, lang)} ({ux})",
        f"{target_label(ty, lang)} ({uy})",
        t,
    )
    order = np.argsort(-np.nan_to_num(objective.desirability(values), nan=-np.inf))
    formula = dict(zip(ctx.ranked["id"].astype(str), ctx.ranked["formula"], strict=False))
    rows = []
    for i in order:
        if not front[i]:
            continue
        rows.append(
            [
                _esc(ids[i]),
                _esc(formula.get(ids[i], "")),
                *[_num(values[i, ctx.config.targets.index(c.target)]) for c in criteria],
                ", ".join(_num(m, 2) for m in margins[i]),
            ]
        )
    headers = (
        [t("col_id"), t("col_formula")]
        + [
            _esc(f"{target_label(c.target, lang)} ({ctx.target_units.get(c.target, '')})")
            for c in criteria
        ]
        + [t("col_pareto_margins")]
    )
    return _section(
        "pareto",
        t("sec_pareto"),
        _intro(t("pareto_intro", c=len(criteria)))
        + _img(png, t("sec_pareto"))
        + _table(headers, rows[:30], set(range(2, 2 + len(criteria)))),
    )


def _lab_results(ctx: ReportContext, lang: str, t: Callable[..., str]) -> str | None:
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
            f"{target_label(k, lang)} = {_num(v)} {ctx.target_units.get(k, '')}"
            for k, v in obs.get("values", {}).items()
        )
        rows.append(
            [
                _esc(obs.get("candidate_id", "")),
                _esc(prov.get("file", "")),
                _esc(prov.get("row", "")),
                _esc(values or obs.get("reason", "")),
                _esc(yes_no(prov.get("phase_pure"))),
                _esc(yes_no(prov.get("synthesized"))),
                _esc(prov.get("notes", "")),
                _esc(t("yes") if obs.get("ok") else t("no")),
            ]
        )
    headers = [
        t("col_id"),
        t("col_file"),
        t("col_row"),
        t("col_values"),
        t("col_phase_pure"),
        t("col_synthesized"),
        t("col_notes"),
        t("col_ok"),
    ]
    return _section(
        "lab-results", t("sec_lab"), _intro(t("lab_intro")) + _table(headers, rows, {2})
    )


# -- page -------------------------------------------------------------------------------


def render_report(ctx: ReportContext, *, lang: str = "en", top: int = 25) -> str:
    """The report as one HTML string.

    Args:
        ctx: What to show (see :func:`load_report_context`).
        lang: ``en`` or ``es``.
        top: Ranked candidates (and structures) shown.
    """
    from materials_ai import __version__

    t = translator(lang)
    parity, calibration = _parity_and_calibration(ctx, lang, t)
    sections = [
        _summary(ctx, lang, t),
        _candidates(ctx, lang, t, top),
        _structures(ctx, lang, t, top),
        parity,
        calibration,
        _discovery(ctx, t),
        _acquisition(ctx, t),
        _pareto(ctx, lang, t),
        _lab_results(ctx, lang, t),
    ]
    present = [s for s in sections if s is not None]
    titles = {
        "summary": "sec_summary",
        "candidates": "sec_candidates",
        "structures": "sec_structures",
        "parity": "sec_parity",
        "calibration": "sec_calibration",
        "discovery": "sec_discovery",
        "acquisition": "sec_acquisition",
        "pareto": "sec_pareto",
        "lab-results": "sec_lab",
    }
    nav = "".join(
        f'<a href="#{sid}">{_esc(t(titles[sid]))}</a>'
        for sid in SECTION_IDS
        if f'<section id="{sid}">' in "".join(present)
    )
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    title = t("report_title", name=ctx.config.name)
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{lang}"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="generator" content="materials-ai">'
        f"<title>{_esc(title)}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>{_esc(title)}</h1><p>"
        f"{_esc(t('generated', when=when, version=__version__, run_dir=ctx.run_dir.name))}"
        f'</p></header><nav id="toc" aria-label="{_esc(t("toc"))}">{nav}</nav><main>'
        + "\n".join(present)
        + f"</main><footer>{_esc(t('footer'))}</footer>"
        f"<script>{_SCRIPT}</script></body></html>\n"
    )


def write_report(
    run_dir: str | Path,
    out: str | Path | None = None,
    *,
    lang: str = "en",
    top: int = 25,
    structures: Mapping[str, Structure | Molecule] | None = None,
    load_pool: bool = False,
) -> Path:
    """Write the HTML report of a run directory.

    Args:
        run_dir: The run directory.
        out: Output file (default ``RUN_DIR/report.html``, ``report_es.html`` for Spanish).
        lang: ``en`` or ``es``.
        top: Ranked candidates (and structures) shown.
        structures: Structures already at hand (id -> structure).
        load_pool: Load the dataset for top candidates without a CIF.

    Returns:
        The file written.

    Raises:
        CampaignError: If ``run_dir`` holds no campaign or no ranked list yet.
        ConfigError: If ``lang`` is not supported.
    """
    translator(lang)  # fail before any work on a bad language
    run_dir = Path(run_dir)
    ctx = load_report_context(run_dir, top=top, structures=structures, load_pool=load_pool)
    path = (
        Path(out)
        if out is not None
        else run_dir / ("report.html" if lang == "en" else f"report_{lang}.html")
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(render_report(ctx, lang=lang, top=top), encoding="utf-8")
    tmp.replace(path)
    return path
