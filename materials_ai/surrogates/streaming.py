"""Streamed scoring of pools too large for memory (10⁶ candidates and up).

The pool lies on disk as Parquet partitions of compact structures
(:mod:`materials_ai.surrogates.partitions`). Each task of :func:`stream_score` reads one
partition, builds its graphs, scores them and returns only a top-`k` shortlist (with
member samples, for the acquisition) and summary statistics; the caller merges
shortlists as partitions finish, so its memory holds `k` candidates, not `n`, and each
worker holds one partition at a time. With a ``checkpoint_dir`` every finished
partition's summary is written to disk as it arrives, and a rerun skips those
partitions: an interrupted stream loses no finished work.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from materials_ai.errors import SurrogateError
from materials_ai.graphs.builder import crystal_graphs
from materials_ai.surrogates.partitions import read_partition
from materials_ai.surrogates.prediction import Prediction
from materials_ai.surrogates.training import (
    INFERENCE_BATCH_SIZE,
    _batches,
)
from materials_ai.surrogates.weights import EnsembleWeights, FittedEnsemble, _limit_torch_threads

if TYPE_CHECKING:
    from materials_ai.acquisition.objective import DesirabilityObjective
    from materials_ai.compute import Executor


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
    from materials_ai.data.structure_cache import _Builder

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
        paths: Partition files (:func:`~materials_ai.surrogates.partitions.write_partition`),
            in pool order.
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
