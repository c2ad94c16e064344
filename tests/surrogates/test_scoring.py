"""Partitioned, distributed and streamed pool scoring (:mod:`materials_ai.surrogates.scoring`).

The Dask tests share one real LocalCluster (2 worker processes x 1 thread, 127.0.0.1),
closed at the end of the module.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from materials_ai.acquisition.objective import Criterion, DesirabilityObjective, ObjectiveConfig
from materials_ai.compute import ComputeConfig, DaskExecutor, SerialExecutor, make_executor
from materials_ai.errors import DataError
from materials_ai.graphs import PackedGraphs, build_graphs
from materials_ai.surrogates.ensemble import GraphEnsembleSurrogate
from materials_ai.surrogates.error_distribution import StandardizedErrors
from materials_ai.surrogates.prediction import Prediction
from materials_ai.surrogates.scoring import (
    CompactStructures,
    EnsembleWeights,
    PartitionSummary,
    PosteriorMeanDesirability,
    RunningStats,
    default_partition_size,
    plan_partitions,
    read_partition,
    replicate_structures,
    score_pool,
    stream_score,
    write_partition,
)
from materials_ai.surrogates.training import _batches
from materials_ai.testing.models import (
    TINY_GRAPH,
    binary_zincblende_cells,
    mean_atomic_numbers,
    tiny_ensemble_config,
)

TARGETS = ("mean_z", "volume_per_atom")


def _labels(structures: list[Any]) -> np.ndarray:
    volume = np.array([s.volume / len(s) for s in structures])
    return np.stack([mean_atomic_numbers(structures), volume], axis=1)


@pytest.fixture(scope="module")
def structures() -> list[Any]:
    """32 zinc-blende cells of C/Si/Ge/Sn at two lattice constants."""
    return binary_zincblende_cells(("C", "Si", "Ge", "Sn"), (5.2, 5.8))


@pytest.fixture(scope="module")
def graphs(structures: list[Any]) -> PackedGraphs:
    return build_graphs(structures, [f"s{i}" for i in range(len(structures))], TINY_GRAPH)


@pytest.fixture(scope="module")
def surrogate(graphs: PackedGraphs, structures: list[Any]) -> GraphEnsembleSurrogate:
    """Three tiny members, a few epochs: enough for distinct, non-trivial predictions."""
    model = GraphEnsembleSurrogate(tiny_ensemble_config(n_members=3, max_epochs=3), TARGETS)
    model.fit_graphs(graphs, _labels(structures))
    return model


@pytest.fixture(scope="module")
def dask_executor() -> Iterator[DaskExecutor]:
    config = ComputeConfig(
        kind="local", n_workers=2, threads_per_worker=1, processes=True, memory_limit=None
    )
    executor = make_executor(config, progress=False)
    assert isinstance(executor, DaskExecutor)
    try:
        yield executor
    finally:
        executor.close()
    assert executor.cluster is not None and executor.cluster.status.name == "closed"


def _assert_same_prediction(a: Prediction, b: Prediction) -> None:
    assert a.samples is not None and b.samples is not None
    assert a.target_names == b.target_names
    np.testing.assert_array_equal(a.samples, b.samples)
    np.testing.assert_array_equal(a.mean, b.mean)
    np.testing.assert_array_equal(a.std, b.std)


# ------------------------------------------------------------------------------ partitions


@pytest.mark.parametrize(("n", "batch", "size"), [(1000, 256, 300), (97, 10, 25), (5, 256, 1)])
def test_partitions_are_runs_of_the_serial_batches(n: int, batch: int, size: int) -> None:
    plan = plan_partitions(n, batch, size)
    serial = [(int(b[0]), int(b[-1]) + 1) for b in _batches(np.arange(n), batch)]
    assert [bounds for part in plan for bounds in part] == serial
    for part in plan:
        assert len(part) == 1 or part[-1][1] - part[0][0] <= size
    assert plan_partitions(0, batch, size) == []


def test_default_partition_size_bounds() -> None:
    serial = SerialExecutor(progress=False)
    assert default_partition_size(18_928, serial) == 2366  # eight partitions on one worker
    assert default_partition_size(100, serial, batch_size=256) == 256
    assert default_partition_size(10**7, serial) == 8192


# ----------------------------------------------------------------------- in-memory scoring


def test_score_pool_serial_is_bitwise_predict_graphs(
    surrogate: GraphEnsembleSurrogate, graphs: PackedGraphs
) -> None:
    expected = surrogate.predict_graphs(graphs, batch_size=5)
    for size in (1, 7, 11, 1000):
        got = score_pool(surrogate, graphs, partition_size=size, batch_size=5)
        _assert_same_prediction(got, expected)
    empty = score_pool(surrogate, PackedGraphs.empty())
    assert empty.mean.shape == (0, 2)


def test_score_pool_keeps_recalibrated_spread(
    surrogate: GraphEnsembleSurrogate, graphs: PackedGraphs
) -> None:
    from materials_ai.surrogates.error_distribution import QUANTILE_PROBABILITIES

    errors = StandardizedErrors(np.linspace(-3.0, 5.0, QUANTILE_PROBABILITIES.size))
    surrogate.std_scales = {"mean_z": 2.0}
    surrogate.error_distributions = {"mean_z": errors}
    try:
        expected = surrogate.predict_graphs(graphs)
        got = score_pool(surrogate, graphs, partition_size=10, batch_size=4)
    finally:
        surrogate.std_scales, surrogate.error_distributions = {}, {}
    np.testing.assert_allclose(got.std, expected.std, rtol=1e-12, atol=0)
    raw = surrogate.predict_graphs(graphs)
    np.testing.assert_allclose(got.std[:, 0], 2.0 * raw.std[:, 0], rtol=1e-12)
    assert got.errors == {"mean_z": errors}
    np.testing.assert_allclose(got.interval(0.9)[1], expected.interval(0.9)[1], rtol=1e-12)


def test_weights_pickle_without_built_models(surrogate: GraphEnsembleSurrogate) -> None:
    import pickle

    weights = EnsembleWeights.from_surrogate(surrogate)
    weights.models()
    clone = pickle.loads(pickle.dumps(weights))
    assert clone._models is None
    assert clone.target_names == TARGETS and len(clone.states) == 3


def test_score_pool_on_local_cluster_is_bitwise_serial_and_scatters_once(
    surrogate: GraphEnsembleSurrogate,
    graphs: PackedGraphs,
    dask_executor: DaskExecutor,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from distributed import Future

    scattered: list[object] = []
    mapped: list[list[Any]] = []
    scatter, map_ = dask_executor.scatter, dask_executor.map

    def spy_scatter(obj: object) -> Any:
        scattered.append(obj)
        return scatter(obj)

    def spy_map(fn: Any, items: Any, **kwargs: Any) -> Any:
        mapped.append(list(items))
        return map_(fn, items, **kwargs)

    monkeypatch.setattr(dask_executor, "scatter", spy_scatter)
    monkeypatch.setattr(dask_executor, "map", spy_map)
    expected = surrogate.predict_graphs(graphs, batch_size=4)
    got = surrogate.predict_graphs(graphs, batch_size=4, executor=dask_executor, partition_size=9)
    _assert_same_prediction(got, expected)
    assert len(scattered) == 1 and isinstance(scattered[0], EnsembleWeights)
    [items] = mapped
    assert len(items) == 4  # 8 batches of 4, two per partition
    assert all(isinstance(item[0], Future) for item in items)  # a reference, not the weights
    assert len({item[0].key for item in items}) == 1


def _torch_threads_in_task(_: int) -> int:
    from materials_ai.surrogates.scoring import _limit_torch_threads

    torch.set_num_threads(4)
    _limit_torch_threads()
    return torch.get_num_threads()


def test_tasks_use_the_workers_thread_count(dask_executor: DaskExecutor) -> None:
    assert dask_executor.map(_torch_threads_in_task, [0, 1]) == [1, 1]


def test_members_trained_on_local_cluster_equal_serial_training(
    graphs: PackedGraphs, structures: list[Any], dask_executor: DaskExecutor
) -> None:
    config = tiny_ensemble_config(n_members=2, max_epochs=2)
    serial = GraphEnsembleSurrogate(config, TARGETS)
    parallel = GraphEnsembleSurrogate(config, TARGETS)
    y = _labels(structures)
    serial.fit_graphs(graphs, y, seed_offset=3)
    parallel.fit_graphs(graphs, y, seed_offset=3, executor=dask_executor)
    for a, b in zip(serial.member_states, parallel.member_states, strict=True):
        assert a.keys() == b.keys()
        for key in a:
            assert torch.equal(a[key], b[key]), key
    _assert_same_prediction(parallel.predict_graphs(graphs), serial.predict_graphs(graphs))


# ---------------------------------------------------------------------- partition files


def test_partition_file_round_trip(structures: list[Any], tmp_path: Path) -> None:
    compact = CompactStructures.from_structures(structures[:5], [f"c{i}" for i in range(5)])
    path = write_partition(tmp_path / "p.parquet", compact)
    back = read_partition(path)
    assert list(back.ids) == [f"c{i}" for i in range(5)]
    np.testing.assert_array_equal(back.lattices, compact.lattices)
    np.testing.assert_array_equal(back.offsets, compact.offsets)
    np.testing.assert_array_equal(back.numbers, compact.numbers)
    np.testing.assert_array_equal(back.frac, compact.frac)
    rebuilt = back.structures()
    assert [s.composition for s in rebuilt] == [s.composition for s in structures[:5]]
    with pytest.raises(DataError, match=r"missing\.parquet"):
        read_partition(tmp_path / "missing.parquet")


def test_replicated_pool_is_reproducible_by_partition(structures: list[Any]) -> None:
    base = CompactStructures.from_structures(structures, [f"b{i}" for i in range(32)])
    whole = replicate_structures(base, 50, seed=7)
    first = replicate_structures(base, 20, seed=7)
    second = replicate_structures(base, 30, seed=7, start=20)
    again = replicate_structures(base, 20, seed=7)
    np.testing.assert_array_equal(first.lattices, again.lattices)
    assert list(whole.ids[:20]) == list(first.ids) and whole.ids[20] == "rep-00000020"
    assert list(second.ids) == list(whole.ids[20:])
    # Each candidate: the base cell strained by at most 3 % per component ...
    source = np.arange(50) % 32
    deform = np.linalg.solve(base.lattices[source], whole.lattices)
    assert np.abs(deform - np.eye(3)).max() <= 0.03 + 1e-12
    assert np.abs(deform - np.eye(3)).max() > 0.01
    # ... and with the two sites' species swapped in about half of them.
    pairs = whole.numbers.reshape(50, 2)
    base_pairs = base.numbers.reshape(32, 2)[source]
    swapped = (pairs == base_pairs[:, ::-1]).all(axis=1) & (base_pairs[:, 0] != base_pairs[:, 1])
    kept = (pairs == base_pairs).all(axis=1)
    assert (swapped | kept).all() and 10 <= swapped.sum() <= 35


# ---------------------------------------------------------------------------- streaming


def _isolated_pair(candidate_id: str) -> CompactStructures:
    """Two atoms 34 Å apart in a 40 Å cell: no graph within the 12 Å largest cutoff."""
    return CompactStructures(
        ids=np.array([candidate_id], dtype=object),
        lattices=np.eye(3)[None] * 40.0,
        offsets=np.array([0, 2]),
        numbers=np.array([14, 14], dtype=np.uint8),
        frac=np.array([[0.0, 0.0, 0.0], [0.5, 0.5, 0.5]]),
    )


def _concat(a: CompactStructures, b: CompactStructures) -> CompactStructures:
    return CompactStructures(
        ids=np.concatenate([a.ids, b.ids]),
        lattices=np.concatenate([a.lattices, b.lattices]),
        offsets=np.concatenate([a.offsets, b.offsets[1:] + a.offsets[-1]]),
        numbers=np.concatenate([a.numbers, b.numbers]),
        frac=np.concatenate([a.frac, b.frac]),
    )


@pytest.fixture(scope="module")
def pool_files(structures: list[Any], tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """105 replicated candidates in 3 Parquet partitions; partition 1 holds a bad one."""
    base = CompactStructures.from_structures(structures, [f"b{i}" for i in range(32)])
    folder = tmp_path_factory.mktemp("pool")
    sizes, paths, start = (40, 40, 25), [], 0
    for p, size in enumerate(sizes):
        part = replicate_structures(base, size, seed=3, start=start)
        if p == 1:
            part = _concat(part, _isolated_pair("bad-0"))
        paths.append(write_partition(folder / f"part-{p:03d}.parquet", part))
        start += size
    return paths


@pytest.fixture(scope="module")
def objective() -> DesirabilityObjective:
    config = ObjectiveConfig(criteria=[Criterion(target="mean_z", min=25.0, scale=5.0)])
    return DesirabilityObjective(config, TARGETS)


def _reference(
    surrogate: GraphEnsembleSurrogate, paths: list[Path], objective: DesirabilityObjective
) -> tuple[list[str], np.ndarray, Prediction]:
    """Score every candidate partition by partition with predict_graphs (no streaming)."""
    ids, scores, predictions = [], [], []
    for path in paths:
        compact = read_partition(path)
        keep = [i for i, c in enumerate(compact.ids) if not str(c).startswith("bad")]
        structures = [compact.structures()[i] for i in keep]
        graphs = build_graphs(structures, [str(compact.ids[i]) for i in keep], TINY_GRAPH)
        prediction = surrogate.predict_graphs(graphs, batch_size=16)
        ids += list(graphs.ids)
        scores.append(objective.desirability(prediction.mean))
        predictions.append(prediction)
    assert all(p.samples is not None for p in predictions)
    merged = Prediction(
        np.concatenate([p.mean for p in predictions]),
        np.concatenate([p.std for p in predictions]),
        np.concatenate([p.samples for p in predictions if p.samples is not None], axis=1),
        TARGETS,
    )
    return ids, np.concatenate(scores), merged


def test_stream_score_keeps_the_true_top_k_and_pool_statistics(
    surrogate: GraphEnsembleSurrogate,
    pool_files: list[Path],
    objective: DesirabilityObjective,
) -> None:
    result = stream_score(
        surrogate,
        pool_files,
        score=PosteriorMeanDesirability(objective),
        k=10,
        batch_size=16,
    )
    ids, scores, full = _reference(surrogate, pool_files, objective)
    best = np.argsort(-scores, kind="stable")[:10]
    assert list(result.ids) == [ids[i] for i in best]
    np.testing.assert_array_equal(result.scores, scores[best])
    np.testing.assert_array_equal(result.mean, full.mean[best])
    np.testing.assert_array_equal(result.std, full.std[best])
    assert full.samples is not None
    np.testing.assert_array_equal(result.samples, full.samples[:, best])
    assert (result.n_candidates, result.n_scored, result.n_partitions) == (106, 105, 3)
    assert [f[0] for f in result.failed] == ["bad-0"] and "no neighbour" in result.failed[0][1]
    assert result.n_satisfying == int((scores >= 0).sum())
    assert result.mean_stats.count == 105
    np.testing.assert_allclose(result.mean_stats.mean, full.mean.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(result.mean_stats.std, full.mean.std(axis=0, ddof=1), rtol=1e-10)
    np.testing.assert_allclose(result.std_stats.mean, full.std.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(result.score_stats.mean, [scores.mean()], rtol=1e-12)
    shortlist = result.prediction()
    assert len(shortlist) == 10 and shortlist.target_names == TARGETS
    # The rows point back into the partition files.
    for pid, row, cid in zip(result.partitions, result.rows, result.ids, strict=True):
        assert read_partition(pool_files[pid]).ids[row] == cid


def test_stream_score_on_local_cluster_equals_serial(
    surrogate: GraphEnsembleSurrogate,
    pool_files: list[Path],
    objective: DesirabilityObjective,
    dask_executor: DaskExecutor,
) -> None:
    score = PosteriorMeanDesirability(objective)
    serial = stream_score(surrogate, pool_files, score=score, k=7, batch_size=16)
    seen: list[int] = []
    parallel = stream_score(
        surrogate,
        pool_files,
        score=score,
        k=7,
        batch_size=16,
        executor=dask_executor,
        on_partition=lambda s: seen.append(s.partition),
    )
    assert sorted(seen) == [0, 1, 2]
    assert list(parallel.ids) == list(serial.ids)
    for name in ("scores", "mean", "std", "samples", "partitions", "rows"):
        np.testing.assert_array_equal(getattr(parallel, name), getattr(serial, name))
    np.testing.assert_array_equal(parallel.mean_stats.m2, serial.mean_stats.m2)
    assert parallel.failed == serial.failed


def test_interrupted_stream_resumes_from_its_checkpoint(
    surrogate: GraphEnsembleSurrogate,
    pool_files: list[Path],
    objective: DesirabilityObjective,
    tmp_path: Path,
) -> None:
    score = PosteriorMeanDesirability(objective)
    uninterrupted = stream_score(surrogate, pool_files, score=score, k=5, batch_size=16)

    def crash_after_two(summary: PartitionSummary) -> None:
        if summary.partition == 1:
            raise KeyboardInterrupt("stopped after two partitions")

    with pytest.raises(KeyboardInterrupt):
        stream_score(
            surrogate,
            pool_files,
            score=score,
            k=5,
            batch_size=16,
            checkpoint_dir=tmp_path,
            on_partition=crash_after_two,
        )
    assert len(list(tmp_path.glob("partition_*.npz"))) == 2
    scored: list[int] = []
    resumed = stream_score(
        surrogate,
        pool_files,
        score=score,
        k=5,
        batch_size=16,
        checkpoint_dir=tmp_path,
        on_partition=lambda s: scored.append(s.partition),
    )
    assert scored == [2] and resumed.n_resumed == 2
    assert list(resumed.ids) == list(uninterrupted.ids)
    np.testing.assert_array_equal(resumed.samples, uninterrupted.samples)
    np.testing.assert_array_equal(resumed.mean_stats.mean, uninterrupted.mean_stats.mean)
    assert resumed.failed == uninterrupted.failed and resumed.n_candidates == 106


def test_running_stats_merge_matches_numpy() -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(3.0, 2.0, size=(101, 2))
    merged = RunningStats.of(values[:0])
    for chunk in np.array_split(values, 7):
        merged = merged.merge(RunningStats.of(chunk))
    assert merged.count == 101
    np.testing.assert_allclose(merged.mean, values.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(merged.std, values.std(axis=0, ddof=1), rtol=1e-12)
    assert np.isnan(RunningStats.of(values[:1]).std).all()
