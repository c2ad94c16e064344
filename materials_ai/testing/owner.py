"""Another process that owns a run directory, for tests of the lock, the inbox and repair.

::

    with run_owner(run_dir) as owner:      # a child process holds run_dir's lock
        ...                                # ingest queues, resume is refused
        owner.kill()                       # or: leave the block, it releases cleanly
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["run_owner"]

_HOLDER = """
import sys
from materials_ai.campaign.rundir import RunDirectory

with RunDirectory(sys.argv[1]).lock("test owner"):
    print("locked", flush=True)
    sys.stdin.read()  # until the parent closes stdin
"""


class Owner:
    """The owning process.

    Attributes:
        process: The child process.
    """

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process

    @property
    def pid(self) -> int:
        """The owner's pid."""
        return self.process.pid

    def kill(self) -> None:
        """``kill -9`` the owner (its lock file keeps its identity: a stale lock)."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def release(self) -> None:
        """Let the owner release the lock cleanly (it merges the inbox as it does)."""
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            self.process.wait(timeout=60)


@contextmanager
def run_owner(run_dir: str | Path) -> Iterator[Owner]:
    """Run a child process that holds ``run_dir``'s lock for the duration of the block.

    Raises:
        RuntimeError: The child could not take the lock.
    """
    process = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(run_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    if line != "locked":
        process.kill()
        _, err = process.communicate(timeout=30)
        raise RuntimeError(f"the owner process did not take the lock: {line} {err}")
    owner = Owner(process)
    try:
        yield owner
    finally:
        owner.release()
