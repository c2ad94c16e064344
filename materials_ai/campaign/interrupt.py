"""Stopping a campaign on Ctrl-C (SIGINT) or SIGTERM, at any stage, resumably.

:func:`stop_on_signals` installs handlers for SIGINT and SIGTERM that raise
:class:`CampaignInterrupted` in the main thread at once, wherever the campaign is (surrogate
training epochs, pool scoring, waiting for an oracle). The handlers are installed even when
the process inherited SIGINT as ignored (a command started with ``&`` from a script), so a
signal sent to the campaign process always stops it.

A campaign resumes at the first stage that had not completed, so stopping in the middle of a
stage loses only that stage's work. The state file is the one thing that must not be cut in
half: :func:`deferred` marks the few lines that write it, and a signal that arrives there
takes effect when they are done (a few milliseconds later).

The command line turns :class:`CampaignInterrupted` into the resume command and exit code
``128 + signal`` (130 for SIGINT, 143 for SIGTERM), as shells do.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

__all__ = ["CampaignInterrupted", "deferred", "stop_on_signals"]

#: Signals that stop a campaign.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class CampaignInterrupted(KeyboardInterrupt):
    """A stop signal arrived while a campaign ran (a ``KeyboardInterrupt``, so ``except
    Exception`` clauses let it through).

    Attributes:
        signum: The signal number (``signal.SIGINT`` or ``signal.SIGTERM``).
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = int(signum)

    @property
    def signal_name(self) -> str:
        """``SIGINT`` or ``SIGTERM``."""
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        """The shell's convention for a process stopped by this signal: 128 + its number."""
        return 128 + self.signum


class _Guard:
    """Per-process bookkeeping of the handlers: deferral depth and a deferred signal."""

    def __init__(self) -> None:
        self.depth = 0
        self.pending: int | None = None
        self.installed = False


_guard = _Guard()


def _handler(signum: int, frame: FrameType | None) -> None:
    if _guard.depth > 0:
        _guard.pending = signum  # raised when the deferred block ends
        return
    raise CampaignInterrupted(signum)


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Raise :class:`CampaignInterrupted` on SIGINT or SIGTERM while the block runs.

    The previous handlers are restored afterwards. Outside the main thread (where Python
    cannot install handlers) the block runs unchanged.
    """
    if threading.current_thread() is not threading.main_thread() or _guard.installed:
        yield
        return
    previous: dict[signal.Signals, Any] = {s: signal.getsignal(s) for s in STOP_SIGNALS}
    for s in STOP_SIGNALS:
        signal.signal(s, _handler)
    _guard.installed = True
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        _guard.installed = False
        _guard.pending = None


@contextmanager
def deferred() -> Iterator[None]:
    """Hold a stop signal back until the block ends (for writing the state file).

    Without :func:`stop_on_signals` in force the block runs unchanged.
    """
    _guard.depth += 1
    try:
        yield
    finally:
        _guard.depth -= 1
        if _guard.depth == 0 and _guard.pending is not None and _guard.installed:
            signum, _guard.pending = _guard.pending, None
            raise CampaignInterrupted(signum)
