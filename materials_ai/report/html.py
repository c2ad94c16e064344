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

The page is rendered from the Jinja2 template ``templates/report.html.j2`` with
autoescaping on: everything a run holds (ids, names, notes) is written as text, never as
markup. The sections' content is built by :mod:`materials_ai.report.sections`, with
numbers formatted per language (:func:`materials_ai.report.i18n.format_number`).

The page loads nothing: a Content-Security-Policy forbids every network or file request,
so a reference that slipped in would fail loudly (a console error) instead of silently
phoning home. A few lines of inline script check, once the page has loaded, that every
embedded image decoded, and report a failure with ``console.error``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from materials_ai.data.records import Molecule
from materials_ai.report import sections
from materials_ai.report.context import ReportContext
from materials_ai.report.i18n import translator
from materials_ai.report.render import render
from materials_ai.report.sections import criterion_text

if TYPE_CHECKING:
    from pymatgen.core import Structure

__all__ = [
    "CSP",
    "SECTION_IDS",
    "ReportContext",
    "criterion_text",
    "load_report_context",
    "render_report",
    "write_report",
]

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
    w = sections.Words.of(ctx, lang, t)
    parity, calibration = sections.parity_and_calibration(ctx, w)
    built = [
        sections.summary(ctx, w),
        sections.candidates(ctx, w, top),
        sections.structures(ctx, w, top),
        parity,
        calibration,
        sections.discovery(ctx, w),
        sections.acquisition(ctx, w),
        sections.pareto(ctx, w),
        sections.lab_results(ctx, w),
    ]
    present = [s for s in built if s is not None]
    by_id = {s["id"]: s for s in present}
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return render(
        "report.html.j2",
        lang=lang,
        csp=CSP,
        title=t("report_title", name=ctx.config.name),
        generated=t("generated", when=when, version=__version__, run_dir=ctx.run_dir.name),
        toc_label=t("toc"),
        nav=[(sid, by_id[sid]["title"]) for sid in SECTION_IDS if sid in by_id],
        sections=present,
        footer=t("footer"),
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
