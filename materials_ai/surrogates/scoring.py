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

:func:`replicate_structures` makes large synthetic pools from real structures (strained
lattices, swapped cation sites) for benchmarks.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import torch

from materials_ai.errors import DataError, SurrogateError
from materials_ai.graphs.builder import crystal_graphs
from materials_ai.graphs.config import GraphConfig
from materials_ai.graphs.packed import PackedGraphs
from materials_ai.surrogates.calibration import recalibrated
from materials_ai.surrogates.config import EnsembleConfig, ModelConfig
from materials_ai.surrogates.error_distribution import StandardizedErrors
from materials_ai.surrogates.prediction import Prediction
from materials_ai.surrogates.training import (
    INFERENCE_BATCH_SIZE,
    StateDict,
    _batches,
    build_model,
)

if TYPE_CHECKING:
    from materials_ai.acquisition.objective import DesirabilityObjective
    from materials_ai.compute import Executor
    from materials_ai.surrogates.cgcnn import CGCNN

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

logger = logging.getLogger(__name__)

#: Upper bound on the graphs of one in-memory scoring partition (bounds a task's memory).
MAX_PARTITION_SIZE = 8192


# --------------------------------------------------------------------------------------
# The scattered model
# --------------------------------------------------------------------------------------


class FittedEnsemble(Protocol):
    """What scoring takes from a surrogate: its configs, targets and member weights.

    :class:`~materials_ai.surrogates.ensemble.GraphEnsembleSurrogate` is one. Scoring names
    this protocol rather than the class so that it never imports the ensemble module,
    which imports this one to score pools (no import cycle; checked by ``lint-imports``).
    Optional ``std_scales`` and ``error_distributions`` attributes are used when present.
    """

    @property
    def config(self) -> EnsembleConfig:
        """Ensemble settings (``model`` and ``graph`` are read)."""
        ...

    @property
    def target_names(self) -> Sequence[str]:
        """The `t` target names, in output order."""
        ...

    @property
    def is_fitted(self) -> bool:
        """Whether the members have weights."""
        ...

    @property
    def member_states(self) -> Sequence[StateDict]:
        """The `s` members' state dicts."""
        ...


@dataclass
class EnsembleWeights:
    """Everything a worker needs to run an ensemble's members: configs and weights.

    This is what :func:`score_pool` and :func:`stream_score` scatter to the workers, once
    per call (a few MB for the workflow's 5-member ensemble). The member networks are
    built from it on first use in each process and kept on the object, so the tasks of
    a worker share them; they are not pickled.

    Attributes:
        model_config: Architecture of each member.
        graph_config: Graph settings (the distance expansion uses the cutoff).
        target_names: `t` target names, the output columns.
        states: `s` member state dicts.
        std_scales: Target -> recalibration factor of the spread (empty: none).
        error_distributions: Target -> fitted standardized-error distribution (empty:
            Gaussian).
    """

    model_config: ModelConfig
    graph_config: GraphConfig
    target_names: tuple[str, ...]
    states: list[StateDict]
    std_scales: dict[str, float] = field(default_factory=dict)
    error_distributions: dict[str, StandardizedErrors] = field(default_factory=dict)
    _models: list[CGCNN] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_surrogate(cls, surrogate: FittedEnsemble) -> EnsembleWeights:
        """Take the weights of a fitted ensemble (shared, not copied)."""
        if not surrogate.is_fitted:
            raise SurrogateError("the surrogate is not fitted; call fit() or load() first")
        return cls(
            model_config=surrogate.config.model,
            graph_config=surrogate.config.graph,
            target_names=tuple(surrogate.target_names),
            states=list(surrogate.member_states),
            std_scales=dict(getattr(surrogate, "std_scales", {}) or {}),
            error_distributions=dict(getattr(surrogate, "error_distributions", {}) or {}),
        )

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_models"] = None
        return state

    def models(self) -> list[CGCNN]:
        """The member networks in eval mode (built once per process)."""
        if self._models is None:
            models = []
            for state in self.states:
                model = build_model(self.model_config, self.graph_config, len(self.target_names))
                model.load_state_dict(state)
                model.eval()
                models.append(model)
            self._models = models
        return self._models

    @torch.no_grad()
    def predict_samples(
        self, graphs: PackedGraphs, batches: Sequence[np.ndarray] | None = None
    ) -> np.ndarray:
        """Member predictions in target units, `s x n x t` (float64).

        Args:
            graphs: `n` graphs.
            batches: Index arrays of the mini-batches, covering ``range(n)`` in order;
                default: batches of :data:`INFERENCE_BATCH_SIZE` split as the serial path
                splits them.
        """
        if batches is None:
            batches = _batches(np.arange(len(graphs)), INFERENCE_BATCH_SIZE)
        models = self.models()
        samples = np.empty((len(models), len(graphs), len(self.target_names)), np.float64)
        if len(graphs) == 0:
            return samples
        data = [graphs.to_batch(b) for b in batches]
        for k, model in enumerate(models):
            pred = torch.cat([model(batch) for batch in data])
            samples[k] = (pred * model.y_std + model.y_mean).numpy()
        return samples

    def prediction(self, samples: np.ndarray) -> Prediction:
        """Mean, std and samples from `s x n x t` member predictions (recalibrated)."""
        prediction = Prediction.from_samples(samples, self.target_names)
        return recalibrated(prediction, self.std_scales, self.error_distributions)


