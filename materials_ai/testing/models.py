"""Tiny surrogate configurations, toy learning tasks and fake ensemble predictions for tests.

Everything here is small enough to train in a fraction of a second on one CPU core::

    config = tiny_ensemble_config(n_members=2, max_epochs=5)
    structures = binary_zincblende_cells(("C", "Si", "Ge"), (5.0, 5.5))
    y = mean_atomic_numbers(structures)[:, None]        # a learnable `n x 1` target
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from materials_ai.data.records import MaterialRecord, MaterialsDataset, TargetSpec
from materials_ai.graphs.config import GraphConfig
from materials_ai.surrogates.config import (
    CGCNNConfig,
    EnsembleConfig,
    MACEConfig,
    ModelConfig,
    TrainingConfig,
)

if TYPE_CHECKING:
    from pymatgen.core import Structure

__all__ = [
    "TINY_CGCNN",
    "TINY_GRAPH",
    "TINY_MACE",
    "TINY_MACE_GRAPH",
    "binary_zincblende_cells",
    "labelled_dataset",
    "mean_atomic_numbers",
    "one_best_per_member_samples",
    "tiny_ensemble_config",
    "zincblende_cell",
]

#: The smallest sensible CGCNN: one convolution, 8 channels.
TINY_CGCNN = CGCNNConfig(embedding_dim=8, n_conv=1, n_gaussians=8, hidden_dim=8)

#: Short-range graphs: few edges per atom keep training cheap.
TINY_GRAPH = GraphConfig(cutoff_angstrom=5.0, max_neighbors=8)

#: A small MACE: 4 channels of scalars and vectors, two interactions, 3-body features.
TINY_MACE = MACEConfig(
    channels=4,
    max_l=1,
    sh_max_l=2,
    n_interactions=2,
    correlation=2,
    radial_mlp=(8,),
    readout_dim=8,
)

#: TINY_GRAPH with the edge vectors MACE needs.
TINY_MACE_GRAPH = GraphConfig(cutoff_angstrom=5.0, max_neighbors=8, edge_vectors=True)


def tiny_ensemble_config(
    n_members: int = 2,
    *,
    seed: int = 0,
    max_epochs: int = 5,
    batch_size: int = 4,
    graph: GraphConfig = TINY_GRAPH,
    model: ModelConfig = TINY_CGCNN,
    **training: Any,
) -> EnsembleConfig:
    """Return an ensemble of tiny CGCNNs; extra keywords go to :class:`TrainingConfig`."""
    return EnsembleConfig(
        n_members=n_members,
        seed=seed,
        graph=graph,
        model=model,
        training=TrainingConfig(max_epochs=max_epochs, batch_size=batch_size, **training),
    )


def zincblende_cell(a: str, b: str, lattice_angstrom: float) -> Structure:
    """Return a 2-atom zinc-blende (diamond when ``a == b``) primitive cell."""
    from pymatgen.core import Lattice, Structure

    half = lattice_angstrom / 2
    lattice = Lattice([[0.0, half, half], [half, 0.0, half], [half, half, 0.0]])
    return Structure(lattice, [a, b], [[0.0, 0.0, 0.0], [0.25, 0.25, 0.25]])


def binary_zincblende_cells(
    elements: Sequence[str], lattice_constants_angstrom: Sequence[float]
) -> list[Structure]:
    """Return a zinc-blende cell for every ordered element pair and lattice constant."""
    return [
        zincblende_cell(a, b, lat)
        for (a, b), lat in itertools.product(
            itertools.product(elements, elements), lattice_constants_angstrom
        )
    ]


def mean_atomic_numbers(structures: Sequence[Structure]) -> np.ndarray:
    """Return the mean atomic number of each structure, `n` float64 (a learnable target)."""
    return np.array([np.mean([site.specie.Z for site in s]) for s in structures], np.float64)


def labelled_dataset(
    structures: Sequence[Structure],
    y: np.ndarray,
    target_names: Sequence[str],
    *,
    name: str = "toy",
) -> MaterialsDataset:
    """Wrap structures and an `n x t` label array as a :class:`MaterialsDataset`."""
    y = np.asarray(y, dtype=np.float64).reshape(len(structures), len(target_names))
    records = [
        MaterialRecord(
            id=f"{name}-{i}",
            structure=s,
            targets={t: float(y[i, j]) for j, t in enumerate(target_names)},
            row=i,
        )
        for i, s in enumerate(structures)
    ]
    targets = tuple(TargetSpec(name=t, column=t, unit="") for t in target_names)
    return MaterialsDataset(name=name, targets=targets, records=records)


def one_best_per_member_samples(
    n_members: int = 3, n_pool: int = 8, best: float = 10.0, rest: float = 0.0
) -> np.ndarray:
    """Fake ensemble predictions, `s x n x 1`, where member ``k`` likes only candidate ``k``.

    Member ``k`` predicts ``best`` for candidate ``k`` and ``rest`` elsewhere, so every
    candidate ``k < s`` is the single best one of exactly one member: a batch covers all
    members' optima only if it is built jointly, not by ranking candidates one by one.
    """
    if n_pool < n_members:
        raise ValueError("the pool must hold at least one candidate per member")
    samples = np.full((n_members, n_pool, 1), rest, dtype=np.float64)
    for k in range(n_members):
        samples[k, k, 0] = best
    return samples
