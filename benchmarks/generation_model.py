"""Train the formation-energy + band-gap ensemble used by the generation benchmarks.

    MATERIALS_AI_DATA_DIR=../shared/datasets .venv/bin/python benchmarks/generation_model.py

Budget (see ``generation_common.MODEL_CONFIG``): 3 CGCNN members (48-wide, 3 convolutions,
8 neighbours within 5 Å), at most 60 epochs with early stopping (15 % validation split per
member), on a seeded sample of 10,000 MP-2018 training structures of at most 20 sites, one
torch thread.
Writes the model to ``$MATERIALS_AI_CACHE_DIR/benchmarks/generation_model`` and
``benchmarks/results/generation_model.json``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import generation_common as common

from materials_ai.candidates import HullReference
from materials_ai.graphs import build_graphs
from materials_ai.surrogates.ensemble import GraphEnsembleSurrogate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=common.N_TRAIN)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    ds = common.load_mp2018()
    keys = common.keys_of(ds)
    _test_idx, ref_idx = common.split(ds)
    hull_all = HullReference(
        (r.structure.composition.get_el_amt_dict(), r.targets["formation_energy"])
        for r in ds.records
    )
    family = common.heldout_family(ds, keys, hull_all)
    logging.info("held-out family: %d compositions", len(family))
    pool = [
        int(i)
        for i in ref_idx
        if keys[i] not in family and len(ds.records[i].structure) <= common.MAX_SITES
    ]
    rng = np.random.default_rng(common.SEED + 1)
    train_idx = np.sort(rng.choice(pool, size=min(args.n_train, len(pool)), replace=False))
    train = ds.subset(train_idx.tolist())
    graphs = build_graphs(
        [r.structure for r in train.records], train.ids, common.MODEL_CONFIG.graph
    )
    surrogate = GraphEnsembleSurrogate(common.MODEL_CONFIG, common.TARGETS, ("eV/atom", "eV"))
    fit = surrogate.fit_graphs(graphs, train.target_matrix(common.TARGETS))
    surrogate.save(common.model_dir())
    seconds = time.perf_counter() - start
    payload = {
        "command": "python benchmarks/generation_model.py",
        "machine": common.machine(),
        "n_train": len(train),
        "n_train_pool": len(pool),
        "n_heldout_compositions": len(family),
        "heldout": {k: {kk: vv for kk, vv in v.items()} for k, v in sorted(family.items())},
        "config": common.MODEL_CONFIG.model_dump(mode="json"),
        "val_mae": fit.val_mae,
        "member_epochs": [m.epochs for m in fit.members],
        "fit_seconds": fit.seconds,
        "total_seconds": seconds,
    }
    path = common.write_json("generation_model.json", payload)
    print(f"val MAE {fit.val_mae}; {fit.seconds:.0f} s fit; wrote {path}")


if __name__ == "__main__":
    main()
