"""Fit the CHGNet -> MP-2018 formation-energy correction on the training split; test MAE.

    MATERIALS_AI_DATA_DIR=../shared/datasets .venv/bin/python \\
        benchmarks/generation_energy_correction.py

Protocol (library: ``materials_ai.candidates.energy_correction``):

* Energies: the ``chgnet_energy_per_atom`` column of the ``chgnet`` featurizer (a static
  CHGNet 0.3.0 single point on each MP-2018 structure, eV/atom) read from the feature
  cache under the key campaigns use (source ``"<card name>:<card sha256>"``, ids
  ``record.as_candidate(source=dataset.name).id``, as ``benchmarks/featurizers.py`` wrote
  it). The script refuses to run if that cache file is missing rather than recomputing
  36,738 CHGNet single points.
* Targets: MP-2018 formation energies (eV/atom).
* Fit: one reference energy per element, least squares on atom fractions, on the ids of
  ``datasets/splits/mp2018/random_80_10_10_seed0/train.txt`` only; errors reported on
  ``test.txt`` (and ``val.txt``, which the fit does not use either).
* Writes ``models/chgnet_mp2018_energy_correction.json`` (the shipped correction) and
  ``benchmarks/results/generation_energy_correction.json``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import generation_common as common

from materials_ai.candidates.energy_correction import (
    DEFAULT_CORRECTION_PATH,
    fit_energy_correction,
    read_split_ids,
)
from materials_ai.settings import PROJECT_ROOT

SPLIT = "datasets/splits/mp2018/random_80_10_10_seed0"


def main() -> None:
    start = time.perf_counter()
    chgnet = common.cached_chgnet_energies()
    ds = common.load_mp2018()
    records = [r for r in ds.records if r.id in chgnet]
    ids = [r.id for r in records]
    energies = np.array([chgnet[cid] for cid in ids])
    compositions = [r.structure.composition.get_el_amt_dict() for r in records]
    targets = np.array([r.targets["formation_energy"] for r in records])
    split = PROJECT_ROOT / SPLIT
    train_ids = read_split_ids(split / "train.txt")
    test_ids = read_split_ids(split / "test.txt")
    val_ids = read_split_ids(split / "val.txt")
    correction = fit_energy_correction(
        ids,
        compositions,
        energies,
        targets,
        train_ids=train_ids,
        test_ids=test_ids,
        split=f"{SPLIT}/train.txt",
        notes=(
            "E_f = E_CHGNet(static, MP-2018 structure) - sum_i x_i mu_i; mu_i fitted by least "
            "squares on the training split only (benchmarks/generation_energy_correction.py). "
            "CHGNet 0.3.0 was trained on MPtrj, which contains the MP-2018 structures."
        ),
    )
    val = np.array([cid in val_ids for cid in ids])
    e_val = correction.formation_energy(
        [compositions[i] for i in np.flatnonzero(val)], energies[val]
    )
    err_val = np.abs(e_val - targets[val])
    err_val = err_val[np.isfinite(err_val)]
    test = np.array([cid in test_ids for cid in ids])
    e_test = correction.formation_energy(
        [compositions[i] for i in np.flatnonzero(test)], energies[test]
    )
    err_test = e_test - targets[test]
    err_test = err_test[np.isfinite(err_test)]
    extra = {
        "mae_val_ev_per_atom": float(err_val.mean()),
        "n_val": int(err_val.size),
        "test_abs_error_quantiles_ev_per_atom": {
            q: float(np.quantile(np.abs(err_test), float(q))) for q in ("0.5", "0.9", "0.99")
        },
        "test_within_1_residual_std": float(
            np.mean(np.abs(err_test) <= correction.residual_std_ev_per_atom)
        ),
        "n_nonfinite_chgnet": int(np.sum(~np.isfinite(energies))),
    }
    correction = type(correction)(**{**correction.__dict__, "extra": extra})
    path = correction.save(DEFAULT_CORRECTION_PATH)
    payload = {
        "command": "python benchmarks/generation_energy_correction.py",
        "machine": common.machine(),
        "n_runs": 1,
        "n_rows": len(ids),
        "split": SPLIT,
        "n_train": correction.n_train,
        "n_test": correction.n_test,
        "n_elements": len(correction.references),
        "mae_train_ev_per_atom": correction.mae_train_ev_per_atom,
        "mae_test_ev_per_atom": correction.mae_test_ev_per_atom,
        "rmse_test_ev_per_atom": correction.rmse_test_ev_per_atom,
        "residual_std_ev_per_atom": correction.residual_std_ev_per_atom,
        **extra,
        "written": str(path.relative_to(PROJECT_ROOT)),
        "seconds": time.perf_counter() - start,
    }
    out = common.write_json("generation_energy_correction.json", payload)
    for k, v in payload.items():
        if k != "machine":
            print(f"{k}: {v}")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
