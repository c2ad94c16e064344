"""Lab results back into a campaign: validation with row-level messages, and the round trip
export -> lab fills the template -> ingest -> the next training uses the measurements."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from materials_ai.campaign.loop import Campaign
from materials_ai.campaign.state import load_state
from materials_ai.cli.app import app
from materials_ai.errors import DataError
from materials_ai.lab.export import export_campaign
from materials_ai.lab.ingest import ingest_results
from materials_ai.surrogates.ensemble import GraphEnsembleSurrogate
from materials_ai.testing.runs import TinyRun, tiny_env, tiny_run

runner = CliRunner()
HEADER = "id,measured_band_gap_eV,phase_pure,synthesized,notes\n"


@pytest.fixture
def run(tmp_path: Path) -> TinyRun:
    return tiny_run(tmp_path / "copy")


def _validated(run: TinyRun) -> list[str]:
    """Ids with a replayed (ok) observation, in collection order."""
    return [
        r.observation["candidate_id"]
        for r in load_state(run.run_dir).observations
        if r.observation["ok"]
    ]


def _experiments(run: TinyRun) -> list[dict]:
    return [
        r.observation
        for r in load_state(run.run_dir).observations
        if r.observation["fidelity"] == "experiment"
    ]


def test_malformed_file_gives_row_errors_and_keeps_valid_rows(run: TinyRun, tmp_path: Path) -> None:
    a, b, c, d = _validated(run)[:4]
    results = tmp_path / "results.csv"
    results.write_text(
        HEADER
        + f"{a},6.1,yes,yes,Tauc plot\n"  # row 2: valid
        + "nope-1,3.0,yes,yes,\n"  # row 3: unknown id
        + f"{b},about 3,yes,yes,\n"  # row 4: text in a numeric column
        + f"{a},6.4,yes,yes,second sample\n"  # row 5: duplicate id
        + f"{c},31,yes,yes,\n"  # row 6: out of range
        + f"{d},,,no,did not form\n"  # row 7: valid, failed synthesis
        + f"{b},,perhaps,yes,\n"  # row 8: not yes/no (and b repeated)
    )
    with tiny_env(run):
        report = ingest_results(run.run_dir, results)
    assert report.rejected_rows == [3, 4, 5, 6, 8]
    reasons = {(r.row, r.field): r.reason for r in report.rejected}
    assert "unknown id" in reasons[(3, "id")]
    assert reasons[(4, "measured_band_gap_eV")] == "'about 3' is not a number"
    assert reasons[(5, "id")] == "duplicate id (first given in row 2, which is kept)"
    assert "outside the plausible range [0, 15] eV" in reasons[(6, "measured_band_gap_eV")]
    assert reasons[(8, "phase_pure")] == "'perhaps' is not yes or no"
    assert "row 3 (id 'nope-1'), column 'id'" in str(report.rejected[0])

    # The valid rows are in the state: a measurement and a failed synthesis.
    added = _experiments(run)
    assert [(o["candidate_id"], o["ok"]) for o in added] == [(a, True), (d, False)]
    measured = added[0]
    assert measured["values"] == {"band_gap": 6.1}
    assert measured["provenance"]["file"] == "results.csv"
    assert measured["provenance"]["row"] == 2
    assert measured["provenance"]["phase_pure"] is True
    assert measured["provenance"]["notes"] == "Tauc plot"
    assert len(measured["provenance"]["sha256"]) == 64
    assert added[1]["reason"] == "lab: synthesis failed (synthesized = no)"

    # Ingesting the same file again adds nothing twice.
    with tiny_env(run):
        again = ingest_results(run.run_dir, results)
    assert again.observations == []
    assert [s.row for s in again.skipped] == [2, 7]
    assert len(_experiments(run)) == 2


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("id,measured_band_gap_meV\n", "unit 'meV' is not the unit of target 'band_gap' ('eV')"),
        ("id,measured_band_gap\n", "unit '(none)' is not the unit of target 'band_gap'"),
        ("id,measured_bulk_modulus_GPa\n", "names no target of this campaign"),
        ("candidate,measured_band_gap_eV\n", "no 'id' column"),
        ("id,notes,notes\n", "appear more than once"),
    ],
)
def test_bad_columns_reject_the_whole_file(
    run: TinyRun, tmp_path: Path, header: str, message: str
) -> None:
    results = tmp_path / "results.csv"
    results.write_text(header + f"{_validated(run)[0]},2.0\n")
    with tiny_env(run), pytest.raises(DataError, match=r"results\.csv") as info:
        ingest_results(run.run_dir, results)
    assert message in str(info.value)
    assert _experiments(run) == []


def test_semicolons_decimal_commas_and_spanish_yes(run: TinyRun, tmp_path: Path) -> None:
    """A spreadsheet saved with a Spanish locale: ';' separators, '2,75', 'sí'."""
    a, b = _validated(run)[:2]
    results = tmp_path / "resultados.csv"
    results.write_bytes(
        (
            "\ufeffid;measured_band_gap_eV;phase_pure;synthesized;notes\n"
            f"{a};2,75;sí;sí;medida UV-vis\n"
            f"{b};;no;sí;fase secundaria\n"
        ).encode()
    )
    with tiny_env(run):
        report = ingest_results(run.run_dir, results, dry_run=True)
        assert _experiments(run) == []  # dry run
        report = ingest_results(run.run_dir, results)
    assert report.rejected == []
    first, second = _experiments(run)
    assert first["values"] == {"band_gap": 2.75}
    assert first["provenance"]["notes"] == "medida UV-vis"
    # Not phase pure: recorded, not used for training.
    assert second["ok"] is False and second["values"] == {}
    assert second["provenance"]["phase_pure"] is False


def test_ingest_command_lists_rejected_rows(run: TinyRun, tmp_path: Path) -> None:
    a = _validated(run)[0]
    results = tmp_path / "results.csv"
    results.write_text(HEADER + f"{a},6.1,yes,yes,\nunknown-7,1.0,yes,yes,\n")
    with tiny_env(run):
        result = runner.invoke(app, ["campaign", "ingest", str(run.run_dir), str(results)])
    assert result.exit_code == 1, result.output
    assert "added 1 experiment observation(s)" in result.output
    assert "row 3 (id 'unknown-7'), column 'id': unknown id" in result.output
    bad = tmp_path / "bad.csv"
    bad.write_text("id,measured_band_gap_meV\n")
    with tiny_env(run):
        result = runner.invoke(app, ["campaign", "ingest", str(run.run_dir), str(bad)])
    assert result.exit_code == 2
    assert "meV" in result.output


def test_round_trip_export_ingest_resume_trains_on_lab_values(
    run: TinyRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Export a bundle, fill its results template like a lab, ingest it, resume: the next
    TRAIN stage fits the measured band gaps (and keeps the replayed formation energies)."""
    with tiny_env(run):
        paths = export_campaign(run.run_dir, tmp_path / "to_lab", top=6)
    with open(paths["template"], newline="") as fh:
        template = list(csv.DictReader(fh))
    assert [row["id"] for row in template] == list(
        __import__("pandas").read_csv(paths["csv"])["id"].astype(str)
    )
    state = load_state(run.run_dir)
    pending = {t["candidate_id"] for t in state.pending}
    replayed = {
        r.observation["candidate_id"]: r.observation["values"]
        for r in state.observations
        if r.observation["ok"]
    }
    # The lab measures three candidates (not ones whose DFT replay is still pending) and
    # fails to make a fourth; the other rows stay empty.
    usable = [row for row in template if row["id"] not in pending]
    measured = {row["id"]: 5.5 + 0.5 * k for k, row in enumerate(usable[:3])}
    failed = usable[3]["id"]
    assert any(cid in replayed for cid in measured)  # a lab value over a replayed one
    for row in template:
        if row["id"] in measured:
            row.update(
                measured_band_gap_eV=str(measured[row["id"]]),
                phase_pure="yes",
                synthesized="yes",
                notes="UV-vis, Tauc",
            )
        elif row["id"] == failed:
            row.update(synthesized="no")
    results = tmp_path / "results.csv"
    with open(results, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(template[0]))
        writer.writeheader()
        writer.writerows(template)

    with tiny_env(run):
        report = ingest_results(run.run_dir, results)
    assert report.rejected == []
    assert report.n_measured == 3 and len(report.observations) == 4
    assert len(report.skipped) == len(template) - 4  # rows left empty
    experiments = _experiments(run)
    assert {o["candidate_id"]: o["values"].get("band_gap") for o in experiments if o["ok"]} == (
        measured
    )

    fits: list[tuple[list[str], np.ndarray]] = []
    original = GraphEnsembleSurrogate.fit_graphs

    def spy(self, graphs, y, **kwargs):  # type: ignore[no-untyped-def]
        fits.append((list(graphs.ids), np.array(y)))
        return original(self, graphs, y, **kwargs)

    monkeypatch.setattr(GraphEnsembleSurrogate, "fit_graphs", spy)
    with tiny_env(run):
        Campaign.resume(run.run_dir).run(max_stages=2)  # COLLECT, TRAIN of round 3
    assert len(fits) == 1
    ids, y = fits[0]
    row = {cid: i for i, cid in enumerate(ids)}
    for cid, gap in measured.items():
        assert cid in row, f"{cid} not trained on"
        assert y[row[cid], 0] == pytest.approx(gap)  # band_gap: the lab value
        expected_e_form = replayed.get(cid, {}).get("formation_energy", np.nan)
        np.testing.assert_allclose(y[row[cid], 1], expected_e_form)  # kept from the replay
    # The failed synthesis is not a label.
    assert failed not in row or failed in replayed
