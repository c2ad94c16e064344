"""Castelli water splitting with MP-2018 transfer features from a head that never saw Castelli.

The shipped ``mp2018_chgnet_head`` featurizer hands a campaign the PBE formation energy
and PBE gap that ``models/mp2018_chgnet_head`` predicts (trained on the MP-2018 training
split). 804 MP-2018 structures share a reduced formula with a Castelli perovskite (e.g.
CaSnO3, BaSnO3 in other or the same structure types): their PBE gaps are part of what that
head learned. This benchmark asks whether the gain on the Castelli screen survives without
them: it registers a featurizer ``mp2018_chgnet_head_no_castelli`` on a head trained with
the same settings on the same split minus every structure whose reduced formula occurs in
the Castelli table, and replays the shipped CHGNet-feature GP workflow with the features
``[chgnet, mp2018_chgnet_head_no_castelli]`` (everything else unchanged; a real campaign
per seed, BoTorch acquisition, replay oracle).

Train the head first (about 5 min on one core)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/feature_heads.py --dataset mp2018 \\
        --splits random_80_10_10_seed0 --exclude-compositions-of castelli_perovskites \\
        --save ~/.cache/materials-ai/benchmarks/mp2018_chgnet_head_no_castelli \\
        --out benchmarks/results/feature_heads_mp2018_no_castelli.json

then::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/discovery_castelli_transfer.py \\
        --strategies constrained --seeds 5 --budget 1000 --out runs/bench_no_castelli_head

and summarise with ``benchmarks/discovery_castelli_surrogates.py --transfer-head LABEL=OUT ...``
(``--transfer-head`` registers the featurizer so the run folders' workflows load).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from materials_ai.campaign.benchmark import replay_benchmark
from materials_ai.campaign.config import load_workflow, parse_overrides
from materials_ai.settings import PROJECT_ROOT, cache_dir
from materials_ai.surrogates.featurizers import FEATURIZERS
from materials_ai.surrogates.featurizers.head_predictions import HeadPredictionFeaturizer

NAME = "mp2018_chgnet_head_no_castelli"
WORKFLOW = PROJECT_ROOT / "workflows" / "castelli_water_splitting_chgnet_gp.yaml"


def register(head_dir: Path | None = None) -> None:
    """Register the featurizer ``mp2018_chgnet_head_no_castelli`` on the head in ``head_dir``
    (default: the cache folder of the training command above)."""
    head = (head_dir or cache_dir() / "benchmarks" / NAME).expanduser().resolve()
    FEATURIZERS.add(NAME, lambda: HeadPredictionFeaturizer(head, name=NAME), replace=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--head", type=Path, default=cache_dir() / "benchmarks" / "mp2018_chgnet_head_no_castelli"
    )
    parser.add_argument("--strategies", default="constrained")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--budget", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=Path("runs/bench_no_castelli_head"))
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args()
    if not (args.head / "surrogate.json").is_file():
        raise SystemExit(f"{args.head}: no trained head (see this script's docstring)")

    register(args.head)
    config = load_workflow(WORKFLOW).with_overrides(
        parse_overrides([f"surrogate.features=[chgnet, {NAME}]", *args.overrides])
    )
    result = replay_benchmark(
        config,
        [s.strip() for s in args.strategies.split(",") if s.strip()],
        list(range(args.seeds)),
        args.out,
        budget=args.budget,
    )
    print(json.dumps(result["summary"], indent=1))


if __name__ == "__main__":
    main()
