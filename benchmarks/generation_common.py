"""Shared pieces of the generation benchmarks: the MP-2018 split, the held-out family, the model.

* **Split.** MP-2018 rows are permuted with ``numpy.random.default_rng(SEED)``; the first
  10 % are the test entries, the rest the reference (hull) and training pool.
* **Held-out family** (rediscovery protocol): ABO3 ternary oxides of MP-2018 that
  are semiconductors (PBE gap > 0.5 eV), lie on or near the MP-2018 hull (e_above_hull
  <= 0.05 eV/atom, hull of all MP-2018 entries) and are perovskite-compatible: some
  charge-neutral assignment of common oxidation states gives a Goldschmidt tolerance factor
  in [0.8, 1.1] and an octahedral factor r_B / r_O in [0.414, 0.9] (the prototype
  generator's windows) with either cation on the A site; elements allowed by the default
  element policy. Compositions, not structures: every MP-2018 polymorph of a held-out composition is
  withheld from training, from the hull and from the known set.
* **Model.** A 3-member CGCNN ensemble (``GraphEnsembleSurrogate``) on formation energy
  and band gap, trained on a seeded sample of the training pool (no test entry, no held-out
  composition, at most 20 sites per cell). One model serves both benchmarks and is saved
  under ``$MATERIALS_AI_CACHE_DIR/benchmarks/generation_model``.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from materials_ai import settings
from materials_ai.candidates import HullReference
from materials_ai.candidates.chemistry import balanced_assignments, formula_key, shannon_radius
from materials_ai.candidates.config import ElementPolicyConfig
from materials_ai.candidates.known import parse_formula_key
from materials_ai.candidates.screens import ElementPolicyScreen
from materials_ai.data import MaterialsDataset, load_dataset
from materials_ai.graphs import GraphConfig
from materials_ai.surrogates.config import CGCNNConfig, EnsembleConfig, TrainingConfig

SEED = 0
TEST_FRACTION = 0.10
N_TRAIN = 10000
MAX_SITES = 20
TARGETS = ("formation_energy", "band_gap")
GAP_MIN_EV = 0.5
HULL_MAX_EV_PER_ATOM = 0.05
TOLERANCE_RANGE = (0.8, 1.1)
OCTAHEDRAL_RANGE = (0.414, 0.9)

MODEL_CONFIG = EnsembleConfig(
    n_members=3,
    seed=SEED,
    graph=GraphConfig(cutoff_angstrom=5.0, max_neighbors=8),
    model=CGCNNConfig(embedding_dim=48, n_conv=3, n_gaussians=32, hidden_dim=96),
    training=TrainingConfig(
        max_epochs=60, batch_size=64, learning_rate=3e-3, loss="l1", patience=10, lr_patience=4
    ),
)

RESULTS = Path(__file__).resolve().parent / "results"


def model_dir() -> Path:
    """Where the benchmark model is saved."""
    return settings.cache_dir() / "benchmarks" / "generation_model"


def load_mp2018() -> MaterialsDataset:
    """MP-2018 with formation energy (eV/atom) and PBE band gap (eV)."""
    return load_dataset("mp2018", targets=list(TARGETS))


def split(ds: MaterialsDataset) -> tuple[np.ndarray, np.ndarray]:
    """Return (test indices, reference indices) of the seeded 10 % / 90 % split."""
    perm = np.random.default_rng(SEED).permutation(len(ds))
    n_test = round(TEST_FRACTION * len(ds))
    return np.sort(perm[:n_test]), np.sort(perm[n_test:])


def keys_of(ds: MaterialsDataset) -> list[str]:
    """Composition key of every record."""
    return [formula_key(r.structure.composition.get_el_amt_dict()) for r in ds.records]


def perovskite_tolerance(key: str) -> float | None:
    """Tolerance factor closest to 1 of an ABO3 composition over its neutral assignments and
    A/B choices whose octahedral factor lies in ``OCTAHEDRAL_RANGE`` (the generator's
    windows); None when no assignment qualifies."""
    amounts = parse_formula_key(key)
    best: float | None = None
    for assignment in balanced_assignments(amounts):
        cations = [s for s in amounts if s != "O"]
        for a, b in ((cations[0], cations[1]), (cations[1], cations[0])):
            r_a = shannon_radius(a, assignment[a], 12)
            r_b = shannon_radius(b, assignment[b], 6)
            mu = r_b / 1.40
            if not OCTAHEDRAL_RANGE[0] <= mu <= OCTAHEDRAL_RANGE[1]:
                continue
            t = (r_a + 1.40) / (math.sqrt(2) * (r_b + 1.40))
            if math.isfinite(t) and (best is None or abs(t - 1) < abs(best - 1)):
                best = t
    return best


def is_abo3(key: str) -> bool:
    """Whether a composition key is a ternary ABO3 oxide."""
    amounts = parse_formula_key(key)
    return (
        len(amounts) == 3
        and amounts.get("O") == 3
        and sorted(n for s, n in amounts.items() if s != "O") == [1, 1]
    )


def heldout_family(
    ds: MaterialsDataset, keys: list[str], hull_all: HullReference
) -> dict[str, Any]:
    """Return the held-out compositions with their DFT data (see the module docstring)."""
    policy = ElementPolicyScreen(ElementPolicyConfig())
    family: dict[str, Any] = {}
    for record, key in zip(ds.records, keys, strict=True):
        if not is_abo3(key):
            continue
        gap = record.targets["band_gap"]
        e_form = record.targets["formation_energy"]
        e_hull = e_form - hull_all.hull_energy(parse_formula_key(key))
        if gap <= GAP_MIN_EV or e_hull > HULL_MAX_EV_PER_ATOM:
            continue
        if policy.check(frozenset(parse_formula_key(key))) is not None:
            continue
        t = perovskite_tolerance(key)
        if t is None or not (TOLERANCE_RANGE[0] <= t <= TOLERANCE_RANGE[1]):
            continue
        entry = family.setdefault(key, {"ids": [], "gap_ev": gap, "e_hull": e_hull, "t": t})
        entry["ids"].append(record.id)
        entry["formula"] = record.formula
        entry["gap_ev"] = max(entry["gap_ev"], gap)
        entry["e_hull"] = min(entry["e_hull"], e_hull)
    return family


def write_json(name: str, payload: dict[str, Any]) -> Path:
    """Write a result file under benchmarks/results/."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / name
    path.write_text(json.dumps(payload, indent=2, default=float) + "\n")
    return path


def machine() -> dict[str, Any]:
    """A short description of the machine."""
    import os
    import platform

    import torch

    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "load_average_at_start": os.getloadavg(),
        "date": time.strftime("%Y-%m-%d"),
    }