def _limit_torch_threads() -> None:
    """On a Dask worker, use as many torch threads as the worker has (not every core)."""
    from materials_ai.compute import worker_threads

    threads = worker_threads()
    if threads is not None and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


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


# --------------------------------------------------------------------------------------
# Partition files
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CompactStructures:
    """`n` ordered structures as flat arrays (the content of one partition file).

    Attributes:
        ids: `n` candidate ids.
        lattices: `n x 3 x 3` lattice vectors as rows (Å).
        offsets: `n + 1` offsets of each structure's sites in ``numbers``/``frac``.
        numbers: `N` atomic numbers (uint8).
        frac: `N x 3` fractional coordinates.
    """

    ids: np.ndarray
    lattices: np.ndarray
    offsets: np.ndarray
    numbers: np.ndarray
    frac: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def from_structures(cls, structures: Sequence[Any], ids: Sequence[str]) -> CompactStructures:
        """Pack ordered pymatgen structures (no partial occupancy)."""
        if len(structures) != len(ids):
            raise ValueError(f"{len(structures)} structures but {len(ids)} ids")
        sizes = np.array([len(s) for s in structures], dtype=np.int64)
        return cls(
            ids=np.array([str(i) for i in ids], dtype=object),
            lattices=np.array([s.lattice.matrix for s in structures], dtype=np.float64).reshape(
                -1, 3, 3
            ),
            offsets=np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
            numbers=np.array([sp.Z for s in structures for sp in s.species], dtype=np.uint8),
            frac=np.concatenate([s.frac_coords for s in structures]).astype(np.float64)
            if structures
            else np.zeros((0, 3)),
        )

    def structures(self) -> list[Any]:
        """Rebuild pymatgen structures (``Structure(Lattice(m), species, frac)``)."""
        from materials_ai.data.loaders import _Builder

        builder = _Builder()
        o = self.offsets
        return [
            builder(self.lattices[i], self.numbers[o[i] : o[i + 1]], self.frac[o[i] : o[i + 1]])
            for i in range(len(self))
        ]


