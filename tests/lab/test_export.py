"""The lab hand-off bundle (``materials_ai.lab.export``): files, schema, CIFs with their space
group, README in EN/ES, the default output folder."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from pymatgen.core import Structure
from typer.testing import CliRunner

from materials_ai.cli.app import app
from materials_ai.lab.export import export_campaign, write_bundle
from materials_ai.lab.schema import BUNDLE_SCHEMA_VERSION
from materials_ai.settings import PROJECT_ROOT
from materials_ai.testing.runs import TinyRun, tiny_env, tiny_run

runner = CliRunner()


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple[TinyRun, dict[str, Path]]:
    root = tmp_path_factory.mktemp("bundle")
    run = tiny_run(root / "copy")
    with tiny_env(run):
        paths = write_bundle(run.run_dir, root / "to_lab", top=6, lang="en")
    return run, paths


def test_bundle_files_and_versioned_schema(bundle: tuple[TinyRun, dict[str, Path]]) -> None:
    run, paths = bundle
    out = paths["csv"].parent
    assert sorted(p.name for p in out.iterdir()) == [
        "README.txt",
        "candidates.csv",
        "candidates.json",
        "cifs",
        "report.html",
        "results_template.csv",
        "schema.json",
    ]
    table = pd.read_csv(paths["csv"], dtype={"id": str})
    ranked = pd.read_csv(run.run_dir / "iterations" / "iter_002" / "ranked_candidates.csv")
    assert list(table["id"]) == list(ranked["id"].head(6))
    assert list(table["rank"]) == [1, 2, 3, 4, 5, 6]
    # Units in the names of the per-target columns; internal columns left out.
    for column in (
        "band_gap_pred_mean_eV",
        "band_gap_pred_std_eV",
        "band_gap_validated_eV",
        "formation_energy_pred_mean_eV_per_atom",
        "spacegroup_symbol",
        "a_angstrom",
        "cif_file",
        "fidelity",
    ):
        assert column in table.columns, column
    assert "acquisition_value" not in table.columns
    pd.testing.assert_series_equal(
        table["band_gap_pred_mean_eV"],
        ranked["band_gap_pred_mean"].head(6),
        check_names=False,
        rtol=1e-5,
    )
    validated = table["status"] == "validated"
    assert (table.loc[validated, "fidelity"] == "replay").all()

    payload = json.loads(paths["json"].read_text())
    schema = json.loads(paths["schema"].read_text())
    assert payload["schema_version"] == schema["schema_version"] == BUNDLE_SCHEMA_VERSION
    assert payload["campaign"]["name"] == "tiny_campaign"
    assert payload["campaign"]["targets"] == {"band_gap": "eV", "formation_energy": "eV/atom"}
    assert [c["name"] for c in payload["columns"]] == list(table.columns)
    assert [c["name"] for c in schema["candidates_csv"]["columns"]] == list(table.columns)
    assert all(c["description"] for c in schema["candidates_csv"]["columns"])
    assert len(payload["candidates"]) == 6
    assert payload["candidates"][0]["id"] == table["id"][0]
    # NaN becomes null in JSON.
    assert "NaN" not in paths["json"].read_text()

    results = [c["name"] for c in schema["results_csv"]["columns"]]
    assert results == [
        "id",
        "measured_band_gap_eV",
        "measured_formation_energy_eV_per_atom",
        "phase_pure",
        "synthesized",
        "notes",
    ]
    template = pd.read_csv(paths["template"], dtype=str)
    assert list(template.columns) == results
    assert list(template["id"]) == list(table["id"])


def test_one_symmetrised_cif_per_candidate(bundle: tuple[TinyRun, dict[str, Path]]) -> None:
    _, paths = bundle
    table = pd.read_csv(paths["csv"], dtype={"id": str})
    cifs = sorted(paths["cifs"].glob("*.cif"))
    assert len(cifs) == 6  # 3 from the ranked list's CIFs, 3 from the pool
    for _, row in table.iterrows():
        path = paths["csv"].parent / row["cif_file"]
        assert path.name.startswith(f"{row['rank']:03d}_{row['id']}_")
        text = path.read_text()
        symbol = re.search(r"_symmetry_space_group_name_H-M\s+'?([^'\n]+)'?", text)
        assert symbol is not None and symbol.group(1).strip() == row["spacegroup_symbol"]
        number = re.search(r"_symmetry_Int_Tables_number\s+(\d+)", text)
        assert number is not None and int(number.group(1)) == row["spacegroup_number"]
        structure = Structure.from_file(str(path))
        assert structure.composition.reduced_formula == row["formula"]
        assert structure.lattice.a == pytest.approx(row["a_angstrom"], rel=1e-4)


def test_readme_for_the_lab(bundle: tuple[TinyRun, dict[str, Path]], tmp_path: Path) -> None:
    run, paths = bundle
    readme = paths["readme"].read_text()
    assert "Candidate materials from the discovery campaign" in readme
    assert f"Bundle schema version {BUNDLE_SCHEMA_VERSION}" in readme
    assert "measured_band_gap_eV" in readme and "optical band gap" in readme
    assert "5.0 ≤ band gap ≤ 8.0 eV" in readme
    with tiny_env(run):
        es = write_bundle(run.run_dir, tmp_path / "al_lab", top=2, lang="es")
    texto = es["readme"].read_text()
    for phrase in (
        "Materiales candidatos",
        "banda prohibida óptica",
        "CÓMO DEVOLVER",
        "Versión del esquema del paquete: 1",
        "monofásica",
    ):
        assert phrase in texto, phrase
    assert 'lang="es"' in es["report"].read_text()


def test_export_command_writes_the_bundle(
    bundle: tuple[TinyRun, dict[str, Path]], tmp_path: Path
) -> None:
    run, _ = bundle
    out = tmp_path / "bundle"
    with tiny_env(run):
        result = runner.invoke(
            app,
            [
                "campaign",
                "export",
                str(run.run_dir),
                "--out",
                str(out),
                "--top",
                "2",
                "--lang",
                "es",
            ],
        )
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(out / "candidates.csv")) == 2
    assert len(list((out / "cifs").glob("*.cif"))) == 2
    assert "CONTENIDO DE ESTA CARPETA" in (out / "README.txt").read_text()


def test_docs_describe_every_bundle_column(bundle: tuple[TinyRun, dict[str, Path]]) -> None:
    """docs/lab_handoff.md documents the columns the code writes (generic per-target names)."""
    _, paths = bundle
    doc = (PROJECT_ROOT / "docs" / "lab_handoff.md").read_text()
    schema = json.loads(paths["schema"].read_text())
    assert f"schema_version` {BUNDLE_SCHEMA_VERSION}" in doc
    for column in schema["candidates_csv"]["columns"]:
        name = re.sub(r"^(band_gap|formation_energy)_", "{target}_", column["name"])
        name = re.sub(r"_(eV|eV_per_atom)$", "_{unit}", name)
        assert f"`{name}`" in doc, name
    for column in ("id", "measured_{target}_{unit}", "phase_pure", "synthesized", "notes"):
        assert f"`{column}`" in doc, column


def test_export_defaults_to_run_dir_export(tmp_path: Path) -> None:
    run = tiny_run(tmp_path / "copy")
    with tiny_env(run):
        paths = export_campaign(run.run_dir, top=2)
    assert paths["csv"] == run.run_dir / "export" / "candidates.csv"
    assert len(list(paths["cifs"].glob("*.cif"))) == 2
