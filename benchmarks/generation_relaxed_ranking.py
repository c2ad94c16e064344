"""Step 5 of the rediscovery protocol: relax, deduplicate, rescore and rank as proposals.

Split out of ``generation_rediscovery.py`` (whose module docstring gives the protocol):
:func:`relaxed_rankings` relaxes the pre-score's top ``K`` (cached,
``generation_common.relax_with_cache``), rescores the relaxed survivors with the model and
the corrected CHGNet energy, and returns the orders of every relaxed variant over the pool.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import generation_common as common
import numpy as np
from scipy.special import ndtr

from materials_ai.candidates import (
    first_per_composition,
    probability_improves,
    proposal_thresholds,
)
from materials_ai.candidates.dedup import deduplicate_structures
from materials_ai.candidates.known import parse_formula_key
from materials_ai.candidates.relax import RelaxConfig
from materials_ai.candidates.relaxed_calibration import (
    RelaxedCalibration,
    fit_relaxed_calibration,
)
from materials_ai.candidates.relaxed_stability import (
    anchor_polymorphs,
    combine_formation_energies,
)

TAU = 0.1  # eV/atom: "within the hull" for every ranking
RELAX_CONFIG = RelaxConfig()


def relaxed_rankings(
    shared: Any,
    survivors: list[Any],
    pool_keys: list[str],
    prescore: np.ndarray,
    k: int,
    correlation: float,
    std_scale: float,
    dump: str | None = None,
    executor: Any = None,
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Relax the pre-score's top ``k``, deduplicate, rescore; orders over the pool.

    ``correlation`` is the CHGNet / surrogate error correlation of the combination;
    ``std_scale`` multiplies the surrogate's formation-energy std on the relaxed structures;
    ``dump`` writes the relaxed candidates' table to that CSV; ``executor`` runs the
    relaxations (None: this process).
    """
    surrogate, hull, correction = shared.surrogate, shared.hull, shared.correction
    top = [int(i) for i in prescore[:k]]
    rest = [int(i) for i in prescore[k:]]
    results, stats = common.relax_with_cache(
        [survivors[i].id for i in top],
        [survivors[i].structure for i in top],
        RELAX_CONFIG,
        executor=executor,
    )
    ok = [(i, r) for i, r in zip(top, results, strict=True) if r.ok]
    outcome = deduplicate_structures(
        [r.structure for _, r in ok], [r.energy_per_atom for _, r in ok], known=shared.known
    )
    kept = [ok[j] for j in outcome.keep]
    idx = [i for i, _ in kept]
    structures = [r.structure for _, r in kept]
    pred = surrogate.predict(structures, [survivors[i].id for i in idx])
    mu_s, sd_raw = pred.column("formation_energy")
    # one sigma at CHGNet's level (generation_rediscovery.py, step 5)
    sd_s = sd_raw * std_scale
    mu_g, sd_g = pred.column("band_gap")
    comps = [parse_formula_key(pool_keys[i]) for i in idx]
    energies = np.array([r.energy_per_atom for _, r in kept])
    mu_c = correction.formation_energy(comps, energies)
    sd_c = np.full(len(idx), correction.residual_std_ev_per_atom)
    p_gap = ndtr((mu_g - common.GAP_MIN_EV) / np.maximum(sd_g, 1e-6))
    # DFT anchors of known compositions (generation_rediscovery.py, step 5)
    anchor = np.array([pool_keys[i] in shared.gs_index for i in idx])
    gs_ids = [
        shared.ds.records[shared.gs_index[pool_keys[i]]] if a else None
        for i, a in zip(idx, anchor, strict=True)
    ]
    gs_list = [r for r in gs_ids if r is not None]
    gs_mu_s = np.zeros(0)
    if gs_list:
        gs_mu_s, _ = surrogate.predict(
            [r.structure for r in gs_list], [r.id for r in gs_list]
        ).column("formation_energy")
    mu_s_anch, mu_c_anch = mu_s.copy(), mu_c.copy()
    j = 0
    for m, (i, r) in enumerate(zip(idx, gs_ids, strict=True)):
        if r is None:
            continue
        dft = shared.dft_min[pool_keys[i]]
        mu_s_anch[m] = dft + mu_s[m] - gs_mu_s[j]
        e_gs = shared.chgnet.get(r.id, np.nan)
        mu_c_anch[m] = dft + energies[m] - e_gs if np.isfinite(e_gs) else mu_c[m]
        j += 1
    keys = [pool_keys[i] for i in idx]
    calibration = None
    if shared.cross_fit is not None:
        # both offsets and sigmas fitted on this pool's known compositions (step 5)
        calibration = fit_calibration(shared, ok, pool_keys)
        cal_mu_s, cal_sd_s, cal_mu_c, cal_sd_c = calibration.apply(
            mu_s_anch, sd_raw, mu_c_anch, anchor
        )
    variants = {
        "relaxed_combined": combine_formation_energies(
            mu_s, sd_s, mu_c, sd_c, correlation=correlation
        ),
        "relaxed_chgnet_only": combine_formation_energies(mu_s, sd_s, mu_c, sd_c, "chgnet"),
        "relaxed_surrogate_only": combine_formation_energies(mu_s, sd_s, mu_c, sd_c, "surrogate"),
        "relaxed_combined_anchored": combine_formation_energies(
            mu_s_anch, sd_s, mu_c_anch, sd_c, correlation=correlation
        ),
    }
    if calibration is not None:
        variants["relaxed_calibrated_anchored"] = combine_formation_energies(
            cal_mu_s, cal_sd_s, cal_mu_c, cal_sd_c, correlation=correlation
        )
    variants["relaxed_chgnet_only_anchored"] = combine_formation_energies(
        mu_s_anch, sd_s, mu_c_anch, sd_c, "chgnet"
    )
    for name in (
        "relaxed_combined",
        "relaxed_combined_anchored",
        "relaxed_chgnet_only_anchored",
        "relaxed_calibrated_anchored",
    ):
        if name not in variants:
            continue
        base = variants[name]
        mean, std, _ = anchor_polymorphs(keys, base.mean, base.std, energies)
        variants[f"{name}_polymorphs"] = replace(base, mean=mean, std=std)
    orders: dict[str, np.ndarray] = {}
    table: dict[str, Any] = {
        "id": [survivors[i].id for i in idx],
        "key": [pool_keys[i] for i in idx],
        "heldout": [pool_keys[i] in shared.family for i in idx],
        "prototype": [survivors[i].prototype for i in idx],
        "anchored": anchor,
        "prescore_rank": [int(np.flatnonzero(prescore == i)[0]) for i in idx],
        "relax_steps": [r.steps for _, r in kept],
        "volume_change": [r.volume_change for _, r in kept],
        "mu_s": mu_s,
        "sd_s": sd_s,
        "mu_c": mu_c,
        "mu_s_anch": mu_s_anch,
        "mu_c_anch": mu_c_anch,
        "gap": mu_g,
        "p_gap": p_gap,
        "hull": hull.hull_energies(comps),
        "dft_min": [shared.dft_min.get(pool_keys[i], np.nan) for i in idx],
    }
    for name, combined in variants.items():
        est = hull.stability(comps, combined.mean, combined.std, TAU)
        local = np.lexsort((est.e_above_hull, -(est.p_within * p_gap)))
        orders[name] = np.array([idx[m] for m in local] + rest, dtype=np.int64)
        table[f"{name}_mean"] = combined.mean
        table[f"{name}_std"] = combined.std
        table[f"{name}_rank"] = np.argsort(local)
    # proposals (generation_rediscovery.py, step 5): a polymorph of a known composition
    # must improve on its known ground state; each composition once before any second one
    thresholds = proposal_thresholds(known_hull_distances(shared, keys, table["hull"]), TAU)
    proposals = {
        "relaxed_proposals": ("relaxed_combined_anchored_polymorphs", True),
        "relaxed_proposals_all_polymorphs": ("relaxed_combined_anchored_polymorphs", False),
        "relaxed_proposals_chgnet_only": ("relaxed_chgnet_only_anchored_polymorphs", True),
        "relaxed_proposals_calibrated": ("relaxed_calibrated_anchored_polymorphs", True),
    }
    for name, (variant, collapse) in proposals.items():
        if variant not in variants:
            continue
        combined = variants[variant]
        e_hull = combined.mean - table["hull"]
        score = probability_improves(e_hull, combined.std, thresholds) * p_gap
        # relaxed first (a funnel), the rest in pre-score order, then one per composition
        local = np.lexsort((e_hull, -score))
        funnel = np.array([idx[m] for m in local] + rest, dtype=np.int64)
        if collapse:
            funnel = funnel[first_per_composition([pool_keys[i] for i in funnel])]
        orders[name] = funnel
        table[f"{name}_score"] = score
    fails: dict[str, int] = {}
    for r in results:
        if not r.ok:
            key = r.reason.split(":")[0]
            fails[key] = fails.get(key, 0) + 1
    ok_results = [r for _, r in ok]
    info = {
        "k": k,
        "config": RELAX_CONFIG.model_dump(mode="json"),
        "relax_stats": stats,
        "n_ok": len(ok),
        "n_failed": len(results) - len(ok),
        "failure_kinds": fails,
        "n_unconverged": sum(not r.converged for r in ok_results),
        "mean_steps": float(np.mean([r.steps for r in ok_results])) if ok_results else None,
        "n_duplicates": len(outcome.duplicate_of),
        "n_known_matches": len(outcome.known_match),
        "n_kept": len(idx),
        "n_anchored": int(anchor.sum()),
        "relaxed_calibration": None if calibration is None else calibration.as_dict(),
        "heldout_relaxed": int(sum(pool_keys[i] in shared.family for i in idx)),
        "heldout_in_prescore_top_k": int(sum(pool_keys[i] in shared.family for i in top)),
        "heldout_compositions_in_prescore_top_k": len({pool_keys[i] for i in top} & shared.family),
    }
    if dump is not None:
        import pandas as pd

        pd.DataFrame(table).to_csv(dump, index=False)
    return orders, info


