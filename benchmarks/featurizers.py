"""Featurize a dataset's whole pool with a named featurizer, through the feature cache.

The features are keyed exactly as a campaign asks for them: ``source`` is
``"<card name>:<card sha256>"`` and the ids are the pool's candidate ids
(``record.as_candidate(source=dataset.name).id``), so this run fills the cache that later
campaigns and benchmarks read (``settings.cache_dir()/features``). ``--sweep`` first times
a few batch sizes on the first ``--sweep-n`` structures with the cache off. Usage::

    MATERIALS_AI_DATA_DIR=../shared/datasets nice -n 5 .venv/bin/python \\
        benchmarks/featurizers.py castelli_perovskites chgnet --sweep 16,32,64,128

Writes ``benchmarks/results/featurizers_<dataset>_<featurizer>.json`` (``_n<limit>``
appended with ``--limit``): machine, command, structures, seconds, structures/s, ``d``,
NaN rows, and whether the features came from the cache.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _timed(featurizer: Any, structures: list[Any], batch_size: int) -> float:
    featurizer.batch_size = batch_size
    t0 = time.perf_counter()
    featurizer.featurize(structures)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", nargs="?", default="castelli_perovskites")
    parser.add_argument("featurizer", nargs="?", default="chgnet")
    parser.add_argument("--limit", type=int, default=None, help="first N rows only")
    parser.add_argument("--batch-size", type=int, default=None, help="if it has one")
    parser.add_argument("--threads", type=int, default=None, help="torch threads, if used")
    parser.add_argument("--sweep", default="", help="batch sizes to time first, e.g. 32,64")
    parser.add_argument("--sweep-n", type=int, default=500)
    parser.add_argument("--no-cache", action="store_true")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()

    from materials_ai.data.loaders import load_dataset
    from materials_ai.data.registry import get_card
    from materials_ai.settings import cache_dir
    from materials_ai.surrogates.featurizers import build_featurizer
    from materials_ai.surrogates.featurizers.cache import (
        feature_cache_key,
        load_or_compute_features,
    )

    load_before = os.getloadavg()
    card = get_card(args.dataset)
    t0 = time.perf_counter()
    ds = load_dataset(args.dataset, targets=[], limit=args.limit)
    load_s = time.perf_counter() - t0
    structures = [r.structure for r in ds.records]
    ids = [r.as_candidate(source=ds.name).id for r in ds.records]
    source = f"{card.name}:{card.sha256}"

    featurizer = build_featurizer(args.featurizer)
    if args.threads is not None and hasattr(featurizer, "num_threads"):
        featurizer.num_threads = args.threads  # type: ignore[attr-defined]
    sweep: list[dict[str, float]] = []
    if args.sweep and hasattr(featurizer, "batch_size"):
        default_bs = featurizer.batch_size  # type: ignore[attr-defined]
        sample = structures[: args.sweep_n]
        _timed(featurizer, sample[:32], 32)  # warm-up: model load, first allocations
        for bs in (int(b) for b in args.sweep.split(",")):
            seconds = _timed(featurizer, sample, bs)
            sweep.append(
                {
                    "batch_size": bs,
                    "n": len(sample),
                    "seconds": seconds,
                    "structures_per_s": len(sample) / seconds,
                }
            )
            print(json.dumps(sweep[-1]), flush=True)
        featurizer.batch_size = default_bs  # type: ignore[attr-defined]
    if args.batch_size is not None and hasattr(featurizer, "batch_size"):
        featurizer.batch_size = args.batch_size  # type: ignore[attr-defined]

    key = feature_cache_key(featurizer, source, ids)
    cache_file = cache_dir() / "features" / f"{featurizer.name}-{key}.npz"
    from_cache = cache_file.exists() and not args.no_cache
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        values = load_or_compute_features(
            featurizer, structures, ids, source=None if args.no_cache else source
        )
    seconds = time.perf_counter() - t0
    nan_rows = np.flatnonzero(np.isnan(values).any(axis=1))

    result = {
        "benchmark": "featurizers",
        "dataset": args.dataset,
        "featurizer": featurizer.name,
        "fingerprint": featurizer.fingerprint(),
        "source": source,
        "cache_file": None if args.no_cache else str(cache_file),
        "from_cache": from_cache,
        "n_structures": len(structures),
        "d": int(values.shape[1]),
        "batch_size": getattr(featurizer, "batch_size", None),
        "torch_threads": getattr(featurizer, "num_threads", None),
        "seconds": seconds,
        "structures_per_s": len(structures) / seconds if seconds > 0 else None,
        "dataset_load_s": load_s,
        "nan_rows": len(nan_rows),
        "nan_row_ids": [ids[i] for i in nan_rows[:50]],
        "warnings": [str(w.message) for w in caught[:20]],
        "batch_size_sweep": sweep,
        "command": shlex.join(["python", *sys.argv]),
        "machine": {
            "cpus": os.cpu_count(),
            "cpu_model": _cpu_model(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "loadavg_before": load_before,
            "loadavg_after": os.getloadavg(),
        },
    }
    suffix = f"_n{args.limit}" if args.limit else ""
    out = Path(
        args.out or HERE / "results" / f"featurizers_{args.dataset}_{args.featurizer}{suffix}.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(json.dumps({k: v for k, v in result.items() if k != "warnings"}, indent=1))


if __name__ == "__main__":
    main()
