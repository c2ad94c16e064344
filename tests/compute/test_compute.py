"""Tests of :mod:`materials_ai.compute`: serial and Dask executors, ``imap_unordered``, faults."""

from __future__ import annotations

import logging
import math
import os
import re
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from materials_ai.compute import (
    WORKER_MALLOC_ENV,
    ComputeConfig,
    DaskExecutor,
    Executor,
    SerialExecutor,
    make_executor,
)
from materials_ai.errors import MaterialsAIError


class TaskFailedError(RuntimeError):
    """A custom exception type, to check that Dask re-raises it unchanged."""


def square_minus_index(x: int) -> int:
    return x * x - 3 * x


def fail_on_seven(x: int) -> int:
    if x == 7:
        raise TaskFailedError(f"bad item {x}")
    return x


def scaled_sum(item: tuple[list[float], int]) -> float:
    table, i = item
    return sum(table) * i


ITEMS = [5, 3, 9, 0, 1, 8, 2, 7, 4, 6, 11, 10]


@pytest.fixture(scope="module")
def dask_executor() -> Iterator[DaskExecutor]:
    """A real LocalCluster: 2 worker processes × 1 thread, on 127.0.0.1; closed at the end."""
    config = ComputeConfig(
        kind="local", n_workers=2, threads_per_worker=1, processes=True, memory_limit=None
    )
    executor = make_executor(config, progress=False)
    assert isinstance(executor, DaskExecutor)
    try:
        yield executor
    finally:
        executor.close()
    assert executor.client.status == "closed"
    assert executor.cluster is not None and executor.cluster.status.name == "closed"


# ---------------------------------------------------------------------------------- serial


def test_serial_map_keeps_input_order() -> None:
    with SerialExecutor(progress=False) as executor:
        assert isinstance(executor, Executor)
        assert executor.map(square_minus_index, ITEMS) == [x * x - 3 * x for x in ITEMS]
        assert executor.map(square_minus_index, []) == []


def test_serial_map_with_progress_bar_and_scatter_identity() -> None:
    table = [1.0, 2.0]
    executor = make_executor(None, progress=True)
    assert isinstance(executor, SerialExecutor)
    ref = executor.scatter(table)
    assert ref is table
    assert executor.map(scaled_sum, [(ref, i) for i in range(4)], desc="sum") == [
        0.0,
        3.0,
        6.0,
        9.0,
    ]


def test_serial_exception_propagates() -> None:
    with pytest.raises(TaskFailedError, match="bad item 7"):
        SerialExecutor(progress=False).map(fail_on_seven, ITEMS)


# ------------------------------------------------------------------------------------ dask


def test_local_cluster_is_bound_to_loopback(dask_executor: DaskExecutor) -> None:
    client = dask_executor.client
    assert client.scheduler_info()["address"].startswith("tcp://127.0.0.1:")
    workers = client.scheduler_info()["workers"]
    assert len(workers) == 2
    assert all(address.startswith("tcp://127.0.0.1:") for address in workers)
    assert all(info["nthreads"] == 1 for info in workers.values())
    assert dask_executor.dashboard_link is not None
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/status", dask_executor.dashboard_link)


def _malloc_env_at_start() -> dict[str, str | None]:
    """The worker process's MALLOC_* variables as they were when it was exec-ed.

    glibc reads them once, at start-up; ``/proc/self/environ`` keeps the environment the
    process started with (later ``os.environ`` changes do not show there).
    """
    raw = Path("/proc/self/environ").read_bytes().split(b"\0")
    start = dict(item.decode().split("=", 1) for item in raw if b"=" in item)
    return {name: start.get(name) for name in WORKER_MALLOC_ENV}


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux /proc")
def test_local_workers_start_with_the_fast_malloc_settings(dask_executor: DaskExecutor) -> None:
    expected = {name: str(value) for name, value in WORKER_MALLOC_ENV.items()}
    assert list(dask_executor.client.run(_malloc_env_at_start).values()) == [expected, expected]


