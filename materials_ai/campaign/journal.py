"""Append-only journals of a run directory: every state change, and the lab inbox.

**The state journal** (``journal.jsonl``) is written ahead of ``state.json``: each state
write first appends, and fsyncs, one group of lines describing what changed since the
previous write, then replaces ``state.json``. A group is

* one ``observation`` line per observation added (``seq``: its index in the state),
  likewise ``selection`` and ``metrics`` lines for batches chosen and iterations recorded;
* one ``checkpoint`` line closing the group: the list lengths and every other field of
  the state (iteration, completed stages, pending tickets, fit, ...).

A ``snapshot`` line (the whole state) starts the journal and follows a repair. Replaying
the journal (:func:`replay`) gives the state of the last complete group: a group cut short
by a crash (no checkpoint) is ignored, and a stage redone after a crash writes its lines
again at the same ``seq``, replacing the first attempt's. So the state can be rebuilt
from the journal alone.

**The inbox** (``inbox.jsonl``) holds lab observations ingested into the run: one line
per observation with its ``ingest_id`` (unique per results file and row) and the
campaign id. Writers append under an exclusive ``flock`` of the file itself; the owner of
the run directory merges lines whose ``ingest_id`` is not yet in the state.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from materials_ai.errors import CorruptStateError

__all__ = [
    "LIST_KINDS",
    "append_lines",
    "inbox_locked",
    "journal_group",
    "read_lines",
    "replay",
]

logger = logging.getLogger(__name__)

#: Journal line kind -> the state's list it appends to.
LIST_KINDS = {"observation": "observations", "selection": "selections", "metrics": "metrics"}

#: Counts of the journalled lists of a state: (observations, selections, metrics).
Counts = tuple[int, int, int]


def append_lines(
    path: Path, records: Sequence[Mapping[str, Any]], *, fd: int | None = None
) -> None:
    """Append ``records`` as JSON lines to ``path`` and fsync.

    A line cut short by an earlier crash is closed first, so it spoils only itself.

    Args:
        path: The JSONL file (created if missing).
        records: One JSON object per line.
        fd: An already open descriptor of ``path`` (e.g. one holding its lock).
    """
    if not records:
        return
    data = "".join(json.dumps(r, allow_nan=True, separators=(",", ":")) + "\n" for r in records)
    own = fd is None
    if fd is None:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            data = "\n" + data
        os.lseek(fd, 0, os.SEEK_END)
        view = memoryview(data.encode())
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    finally:
        if own:
            os.close(fd)


def read_lines(path: Path) -> list[dict[str, Any]]:
    """Every valid JSON object line of ``path`` (a damaged line is skipped with a warning)."""
    path = Path(path)
    if not path.exists():
        return []
    out: list[dict[str, Any]] = []
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                value = json.loads(raw)
            except (ValueError, UnicodeDecodeError):
                logger.warning("%s line %d is damaged (a write cut short?); skipped", path, number)
                continue
            if isinstance(value, dict):
                out.append(value)
    return out


def counts_of(state: Mapping[str, Any]) -> Counts:
    """List lengths of a state (as a dict)."""
    return (len(state["observations"]), len(state["selections"]), len(state["metrics"]))


def journal_group(state: Mapping[str, Any], base: Counts | None) -> list[dict[str, Any]]:
    """The journal lines of a state write.

    Args:
        state: The state being written, as JSON data.
        base: List lengths of the state on disk before this write (None: unknown, or the
            lists shrank: a snapshot is written).
    """
    now = counts_of(state)
    if base is None or any(n < b for n, b in zip(now, base, strict=True)):
        return [{"kind": "snapshot", "state": dict(state)}]
    lines: list[dict[str, Any]] = []
    for (kind, key), start in zip(LIST_KINDS.items(), base, strict=True):
        for seq in range(start, len(state[key])):
            lines.append({"kind": kind, "seq": seq, "record": state[key][seq]})
    fields = {k: v for k, v in state.items() if k not in LIST_KINDS.values()}
    lines.append({"kind": "checkpoint", "counts": list(now), "fields": fields})
    return lines


def replay(lines: Sequence[Mapping[str, Any]], *, source: Path) -> dict[str, Any] | None:
    """The state (JSON data) of the last complete group of journal lines.

    Args:
        lines: The journal's lines, in order.
        source: The journal file (for messages).

    Returns:
        The state, or None if the journal holds no snapshot.

    Raises:
        CorruptStateError: Lines are missing (a ``seq`` beyond the end of its list).
    """
    state: dict[str, Any] | None = None
    pending: list[Mapping[str, Any]] = []
    for line in lines:
        kind = line.get("kind")
        if kind == "snapshot":
            state = json.loads(json.dumps(line["state"]))  # a private copy
            pending = []
        elif state is None:
            continue
        elif kind in LIST_KINDS:
            pending.append(line)
        elif kind == "checkpoint":
            for item in pending:
                items = state[LIST_KINDS[str(item["kind"])]]
                seq = int(item["seq"])
                if seq > len(items):
                    raise CorruptStateError(
                        f"{source}: {item['kind']} {seq} follows {len(items)} (lines missing)"
                    )
                del items[seq:]
                items.append(item["record"])
            pending = []
            for key, n in zip(LIST_KINDS.values(), line["counts"], strict=True):
                if len(state[key]) < int(n):
                    raise CorruptStateError(
                        f"{source}: checkpoint expects {n} {key}, the journal has "
                        f"{len(state[key])} (lines missing)"
                    )
                del state[key][int(n) :]
            state.update(line["fields"])
    return state


@contextmanager
def inbox_locked(path: Path) -> Iterator[int]:
    """Hold the inbox's own exclusive lock; yields its descriptor (opened for appending)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield fd
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
