"""Molecule generation by edits: validity / uniqueness / novelty against QM9 (issue 9).

    MATERIALS_AI_DATA_DIR=../shared/datasets .venv/bin/python benchmarks/molecules_generation.py

Seeds: ``--n-seeds`` QM9 molecules drawn with a fixed seed. Each run asks
:class:`~materials_ai.molecules.generate.MoleculeEditGenerator` (all six operators,
``novel_only=False`` so that known molecules are counted, not hidden) for ``--n``
molecules and reports the generator's own statistics:

* validity = edits whose result RDKit parses and sanitises / edits tried,
* uniqueness = distinct results (not a seed) / valid results within the size and element
  limits,
* novelty = distinct results absent from QM9 (all 130,831 molecules, canonical SMILES
  without stereochemistry) / distinct results,

for two settings: the generator's defaults (≤ 40 heavy atoms, organic elements) and QM9's
own chemical space (≤ 9 heavy atoms of C, N, O, F), where novelty is harder. Also the share
of PFAS (OECD 2021) among the distinct results. Writes
``benchmarks/results/molecules_generation.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from materials_ai.data import load_dataset
from materials_ai.molecules.generate import MoleculeEditGenerator, canonical_key
from materials_ai.molecules.pfas import is_pfas

ROOT = Path(__file__).resolve().parents[1]
SETTINGS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "qm9_space": {"max_heavy_atoms": 9, "allowed_elements": (1, 6, 7, 8, 9)},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="molecules asked per run")
    parser.add_argument("--n-seeds", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--results",
        type=Path,
        default=ROOT / "benchmarks" / "results" / "molecules_generation.json",
    )
    args = parser.parse_args()
    load_start = os.getloadavg()
    t0 = time.perf_counter()
    ds = load_dataset("qm9")
    molecules = [r.structure for r in ds.records]
    known = {canonical_key(m.smiles) for m in molecules}
    known.discard(None)
    index_seconds = time.perf_counter() - t0
    rng = np.random.default_rng(0)
    seeds = [molecules[i] for i in rng.choice(len(molecules), args.n_seeds, replace=False)]

    out: dict[str, Any] = {}
    for name, limits in SETTINGS.items():
        runs = []
        for run in range(args.runs):
            gen = MoleculeEditGenerator(seeds, known=known, novel_only=False, **limits)
            start = time.perf_counter()
            made = gen.generate(args.n, seed=run)
            seconds = time.perf_counter() - start
            smiles = [c.candidate.structure.smiles for c in made]
            stats = gen.stats.to_dict()
            stats["seconds"] = seconds
            stats["molecules_per_s"] = len(made) / seconds
            stats["pfas_share"] = float(np.mean([is_pfas(s) for s in smiles])) if smiles else 0.0
            stats["examples"] = smiles[:5]
            runs.append(stats)
            print(
                f"{name} run {run}: {len(made)} molecules, validity {stats['validity']:.3f}, "
                f"uniqueness {stats['uniqueness']:.3f}, novelty {stats['novelty']:.3f}, "
                f"{seconds:.1f} s"
            )
        out[name] = {
            "limits": {k: list(v) if isinstance(v, tuple) else v for k, v in limits.items()},
            "runs": runs,
            **{
                f"{key}_mean": statistics.mean(r[key] for r in runs)
                for key in ("validity", "uniqueness", "novelty", "pfas_share", "seconds")
            },
            **{
                f"{key}_min": min(r[key] for r in runs)
                for key in ("validity", "uniqueness", "novelty")
            },
        }
    result = {
        "benchmark": "molecule_generation_validity_uniqueness_novelty",
        "command": (
            f"python benchmarks/molecules_generation.py --n {args.n} --n-seeds {args.n_seeds} "
            f"--runs {args.runs}"
        ),
        "date": time.strftime("%Y-%m-%d"),
        "reference": "QM9 (qm9 card), canonical SMILES without stereochemistry",
        "n_known": len(known),
        "n_seeds": args.n_seeds,
        "seeds_examples": [m.smiles for m in seeds[:5]],
        "n_per_run": args.n,
        "runs": args.runs,
        "targets": {"validity": 0.95, "uniqueness": 0.90, "novelty": 0.80},
        "settings": out,
        "index_seconds": index_seconds,
        "machine": {
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_at_start": load_start,
        },
    }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