def test_dask_map_equals_serial_map(dask_executor: DaskExecutor) -> None:
    expected = SerialExecutor(progress=False).map(square_minus_index, ITEMS)
    assert dask_executor.map(square_minus_index, ITEMS, desc="squares") == expected
    assert dask_executor.map(square_minus_index, []) == []
    # Equal items are computed once each (pure=False) and keep their positions.
    assert dask_executor.map(square_minus_index, [4, 4, 1, 4]) == [4, 4, -2, 4]


def test_dask_map_with_progress_bar(dask_executor: DaskExecutor) -> None:
    dask_executor.progress = True
    try:
        assert dask_executor.map(math.sqrt, [16.0, 4.0, 9.0], desc="sqrt") == [4.0, 2.0, 3.0]
    finally:
        dask_executor.progress = False


def test_dask_task_exception_propagates_unchanged(dask_executor: DaskExecutor) -> None:
    with pytest.raises(TaskFailedError, match="bad item 7"):
        dask_executor.map(fail_on_seven, ITEMS)
    # The executor is still usable afterwards.
    assert dask_executor.map(fail_on_seven, [1, 2]) == [1, 2]


def test_dask_scatter_reference_inside_items(dask_executor: DaskExecutor) -> None:
    table = [0.5, 1.5, 2.0]  # a list: must arrive whole, not element by element
    ref = dask_executor.scatter(table)
    assert dask_executor.map(scaled_sum, [(ref, i) for i in range(5)]) == [
        0.0,
        4.0,
        8.0,
        12.0,
        16.0,
    ]


def test_remote_executor_connects_without_owning_the_cluster(
    dask_executor: DaskExecutor,
) -> None:
    assert dask_executor.cluster is not None
    address = dask_executor.cluster.scheduler_address
    with make_executor(ComputeConfig(kind="remote", scheduler_address=address)) as remote:
        assert isinstance(remote, DaskExecutor)
        assert remote.cluster is None
        assert remote.map(square_minus_index, ITEMS[:4]) == [10, 0, 54, 0]
    # Disconnecting left the shared cluster running.
    assert dask_executor.map(square_minus_index, [2]) == [-2]


def test_remote_executor_unreachable_scheduler_is_a_clear_error() -> None:
    config = ComputeConfig(
        kind="remote", scheduler_address="tcp://127.0.0.1:9", connect_timeout_s=1
    )
    with pytest.raises(MaterialsAIError, match=r"Cannot reach the Dask scheduler"):
        make_executor(config)


def test_threaded_local_cluster_without_dashboard() -> None:
    config = ComputeConfig(
        kind="local", n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    )
    with make_executor(config, progress=False) as executor:
        assert isinstance(executor, DaskExecutor)
        assert executor.dashboard_link is None
        assert executor.map(square_minus_index, [1, 2, 3]) == [-2, -2, 0]


