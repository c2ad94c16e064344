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

**After (issue 17): CHGNet energies, static and relaxed.** The formation energy is also
taken from CHGNet 0.3.0 mapped with per-element references
(``materials_ai.candidates.energy_correction``), refitted here on the ids of
``datasets/splits/mp2018/random_80_10_10_seed0/train.txt`` *minus* this benchmark's test
entries (the two MP-2018 splits differ), and combined with the model's prediction by the
generative workflow's rule (inverse variance with the scatter term,
``materials_ai.candidates.relaxed_stability``; the correction's residual std as CHGNet's
sigma). Rows:

* ``chgnet_static`` / ``combined_static``: every test entry, CHGNet single point on the DFT
  structure (the cached ``chgnet`` featurizer column, no recomputation);
* ``*_relaxed`` on a seeded subsample of ``--n-relax`` test entries (default 300; a full
  run relaxes all 1,996): each entry relaxed with CHGNet (``RelaxConfig`` defaults: FIRE,
  cell + positions, fmax 0.1 eV/Å, at most 300 steps), then the model predicts on the
  relaxed structure and CHGNet's final energy is corrected. The "before" row of the same
  subsample (model on the DFT structure) is reported next to it.

``error_correlation``: the Pearson correlation ``rho`` of the model's and corrected
CHGNet's formation-energy errors, measured on a seeded half of the test entries; the other
half is scored with the combination at that ``rho`` and at ``rho = 0``
(``combine_formation_energies(..., correlation=rho)``).

``--model chgnet_head`` scores with the CHGNet-feature head of ``generation_model.py
--kind chgnet_head`` instead of the CGCNN ensemble (``generation_hull_accuracy_chgnet_head.json``).

CHGNet was trained on MPtrj, which holds these MP-2018 structures and energies: its
figures are in-distribution, not a held-out test of CHGNet.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import generation_common as common

from materials_ai.candidates import HullReference
from materials_ai.candidates.known import parse_formula_key

TAU = 0.1
SPLIT = "datasets/splits/mp2018/random_80_10_10_seed0"


def accuracy(
    hull: HullReference,
    comps: list[dict[str, int]],
    h: np.ndarray,
    e_dft: np.ndarray,
    mu: np.ndarray,
    sigma: np.ndarray,
) -> dict[str, Any]:
    """Formation-energy and hull-distance errors and the stability classification."""
    ok = np.isfinite(mu) & np.isfinite(sigma)
    comps = [c for c, k in zip(comps, ok, strict=True) if k]
    h, e_dft, mu, sigma = h[ok], e_dft[ok], mu[ok], sigma[ok]
    d_dft, d_pred = e_dft - h, mu - h
    est = hull.stability(comps, mu, sigma, TAU)
    stable_dft, stable_pred = d_dft <= TAU, est.p_within >= 0.5
    tp = int(np.sum(stable_dft & stable_pred))
    precision = tp / max(int(np.sum(stable_pred)), 1)
    recall = tp / max(int(np.sum(stable_dft)), 1)
    err = np.abs(mu - e_dft)
    clipped = np.abs(np.maximum(d_pred, 0) - np.maximum(d_dft, 0))
    return {
        "n": int(ok.sum()),
        "mae_formation_energy_ev_per_atom": float(err.mean()),
        "mae_e_above_hull_clipped_ev_per_atom": float(clipped.mean()),
        "mae_e_above_hull_on_dft_stable_ev_per_atom": float(clipped[stable_dft].mean()),
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / max(precision + recall, 1e-12),
        "within_1sigma": float(np.mean(err <= sigma)),
        "within_2sigma": float(np.mean(err <= 2 * sigma)),
        "mean_sigma_ev_per_atom": float(sigma.mean()),
    }