def write_partition(path: str | Path, structures: CompactStructures) -> Path:
    """Write one partition file (Parquet, see the module docstring) atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = len(structures)
    offsets = pa.array(structures.offsets.astype(np.int32))
    table = pa.table(
        {
            "id": pa.array(list(structures.ids), type=pa.string()),
            "lattice": pa.FixedSizeListArray.from_arrays(
                pa.array(structures.lattices.reshape(n * 9)), 9
            ),
            "numbers": pa.ListArray.from_arrays(offsets, pa.array(structures.numbers)),
            "frac": pa.ListArray.from_arrays(
                pa.array((structures.offsets * 3).astype(np.int32)),
                pa.array(structures.frac.reshape(-1)),
            ),
        }
    )
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, path)
    return path


def read_partition(path: str | Path) -> CompactStructures:
    """Read a partition file written by :func:`write_partition`.

    Raises:
        DataError: If the file is missing, not Parquet, or lacks a column.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    try:
        table = pq.read_table(path, columns=["id", "lattice", "numbers", "frac"])
    except (OSError, pa.ArrowInvalid, KeyError) as exc:
        raise DataError(f"{path}: cannot read candidate partition: {exc}") from exc
    n = table.num_rows
    numbers = table.column("numbers").combine_chunks()
    frac = table.column("frac").combine_chunks()
    lattice = table.column("lattice").combine_chunks()
    offsets = np.asarray(numbers.offsets, dtype=np.int64)
    if not np.array_equal(np.asarray(frac.offsets, dtype=np.int64), 3 * offsets):
        raise DataError(f"{path}: 'frac' does not hold 3 coordinates per site")
    return CompactStructures(
        ids=np.array(table.column("id").to_pylist(), dtype=object),
        lattices=np.asarray(lattice.flatten(), dtype=np.float64).reshape(n, 3, 3),
        offsets=offsets - offsets[0],
        numbers=np.asarray(numbers.flatten(), dtype=np.uint8),
        frac=np.asarray(frac.flatten(), dtype=np.float64).reshape(-1, 3),
    )


def replicate_structures(
    base: CompactStructures,
    n: int,
    *,
    seed: int,
    start: int = 0,
    max_strain: float = 0.03,
    swap_probability: float = 0.5,
    id_prefix: str = "rep",
) -> CompactStructures:
    """Make `n` new candidates from real structures: strained, with cation sites swapped.

    Candidate ``j`` (global number ``start + j``) copies base structure
    ``(start + j) % len(base)``, multiplies its lattice by ``I + ε`` with ``ε`` a random
    symmetric strain (entries uniform in ``±max_strain``) and, with probability
    ``swap_probability``, exchanges the species of its first two sites (the A and B
    cations of an ABX₃ perovskite cell). Fractional coordinates are kept. The result
    depends only on ``(seed, start + j)``, so a pool can be generated partition by
    partition, in parallel, in any order.

    Args:
        base: The structures to replicate.
        n: Candidates to make.
        seed: Random seed of the pool.
        start: Global number of the first candidate (partition offset).
        max_strain: Largest strain component.
        swap_probability: Chance of swapping the first two sites' species.
        id_prefix: Ids are ``f"{id_prefix}-{number:08d}"``.
    """
    if len(base) == 0:
        raise ValueError("no base structures to replicate")
    numbers_global = np.arange(start, start + n, dtype=np.int64)
    source = numbers_global % len(base)
    rng = np.random.default_rng([seed, start])
    eps = rng.uniform(-max_strain, max_strain, size=(n, 3, 3))
    eps = 0.5 * (eps + eps.transpose(0, 2, 1))
    deform = np.eye(3)[None] + eps
    lattices = base.lattices[source] @ deform
    swap = rng.random(n) < swap_probability
    sizes = np.diff(base.offsets)[source]
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    site = np.arange(int(offsets[-1])) - np.repeat(offsets[:-1], sizes)
    src_sites = np.repeat(base.offsets[:-1][source], sizes) + site
    numbers = base.numbers[src_sites].copy()
    frac = base.frac[src_sites].copy()
    can_swap = swap & (sizes >= 2)
    first = offsets[:-1][can_swap]
    numbers[first], numbers[first + 1] = numbers[first + 1], numbers[first].copy()
    return CompactStructures(
        ids=np.array([f"{id_prefix}-{j:08d}" for j in numbers_global], dtype=object),
        lattices=lattices,
        offsets=offsets,
        numbers=numbers,
        frac=frac,
    )


