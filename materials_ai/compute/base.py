"""Executors' contract (:class:`Executor`), the serial executor and worker helpers.

See :mod:`materials_ai.compute` for the contract of ``map`` and ``imap_unordered``.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import Any, Protocol, Self, TypeVar, runtime_checkable

from materials_ai.settings import PROJECT_ROOT

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


#: Folder of the shipped compute configs (``serial``, ``local``, ``remote``, ``slurm``, ``pbs``).
COMPUTE_CONFIG_DIR = PROJECT_ROOT / "configs" / "compute"

#: glibc ``malloc`` settings for the worker processes this module starts.
#:
#: Dask's nanny starts workers with ``MALLOC_TRIM_THRESHOLD_=65536`` (to hand freed memory
#: back to the OS). Setting any trim threshold also freezes glibc's mmap threshold at
#: 128 KiB, so every tensor above that is ``mmap``-ed and unmapped again: CGCNN inference
#: ran 3x slower in a Dask worker than in a plain process (5 s of system time in 11 s,
#: measured on 3,000 Castelli graphs). A 64 MiB trim threshold with a 32 MiB mmap
#: threshold restores plain-process speed and still returns large freed blocks.
WORKER_MALLOC_ENV: dict[str, int] = {
    "MALLOC_TRIM_THRESHOLD_": 64 * 2**20,
    "MALLOC_MMAP_THRESHOLD_": 32 * 2**20,
}


# --------------------------------------------------------------------------------------
# Executors
# --------------------------------------------------------------------------------------


@runtime_checkable
class Executor(Protocol):
    """Runs a function over items and returns the results in input order.

    Executors are context managers: leaving the ``with`` block calls :meth:`close`.
    """

    def map(self, fn: Callable[[T], R], items: Sequence[T], *, desc: str = "") -> list[R]:
        """Apply ``fn`` to every item.

        Args:
            fn: A function of one argument. On Dask with ``processes=True`` it must be
                picklable by cloudpickle (module-level functions, lambdas and closures are).
            items: The inputs, `n` of them.
            desc: A label for the progress bar.

        Returns:
            `n` results, ``result[i] == fn(items[i])``.

        Raises:
            Exception: The first exception raised by ``fn``, unchanged (same type and
                message); remaining work is cancelled.
        """
        ...

    def imap_unordered(
        self,
        fn: Callable[[T], R],
        items: Sequence[T],
        *,
        retries: int = 0,
        desc: str = "",
    ) -> Iterator[tuple[int, R]]:
        """Apply ``fn`` to every item; yield ``(index, result)`` as tasks finish.

        See the module docstring for the contract (record each pair before the next).

        Args:
            fn: A function of one argument (picklable, as for :meth:`map`).
            items: The inputs, `n` of them.
            retries: Extra attempts for a task that raises.
            desc: A label for the progress bar.

        Yields:
            `n` pairs ``(i, fn(items[i]))`` in completion order (input order when serial).

        Raises:
            Exception: A task's exception after ``retries`` further attempts, unchanged.
        """
        ...

    def scatter(self, obj: Any) -> Any:
        """Make ``obj`` available to every task once; put the returned reference in items."""
        ...

    def close(self) -> None:
        """Release the workers and any cluster this executor started. Idempotent."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # closed or replaced stream
        return False


@contextmanager
def _progress(desc: str, total: int, enabled: bool) -> Iterator[Callable[[], None]]:
    """Yield a callback that advances a Rich progress bar by one (a no-op when disabled)."""
    if not enabled or total == 0:
        yield lambda: None
        return
    from materials_ai.progress import rich_progress

    with rich_progress("[progress.description]", stderr=True) as progress:
        task = progress.add_task(desc or "tasks", total=total)
        yield lambda: progress.advance(task)


class ClosesOnExit:
    """``with executor:`` closes the executor on leaving the block (exception or not)."""

    def close(self) -> None:
        """Release what the executor holds."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class SerialExecutor(ClosesOnExit):
    """Runs the map as a plain loop in the calling process.

    Args:
        progress: Show a Rich progress bar on stderr; ``None`` shows one only when stderr
            is a terminal.
    """

    def __init__(self, *, progress: bool | None = None) -> None:
        self.progress = _stderr_is_terminal() if progress is None else progress

    def map(self, fn: Callable[[T], R], items: Sequence[T], *, desc: str = "") -> list[R]:
        """Apply ``fn`` to every item, in order (see :meth:`Executor.map`)."""
        results: list[R] = []
        with _progress(desc, len(items), self.progress) as advance:
            for item in items:
                results.append(fn(item))
                advance()
        return results

    def imap_unordered(
        self,
        fn: Callable[[T], R],
        items: Sequence[T],
        *,
        retries: int = 0,
        desc: str = "",
    ) -> Iterator[tuple[int, R]]:
        """Apply ``fn`` to every item in input order, yielding ``(index, result)`` pairs.

        A task that raises is called again up to ``retries`` times; then its exception
        propagates. Nothing runs ahead of the consumer: item ``i + 1`` starts only when
        the consumer asks for the next pair.
        """
        if retries < 0:
            raise ValueError(f"retries must be >= 0; got {retries}")
        with _progress(desc, len(items), self.progress) as advance:
            for i, item in enumerate(items):
                for attempt in range(retries + 1):
                    try:
                        result = fn(item)
                        break
                    except Exception:
                        if attempt == retries:
                            raise
                        logger.warning(
                            "task %d failed (attempt %d of %d); retrying",
                            i,
                            attempt + 1,
                            retries + 1,
                            exc_info=True,
                        )
                advance()
                yield i, result

    def scatter(self, obj: T) -> T:
        """Return ``obj`` itself: serial tasks share the caller's memory."""
        return obj

    def close(self) -> None:
        """Nothing to release."""

    def __repr__(self) -> str:
        return f"SerialExecutor(progress={self.progress})"


def _identity(obj: T) -> T:
    return obj


def worker_threads() -> int | None:
    """Threads of the Dask worker running the current task, or None outside a worker.

    Tasks that use threaded libraries (torch, BLAS) call this to match their thread pool to
    the worker's share of the machine; otherwise every worker process would start one thread
    per core and oversubscribe the CPU.
    """
    if "distributed" not in sys.modules:
        return None
    from distributed import get_worker

    try:
        return int(get_worker().state.nthreads)
    except ValueError:  # not inside a worker
        return None