def test_scatter_on_adaptive_cluster_with_no_worker_yet(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """As on SLURM with minimum_jobs=0: no worker exists until work arrives."""
    from distributed import Client, LocalCluster

    caplog.set_level(logging.DEBUG, logger="materials_ai.compute")
    cluster = LocalCluster(n_workers=0, processes=False, dashboard_address=None)
    cluster.adapt(minimum=0, maximum=1, interval="50ms")
    with DaskExecutor(Client(cluster, set_as_default=False), cluster=cluster) as executor:
        ref = executor.scatter([1.0, 1.0])
        assert executor.map(scaled_sum, [(ref, i) for i in range(3)]) == [0.0, 2.0, 4.0]
    assert cluster.status.name == "closed"
    assert "travels as a task" in caplog.text


# --------------------------------------------------------------------------- imap_unordered


def record_and_square(item: tuple[int, str]) -> int:
    """Square ``x`` and leave a marker file ``<dir>/<x>`` (to see which tasks ran)."""
    x, marker_dir = item
    Path(marker_dir, str(x)).touch()
    return x * x


def slow_record_and_square(item: tuple[int, str]) -> int:
    time.sleep(0.2)
    return record_and_square(item)


def fail_first_attempt(item: tuple[int, str]) -> int:
    """Raise the first time an item is seen (a marker file remembers it across processes)."""
    x, marker_dir = item
    marker = Path(marker_dir, f"attempted-{x}")
    if not marker.exists():
        marker.touch()
        raise TaskFailedError(f"transient failure of {x}")
    return x * x


def test_serial_imap_unordered_yields_index_result_pairs_in_order() -> None:
    executor = SerialExecutor(progress=True)
    pairs = list(executor.imap_unordered(square_minus_index, ITEMS, desc="squares"))
    assert pairs == [(i, x * x - 3 * x) for i, x in enumerate(ITEMS)]
    assert list(executor.imap_unordered(square_minus_index, [])) == []


def test_serial_imap_unordered_retries_then_raises(tmp_path: Path) -> None:
    executor = SerialExecutor(progress=False)
    items = [(x, str(tmp_path)) for x in range(4)]
    assert dict(executor.imap_unordered(fail_first_attempt, items, retries=1)) == {
        0: 0,
        1: 1,
        2: 4,
        3: 9,
    }
    with pytest.raises(TaskFailedError, match="bad item 7"):
        list(executor.imap_unordered(fail_on_seven, ITEMS, retries=2))
    with pytest.raises(ValueError, match="retries"):
        list(executor.imap_unordered(fail_on_seven, ITEMS, retries=-1))


def test_serial_imap_unordered_runs_nothing_ahead_of_the_consumer(tmp_path: Path) -> None:
    items = [(x, str(tmp_path)) for x in range(6)]
    for i, _ in SerialExecutor(progress=False).imap_unordered(record_and_square, items):
        if i == 1:
            break
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0", "1"]


def _record_until_crash(
    executor: Executor, items: list[tuple[int, str]], log: Path, crash_after: int | None
) -> None:
    """A consumer that appends each (index, result) to a log, then crashes."""
    for n, (i, result) in enumerate(executor.imap_unordered(record_and_square, items), 1):
        with log.open("a") as fh:
            fh.write(f"{items[i][0]} {result}\n")
        if crash_after is not None and n == crash_after:
            raise KeyboardInterrupt("consumer crashed")


def _recorded(log: Path) -> dict[int, int]:
    return {int(a): int(b) for a, b in (line.split() for line in log.read_text().splitlines())}


@pytest.mark.parametrize("kind", ["serial", "dask"])
def test_imap_unordered_crash_of_the_consumer_loses_no_recorded_result(
    kind: str, tmp_path: Path, dask_executor: DaskExecutor
) -> None:
    executor: Executor = dask_executor if kind == "dask" else SerialExecutor(progress=False)
    markers = tmp_path / "markers"
    markers.mkdir()
    items = [(x, str(markers)) for x in range(10)]
    log = tmp_path / "results.log"
    with pytest.raises(KeyboardInterrupt):
        _record_until_crash(executor, items, log, crash_after=3)
    assert len(_recorded(log)) == 3
    # Resume: submit only the items without a record.
    remaining = [item for item in items if item[0] not in _recorded(log)]
    _record_until_crash(executor, remaining, log, crash_after=None)
    assert _recorded(log) == {x: x * x for x in range(10)}
    assert len(log.read_text().splitlines()) == 10  # nothing recorded twice


def test_dask_imap_unordered_yields_every_result_once(dask_executor: DaskExecutor) -> None:
    dask_executor.progress = True
    try:
        pairs = list(dask_executor.imap_unordered(square_minus_index, ITEMS, desc="squares"))
    finally:
        dask_executor.progress = False
    assert sorted(i for i, _ in pairs) == list(range(len(ITEMS)))
    assert all(result == ITEMS[i] ** 2 - 3 * ITEMS[i] for i, result in pairs)
    assert list(dask_executor.imap_unordered(square_minus_index, [])) == []


def test_dask_imap_unordered_retries_on_another_attempt(
    dask_executor: DaskExecutor, tmp_path: Path
) -> None:
    items = [(x, str(tmp_path)) for x in range(6)]
    assert dict(dask_executor.imap_unordered(fail_first_attempt, items, retries=1)) == {
        x: x * x for x in range(6)
    }
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    items = [(x, str(fresh)) for x in range(6)]
    with pytest.raises(TaskFailedError, match="transient failure"):
        list(dask_executor.imap_unordered(fail_first_attempt, items, retries=0))


def test_dask_imap_unordered_leaving_early_cancels_unfinished_tasks(
    dask_executor: DaskExecutor, tmp_path: Path
) -> None:
    items = [(x, str(tmp_path)) for x in range(30)]
    for n, _ in enumerate(dask_executor.imap_unordered(slow_record_and_square, items), 1):
        if n == 2:
            break
    time.sleep(1.0)  # what was not cancelled would finish meanwhile (2 workers x 5 tasks)
    ran = len(list(tmp_path.iterdir()))
    assert ran < 12, f"{ran} of 30 tasks ran after the consumer left"
    assert not [key for key in dask_executor.client.futures if "slow_record" in str(key)]


# --------------------------------------------------------------------------- fault tolerance


def square_on_worker(item: tuple[list[float], int, str]) -> tuple[int, int]:
    """Square ``x`` slowly, leaving a ``<x>-<pid>`` marker; return (x*x*table[0], pid)."""
    table, x, marker_dir = item
    Path(marker_dir, f"{x}-{os.getpid()}").touch()
    time.sleep(0.15)
    return int(x * x * table[0]), os.getpid()


def _kill_when_started(victim: int, marker_dir: Path, tasks: int, killed: list[int]) -> None:
    """Kill process ``victim`` once it has started ``tasks`` tasks (SIGKILL, like OOM)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if sum(1 for p in marker_dir.iterdir() if p.name.endswith(f"-{victim}")) >= tasks:
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)
            return
        time.sleep(0.005)


@pytest.mark.parametrize("method", ["map", "imap_unordered"])
def test_killing_a_worker_mid_map_still_gives_the_complete_correct_result(
    method: str, tmp_path: Path, dask_executor: DaskExecutor
) -> None:
    """A worker process dies (SIGKILL, as from the OOM killer or a walltime) during a map:
    its running task and the results it held are recomputed elsewhere.

    Runs on the module's 2-process LocalCluster (last in the module); its nanny restarts
    the killed worker, and each run first waits until both workers are back.
    """
    executor = dask_executor
    executor.client.wait_for_workers(2, timeout=60)
    pids = executor.client.run(os.getpid)
    assert len(pids) == 2
    victim = pids[sorted(pids)[0]]
    table = executor.scatter([3.0])  # replicated: survives the loss of one worker
    items = [(table, x, str(tmp_path)) for x in range(24)]
    killed: list[int] = []
    killer = threading.Thread(target=_kill_when_started, args=(victim, tmp_path, 3, killed))
    killer.start()
    try:
        if method == "map":
            results = executor.map(square_on_worker, items)
        else:
            pairs = dict(executor.imap_unordered(square_on_worker, items))
            results = [pairs[i] for i in range(len(items))]
    finally:
        killer.join()
    assert killed == [victim]
    assert [value for value, _ in results] == [3 * x * x for x in range(24)]
    started_on_victim = {
        int(p.name.split("-")[0]) for p in tmp_path.iterdir() if p.name.endswith(f"-{victim}")
    }
    assert len(started_on_victim) >= 3
    if method == "map":
        # map gathers at the end: everything the victim computed was lost with it and
        # recomputed by the surviving (or the restarted) worker.
        assert victim not in {pid for _, pid in results}
    else:
        # The task running when the victim died was rerun elsewhere.
        rerun = [x for x in started_on_victim if results[x][1] != victim]
        assert rerun