def error_correlation(
    hull: HullReference,
    comps: list[dict[str, int]],
    h: np.ndarray,
    e_dft: np.ndarray,
    mu: np.ndarray,
    sigma: np.ndarray,
    mu_c: np.ndarray,
    sd_c: float,
) -> dict[str, Any]:
    """Correlation of the model's and corrected CHGNet's errors, fitted on a seeded half.

    ``rho`` (Pearson, of the formation-energy errors) is measured on half of the test
    entries; the combination with that ``rho`` and with ``rho = 0`` is scored on the other
    half (``combine_formation_energies(..., correlation=rho)``).
    """
    from materials_ai.candidates.relaxed_stability import combine_formation_energies

    ok = np.flatnonzero(np.isfinite(mu_c) & np.isfinite(mu))
    order = np.random.default_rng(common.SEED + 7).permutation(ok)
    fit, held = order[: len(order) // 2], order[len(order) // 2 :]
    rho = float(np.corrcoef(mu[fit] - e_dft[fit], mu_c[fit] - e_dft[fit])[0, 1])
    out: dict[str, Any] = {"rho_fitted_half": rho, "n_fit": len(fit), "n_eval": len(held)}
    sd = np.full(len(held), sd_c)
    sub = ([comps[i] for i in held], h[held], e_dft[held])
    for name, value in (("combined_rho_0", 0.0), ("combined_rho_fitted", max(rho, 0.0))):
        both = combine_formation_energies(mu[held], sigma[held], mu_c[held], sd, correlation=value)
        out[name] = accuracy(hull, sub[0], sub[1], sub[2], both.mean, both.std)
    out["chgnet_static"] = accuracy(hull, sub[0], sub[1], sub[2], mu_c[held], sd)
    return out


def after_relaxation(
    ds: Any,
    test: list[int],
    comps: list[dict[str, int]],
    h: np.ndarray,
    e_dft: np.ndarray,
    mu: np.ndarray,
    sigma: np.ndarray,
    hull: HullReference,
    surrogate: common.BenchmarkModel,
    n_relax: int,
) -> dict[str, Any]:
    """The issue-17 rows: corrected CHGNet (static, relaxed) alone and combined."""
    from materials_ai.candidates.energy_correction import fit_energy_correction, read_split_ids
    from materials_ai.candidates.relax import RelaxConfig
    from materials_ai.candidates.relaxed_stability import combine_formation_energies
    from materials_ai.settings import PROJECT_ROOT

    chgnet = common.cached_chgnet_energies()
    test_ids = {ds.records[i].id for i in test}
    train_ids = read_split_ids(PROJECT_ROOT / SPLIT / "train.txt") - test_ids
    rows = [r for r in ds.records if r.id in chgnet]
    correction = fit_energy_correction(
        [r.id for r in rows],
        [r.structure.composition.get_el_amt_dict() for r in rows],
        np.array([chgnet[r.id] for r in rows]),
        np.array([r.targets["formation_energy"] for r in rows]),
        train_ids=train_ids,
        test_ids=test_ids,
        split=f"{SPLIT}/train.txt minus this benchmark's test entries",
    )
    sd_c = correction.residual_std_ev_per_atom
    records = [ds.records[i] for i in test]
    e_static = np.array([chgnet.get(r.id, np.nan) for r in records])
    mu_c = correction.formation_energy(comps, e_static)
    both = combine_formation_energies(mu, sigma, mu_c, np.full(len(mu_c), sd_c))
    out: dict[str, Any] = {
        "correction": {
            "n_train": correction.n_train,
            "n_test": correction.n_test,
            "mae_test_ev_per_atom": correction.mae_test_ev_per_atom,
            "residual_std_ev_per_atom": sd_c,
        },
        "chgnet_static": accuracy(hull, comps, h, e_dft, mu_c, np.full(len(mu_c), sd_c)),
        "combined_static": accuracy(hull, comps, h, e_dft, both.mean, both.std),
        "error_correlation": error_correlation(hull, comps, h, e_dft, mu, sigma, mu_c, sd_c),
    }
    if n_relax <= 0:
        return out
    rng = np.random.default_rng(common.SEED)
    sub = np.sort(rng.choice(len(test), size=min(n_relax, len(test)), replace=False))
    config = RelaxConfig()
    results, stats = common.relax_with_cache(
        [records[i].id for i in sub], [records[i].structure for i in sub], config
    )
    ok = np.array([r.ok for r in results])
    relaxed = [
        r.structure if r.ok else records[i].structure for r, i in zip(results, sub, strict=True)
    ]
    pred_r = surrogate.predict(relaxed, [records[i].id for i in sub])
    mu_r, sigma_r = pred_r.column("formation_energy")
    e_relaxed = np.array([r.energy_per_atom if r.ok else np.nan for r in results])
    sub_comps = [comps[i] for i in sub]
    mu_cr = correction.formation_energy(sub_comps, e_relaxed)
    both_r = combine_formation_energies(mu_r, sigma_r, mu_cr, np.full(len(sub), sd_c))
    args = (hull, sub_comps, h[sub], e_dft[sub])
    out["relaxed_subsample"] = {
        "n": len(sub),
        "n_relaxed_ok": int(ok.sum()),
        "n_converged": int(sum(r.converged for r in results if r.ok)),
        "mean_steps": float(np.mean([r.steps for r in results if r.ok])),
        "median_abs_volume_change": float(
            np.median([abs(r.volume_change) for r in results if r.ok])
        ),
        "relax": stats,
        "relax_config": config.model_dump(mode="json"),
        "surrogate_dft_structure": accuracy(*args, mu[sub], sigma[sub]),
        "surrogate_relaxed": accuracy(*args, mu_r, sigma_r),
        "chgnet_static": accuracy(*args, mu_c[sub], np.full(len(sub), sd_c)),
        "chgnet_relaxed": accuracy(*args, mu_cr, np.full(len(sub), sd_c)),
        "combined_relaxed": accuracy(*args, both_r.mean, both_r.std),
    }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-relax", type=int, default=300)
    parser.add_argument("--model", choices=common.MODEL_KINDS, default="cgcnn")
    args = parser.parse_args()
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

    surrogate = common.BenchmarkModel(args.model)
    t0 = time.perf_counter()
    pred = surrogate.predict([r.structure for r in records], [r.id for r in records])
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
    payload["before"] = accuracy(hull, comps, h, e_dft, mu, sigma)
    payload["after"] = after_relaxation(
        ds, test, comps, h, e_dft, mu, sigma, hull, surrogate, args.n_relax
    )
    payload["command"] += f" --n-relax {args.n_relax}"
    stem = "generation_hull_accuracy"
    if args.model != "cgcnn":
        payload["command"] += f" --model {args.model}"
        stem += f"_{args.model}"
    payload["model"] = args.model
    payload["n_runs"] = 1
    path = common.write_json(f"{stem}.json", payload)
    for k, v in payload.items():
        if k not in ("calibration", "calibration_scaled_eval_half", "machine", "after"):
            print(f"{k}: {v}")
    for k, v in payload["after"].items():
        print(f"after {k}: {v}")
    print(payload["calibration"])
    print(payload["calibration_scaled_eval_half"])
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
