"""One owner per run directory: an exclusive advisory lock that names its owner.

The owner holds ``fcntl.flock(LOCK_EX)`` on ``campaign.lock`` for as long as it writes the
run directory, and writes who it is into the file (JSON: ``pid``, ``host``, ``started``,
``command``). The kernel releases the lock when the owner's process ends, however it
ends (``kill -9`` included), so the lock itself never goes stale; the file's content
does. A process that acquires the lock and finds another owner's content there knows that
owner ended without releasing, and says so (a warning) as it takes over. A clean release
empties the file.

Reading who owns a run (:func:`read_owner`) never touches the lock, so read-only commands
(``status``, ``report``) cannot block, nor make a concurrent acquisition fail.

The lock file is never deleted: two processes must always lock the same inode. Python
opens it close-on-exec, so job workers a campaign launches do not inherit the lock.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from materials_ai.errors import RunDirectoryLockedError

__all__ = ["LockOwner", "hold_lock", "read_owner"]

logger = logging.getLogger(__name__)

#: Seconds between two attempts while waiting for a lock.
_POLL_S = 0.2


@dataclass(frozen=True)
class LockOwner:
    """Who holds (or last held) a run directory's lock.

    Attributes:
        pid: Process id.
        host: Host name of the process.
        started: When it took the lock (ISO 8601, UTC).
        command: Its command line (or what it was doing).
    """

    pid: int
    host: str
    started: str
    command: str

    @classmethod
    def me(cls, purpose: str) -> LockOwner:
        """This process, about to take the lock for ``purpose``."""
        command = " ".join(Path(sys.argv[0]).name if i == 0 else a for i, a in enumerate(sys.argv))
        return cls(
            pid=os.getpid(),
            host=socket.gethostname(),
            started=datetime.now(UTC).isoformat(timespec="seconds"),
            command=f"{purpose}: {command}"[:300],
        )

    def describe(self) -> str:
        """``pid 123 on host, since <time> (<command>)``."""
        return f"pid {self.pid} on {self.host}, since {self.started} ({self.command})"

    def is_alive(self) -> bool | None:
        """Whether the process still runs: None when it runs on another host (unknown)."""
        if self.host != socket.gethostname():
            return None
        return pid_alive(self.pid)


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


def _parse_owner(text: str) -> LockOwner | None:
    try:
        data = json.loads(text)
        return LockOwner(
            pid=int(data["pid"]),
            host=str(data["host"]),
            started=str(data["started"]),
            command=str(data.get("command", "")),
        )
    except (ValueError, KeyError, TypeError):
        return None


def read_owner(path: Path) -> LockOwner | None:
    """What the lock file says of its owner, without taking the lock (None: empty file)."""
    try:
        return _parse_owner(Path(path).read_text())
    except (OSError, UnicodeDecodeError):
        return None


def _read_fd(fd: int) -> LockOwner | None:
    size = os.fstat(fd).st_size
    return _parse_owner(os.pread(fd, size, 0).decode("utf-8", "replace")) if size else None


def _busy_error(path: Path, label: str, hint: str) -> RunDirectoryLockedError:
    # The holder writes its identity right after it takes the lock: allow it a moment.
    owner = read_owner(path)
    for _ in range(5):
        if owner is not None:
            break
        time.sleep(0.1)
        owner = read_owner(path)
    if owner is None:
        who = "another process (its lock file names no owner yet)"
    else:
        who = owner.describe()
        if owner.is_alive() is False:
            who += (
                "; that process has ended, but a process it started still holds the lock "
                f"(`fuser {path}` names it)"
            )
    message = f"{label} is in use by {who}"
    if hint:
        message += f"; {hint}"
    return RunDirectoryLockedError(message, asdict(owner) if owner else None)


@contextmanager
def hold_lock(
    path: str | Path, *, purpose: str, label: str, wait_s: float = 0.0, hint: str = ""
) -> Iterator[LockOwner]:
    """Hold the exclusive lock ``path`` for the duration of the block.

    Args:
        path: The lock file (created if missing, never deleted).
        purpose: What this process does with the run (written into the lock file).
        label: How the error names what is locked (e.g. the run directory).
        wait_s: Seconds to wait for a busy lock (0: fail at once).
        hint: Appended to the error message (what the user can do instead).

    Yields:
        This process as the lock's owner.

    Raises:
        RunDirectoryLockedError: The lock stayed busy for ``wait_s`` seconds; the message
            names the owner (pid, host, start time, command).
    """
    path = Path(path)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    locked = False
    try:
        deadline = time.monotonic() + max(0.0, wait_s)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                locked = True
                break
            except OSError as error:
                if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _busy_error(path, label, hint)
            time.sleep(min(_POLL_S, remaining))
        previous = _read_fd(fd)
        if previous is not None:
            logger.warning(
                "%s: taking over a stale lock left by %s, which ended without releasing it",
                label,
                previous.describe(),
            )
        me = LockOwner.me(purpose)
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(asdict(me)).encode(), 0)
        os.fsync(fd)
        yield me
    finally:
        if locked:
            try:
                os.ftruncate(fd, 0)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
