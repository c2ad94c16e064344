"""The HTML campaign report: sections, numbers, self-containment, languages, CLI."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from materials_ai.campaign.state import load_state
from materials_ai.cli.app import app
from materials_ai.errors import CampaignError, ConfigError
from materials_ai.report.html import SECTION_IDS, load_report_context, write_report
from materials_ai.testing.runs import TinyRun, tiny_env, tiny_run

runner = CliRunner()


class PageParser(HTMLParser):
    """Collects section ids, image sources, links and the text of the page."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: list[str] = []
        self.images: list[str] = []
        self.refs: list[str] = []
        self.text: list[str] = []
        self.lang = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "html":
            self.lang = a.get("lang") or ""
        if tag == "section" and a.get("id"):
            self.sections.append(str(a["id"]))
        if tag == "img":
            self.images.append(str(a.get("src")))
        for key in ("src", "href"):
            if a.get(key) and tag != "img":
                self.refs.append(str(a[key]))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(path: Path) -> PageParser:
    parser = PageParser()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


@pytest.fixture
def run(tmp_path: Path) -> TinyRun:
    return tiny_run(tmp_path / "copy")


def test_report_has_every_section_and_is_self_contained(run: TinyRun, tmp_path: Path) -> None:
    path = write_report(run.run_dir, tmp_path / "report.html")
    page = parse(path)
    # No lab results yet: every other section, in page order.
    assert page.sections == [s for s in SECTION_IDS if s != "lab-results"]
    assert page.lang == "en"
    # Five plots (parity, calibration, discovery, acquisition, Pareto), all embedded PNGs.
    assert len(page.images) == 5
    assert all(src.startswith("data:image/png;base64,") for src in page.images)
    # Only in-page links; nothing to fetch.
    assert page.refs and all(ref.startswith("#") for ref in page.refs)
    source = path.read_text()
    assert "Content-Security-Policy" in source
    assert not re.search(r"(src|href)=\"(https?:|//|file:)", source)


def test_report_numbers_match_the_state(run: TinyRun, tmp_path: Path) -> None:
    with tiny_env(run):  # the pool size comes from the dataset card
        path = write_report(run.run_dir, tmp_path / "report.html", top=8)
    text = " ".join(parse(path).text)
    state = load_state(run.run_dir)
    assert "tiny_campaign" in text
    assert f"Oracle calls (validations requested) {state.oracle_calls}" in " ".join(text.split())
    # 38 usable candidates (rows 5 and 7 skipped); 13 of them meet both criteria.
    assert "Candidates in the pool 38" in " ".join(text.split())
    assert "of 13 in the pool" in text
    ranked = pd.read_csv(run.run_dir / "iterations" / "iter_002" / "ranked_candidates.csv")
    for cid in ranked["id"].head(8):
        assert cid in text
    assert ranked["id"].iloc[8] not in text.split()
    # Criteria with their units, and the space group of the top candidates' CIFs.
    assert "5.0 ≤ band gap ≤ 8.0 eV" in text
    assert "formation energy ≤ -2.0 eV/atom" in text
    assert "Pm-3m (221)" in text or "F-43m (216)" in text or "Fd-3m (227)" in text


def test_structures_come_from_cifs_without_the_dataset(run: TinyRun) -> None:
    # No MATERIALS_AI_DATA_DIR: the ranked list's CIFs (top 3) still give structures.
    ctx = load_report_context(run.run_dir, top=3)
    ranked = pd.read_csv(run.run_dir / "iterations" / "iter_002" / "ranked_candidates.csv")
    assert set(ctx.structures) == set(ranked["id"].head(3))
    # With the pool loaded, every top candidate has one.
    with tiny_env(run):
        ctx = load_report_context(run.run_dir, top=10, load_pool=True)
    assert set(ctx.structures) == set(ranked["id"].head(10))


def test_spanish_report(run: TinyRun, tmp_path: Path) -> None:
    path = write_report(run.run_dir, tmp_path / "informe.html", lang="es")
    page = parse(path)
    text = " ".join(page.text)
    assert page.lang == "es"
    assert page.sections == [s for s in SECTION_IDS if s != "lab-results"]
    for phrase in (
        "Resumen de la campaña",
        "Candidatos ordenados",
        "Curva de descubrimiento",
        "Calibración del modelo sustituto",
        "Frente de Pareto",
        "banda prohibida",
        "cúbico",
    ):
        assert phrase in text, phrase
    assert "Ranked candidates" not in text


def test_report_tolerates_extra_and_missing_columns(run: TinyRun, tmp_path: Path) -> None:
    csv = run.run_dir / "iterations" / "iter_002" / "ranked_candidates.csv"
    table = pd.read_csv(csv)
    # Columns other issues add (hull distance, sustainability) are shown when present ...
    table["e_above_hull_ev_per_atom"] = 0.0123
    table["sustainability_score"] = 0.77
    table.to_csv(csv, index=False)
    text = " ".join(parse(write_report(run.run_dir, tmp_path / "a.html")).text)
    assert "Hull distance (eV/atom)" in text and "0.012" in text
    assert "Sustainability score" in text and "0.77" in text
    # ... and optional ones may be missing.
    table.drop(
        columns=[
            "p_all_criteria",
            "acquisition_value",
            "e_above_hull_ev_per_atom",
            "sustainability_score",
        ]
    ).to_csv(csv, index=False)
    text = " ".join(parse(write_report(run.run_dir, tmp_path / "b.html")).text)
    assert "Hull distance" not in text and "Ranked candidates" in text


def test_errors_are_clear(run: TinyRun, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unsupported language 'fr'"):
        write_report(run.run_dir, tmp_path / "x.html", lang="fr")
    with pytest.raises(CampaignError, match="not a campaign run directory"):
        write_report(tmp_path / "nowhere")


def test_report_command(run: TinyRun, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    result = runner.invoke(app, ["report", str(run.run_dir), "--lang", "es", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert parse(out).lang == "es"
    default = runner.invoke(app, ["report", str(run.run_dir)])
    assert default.exit_code == 0, default.output
    assert (run.run_dir / "report.html").exists()
    bad = runner.invoke(app, ["report", str(run.run_dir), "--lang", "de"])
    assert bad.exit_code == 2
    assert "unsupported language" in bad.output


def test_lab_results_section_after_ingest(run: TinyRun, tmp_path: Path) -> None:
    from materials_ai.lab.ingest import ingest_results

    state = load_state(run.run_dir)
    picked = state.selections[1].candidate_ids[0]  # a round-1 pick: it has a prediction
    results = tmp_path / "lab.csv"
    results.write_text(
        f"id,measured_band_gap_eV,phase_pure,synthesized,notes\n{picked},6.2,sí,sí,Tauc\n"
    )
    with tiny_env(run):
        ingest_results(run.run_dir, results)
        path = write_report(run.run_dir, tmp_path / "report.html", lang="es")
    page = parse(path)
    assert page.sections[-1] == "lab-results"
    text = " ".join(" ".join(page.text).split())
    assert "Resultados de laboratorio" in text
    assert f"{picked} lab.csv 2 banda prohibida = 6,200 eV sí sí Tauc sí" in text
    assert "replay: 15, experiment: 1" in text
