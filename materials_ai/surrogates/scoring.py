"""Scoring candidate pools with a graph ensemble: partitioned, distributed and streamed.

Two ways to score a pool, both through an :class:`~materials_ai.compute.Executor` (serial
or Dask, same code):

* :func:`score_pool` scores a pool whose graphs are in memory (a campaign's pool of
  ~10⁴–10⁵ candidates) and returns the same :class:`Prediction` as
  ``surrogate.predict_graphs(graphs)``, bit for bit. The ensemble's weights are scattered
  to the workers once (:meth:`Executor.scatter`); the pool is cut into partitions at the
  serial path's mini-batch boundaries, so every mini-batch the network sees is the one
  the serial path sees, and partitions are scored in parallel.
* :func:`stream_score` scores a pool too large for memory (10⁶ candidates and up) that
  lies on disk as Parquet partitions of compact structures (:func:`write_partition`).
  Each task reads one partition, builds its graphs, scores them and returns only a
  top-`k` shortlist (with member samples, for the acquisition) and summary statistics;
  the caller merges shortlists as partitions finish, so its memory holds `k` candidates,
  not `n`, and each worker holds one partition at a time. With a ``checkpoint_dir``
  every finished partition's summary is written to disk as it arrives, and a rerun skips
  those partitions: an interrupted stream loses no finished work.

The partition file format (one Parquet file per partition, one row per candidate):

==============  ========================  ==================================================
column          type                      meaning
==============  ========================  ==================================================
``id``          string                    candidate id (unique within the pool)
``lattice``     fixed_size_list<f64, 9>   lattice vectors as rows, flattened (Å)
``numbers``     list<uint8>               `m` atomic numbers
``frac``        list<f64>                 `m x 3` fractional coordinates, flattened
==============  ========================  ==================================================

The streaming code lives in :mod:`materials_ai.surrogates.streaming`, the partition files in
:mod:`materials_ai.surrogates.partitions` and the scattered weights in
:mod:`materials_ai.surrogates.weights`; this module re-exports their public names.

:func:`replicate_structures` makes large synthetic pools from real structures (strained
lattices, swapped cation sites) for benchmarks.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from materials_ai.graphs.packed import PackedGraphs
from materials_ai.surrogates.partitions import (
    CompactStructures,
    read_partition,
    replicate_structures,
    write_partition,
)
from materials_ai.surrogates.prediction import Prediction
from materials_ai.surrogates.streaming import (
    PartitionSummary,
    PosteriorMeanDesirability,
    RunningStats,
    StreamResult,
    stream_score,
)
from materials_ai.surrogates.training import (
    INFERENCE_BATCH_SIZE,
    _batches,
)
from materials_ai.surrogates.weights import EnsembleWeights, FittedEnsemble, _limit_torch_threads

if TYPE_CHECKING:
    from materials_ai.compute import Executor

__all__ = [
    "CompactStructures",
    "EnsembleWeights",
    "FittedEnsemble",
    "PartitionSummary",
    "PosteriorMeanDesirability",
    "RunningStats",
    "StreamResult",
    "default_partition_size",
    "plan_partitions",
    "read_partition",
    "replicate_structures",
    "score_pool",
    "stream_score",
    "write_partition",
]

#: Upper bound on the graphs of one in-memory scoring partition (bounds a task's memory).
MAX_PARTITION_SIZE = 8192


# --------------------------------------------------------------------------------------
# In-memory pools
# --------------------------------------------------------------------------------------


def plan_partitions(n: int, batch_size: int, partition_size: int) -> list[list[tuple[int, int]]]:
    """Group the serial path's mini-batches into partitions of about ``partition_size``.

    ``predict_graphs`` splits `n` graphs into ``ceil(n / batch_size)`` near-equal
    consecutive batches; each partition here is a run of whole batches, so a partitioned
    prediction evaluates exactly the same batches.

    Returns:
        One list of ``(start, stop)`` batch bounds per partition, covering ``range(n)``.
    """
    if n == 0:
        return []
    partition_size = max(1, partition_size)
    parts: list[list[tuple[int, int]]] = []
    current: list[tuple[int, int]] = []
    count = 0
    for batch in _batches(np.arange(n), batch_size):
        bounds = (int(batch[0]), int(batch[-1]) + 1)
        if current and count + len(batch) > partition_size:
            parts.append(current)
            current, count = [], 0
        current.append(bounds)
        count += len(batch)
    parts.append(current)
    return parts


def _n_workers(executor: Executor | None) -> int:
    client = getattr(executor, "client", None)
    if client is None:
        return 1
    try:
        workers = client.scheduler_info().get("workers", {})
        return max(1, sum(int(w.get("nthreads", 1)) for w in workers.values()))
    except Exception:  # a scheduler that does not answer: the map will say why
        return 1


def default_partition_size(
    n: int, executor: Executor | None, batch_size: int = INFERENCE_BATCH_SIZE
) -> int:
    """About eight partitions per worker thread (for load balance), within bounds.

    At least one mini-batch and at most :data:`MAX_PARTITION_SIZE` graphs per partition.
    """
    parts = 8 * _n_workers(executor)
    size = math.ceil(n / parts) if n else 1
    return int(min(max(size, batch_size), MAX_PARTITION_SIZE))


def _score_partition(
    item: tuple[EnsembleWeights, PackedGraphs, list[tuple[int, int]]],
) -> np.ndarray:
    """Task: member predictions `s x m x t` of one partition (batch bounds are local)."""
    weights, graphs, bounds = item
    _limit_torch_threads()
    batches = [np.arange(a, b, dtype=np.int64) for a, b in bounds]
    return weights.predict_samples(graphs, batches)


def score_pool(
    surrogate: FittedEnsemble,
    graphs: PackedGraphs,
    *,
    executor: Executor | None = None,
    partition_size: int | None = None,
    batch_size: int = INFERENCE_BATCH_SIZE,
) -> Prediction:
    """Score a pool in partitions on an executor; same result as ``predict_graphs``.

    The ensemble's weights are scattered once; each task scores one partition of whole
    mini-batches (see :func:`plan_partitions`) with every member.

    Args:
        surrogate: A fitted ensemble.
        graphs: `n` graphs.
        executor: Where partitions run; ``None`` runs them in this process.
        partition_size: Graphs per task; default :func:`default_partition_size`.
        batch_size: Graphs per mini-batch (as in ``predict_graphs``).

    Returns:
        Mean and std (`n x t`) and member samples (`s x n x t`), in target units.
    """
    from materials_ai.compute import SerialExecutor

    weights = EnsembleWeights.from_surrogate(surrogate)
    n = len(graphs)
    if n == 0:
        return weights.prediction(weights.predict_samples(graphs, []))
    if partition_size is None:
        partition_size = default_partition_size(n, executor, batch_size)
    plan = plan_partitions(n, batch_size, partition_size)
    executor = executor or SerialExecutor(progress=False)
    ref = executor.scatter(weights)
    items = []
    for bounds in plan:
        start, stop = bounds[0][0], bounds[-1][1]
        part = graphs.select(np.arange(start, stop))
        items.append((ref, part, [(a - start, b - start) for a, b in bounds]))
    parts = executor.map(_score_partition, items, desc="scoring pool")
    return weights.prediction(np.concatenate(parts, axis=1))
