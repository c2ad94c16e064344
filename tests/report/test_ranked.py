"""Ranked candidate lists and CIF bundles."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pymatgen.core import Structure

from materials_ai.acquisition.objective import Criterion, DesirabilityObjective, ObjectiveConfig
from materials_ai.data.records import Candidate
from materials_ai.report.ranked import build_ranked_list, write_ranked_list
from materials_ai.surrogates.prediction import Prediction
from materials_ai.testing.datasets import gaas_zincblende, si_diamond, srtio3_cubic

TARGETS = ("band_gap", "heat_of_formation")


@pytest.fixture
def objective() -> DesirabilityObjective:
    config = ObjectiveConfig(
        criteria=[
            Criterion(target="band_gap", min=1.0, max=3.0, scale=0.5),
            Criterion(target="heat_of_formation", max=0.0, scale=0.1),
        ]
    )
    return DesirabilityObjective(config, TARGETS)


@pytest.fixture
def pool() -> list[Candidate]:
    return [
        Candidate("si", si_diamond()),
        Candidate("gaas", gaas_zincblende()),
        Candidate("sto", srtio3_cubic()),
        Candidate("sto-big", srtio3_cubic(4.1)),
    ]


def _prediction() -> Prediction:
    # Two members; gaps 2.0/2.2/0.0/5.0 (means), heats -0.1/-0.2/0.3/-0.5.
    members = np.array(
        [
            [[1.9, -0.1], [2.2, -0.2], [0.0, 0.3], [5.0, -0.5]],
            [[2.1, -0.1], [2.2, -0.2], [0.0, 0.3], [5.0, -0.5]],
        ]
    )
    return Prediction.from_samples(members, TARGETS)


def test_validated_values_outrank_predictions_where_measured(
    objective: DesirabilityObjective, pool: list[Candidate]
) -> None:
    # "sto" is predicted poor but validated inside the window: it must rank first.
    ranked = build_ranked_list(
        pool,
        _prediction(),
        objective,
        observed={"sto": {"band_gap": 2.0, "heat_of_formation": -0.5}},
        acquisition_values=np.array([0.1, 0.2, np.nan, 0.05]),
        selected_ids=["si"],
        target_units={"band_gap": "eV", "heat_of_formation": "eV/atom"},
    )
    table = ranked.table
    assert list(table["id"]) == ["sto", "gaas", "si", "sto-big"]
    assert list(table["rank"]) == [1, 2, 3, 4]
    assert list(table["status"]) == ["validated", "candidate", "selected", "candidate"]
    sto = table.iloc[0]
    # Worst margin: gap (2.0 within 1–3 → 1.0/0.5 = 2), heat (0.5/0.1 = 5) → 2.
    assert sto["validated_desirability"] == pytest.approx(2.0)
    assert bool(sto["satisfies_all"])
    gaas = table.iloc[1]
    # gap margin min(1.2, 0.8)/0.5 = 1.6, heat 0.2/0.1 = 2 → 1.6 for both members.
    assert gaas["predicted_desirability"] == pytest.approx(1.6)
    assert gaas["p_all_criteria"] == pytest.approx(1.0)
    assert gaas["band_gap_pred_mean"] == pytest.approx(2.2)
    assert gaas["band_gap_pred_std"] == pytest.approx(0.0)
    assert gaas["acquisition_value"] == pytest.approx(0.2)
    assert np.isnan(gaas["band_gap_validated"])


def test_size_limits_rows_and_no_model_ranks_validated_first(
    objective: DesirabilityObjective, pool: list[Candidate]
) -> None:
    ranked = build_ranked_list(
        pool,
        None,
        objective,
        observed={"gaas": {"band_gap": 0.0, "heat_of_formation": 0.0}},
        size=2,
    )
    assert len(ranked.table) == 2
    assert ranked.table.iloc[0]["id"] == "gaas"
    assert np.isnan(ranked.table.iloc[1]["predicted_desirability"])


def test_prediction_length_must_match(
    objective: DesirabilityObjective, pool: list[Candidate]
) -> None:
    with pytest.raises(ValueError, match="4 candidates"):
        build_ranked_list(pool, _prediction().select(np.arange(3)), objective, observed={})


def test_write_ranked_list(
    objective: DesirabilityObjective, pool: list[Candidate], tmp_path: Path
) -> None:
    ranked = build_ranked_list(
        pool,
        _prediction(),
        objective,
        observed={},
        target_units={"band_gap": "eV", "heat_of_formation": "eV/atom"},
        metadata={"campaign": "test", "iteration": 3},
    )
    paths = write_ranked_list(ranked, pool, tmp_path / "out", top_cifs=2)
    table = pd.read_csv(paths["csv"])
    assert "_structure_index" not in table.columns
    assert list(table["id"]) == list(ranked.table["id"])
    payload = json.loads(paths["json"].read_text())
    assert payload["schema_version"] == 1
    assert payload["metadata"] == {"campaign": "test", "iteration": 3}
    assert payload["target_units"]["heat_of_formation"] == "eV/atom"
    assert payload["candidates"][0]["id"] == table["id"][0]
    # NaN is written as null in JSON, never as the invalid token NaN.
    assert "NaN" not in paths["json"].read_text()
    cifs = sorted(paths["cifs"].glob("*.cif"))
    assert [c.name.split("_")[0] for c in cifs] == ["001", "002"]
    first_id = table["id"][0]
    expected = {c.id: c.structure for c in pool}[first_id]
    parsed = Structure.from_file(cifs[0])
    assert parsed.composition.reduced_formula == expected.composition.reduced_formula
    assert parsed.volume / parsed.num_sites == pytest.approx(
        expected.volume / expected.num_sites, rel=1e-4
    )
    # Symmetrised: the space group is written, not P1.
    assert "P 1" not in cifs[0].read_text().split("_symmetry_space_group_name_H-M")[1][:10]
    # Writing again replaces the CIF folder's content.
    write_ranked_list(ranked, pool, tmp_path / "out", top_cifs=1)
    assert len(list(paths["cifs"].glob("*.cif"))) == 1


def test_one_per_composition_lists_a_second_polymorph_after_every_composition(
    objective: DesirabilityObjective, pool: list[Candidate]
) -> None:
    # Both SrTiO3 cells are predicted best; GaAs and Si follow.
    # Desirabilities (worst margin): Si 1.0, GaAs 0.8, SrTiO3 2.0 and 1.5.
    members = np.array([[[1.5, -0.3], [1.4, -0.3], [2.0, -0.5], [2.0, -0.15]]] * 2)
    prediction = Prediction.from_samples(members, TARGETS)
    plain = build_ranked_list(pool, prediction, objective, observed={})
    assert list(plain.table["id"]) == ["sto", "sto-big", "si", "gaas"]
    ranked = build_ranked_list(pool, prediction, objective, observed={}, one_per_composition=True)
    assert list(ranked.table["id"]) == ["sto", "si", "gaas", "sto-big"]
    assert list(ranked.table["rank"]) == [1, 2, 3, 4]
    short = build_ranked_list(
        pool, prediction, objective, observed={}, one_per_composition=True, size=3
    )
    assert "sto-big" not in set(short.table["id"])
