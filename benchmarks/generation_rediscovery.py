"""Rediscovery: hold out a family's known stable semiconductors, generate, screen, rank.

    MATERIALS_AI_DATA_DIR=../shared/datasets .venv/bin/python benchmarks/generation_rediscovery.py \
        [--family abo3|double_perovskite] [--seeds 0,1,2] [--relax-top 300] \
        [--model cgcnn|chgnet_head] [--error-correlation RHO] [--relax-workers N]

Protocol (families and model: ``generation_common``):

1. Hold out the family (compositions, every polymorph). ``abo3``: perovskite-compatible
   ABO3 oxides of MP-2018 with a PBE gap above 0.5 eV within 0.05 eV/atom of the MP-2018
   hull. ``double_perovskite`` (the second, independent set, fixed in
   ``generation_common`` before the relaxation stage was tuned or run on either set):
   double-perovskite-compatible A2BB'O6 oxides of MP-2018 with the same gap and hull
   bounds. The family is removed from the model's training data (the model excludes both
   families), from the hull's competing phases, from the known set of every dataset (so
   neither the novelty screen nor the generators' exclusions can see it) and from the
   energy correction's training rows.
2. Generate (family-targeted, as a photocatalyst campaign on oxides would). ``abo3``:
   cubic and tilted perovskite decoration with O on the default cation list, plus
   data-mined substitution on 300 seeded known ABC3 oxide parents of MP-2018 (<= 20 sites;
   held-out compositions are not known, so never parents), substituting in default
   cations and O only, 30 per parent. ``double_perovskite``: rock-salt ordered double
   perovskite decoration with O on the default cation list, plus the same substitution on
   300 seeded known A2BB'O6-stoichiometry (``ABC2D6``) oxide parents. ``--seeds`` seeds the
   pool (parent sampling; prototype decoration is deterministic); the model is fixed.
3. Screen with the defaults: element policy, charge + electronegativity, sustainability
   (scored), deduplication and novelty against all known structures (held-out removed).
   ``--new-compositions-only`` also excludes every known composition from generation
   (``exclude_known_formulas``); by default new polymorphs of known compositions stay.
4. Predict formation energy and gap (3-member ensemble), place each survivor on the hull
   (competing phases: MP-2018 without the held-out compositions; candidates whose cations
   have no compound at all with the anion in that reference are dropped, as their hull is
   meaningless: MT-CGCNN's MP-2018 snapshot is a 36,738-entry subset) and rank by
   ``P(E_hull <= 0.1 eV/atom) x P(gap >= 0.5 eV)`` (Gaussians; independent).
   *DFT anchor*: a candidate whose composition has a known MP-2018 ground state (a new
   polymorph) is placed relative to it, ``E = E_DFT(known) + [E_pred(candidate) -
   E_pred(known)]``, which cancels the model's error for that composition (without it,
   polymorphs predicted far below their own DFT ground state fill the top of the ranking);
   the group spread below still applies.
   *Generator calibration* (the "calibrated" rows), for compositions without an anchor:
   the model was trained on relaxed structures, and generated structures are not relaxed.
   On the generators' output for *known* compositions (MP-2018, held-out excluded; at most
   800 per generator group, seeded) the residual ``predicted E_f - lowest DFT E_f`` is
   measured per group (cubic perovskite, tilted perovskite, substitution); its median is
   subtracted from that group's predictions and its robust spread (1.4826 MAD) is added in
   quadrature to the ensemble std. No held-out material enters this step.
5. **Relaxation (issue 17)**, with ``--relax-top K`` (default 300; 0: off): the ``K`` best
   candidates of ranking 4 ("calibrated", the pre-score) are relaxed with CHGNet 0.3.0
   (``RelaxConfig`` defaults: FIRE, cell + positions, fmax 0.1 eV/Å, at most 300 steps;
   one process), failures dropped, then deduplicated with ``StructureMatcher`` among
   themselves and against the known set (held-out removed). The relaxed survivors are
   scored again: the model on the relaxed structure (formation energy, gap) and the
   corrected CHGNet energy (per-element references refitted on the MP-2018 training
   split minus both held-out families), combined by inverse variance with the scatter
   term (``materials_ai.candidates.relaxed_stability``, the generative workflow's rule;
   the rule weighs two sigmas of one level, 68.27 % of errors within one sigma, which
   CHGNet's has: the model's formation-energy std is multiplied by the ``std_scale_fitted``
   that ``generation_hull_accuracy.py`` fits for that model on half the MP-2018 test
   entries, about 1.1 for the CGCNN and 0.6 for the CHGNet-feature head, whose own
   factor targets 90 % coverage; ``--std-scale 1`` leaves the std as the model gives it),
   placed on the same hull and ranked by ``P(E_hull <= 0.1) x P(gap >= 0.5)``. The
   relaxed candidates come first in that order; the candidates not relaxed follow in
   their pre-score order (a funnel). The former headline (``relaxed_combined_polymorphs``, the
   generative workflow's default) also places the relaxed polymorphs of one composition
   relative to their lowest-energy one by CHGNet energy differences
   (``anchor_polymorphs``; added after the first ABO3 run showed several polymorphs of one
   composition filling the top, and before the double-perovskite set was run). Variants:
   without that step (``relaxed_combined``), CHGNet alone, the model on the relaxed
   structure alone, and the combination with the DFT anchor of step 4 applied to both
   estimates (for CHGNet: ``E_DFT(known) + E_CHGNet(candidate) - E_CHGNet(known)``, the
   known ground state's static CHGNet energy from the feature cache).
   *Proposals* (the headline since 2026-12-05, ``relaxed_proposals``; added after the
   ABO3 runs above showed known compositions and repeated compositions filling the top
   5 %, checked on the double perovskites after it was written): the DFT-anchored
   combination with polymorphs placed by CHGNet differences, scored with
   ``materials_ai.candidates.ranking``: a polymorph of a composition with a known DFT
   entry must improve on it (``P(E_hull <= min(0.1, E_hull of the known ground state))``
   instead of ``P(E_hull <= 0.1)``), and each composition's best candidate comes before
   any second candidate of a composition. Ablations: ``relaxed_proposals_all_polymorphs``
   (no one-per-composition step), ``relaxed_proposals_chgnet_only`` (CHGNet energies
   alone) and ``calibrated_proposals`` (the same rule on the unrelaxed pre-score).
   *Relaxed-stage calibration* (``relaxed_proposals_calibrated``, ``--model chgnet_head``
   only; written 2026-12-05 evening, before any run of it, as the relaxed analogue of
   step 4's generator calibration): the sigmas above were fitted on DFT-relaxed MP-2018
   test entries, not on generated candidates relaxed by CHGNet. The calibration set is
   this pool's relaxed candidates (before deduplication) of known compositions outside
   both families; for each composition, its lowest-CHGNet-energy candidate gives the
   residuals of both estimates against the composition's lowest DFT formation energy. The
   surrogate's residual is *cross-fitted*: the composition is predicted by one of 5 heads
   of the same recipe, each trained without one fold of compositions
   (``generation_common.composition_fold``, ``generation_model.py --cross-fit-folds 5``),
   so that, like a held-out composition, it is new to the model that predicts it (the
   first draft used only known compositions whose every entry is a test entry; the pools
   hold 9-10 of them, too few, so it was replaced before running). CHGNet saw these
   compositions as it saw the held-out ones (MPtrj). The residuals' medians are subtracted
   from candidates of compositions without a DFT anchor, and the 68.27 % quantiles of the
   centred absolute residuals set the surrogate's std factor and CHGNet's sigma
   (``materials_ai.candidates.relaxed_calibration``); the full head then scores the pool
   as in ``relaxed_proposals`` (DFT anchors, polymorphs by CHGNet differences, proposal
   rules, ``rho`` of ``--error-correlation``). No held-out material enters the fit. With
   ``--model chgnet_head`` this is the headline (per-composition counts and the
   composition view); ``relaxed_proposals`` stays beside it.
6. A held-out composition is rediscovered when a candidate of that composition (any
   prototype) is in the top 5 % of the ranked pool (``ceil(0.05 n)`` with ``n`` the
   screened pool, the same count with and without relaxation). Reported per seed, as the
   mean over seeds, and per held-out composition (in how many seeds it was found).

*Surrogate* (``--model``): ``cgcnn`` (default) is the 3-member CGCNN ensemble of
``generation_common``; ``chgnet_head`` the shipped generated-pool workflows' kind (CHGNet
0.3.0 features + element fractions, MLP ensemble), trained by ``generation_model.py --kind
chgnet_head`` on the same pool without either held-out family. It serves every step where
the model predicts (pre-score, generator calibration, DFT anchors, the relaxed
structures); results go to ``*_chgnet_head.json``. Its features come from CHGNet, so with
it both estimates of step 5 share CHGNet's MPtrj pretraining.
*Error correlation* (``--error-correlation``, default 0): ``rho`` of the combination in
step 5 (``combine_formation_energies``); ``generation_hull_accuracy.py`` measures it on
MP-2018 test entries. Results with ``rho > 0`` go to ``*_rho<value>.json``.

Also reported: coverage (held-out compositions present in the screened pool at all), the
expected fraction for a random ranking, and rankings by stability alone, gap alone and by
the generator's own score, for comparison. CHGNet was trained on MPtrj, which contains the
held-out materials' DFT relaxations: unlike the model, the potential has seen them, so the
relaxed figures are optimistic for truly new materials (the held-out families are hidden
from everything else).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.special import ndtr

sys.path.insert(0, str(Path(__file__).resolve().parent))

import generation_common as common
from generation_rediscovery_data import Shared
from generation_relaxed_ranking import (
    TAU,
    known_hull_distances,
    one_sigma_scale,
    relaxed_rankings,
)

from materials_ai.candidates import (
    StabilityConfig,
    generate_pool,
    probability_improves,
    proposal_order,
    proposal_thresholds,
    screen_stability,
)
from materials_ai.candidates.known import parse_formula_key
from materials_ai.compute import ComputeConfig, make_executor

TOP_FRACTION = 0.05
#: Corrected CHGNet + model (inverse variance, DFT-anchored for known compositions,
#: polymorphs placed by their CHGNet energy differences), ranked as proposals.
HEADLINE = "relaxed_proposals"
#: With the cross-fitted fold heads (``--model chgnet_head``): the same, calibrated (step 5).
HEADLINE_CALIBRATED = "relaxed_proposals_calibrated"
#: Rankings reported per held-out composition (those the run has).
PER_COMPOSITION = ("calibrated_p_stable_x_p_gap", HEADLINE, HEADLINE_CALIBRATED)


def found_fraction(
    order: np.ndarray, pool_keys: list[str], family: set[str], n_top: int
) -> tuple[float, list[str]]:
    top = {pool_keys[i] for i in order[:n_top]}
    hits = sorted(family & top)
    return len(hits) / len(family), hits


def run_seed(
    shared: Shared, family_name: str, seed: int, args: argparse.Namespace, executor: Any = None
) -> dict:
    """One pool, its rankings without and with relaxation."""
    start = time.perf_counter()
    family, family_data, hull = shared.family, shared.family_data, shared.hull
    surrogate = shared.surrogate
    config = common.rediscovery_pool_config(family_name, seed, args.new_compositions_only)
    t0 = time.perf_counter()
    pool = generate_pool(config, known=shared.known)
    pool_s = time.perf_counter() - t0
    survivors = pool.generated
    t0 = time.perf_counter()
    pred = surrogate.predict([g.structure for g in survivors], [g.id for g in survivors])
    predict_s = time.perf_counter() - t0
    mu_e, sd_e = pred.column("formation_energy")
    mu_g, sd_g = pred.column("band_gap")
    screened = screen_stability(
        pool,
        hull,
        mu_e,
        sd_e,
        StabilityConfig(threshold_ev_per_atom=TAU, require_covered_hull=True),
    )
    position = {g.id: i for i, g in enumerate(survivors)}
    keep = np.array([position[g.id] for g in screened.generated], dtype=np.int64)
    survivors = screened.generated
    pool_keys = [g.formula_key for g in survivors]
    mu_e, sd_e, mu_g, sd_g = mu_e[keep], sd_e[keep], mu_g[keep], sd_g[keep]
    scores = screened.report.scores
    p_stable = np.array([scores[g.id]["p_within_hull_threshold"] for g in survivors])
    e_hull = np.array([scores[g.id]["e_above_hull_pred_ev_per_atom"] for g in survivors])
    p_gap = ndtr((mu_g - common.GAP_MIN_EV) / np.maximum(sd_g, 1e-6))

    # generator calibration on known (non-held-out) compositions
    t0 = time.perf_counter()
    calib = common.generator_calibration(config, shared.known, surrogate, shared.dft_min)
    calib_s = time.perf_counter() - t0
    offset = np.array(
        [calib.get(g.prototype, {}).get("offset_ev_per_atom", 0.0) for g in survivors]
    )
    spread = np.array(
        [calib.get(g.prototype, {}).get("spread_ev_per_atom", 0.0) for g in survivors]
    )
    # DFT anchor for new polymorphs of known (non-held-out) compositions
    gs_index = shared.gs_index
    anchored = np.array([k in gs_index for k in pool_keys])
    anchor_keys = sorted({k for k in pool_keys if k in gs_index})
    gs_records = [shared.ds.records[gs_index[k]] for k in anchor_keys]
    gs_pred = np.zeros(0)
    if gs_records:
        gs_pred, _ = surrogate.predict(
            [r.structure for r in gs_records], [r.id for r in gs_records]
        ).column("formation_energy")
    shift = {k: shared.dft_min[k] - p for k, p in zip(anchor_keys, gs_pred, strict=True)}
    shift_arr = np.array([shift.get(k, 0.0) for k in pool_keys])
    mean_cal = np.where(anchored, mu_e + shift_arr, mu_e - offset)
    sd_cal = np.hypot(sd_e, spread)
    comps = [parse_formula_key(k) for k in pool_keys]
    est = hull.stability(comps, mean_cal, sd_cal, TAU)
    p_stable_cal, e_hull_cal = est.p_within, est.e_above_hull

    known_e_hull = known_hull_distances(shared, pool_keys, est.hull_energy)
    p_improves_cal = probability_improves(
        e_hull_cal, est.std, proposal_thresholds(known_e_hull, TAU)
    )

    n = len(survivors)
    n_top = math.ceil(TOP_FRACTION * n)
    rankings = {
        "calibrated_proposals": proposal_order(pool_keys, p_improves_cal * p_gap, e_hull_cal),
        "calibrated_p_stable_x_p_gap": np.lexsort((e_hull_cal, -(p_stable_cal * p_gap))),
        "calibrated_p_stable_only": np.lexsort((e_hull_cal, -p_stable_cal)),
        "raw_p_stable_x_p_gap": np.lexsort((e_hull, -(p_stable * p_gap))),
        "raw_p_stable_only": np.lexsort((e_hull, -p_stable)),
        "p_gap_only": np.argsort(-p_gap, kind="stable"),
        "generator_score": np.argsort(-np.array([g.score for g in survivors]), kind="stable"),
    }
    relax_info: dict[str, Any] = {}
    if args.relax_top > 0:
        relax_rankings, relax_info = relaxed_rankings(
            shared,
            survivors,
            pool_keys,
            rankings["calibrated_p_stable_x_p_gap"],
            args.relax_top,
            args.error_correlation,
            args.std_scale,
            args.dump,
            executor,
        )
        rankings.update(relax_rankings)
    results = {}
    for name, order in rankings.items():
        frac, hits = found_fraction(order, pool_keys, family, n_top)
        results[name] = {
            "found_fraction": frac,
            "n_found": len(hits),
            "found": [family_data[k]["formula"] for k in hits],
        }
    main_name = next(
        (name for name in (HEADLINE_CALIBRATED, HEADLINE) if name in rankings),
        "calibrated_p_stable_x_p_gap",
    )
    main_order = rankings[main_name]
    # composition view: each composition ranked by its best candidate
    comp_order: list[str] = []
    for i in main_order:
        if pool_keys[i] not in comp_order:
            comp_order.append(pool_keys[i])
    n_top_comp = math.ceil(TOP_FRACTION * len(comp_order))
    comp_hits = sorted(family & set(comp_order[:n_top_comp]))
    covered = family & set(pool_keys)
    counts = {k: pool_keys.count(k) for k in covered}
    random_expected = sum(1 - (1 - n_top / n) ** c for c in counts.values()) / len(family)
    per_composition: dict[str, dict[str, Any]] = {}
    for name in (name for name in PER_COMPOSITION if name in rankings):
        rank_of: dict[str, int] = {}
        for r, i in enumerate(rankings[name]):
            rank_of.setdefault(pool_keys[i], r)
        for k in sorted(family):
            entry = per_composition.setdefault(family_data[k]["formula"], {})
            rank = rank_of.get(k)
            entry[name] = None if rank is None else round(100.0 * rank / n, 2)
    percentiles = [v[main_name] for v in per_composition.values() if v.get(main_name) is not None]
    missing = sorted(family_data[k]["formula"] for k in family - covered)
    return {
        "seed": seed,
        "n_generated": pool.report.n_generated,
        "generated": pool.report.generated,
        "n_pool_screened": n,
        "n_top": n_top,
        "headline_ranking": main_name,
        "composition_view": {
            "n_compositions": len(comp_order),
            "n_top": n_top_comp,
            "found_fraction": len(comp_hits) / len(family),
            "heldout_share_of_compositions": len(family & set(comp_order)) / len(comp_order),
        },
        "coverage": len(covered) / len(family),
        "not_generated_or_screened_out": missing,
        "random_expected_found_fraction": random_expected,
        "calibration": calib,
        "n_anchored": int(anchored.sum()),
        "results": results,
        "heldout_rank_percentile_median": float(np.median(percentiles)) if percentiles else None,
        "per_composition_rank_percentile": per_composition,
        "relax": relax_info,
        "screen_summary": screened.report.summary(),
        "seconds": {
            "generate_and_screen": pool_s,
            "predict": predict_s,
            "calibration": calib_s,
            "relax": relax_info.get("relax_stats", {}).get("seconds", 0.0),
            "total": time.perf_counter() - start,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", choices=["abo3", "double_perovskite"], default="abo3")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--relax-top", type=int, default=300)
    parser.add_argument("--new-compositions-only", action="store_true")
    parser.add_argument(
        "--relax-workers",
        type=int,
        default=1,
        help="relax on a Dask LocalCluster of this many single-thread workers (1: in process)",
    )
    parser.add_argument("--dump", default=None, help="CSV of the relaxed candidates (last seed)")
    parser.add_argument(
        "--model",
        choices=common.MODEL_KINDS,
        default="cgcnn",
        help="the surrogate (generation_common.BenchmarkModel)",
    )
    parser.add_argument(
        "--std-scale",
        default="auto",
        help="factor on the surrogate's formation-energy std in the relaxed combination; "
        "auto: std_scale_fitted of the model's generation_hull_accuracy JSON",
    )
    parser.add_argument(
        "--error-correlation",
        type=float,
        default=0.0,
        help="CHGNet / surrogate error correlation of the combination",
    )
    args = parser.parse_args()
    if args.relax_workers < 1:
        parser.error(f"--relax-workers must be at least 1; got {args.relax_workers}")
    if not 0.0 <= args.error_correlation < 1.0:
        parser.error(f"--error-correlation must lie in [0, 1); got {args.error_correlation}")
    std_scale_option = args.std_scale
    args.std_scale = one_sigma_scale(args.model, args.std_scale)
    torch.set_num_threads(1)
    start = time.perf_counter()
    shared = Shared(args.family, args.model)
    seeds = [int(x) for x in args.seeds.split(",")]
    runs = []
    compute = ComputeConfig(
        kind="local", n_workers=args.relax_workers, threads_per_worker=1, dashboard_address=None
    )
    with (
        make_executor(compute, progress=False)
        if args.relax_workers > 1
        else contextlib.nullcontext()
    ) as executor:
        for seed in seeds:
            run = run_seed(shared, args.family, seed, args, executor)
            runs.append(run)
            print(
                f"seed {seed}: "
                + ", ".join(f"{k} {v['found_fraction']:.3f}" for k, v in run["results"].items()),
                flush=True,
            )
    names = list(runs[0]["results"])
    summary = {
        name: {
            "mean_found_fraction": float(
                np.mean([r["results"][name]["found_fraction"] for r in runs])
            ),
            "per_seed": [r["results"][name]["found_fraction"] for r in runs],
        }
        for name in names
    }
    formulas = sorted(runs[0]["per_composition_rank_percentile"])
    per_composition = {}
    for f in formulas:
        found = {
            name: sum(f in r["results"][name]["found"] for r in runs)
            for name in PER_COMPOSITION
            if name in runs[0]["results"]
        }
        per_composition[f] = {
            "found_in_seeds": found,
            "rank_percentile_per_seed": [r["per_composition_rank_percentile"][f] for r in runs],
        }
    # (command-line flag, results-file suffix) of each option away from its default
    options = [
        (" --new-compositions-only", "_new_compositions", args.new_compositions_only),
        (f" --model {args.model}", f"_{args.model}", args.model != "cgcnn"),
        (
            f" --error-correlation {args.error_correlation}",
            f"_rho{args.error_correlation:g}",
            bool(args.error_correlation),
        ),
        (f" --std-scale {std_scale_option}", f"_std{std_scale_option}", std_scale_option != "auto"),
    ]
    command = (
        "python benchmarks/generation_rediscovery.py "
        f"--family {args.family} --seeds {args.seeds} --relax-top {args.relax_top}"
    ) + "".join(flag for flag, _, used in options if used)
    payload = {
        "command": command,
        "machine": common.machine(),
        "n_runs": len(seeds),
        "family": args.family,
        "model": args.model,
        "error_correlation": args.error_correlation,
        "surrogate_std_scale": args.std_scale,
        "n_heldout": len(shared.family),
        "energy_correction": {
            "split": shared.correction.split,
            "n_train": shared.correction.n_train,
            "mae_test_ev_per_atom": shared.correction.mae_test_ev_per_atom,
            "residual_std_ev_per_atom": shared.correction.residual_std_ev_per_atom,
        },
        "summary": summary,
        "composition_view_mean_found_fraction": float(
            np.mean([r["composition_view"]["found_fraction"] for r in runs])
        ),
        "per_composition": per_composition,
        "runs": runs,
        "total_seconds": time.perf_counter() - start,
    }
    stem = "generation_rediscovery" + ("" if args.family == "abo3" else "_double_perovskites")
    stem += "".join(suffix for _, suffix, used in options if used)
    path = common.write_json(f"{stem}.json", payload)
    for name, v in summary.items():
        print(f"{name}: mean {v['mean_found_fraction']:.3f} per seed {v['per_seed']}")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
