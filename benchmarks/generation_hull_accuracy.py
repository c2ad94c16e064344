"""Predicted-hull accuracy on MP-2018 test entries.

    MATERIALS_AI_DATA_DIR=../shared/datasets .venv/bin/python benchmarks/generation_hull_accuracy.py

Protocol: the competing phases are the MP-2018 entries outside the seeded 10 % test split
(``generation_common.split``); their hull is fixed (``HullReference``, elements at 0). For each
test entry of at most 20 sites (the model's training domain) the model of
``generation_model.py`` predicts the formation energy ``mu +- sigma``; then

* DFT hull distance: ``E_DFT - H(x)``; predicted: ``mu - H(x)`` (signed: negative = below the
  reference hull). With a fixed hull the signed error equals the formation-energy error, so
  we also report the usual clipped ``e_above_hull = max(0, .)``, whose errors differ;
* stability classification at ``tau = 0.1 eV/atom``: DFT ``E_DFT - H <= tau`` against
  ``P(within tau) >= 0.5`` from the Gaussian; precision, recall, F1;
* calibration of ``P(within tau)``: observed frequency per probability bin, and the share of
  formation-energy errors within 1 and 2 sigma; then a std scale ``k`` (``StabilityConfig.
  std_scale``) fitted on a seeded half of the test entries (68.3 % of errors within
  ``k sigma``) and the calibration re-measured on the other half;
* the hull fast path: seconds for the cold pass (building one phase diagram per chemical
  system) and for a warm pass.
"""

from __future__ import annotations

import itertools
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import generation_common as common

from materials_ai.candidates import HullReference
from materials_ai.candidates.known import parse_formula_key
from materials_ai.graphs import build_graphs
from materials_ai.surrogates.ensemble import GraphEnsembleSurrogate

TAU = 0.1


def main() -> None:
    torch.set_num_threads(1)
    ds = common.load_mp2018()
    keys = common.keys_of(ds)
    test_idx, ref_idx = common.split(ds)
    hull = HullReference(
        ((parse_formula_key(keys[i]), ds.records[i].targets["formation_energy"]) for i in ref_idx),
        name="mp2018 reference split",
    )
    test = [int(i) for i in test_idx if len(ds.records[i].structure) <= common.MAX_SITES]
    records = [ds.records[i] for i in test]
    comps = [parse_formula_key(keys[i]) for i in test]

    t0 = time.perf_counter()
    h = hull.hull_energies(comps)
    cold = time.perf_counter() - t0
    hull._hull_cache.clear()
    t0 = time.perf_counter()
    hull.hull_energies(comps)
    warm = time.perf_counter() - t0

    surrogate = GraphEnsembleSurrogate.load(common.model_dir())
    t0 = time.perf_counter()
    graphs = build_graphs(
        [r.structure for r in records], [r.id for r in records], surrogate.config.graph
    )
    pred = surrogate.predict_graphs(graphs)
    predict_s = time.perf_counter() - t0
    mu, sigma = pred.column("formation_energy")
    e_dft = np.array([r.targets["formation_energy"] for r in records])

    d_dft = e_dft - h
    d_pred = mu - h
    est = hull.stability(comps, mu, sigma, TAU)
    stable_dft = d_dft <= TAU
    stable_pred = est.p_within >= 0.5
    tp = int(np.sum(stable_dft & stable_pred))
    fp = int(np.sum(~stable_dft & stable_pred))
    fn = int(np.sum(stable_dft & ~stable_pred))
    precision = tp / max(tp + fp, 1)
    recall = tp / max(tp + fn, 1)
    bins = np.linspace(0, 1, 6)
    calibration = []
    for lo, hi in itertools.pairwise(bins):
        mask = (est.p_within >= lo) & ((est.p_within < hi) if hi < 1 else (est.p_within <= hi))
        if mask.any():
            calibration.append(
                {
                    "p_bin": [float(lo), float(hi)],
                    "n": int(mask.sum()),
                    "mean_p": float(est.p_within[mask].mean()),
                    "observed": float(stable_dft[mask].mean()),
                }
            )
    err = np.abs(mu - e_dft)

    # std recalibration (StabilityConfig.std_scale): fit k on a seeded half of the test
    # entries so that |error| <= k sigma holds for 68.3 %, evaluate on the other half
    halves = np.random.default_rng(common.SEED).permutation(len(test))
    fit_half, eval_half = halves[: len(test) // 2], halves[len(test) // 2 :]
    k = float(np.quantile(err[fit_half] / sigma[fit_half], 0.6827))
    est_k = hull.stability([comps[i] for i in eval_half], mu[eval_half], k * sigma[eval_half], TAU)
    stable_eval = stable_dft[eval_half]
    calibration_k = []
    for lo, hi in itertools.pairwise(bins):
        p = est_k.p_within
        mask = (p >= lo) & ((p < hi) if hi < 1 else (p <= hi))
        if mask.any():
            calibration_k.append(
                {
                    "p_bin": [float(lo), float(hi)],
                    "n": int(mask.sum()),
                    "mean_p": float(p[mask].mean()),
                    "observed": float(stable_eval[mask].mean()),
                }
            )
    payload = {
        "command": "python benchmarks/generation_hull_accuracy.py",
        "machine": common.machine(),
        "n_test": len(test),
        "n_reference_entries": len(ref_idx),
        "n_chemical_systems": len(hull._diagrams),
        "hull_cold_s": cold,
        "hull_warm_s": warm,
        "predict_s": predict_s,
        "mae_formation_energy_ev_per_atom": float(err.mean()),
        "mae_signed_hull_distance_ev_per_atom": float(np.abs(d_pred - d_dft).mean()),
        "mae_e_above_hull_clipped_ev_per_atom": float(
            np.abs(np.maximum(d_pred, 0) - np.maximum(d_dft, 0)).mean()
        ),
        "mae_e_above_hull_on_dft_stable_ev_per_atom": float(
            np.abs(np.maximum(d_pred, 0) - np.maximum(d_dft, 0))[stable_dft].mean()
        ),
        "stable_fraction_dft": float(stable_dft.mean()),
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / max(precision + recall, 1e-12),
        "accuracy": float(np.mean(stable_dft == stable_pred)),
        "within_1sigma": float(np.mean(err <= sigma)),
        "within_2sigma": float(np.mean(err <= 2 * sigma)),
        "mean_sigma_ev_per_atom": float(sigma.mean()),
        "calibration": calibration,
        "std_scale_fitted": k,
        "within_1sigma_scaled_eval_half": float(np.mean(err[eval_half] <= k * sigma[eval_half])),
        "calibration_scaled_eval_half": calibration_k,
        "tau_ev_per_atom": TAU,
    }
    path = common.write_json("generation_hull_accuracy.json", payload)
    for k, v in payload.items():
        if k not in ("calibration", "calibration_scaled_eval_half", "machine"):
            print(f"{k}: {v}")
    print(payload["calibration"])
    print(payload["calibration_scaled_eval_half"])
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
