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
* **Second held-out family** (chosen before any tuning of the relaxation stage, issue 17):
  rock-salt-orderable double perovskite oxides ``A2BB'O6`` of MP-2018 (reduced amounts
  2:1:1:6 with O the 6) that are semiconductors (PBE gap > 0.5 eV), lie within 0.05 eV/atom
  of the MP-2018 hull, pass the default element policy and are double-perovskite
  compatible as the prototype generator defines it: some charge-neutral assignment of
  common oxidation states with the amount-2 cation on the A site gives
  ``t = (r_A + r_O) / (sqrt(2) ((r_B + r_B')/2 + r_O))`` in [0.8, 1.1] and both octahedral
  factors in [0.414, 0.9] (Shannon radii, A at CN 12, B at CN 6).
* **Model.** A 3-member CGCNN ensemble (``GraphEnsembleSurrogate``) on formation energy
  and band gap, trained on a seeded sample of the training pool (no test entry, no held-out
  composition of either family, at most 20 sites per cell). One model serves every
  generation benchmark and is saved under
  ``$MATERIALS_AI_CACHE_DIR/benchmarks/generation_model``.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from materials_ai import settings
from materials_ai.candidates import (
    HullReference,
    KnownMaterials,
    PoolConfig,
    PrototypeGeneratorConfig,
    SubstitutionGeneratorConfig,
    build_generators,
)
from materials_ai.candidates.chemistry import balanced_assignments, formula_key, shannon_radius
from materials_ai.candidates.config import DEFAULT_CATIONS, ElementPolicyConfig
from materials_ai.candidates.known import parse_formula_key
from materials_ai.candidates.screens import ElementPolicyScreen
from materials_ai.data import MaterialsDataset, load_dataset
from materials_ai.graphs import GraphConfig
from materials_ai.surrogates.config import (
    CGCNNConfig,
    EnsembleConfig,
    FeatureEnsembleConfig,
    TrainingConfig,
)

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

# The shipped generated-pool workflows' surrogate kind (models/mp2018_chgnet_head):
# CHGNet 0.3.0 crystal features + element fractions, 5 MLP members, defaults.
HEAD_CONFIG = FeatureEnsembleConfig(kind="feature_ensemble", seed=SEED)
MODEL_KINDS = ("cgcnn", "chgnet_head")
#: Folds of the relaxed-stage calibration's cross-fitted heads (generation_rediscovery, step 5).
CROSS_FIT_FOLDS = 5

RESULTS = Path(__file__).resolve().parent / "results"


def model_dir() -> Path:
    """Where the benchmark model is saved."""
    return settings.cache_dir() / "benchmarks" / "generation_model"


def head_dir() -> Path:
    """Where the benchmark's CHGNet-feature head is saved."""
    return settings.cache_dir() / "benchmarks" / "generation_chgnet_head"


def composition_fold(key: str, n_folds: int) -> int:
    """The cross-fitting fold of a composition key (a stable hash, the same in every run)."""
    import hashlib

    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % n_folds


def head_fold_dir(fold: int, n_folds: int) -> Path:
    """Where the head without the compositions of ``fold`` (of ``n_folds``) is saved."""
    return settings.cache_dir() / "benchmarks" / f"generation_chgnet_head_fold{fold}of{n_folds}"


class CrossFittedHeads:
    """The fold heads of ``generation_model.py --cross-fit-folds``: each composition is
    predicted by the head that did not train on it."""

    def __init__(self, n_folds: int) -> None:
        from materials_ai.surrogates.feature_ensemble import FeatureEnsembleSurrogate

        self.n_folds = n_folds
        missing = [f for f in range(n_folds) if not head_fold_dir(f, n_folds).exists()]
        if missing:
            raise SystemExit(
                f"no fold heads {missing} under {head_fold_dir(0, n_folds).parent}: run "
                f"generation_model.py --kind chgnet_head --cross-fit-folds {n_folds}"
            )
        self._heads = [
            FeatureEnsembleSurrogate.load(head_fold_dir(f, n_folds)) for f in range(n_folds)
        ]

    def predict(self, keys: list[str], structures: list[Any]) -> tuple[np.ndarray, np.ndarray]:
        """`n` formation-energy means and stds (eV/atom), each from its composition's fold."""
        mean, std = np.zeros(len(keys)), np.zeros(len(keys))
        folds = np.array([composition_fold(k, self.n_folds) for k in keys])
        for f, head in enumerate(self._heads):
            rows = np.flatnonzero(folds == f)
            if len(rows):
                m, s = head.predict([structures[i] for i in rows]).column("formation_energy")
                mean[rows], std[rows] = m, s
        return mean, std


class BenchmarkModel:
    """The generation benchmarks' surrogate behind one call (formation energy, gap).

    ``cgcnn``: the CGCNN ensemble of :data:`MODEL_CONFIG` (:func:`model_dir`);
    ``chgnet_head``: the shipped generated-pool workflows' kind, :data:`HEAD_CONFIG`
    (:func:`head_dir`). Both were trained by ``generation_model.py`` without either
    held-out family.
    """

    def __init__(self, kind: str) -> None:
        if kind not in MODEL_KINDS:
            raise ValueError(f"model kind {kind!r} is not one of {MODEL_KINDS}")
        self.kind = kind
        if kind == "cgcnn":
            from materials_ai.surrogates.ensemble import GraphEnsembleSurrogate

            self._graph_model = GraphEnsembleSurrogate.load(model_dir())
        else:
            from materials_ai.surrogates.feature_ensemble import FeatureEnsembleSurrogate

            self._head = FeatureEnsembleSurrogate.load(head_dir())

    def predict(self, structures: list[Any], ids: list[str]) -> Any:
        """The :class:`~materials_ai.surrogates.prediction.Prediction` of `n` structures."""
        if self.kind == "cgcnn":
            from materials_ai.graphs import build_graphs

            graphs = build_graphs(structures, ids, self._graph_model.config.graph)
            return self._graph_model.predict_graphs(graphs)
        return self._head.predict(list(structures))


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


def double_perovskite_tolerance(key: str) -> float | None:
    """Tolerance factor closest to 1 of an ``A2BB'O6`` composition (A = the amount-2 cation)
    over its neutral assignments whose two octahedral factors lie in ``OCTAHEDRAL_RANGE``;
    None when no assignment qualifies or the composition is not 2:1:1:6 with O the 6."""
    amounts = parse_formula_key(key)
    if len(amounts) != 4 or amounts.get("O") != 6:
        return None
    cations = sorted((n, s) for s, n in amounts.items() if s != "O")
    if [n for n, _ in cations] != [1, 1, 2]:
        return None
    b, b2, a = (s for _, s in cations)
    best: float | None = None
    for assignment in balanced_assignments(amounts):
        r_a = shannon_radius(a, assignment[a], 12)
        r_b = shannon_radius(b, assignment[b], 6)
        r_b2 = shannon_radius(b2, assignment[b2], 6)
        if not all(OCTAHEDRAL_RANGE[0] <= r / 1.40 <= OCTAHEDRAL_RANGE[1] for r in (r_b, r_b2)):
            continue
        t = (r_a + 1.40) / (math.sqrt(2) * ((r_b + r_b2) / 2 + 1.40))
        if math.isfinite(t) and (best is None or abs(t - 1) < abs(best - 1)):
            best = t
    return best


def heldout_double_perovskites(
    ds: MaterialsDataset, keys: list[str], hull_all: HullReference
) -> dict[str, Any]:
    """Return the second held-out family, double perovskite oxides (module docstring)."""
    policy = ElementPolicyScreen(ElementPolicyConfig())
    family: dict[str, Any] = {}
    for record, key in zip(ds.records, keys, strict=True):
        t = double_perovskite_tolerance(key)
        if t is None or not (TOLERANCE_RANGE[0] <= t <= TOLERANCE_RANGE[1]):
            continue
        gap = record.targets["band_gap"]
        e_form = record.targets["formation_energy"]
        e_hull = e_form - hull_all.hull_energy(parse_formula_key(key))
        if gap <= GAP_MIN_EV or e_hull > HULL_MAX_EV_PER_ATOM:
            continue
        if policy.check(frozenset(parse_formula_key(key))) is not None:
            continue
        entry = family.setdefault(key, {"ids": [], "gap_ev": gap, "e_hull": e_hull, "t": t})
        entry["ids"].append(record.id)
        entry["formula"] = record.formula
        entry["gap_ev"] = max(entry["gap_ev"], gap)
        entry["e_hull"] = min(entry["e_hull"], e_hull)
    return family


def cached_chgnet_energies(dataset_name: str = "mp2018") -> dict[str, float]:
    """Id -> static CHGNet 0.3.0 energy per atom (eV/atom) of every row, from the feature
    cache (``chgnet`` featurizer, the key campaigns use); refuses to recompute."""
    from materials_ai.data.loaders import load_dataset
    from materials_ai.data.registry import get_card
    from materials_ai.surrogates.featurizers import build_featurizer
    from materials_ai.surrogates.featurizers.cache import (
        feature_cache_key,
        load_or_compute_features,
    )

    card = get_card(dataset_name)
    ds = load_dataset(dataset_name, targets=[])
    ids = [r.as_candidate(source=ds.name).id for r in ds.records]
    source = f"{card.name}:{card.sha256}"
    featurizer = build_featurizer("chgnet")
    key = feature_cache_key(featurizer, source, ids)
    path = settings.cache_dir() / "features" / f"{featurizer.name}-{key}.npz"
    if not path.exists():
        raise SystemExit(f"no cached CHGNet features at {path}; run benchmarks/featurizers.py")
    values = load_or_compute_features(
        featurizer, [r.structure for r in ds.records], ids, source=source
    )
    column = featurizer.feature_names().index("chgnet_energy_per_atom")
    return {cid: float(v) for cid, v in zip(ids, values[:, column], strict=True)}


def structure_digest(structure: Any, config: Any) -> str:
    """Hash of a structure (species, lattice, coordinates to 1e-6) and a relax config."""
    import hashlib

    digest = hashlib.sha256(config.model_dump_json().encode())
    digest.update(" ".join(site.specie.symbol for site in structure).encode())
    digest.update(np.round(structure.lattice.matrix, 6).tobytes())
    digest.update(np.round(structure.frac_coords % 1.0, 6).tobytes())
    return digest.hexdigest()[:24]


CACHE_CHUNK = 32  # structures relaxed between two cache writes


def relax_with_cache(
    ids: list[str], structures: list[Any], config: Any, executor: Any = None
) -> tuple[list[Any], dict[str, Any]]:
    """``relax_structures`` with an on-disk cache (benchmarks only): a structure relaxed by
    an earlier run (same input geometry and config) is read back instead of relaxed again.

    Returns:
        (results in input order, {"n_cached", "n_relaxed", "seconds"} of this call).
    """
    import dataclasses

    from pymatgen.core import Structure

    from materials_ai.candidates.relax import RelaxResult, relax_structures

    folder = settings.cache_dir() / "benchmarks" / "relax_cache"
    folder.mkdir(parents=True, exist_ok=True)
    digests = [structure_digest(s, config) for s in structures]
    results: dict[int, Any] = {}
    for i, d in enumerate(digests):
        path = folder / f"{d}.json"
        if path.exists():
            data = json.loads(path.read_text())
            structure = data.pop("structure")
            data["id"] = ids[i]
            results[i] = RelaxResult(
                **data, structure=None if structure is None else Structure.from_dict(structure)
            )
    todo = [i for i in range(len(ids)) if i not in results]
    t0 = time.perf_counter()
    # in chunks, each written to the cache as it finishes: an interrupted run keeps its work
    for start in range(0, len(todo), CACHE_CHUNK):
        chunk = todo[start : start + CACHE_CHUNK]
        fresh = relax_structures(
            [ids[i] for i in chunk], [structures[i] for i in chunk], config, executor=executor
        )
        for i, r in zip(chunk, fresh, strict=True):
            results[i] = r
            data = dataclasses.asdict(r)
            data["structure"] = None if r.structure is None else r.structure.as_dict()
            (folder / f"{digests[i]}.json").write_text(json.dumps(data, default=float))
    seconds = time.perf_counter() - t0
    stats = {"n_cached": len(ids) - len(todo), "n_relaxed": len(todo), "seconds": seconds}
    return [results[i] for i in range(len(ids))], stats


def generator_calibration(
    config: PoolConfig,
    known: KnownMaterials,
    surrogate: BenchmarkModel,
    dft_min: dict[str, float],
) -> dict[str, dict[str, float]]:
    """Per-generator-group offset and spread of ``predicted - DFT`` on known compositions
    (``generation_rediscovery.py``, step 4: the "calibrated" pre-score)."""
    groups: dict[str, list] = {}
    for i, gen in enumerate(build_generators(config, known)):
        for g in gen.generate(seed=config.seed + i):
            if g.formula_key in dft_min:
                groups.setdefault(g.prototype, []).append(g)
    out: dict[str, dict[str, float]] = {}
    rng = np.random.default_rng(SEED)
    for name, members in sorted(groups.items()):
        if len(members) > 800:
            members = [members[i] for i in np.sort(rng.choice(len(members), 800, replace=False))]
        mu, _ = surrogate.predict([g.structure for g in members], [g.id for g in members]).column(
            "formation_energy"
        )
        resid = mu - np.array([dft_min[g.formula_key] for g in members])
        median = float(np.median(resid))
        out[name] = {
            "n": len(members),
            "offset_ev_per_atom": median,
            "spread_ev_per_atom": float(1.4826 * np.median(np.abs(resid - median))),
        }
    return out


def rediscovery_pool_config(family: str, seed: int, new_only: bool) -> PoolConfig:
    """The family-targeted generators of ``generation_rediscovery.py`` (its step 2)."""
    if family == "abo3":
        prototypes, anonymous = ["perovskite_cubic", "perovskite_tilted"], "ABC3"
    else:
        prototypes, anonymous = ["double_perovskite"], "ABC2D6"
    return PoolConfig(
        seed=seed,
        exclude_known_formulas=new_only,
        generators=[
            PrototypeGeneratorConfig(prototypes=prototypes, anions=["O"]),
            SubstitutionGeneratorConfig.model_validate(
                {
                    "parents": {
                        "datasets": ["mp2018"],
                        "anonymous_formulas": [anonymous],
                        "required_elements": ["O"],
                        "max_sites": 20,
                        "max_parents": 300,
                    },
                    "max_per_parent": 30,
                    "allowed_elements": [*DEFAULT_CATIONS, "O"],
                }
            ),
        ],
    )


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
