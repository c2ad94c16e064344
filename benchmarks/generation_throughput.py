"""Generation + screening throughput (issue 6 target: >= 10,000 candidates/min, 2 cores).

    MATERIALS_AI_DATA_DIR=../shared/datasets .venv/bin/python benchmarks/generation_throughput.py

Pool: the default ``PoolConfig`` generators (all six prototypes on the default ion lists)
plus data-mined substitution on 200 seeded MP-2018 parents (<= 20 sites, <= 4 elements).
Timed per run, in one process (single-threaded code):

* generation (prototype decoration, substitution),
* the fast screens: element policy, charge + electronegativity, sustainability,
* the StructureMatcher screens (deduplication, novelty against all 72,653 known
  structures) on the survivors only, reported separately.

Per-composition caches are cleared between runs, so every run starts cold. The known-structure
index (with space groups) is built once beforehand and not timed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import generation_common as common

from materials_ai.candidates import (
    KnownMaterials,
    PoolConfig,
    PrototypeGeneratorConfig,
    SubstitutionGeneratorConfig,
    build_generators,
    chemistry,
    default_screens,
    run_screens,
)
from materials_ai.candidates.screens import ScreenReport

FAST = ("element_policy", "charge", "sustainability")


def one_run(config: PoolConfig, known: KnownMaterials) -> dict[str, float]:
    chemistry._balanced_cached.cache_clear()
    gens = build_generators(config, known)
    t0 = time.perf_counter()
    pool = []
    per_gen: dict[str, float] = {}
    report = ScreenReport()
    for i, gen in enumerate(gens):
        g0 = time.perf_counter()
        produced = gen.generate(seed=config.seed + i)
        pool.extend(produced)
        per_gen[gen.name] = time.perf_counter() - g0
        report.generated[gen.name] = len(produced)
    t_gen = time.perf_counter() - t0
    screens = default_screens(config.screens, known)
    fast = [s for s in screens if s.name in FAST]
    slow = [s for s in screens if s.name not in FAST]
    t1 = time.perf_counter()
    survivors, report = run_screens(pool, fast, report)
    t_fast = time.perf_counter() - t1
    t2 = time.perf_counter()
    final, report = run_screens(survivors, slow, report)
    t_slow = time.perf_counter() - t2
    return {
        "n_generated": len(pool),
        "n_after_fast_screens": len(survivors),
        "n_final": len(final),
        "generation_s": t_gen,
        **{f"generation_{k}_s": v for k, v in per_gen.items()},
        "fast_screens_s": t_fast,
        "matcher_screens_s": t_slow,
        "candidates_per_min": 60.0 * len(pool) / (t_gen + t_fast),
        "candidates_per_min_all_screens": 60.0 * len(pool) / (t_gen + t_fast + t_slow),
        "survivors_through_matcher_per_min": 60.0 * len(survivors) / t_slow if t_slow else 0.0,
        "matcher_calls": sum(s.matcher_calls for s in report.steps),
        "summary": report.summary(),  # type: ignore[dict-item]
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--parents", type=int, default=200)
    args = parser.parse_args()
    known = KnownMaterials.from_datasets(spacegroups=0.1, progress=True)
    config = PoolConfig(
        seed=0,
        generators=[
            PrototypeGeneratorConfig(),
            SubstitutionGeneratorConfig.model_validate({"parents": {"max_parents": args.parents}}),
        ],
    )
    runs = [one_run(config, known) for _ in range(args.runs)]
    rates = [r["candidates_per_min"] for r in runs]
    payload = {
        "command": f"python benchmarks/generation_throughput.py --runs {args.runs} "
        f"--parents {args.parents}",
        "machine": common.machine(),
        "n_known": len(known),
        "runs": runs,
        "candidates_per_min_median": statistics.median(rates),
        "candidates_per_min_min": min(rates),
    }
    path = common.write_json("generation_throughput.json", payload)
    print(runs[-1]["summary"])
    for r in runs:
        print({k: round(v, 2) for k, v in r.items() if k != "summary"})
    print(f"median {statistics.median(rates):,.0f} candidates/min; wrote {path}")


if __name__ == "__main__":
    main()