# --------------------------------------------------------------------------------------
# Streaming
# --------------------------------------------------------------------------------------


class PosteriorMeanDesirability:
    """Score = desirability of the predicted mean (``>= 0``: predicted inside the screen).

    Args:
        objective: The screen's criteria over the surrogate's targets.
    """

    def __init__(self, objective: DesirabilityObjective) -> None:
        self.objective = objective

    def __call__(self, prediction: Prediction) -> np.ndarray:
        """`n` scores for a prediction of `n` candidates."""
        return np.asarray(self.objective.desirability(prediction.mean), dtype=np.float64)


@dataclass
class RunningStats:
    """Count, mean and sum of squared deviations of `t` columns; mergeable (Chan et al.).

    Attributes:
        count: Rows seen.
        mean: `t` column means.
        m2: `t` sums of squared deviations from the mean.
    """

    count: int
    mean: np.ndarray
    m2: np.ndarray

    @classmethod
    def of(cls, values: np.ndarray) -> RunningStats:
        """Statistics of `n x t` values (NaN rows are the caller's to drop)."""
        values = np.asarray(values, dtype=np.float64)
        if len(values) == 0:
            return cls(0, np.zeros(values.shape[1:]), np.zeros(values.shape[1:]))
        mean = values.mean(axis=0)
        return cls(len(values), mean, ((values - mean) ** 2).sum(axis=0))

    def merge(self, other: RunningStats) -> RunningStats:
        """Statistics of the union of both sets of rows."""
        if other.count == 0:
            return self
        if self.count == 0:
            return other
        count = self.count + other.count
        delta = other.mean - self.mean
        mean = self.mean + delta * (other.count / count)
        m2 = self.m2 + other.m2 + delta**2 * (self.count * other.count / count)
        return RunningStats(count, mean, m2)

    @property
    def std(self) -> np.ndarray:
        """`t` sample standard deviations (ddof=1; NaN below 2 rows)."""
        if self.count < 2:
            return np.full(self.mean.shape, np.nan)
        return np.sqrt(self.m2 / (self.count - 1))


@dataclass
class PartitionSummary:
    """What a streaming task returns for one partition: a shortlist and statistics.

    Attributes:
        partition: Index of the partition in the stream.
        n_candidates: Rows in the partition file.
        failed: ``(id, reason)`` of candidates whose graph could not be built.
        rows: `k'` row numbers (in the file) of the shortlist, best first.
        ids: `k'` ids.
        scores: `k'` scores.
        mean: `k' x t` predicted means.
        std: `k' x t` predicted stds.
        samples: `s x k' x t` member predictions.
        mean_stats: Statistics of the predicted means of every scored candidate.
        std_stats: Statistics of the predicted stds.
        score_stats: Statistics of the scores (one column).
        n_satisfying: Scored candidates with score ``>= 0``.
        seconds: Task wall time (read, graphs, inference).
    """

    partition: int
    n_candidates: int
    failed: list[tuple[str, str]]
    rows: np.ndarray
    ids: np.ndarray
    scores: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    samples: np.ndarray
    mean_stats: RunningStats
    std_stats: RunningStats
    score_stats: RunningStats
    n_satisfying: int
    seconds: float


