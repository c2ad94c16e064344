"""The report and the lab texts come from autoescaped templates, speak each language's
numbers and name the surrogate that actually ran."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from materials_ai.lab.readme import describe_columns, render_readme
from materials_ai.lab.schema import candidate_columns
from materials_ai.report import html as report_html
from materials_ai.report import i18n
from materials_ai.report.html import ReportContext, load_report_context, render_report
from materials_ai.report.render import render
from materials_ai.surrogates.config import EnsembleConfig, GPConfig
from materials_ai.surrogates.describe import describe_surrogate
from materials_ai.testing.campaigns import tiny_workflow
from materials_ai.testing.runs import TinyRun, tiny_run

REPORT_DIR = Path(report_html.__file__).parent
EVIL = '<script>alert("x")</script>'
GP = GPConfig(kind="gp", features=["chgnet", "perovskite"], n_samples=32)


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> ReportContext:
    run: TinyRun = tiny_run(tmp_path_factory.mktemp("templates") / "copy")
    return load_report_context(run.run_dir)


def _with(ctx: ReportContext, **config: object) -> ReportContext:
    return dataclasses.replace(ctx, config=ctx.config.model_copy(update=config))


@pytest.mark.parametrize("lang", ["en", "es"])
def test_values_from_the_run_are_escaped(context: ReportContext, lang: str) -> None:
    ranked = context.ranked.copy()
    ranked.loc[0, "id"] = EVIL
    ranked.loc[1, "formula"] = EVIL
    ctx = dataclasses.replace(_with(context, name=EVIL), ranked=ranked)
    page = render_report(ctx, lang=lang)
    assert page.count("<script>") == 1  # the page's own image check, nothing injected
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert "<title>" in page and EVIL not in page


def test_numbers_are_written_per_language(context: ReportContext) -> None:
    assert i18n.format_number(1234.5, "en", 1) == "1,234.5"
    assert i18n.format_number(1234.5, "es", 1) == "1.234,5"
    assert i18n.format_number(float("nan"), "es") == "—"
    assert i18n.format_integer(18928, "es") == "18.928"
    ranked = context.ranked.copy()
    ranked.loc[0, "score"] = 1234.5
    ctx = dataclasses.replace(context, ranked=ranked)
    assert '<td class="num">1,234.500</td>' in render_report(ctx, lang="en")
    spanish = render_report(ctx, lang="es")
    assert '<td class="num">1.234,500</td>' in spanish
    assert "5,0 ≤ banda prohibida ≤ 8,0 eV" in spanish


def test_report_names_the_surrogate_that_ran(context: ReportContext) -> None:
    ensemble = render_report(context, lang="en")
    assert "2 ensemble members" in ensemble and "CGCNN-class" in ensemble
    assert "GP posterior" not in ensemble
    gp = render_report(_with(context, surrogate=GP), lang="en")
    assert "32 GP posterior draws" in gp and "GP posterior standard deviation" in gp
    assert "CHGNet 0.3.0" in gp and "ABX3 site descriptors" in gp
    assert "ensemble members" not in gp and "of the ensemble" not in gp
    gp_es = render_report(_with(context, surrogate=GP), lang="es")
    assert "32 muestras de la distribución a posteriori del GP" in gp_es


def test_lab_texts_name_the_surrogate_that_ran() -> None:
    config = tiny_workflow()
    units = {"band_gap": "eV", "formation_energy": "eV/atom"}
    readmes = {}
    for label, surrogate in (("ensemble", EnsembleConfig(n_members=4)), ("gp", GP)):
        cfg = config.model_copy(update={"surrogate": surrogate})
        readmes[label] = render_readme(
            cfg,
            lang="en",
            units=units,
            n_candidates=3,
            created="2026-01-01T00:00:00",
            iteration=2,
            done=False,
            state_iteration=2,
            oracle_calls=1234,
        )
        columns = describe_columns(
            candidate_columns(cfg.targets, units), describe_surrogate(surrogate)
        )
        described = {c.name: c.description for c in columns}
        json.dumps([dataclasses.asdict(c) for c in columns])  # JSON-ready
        if label == "gp":
            assert "32 GP posterior draws" in described["p_all_criteria"]
            assert "GP posterior standard deviation" in described["band_gap_pred_std_eV"]
        else:
            assert "4 ensemble members" in described["p_all_criteria"]
            assert "(band_gap)" in described["band_gap_pred_mean_eV"]
    flat = {k: " ".join(v.split()) for k, v in readmes.items()}
    assert "a deep ensemble of 4 CGCNN-class crystal graph networks" in flat["ensemble"]
    assert "GP" not in flat["ensemble"]
    assert "32 GP posterior draws" in flat["gp"] and "CHGNet 0.3.0" in flat["gp"]
    assert "ensemble" not in flat["gp"]
    assert "1,234 validations requested" in flat["gp"]
    chosen = readmes["gp"].split("HOW THE CANDIDATES WERE CHOSEN\n")[1].split("\n\n")[0]
    assert all(len(line) <= 88 for line in chosen.splitlines())  # wrapped for a text editor
    assert ":\n    - 5.0 ≤ band gap ≤ 8.0 eV\n    - formation energy ≤ -2.0 eV/atom" in chosen


def test_html_comes_from_templates_only() -> None:
    for name in ("html.py", "sections.py", "i18n.py"):
        source = (REPORT_DIR / name).read_text()
        assert len(source.splitlines()) <= 500, name
        assert not re.search(r"<(td|tr|table|section|img|span)\b", source), name
    assert render("report.html.j2", **_minimal()).count("<html") == 1
    assert "&lt;b&gt;" in render("report.html.j2", **{**_minimal(), "footer": "<b>"})


def _minimal() -> dict[str, object]:
    return {
        "lang": "en",
        "csp": report_html.CSP,
        "title": "t",
        "generated": "g",
        "toc_label": "c",
        "nav": [],
        "sections": [],
        "footer": "f",
    }