def fit_calibration(
    shared: Any, ok: list[tuple[int, Any]], pool_keys: list[str]
) -> RelaxedCalibration:
    """Step 5's relaxed-stage calibration from every relaxed candidate (before
    deduplication) of a known composition outside both families, the surrogate's value
    from the cross-fitted fold heads (the fit keeps each composition's lowest-energy one)."""
    rows = [(pool_keys[i], r) for i, r in ok if pool_keys[i] in shared.calibration_keys]
    keys = [k for k, _ in rows]
    energies = np.array([r.energy_per_atom for _, r in rows])
    mu_s, sd_s = shared.cross_fit.predict(keys, [r.structure for _, r in rows])
    mu_c = shared.correction.formation_energy([parse_formula_key(k) for k in keys], energies)
    return fit_relaxed_calibration(
        keys, energies, mu_s, sd_s, mu_c, shared.dft_min, shared.calibration_keys
    )


def one_sigma_scale(model: str, option: str) -> float:
    """The factor on the surrogate's formation-energy std (rediscovery protocol, step 5)."""
    if option != "auto":
        try:
            value = float(option)
        except ValueError:
            value = float("nan")
        if not value > 0:
            raise SystemExit(f"--std-scale must be 'auto' or a positive number; got {option!r}")
        return value
    stem = "generation_hull_accuracy" + ("" if model == "cgcnn" else f"_{model}")
    path = common.RESULTS / f"{stem}.json"
    if not path.exists():
        raise SystemExit(f"{path} is missing: run generation_hull_accuracy.py --model {model}")
    return float(json.loads(path.read_text())["std_scale_fitted"])


def known_hull_distances(shared: Any, keys: list[str], hull_energy: np.ndarray) -> np.ndarray:
    """`n` hull distances of each composition's lowest known DFT entry (NaN: not known)."""
    return np.array(
        [
            shared.dft_min[k] - h if k in shared.gs_index else np.nan
            for k, h in zip(keys, hull_energy, strict=True)
        ]
    )