def _top_order(scores: np.ndarray, partitions: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Order: highest score first (NaN last), then partition, then row (deterministic)."""
    key = np.where(np.isnan(scores), np.inf, -scores)
    return np.lexsort((rows, partitions, key))


def _score_stream_partition(
    item: tuple[EnsembleWeights, str, int, Callable[[Prediction], np.ndarray], int, int],
) -> PartitionSummary:
    """Task: read one partition file, build its graphs, score, keep the top ``k``."""
    weights, path, partition, score_fn, k, batch_size = item
    start = time.perf_counter()
    _limit_torch_threads()
    compact = read_partition(path)
    o = compact.offsets
    from materials_ai.data.loaders import _Builder

    builder = _Builder()
    structures = [
        builder(
            compact.lattices[i], compact.numbers[o[i] : o[i + 1]], compact.frac[o[i] : o[i + 1]]
        )
        for i in range(len(compact))
    ]
    failures: list[tuple[int, str, str]] = []
    graphs = crystal_graphs(
        structures, [str(i) for i in compact.ids], weights.graph_config, failures=failures
    )
    del structures
    failed = [(structure_id, reason) for _, structure_id, reason in failures]
    bad = {row for row, _, _ in failures}
    rows = np.array([i for i in range(len(compact)) if i not in bad], dtype=np.int64)
    samples = weights.predict_samples(graphs, _batches(np.arange(len(graphs)), batch_size))
    prediction = weights.prediction(samples)
    scores = np.asarray(score_fn(prediction), dtype=np.float64)
    if scores.shape != (len(graphs),):
        raise SurrogateError(f"score function returned shape {scores.shape}, not ({len(graphs)},)")
    order = _top_order(scores, np.zeros(len(rows), np.int64), rows)[:k]
    assert prediction.samples is not None
    finite = np.isfinite(scores)
    return PartitionSummary(
        partition=partition,
        n_candidates=len(compact),
        failed=failed,
        rows=rows[order],
        ids=np.array([graphs.ids[j] for j in order], dtype=object),
        scores=scores[order],
        mean=prediction.mean[order],
        std=prediction.std[order],
        samples=prediction.samples[:, order],
        mean_stats=RunningStats.of(prediction.mean),
        std_stats=RunningStats.of(prediction.std),
        score_stats=RunningStats.of(scores[finite][:, None]),
        n_satisfying=int((scores[finite] >= 0).sum()),
        seconds=time.perf_counter() - start,
    )


@dataclass
class StreamResult:
    """The outcome of :func:`stream_score`.

    Attributes:
        ids: `k` ids of the best-scored candidates, best first.
        partitions: `k` partition index of each.
        rows: `k` row of each in its partition file.
        scores: `k` scores.
        mean: `k x t` predicted means.
        std: `k x t` predicted stds.
        samples: `s x k x t` member predictions (for an acquisition over the shortlist).
        target_names: `t` names.
        n_candidates: Candidates read.
        n_scored: Candidates scored (read minus failed).
        n_satisfying: Scored candidates with score ``>= 0``.
        failed: ``(id, reason)`` of the candidates without a graph.
        mean_stats: Statistics over the pool of each target's predicted mean.
        std_stats: Statistics over the pool of each target's predicted std.
        score_stats: Statistics of the score.
        n_partitions: Partitions in the stream.
        n_resumed: Partitions read back from the checkpoint instead of scored.
        seconds: Wall time.
    """

    ids: np.ndarray
    partitions: np.ndarray
    rows: np.ndarray
    scores: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    samples: np.ndarray
    target_names: tuple[str, ...]
    n_candidates: int
    n_scored: int
    n_satisfying: int
    failed: list[tuple[str, str]]
    mean_stats: RunningStats
    std_stats: RunningStats
    score_stats: RunningStats
    n_partitions: int
    n_resumed: int
    seconds: float

    def prediction(self) -> Prediction:
        """The shortlist's prediction (`k` candidates), e.g. for ``select_batch``."""
        return Prediction(self.mean, self.std, self.samples, self.target_names)


class _TopK:
    """Merges partition shortlists, keeping the best ``k`` (order-independent result)."""

    def __init__(self, k: int, n_members: int, n_targets: int) -> None:
        self.k = k
        self.ids = np.zeros(0, dtype=object)
        self.partitions = np.zeros(0, np.int64)
        self.rows = np.zeros(0, np.int64)
        self.scores = np.zeros(0)
        self.mean = np.zeros((0, n_targets))
        self.std = np.zeros((0, n_targets))
        self.samples = np.zeros((n_members, 0, n_targets))

    def add(self, s: PartitionSummary) -> None:
        ids = np.concatenate([self.ids, s.ids])
        partitions = np.concatenate([self.partitions, np.full(len(s.rows), s.partition)])
        rows = np.concatenate([self.rows, s.rows])
        scores = np.concatenate([self.scores, s.scores])
        order = _top_order(scores, partitions, rows)[: self.k]
        self.ids, self.partitions, self.rows = ids[order], partitions[order], rows[order]
        self.scores = scores[order]
        self.mean = np.concatenate([self.mean, s.mean])[order]
        self.std = np.concatenate([self.std, s.std])[order]
        self.samples = np.concatenate([self.samples, s.samples], axis=1)[:, order]


def _summary_path(checkpoint_dir: Path, partition: int) -> Path:
    return checkpoint_dir / f"partition_{partition:06d}.npz"


def _save_summary(path: Path, s: PartitionSummary) -> None:
    """Write one partition's summary atomically (no pickle)."""
    meta = {
        "partition": s.partition,
        "n_candidates": s.n_candidates,
        "failed": s.failed,
        "n_satisfying": s.n_satisfying,
        "seconds": s.seconds,
        "counts": [s.mean_stats.count, s.std_stats.count, s.score_stats.count],
    }
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as fh:
        np.savez(
            fh,
            meta=np.array(json.dumps(meta)),
            rows=s.rows,
            ids=np.array(list(s.ids), dtype=np.str_),
            scores=s.scores,
            mean=s.mean,
            std=s.std,
            samples=s.samples,
            mean_stats=np.stack([s.mean_stats.mean, s.mean_stats.m2]),
            std_stats=np.stack([s.std_stats.mean, s.std_stats.m2]),
            score_stats=np.stack([s.score_stats.mean, s.score_stats.m2]),
        )
    os.replace(tmp, path)


def _load_summary(path: Path) -> PartitionSummary:
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        counts = meta["counts"]
        return PartitionSummary(
            partition=int(meta["partition"]),
            n_candidates=int(meta["n_candidates"]),
            failed=[(str(a), str(b)) for a, b in meta["failed"]],
            rows=data["rows"],
            ids=np.array([str(i) for i in data["ids"]], dtype=object),
            scores=data["scores"],
            mean=data["mean"],
            std=data["std"],
            samples=data["samples"],
            mean_stats=RunningStats(counts[0], *data["mean_stats"]),
            std_stats=RunningStats(counts[1], *data["std_stats"]),
            score_stats=RunningStats(counts[2], *data["score_stats"]),
            n_satisfying=int(meta["n_satisfying"]),
            seconds=float(meta["seconds"]),
        )


def stream_score(
    surrogate: FittedEnsemble,
    paths: Sequence[str | Path],
    *,
    score: Callable[[Prediction], np.ndarray],
    executor: Executor | None = None,
    k: int = 100,
    batch_size: int = INFERENCE_BATCH_SIZE,
    retries: int = 1,
    checkpoint_dir: str | Path | None = None,
    on_partition: Callable[[PartitionSummary], None] | None = None,
) -> StreamResult:
    """Score a pool stored as partition files, keeping the top ``k`` and statistics.

    Each partition is one task (:meth:`Executor.imap_unordered`): read the file, build
    the graphs, predict with every member, score, and return a :class:`PartitionSummary`.
    The ensemble's weights are scattered once. Candidates whose graph cannot be built are
    skipped and reported with their id and reason. The result does not depend on the
    executor or on the order in which partitions finish: ties in score are broken by
    partition and row, and statistics are merged in partition order.

    Args:
        surrogate: A fitted ensemble.
        paths: Partition files (:func:`write_partition`), in pool order.
        score: Picklable function of a partition's :class:`Prediction` returning `n`
            scores, higher is better (e.g. :class:`PosteriorMeanDesirability`).
        executor: Where partitions run; ``None`` runs them in this process.
        k: Shortlist length.
        batch_size: Graphs per mini-batch of the networks.
        retries: Extra attempts of a partition whose task raised.
        checkpoint_dir: When given, each partition's summary is written there as it
            arrives, and partitions with a summary already there are not scored again.
        on_partition: Called with each new summary as it arrives (e.g. to log progress).

    Returns:
        The merged shortlist and statistics.
    """
    from materials_ai.compute import SerialExecutor

    start = time.perf_counter()
    weights = EnsembleWeights.from_surrogate(surrogate)
    n_members, n_targets = len(weights.states), len(weights.target_names)
    checkpoint = Path(checkpoint_dir) if checkpoint_dir is not None else None
    summaries: dict[int, PartitionSummary] = {}
    if checkpoint is not None:
        checkpoint.mkdir(parents=True, exist_ok=True)
        for p in range(len(paths)):
            path = _summary_path(checkpoint, p)
            if path.exists():
                summaries[p] = _load_summary(path)
    n_resumed = len(summaries)
    todo = [p for p in range(len(paths)) if p not in summaries]
    # Keep only what the merge needs of each summary: the shortlist lives in `top`.
    top = _TopK(k, n_members, n_targets)
    for p, s in summaries.items():
        top.add(s)
        summaries[p] = _strip(s)
    if todo:
        executor = executor or SerialExecutor(progress=False)
        ref = executor.scatter(weights)
        items = [(ref, str(paths[p]), p, score, k, batch_size) for p in todo]
        for _, summary in executor.imap_unordered(
            _score_stream_partition, items, retries=retries, desc="scoring partitions"
        ):
            if checkpoint is not None:
                _save_summary(_summary_path(checkpoint, summary.partition), summary)
            top.add(summary)
            if on_partition is not None:
                on_partition(summary)
            summaries[summary.partition] = _strip(summary)
    ordered = [summaries[p] for p in range(len(paths))]
    mean_stats = RunningStats.of(np.zeros((0, n_targets)))
    std_stats = RunningStats.of(np.zeros((0, n_targets)))
    score_stats = RunningStats.of(np.zeros((0, 1)))
    for s in ordered:
        mean_stats = mean_stats.merge(s.mean_stats)
        std_stats = std_stats.merge(s.std_stats)
        score_stats = score_stats.merge(s.score_stats)
    failed = [f for s in ordered for f in s.failed]
    n_candidates = sum(s.n_candidates for s in ordered)
    return StreamResult(
        ids=top.ids,
        partitions=top.partitions,
        rows=top.rows,
        scores=top.scores,
        mean=top.mean,
        std=top.std,
        samples=top.samples,
        target_names=weights.target_names,
        n_candidates=n_candidates,
        n_scored=n_candidates - len(failed),
        n_satisfying=sum(s.n_satisfying for s in ordered),
        failed=failed,
        mean_stats=mean_stats,
        std_stats=std_stats,
        score_stats=score_stats,
        n_partitions=len(paths),
        n_resumed=n_resumed,
        seconds=time.perf_counter() - start,
    )


def _strip(s: PartitionSummary) -> PartitionSummary:
    """The summary without its shortlist arrays (already merged): O(t) memory."""
    empty = np.zeros(0)
    return PartitionSummary(
        partition=s.partition,
        n_candidates=s.n_candidates,
        failed=s.failed,
        rows=empty.astype(np.int64),
        ids=empty.astype(object),
        scores=empty,
        mean=empty,
        std=empty,
        samples=empty,
        mean_stats=s.mean_stats,
        std_stats=s.std_stats,
        score_stats=s.score_stats,
        n_satisfying=s.n_satisfying,
        seconds=s.seconds,
    )
