"""The CHGNet -> formation-energy correction: fitted on training rows only."""

from __future__ import annotations

import math

import numpy as np
import pytest

from materials_ai.candidates.energy_correction import (
    DEFAULT_CORRECTION_PATH,
    EnergyCorrection,
    fit_energy_correction,
    load_energy_correction,
    read_split_ids,
)
from materials_ai.errors import CandidateError
from materials_ai.settings import PROJECT_ROOT

MU = {"O": -4.9, "Sr": -1.7, "Ti": -7.8, "Ga": -3.0, "As": -4.7}


def _rows(n: int, seed: int) -> tuple[list[str], list[dict[str, float]], np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    elements = sorted(MU)
    ids, comps, energies, targets = [], [], [], []
    for i in range(n):
        chosen = rng.choice(elements, size=rng.integers(1, 4), replace=False)
        comp = {str(el): float(rng.integers(1, 4)) for el in chosen}
        total = sum(comp.values())
        e_form = -rng.random()
        shift = sum(MU[el] * amount / total for el, amount in comp.items())
        ids.append(f"row-{i}")
        comps.append(comp)
        energies.append(e_form + shift + 0.01 * rng.standard_normal())
        targets.append(e_form)
    return ids, comps, np.array(energies), np.array(targets)


def test_fit_recovers_references_and_uses_training_rows_only() -> None:
    ids, comps, energies, targets = _rows(200, seed=0)
    train, test = set(ids[:150]), set(ids[150:])
    fit = fit_energy_correction(ids, comps, energies, targets, train_ids=train, test_ids=test)
    assert fit.n_train == 150 and fit.n_test == 50
    for el, mu in MU.items():
        assert fit.references[el] == pytest.approx(mu, abs=0.02)
    assert fit.mae_test_ev_per_atom < 0.02
    # Corrupting every test target changes the test error but not a single reference.
    corrupted = targets.copy()
    corrupted[150:] += 5.0
    again = fit_energy_correction(ids, comps, energies, corrupted, train_ids=train, test_ids=test)
    assert again.references == fit.references
    assert again.mae_test_ev_per_atom == pytest.approx(5.0, abs=0.05)
    # Corrupting a training target does change them.
    corrupted = targets.copy()
    corrupted[0] += 5.0
    moved = fit_energy_correction(ids, comps, energies, corrupted, train_ids=train, test_ids=test)
    assert moved.references != fit.references


def test_split_overlap_unknown_elements_and_round_trip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    ids, comps, energies, targets = _rows(40, seed=1)
    with pytest.raises(CandidateError, match="both"):
        fit_energy_correction(ids, comps, energies, targets, train_ids=ids[:30], test_ids=ids[25:])
    fit = fit_energy_correction(ids, comps, energies, targets, train_ids=ids, split="s/train.txt")
    values = fit.formation_energy([{"Sr": 1, "O": 1}, {"Sr": 1, "Xe": 1}], [-4.0, -4.0])
    assert math.isfinite(values[0]) and math.isnan(values[1])
    path = fit.save(tmp_path / "c.json")
    back = EnergyCorrection.from_dict(__import__("json").loads(path.read_text()))
    assert back.references == fit.references and back.split == "s/train.txt"
    assert load_energy_correction(path).reference_dataset == "mp2018"
    with pytest.raises(CandidateError, match="no energy correction"):
        load_energy_correction(tmp_path / "missing.json")


def test_shipped_correction_was_fitted_on_the_mp2018_training_split() -> None:
    correction = load_energy_correction()
    assert DEFAULT_CORRECTION_PATH.is_file()
    assert correction.split == "datasets/splits/mp2018/random_80_10_10_seed0/train.txt"
    split = PROJECT_ROOT / "datasets/splits/mp2018/random_80_10_10_seed0"
    n_train = len(read_split_ids(split / "train.txt"))
    n_test = len(read_split_ids(split / "test.txt"))
    assert 0.95 * n_train <= correction.n_train <= n_train
    assert 0.95 * n_test <= correction.n_test <= n_test
    assert correction.mae_test_ev_per_atom < 0.1
    assert correction.reference_dataset == "mp2018"
