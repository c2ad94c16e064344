"""Render a report in headless Chromium: the DOM after scripts ran, console messages, a PNG.

Used by the report's tests (does the page render, with its sections and without console
errors?) and to make the screenshot in ``docs/images/``. Chromium is Debian's ``chromium``
package (``apt-get install chromium``); nothing here downloads a browser.

Chromium runs with ``--headless --no-sandbox --disable-gpu`` plus the flags that keep it
off the network (``--disable-background-networking``, ``--disable-component-update``,
``--disable-sync``, ``--disable-quic``, ``--no-first-run``) and a fresh
``--user-data-dir``. Console messages are read from Chromium's own log
(``--enable-logging=stderr --v=0``), where each ``console.*`` call and each uncaught
exception appears as a line ``INFO:CONSOLE:<line>] "<message>", source: <url> (<line>)``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from materials_ai.errors import MaterialsAIError

#: Executable names tried, in order.
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

_CONSOLE = re.compile(r':CONSOLE(?::\d+)?\]\s*"(?P<message>.*)", source: (?P<source>.*)$')


class BrowserError(MaterialsAIError):
    """Chromium is missing or failed to render a page."""


def find_chromium() -> str | None:
    """Path of a Chromium executable on ``PATH``, or None."""
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def _flags(user_data_dir: Path) -> list[str]:
    return [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--hide-scrollbars",
        f"--user-data-dir={user_data_dir}",
    ]


def _run(args: list[str], timeout_s: float) -> subprocess.CompletedProcess[str]:
    chromium = find_chromium()
    if chromium is None:
        raise BrowserError(
            "chromium not found on PATH (install Debian's package: apt-get install chromium)"
        )
    with tempfile.TemporaryDirectory(prefix="materials-ai-chromium-") as profile:
        try:
            return subprocess.run(
                [chromium, *_flags(Path(profile)), *args],
                capture_output=True,
                text=True,
                timeout=timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise BrowserError(f"chromium did not finish within {timeout_s:.0f} s") from None


@dataclass(frozen=True)
class RenderedPage:
    """What Chromium made of a page.

    Attributes:
        dom: Serialised DOM after the load event and inline scripts.
        console: Console messages (``console.*`` calls, uncaught exceptions, CSP
            violations), each as ``"<message>" (<source>)``.
        log: Chromium's full log output.
    """

    dom: str
    console: list[str]
    log: str


def console_messages(log: str) -> list[str]:
    """The console messages in a Chromium log (see the module docstring)."""
    out = []
    for line in log.splitlines():
        match = _CONSOLE.search(line)
        if match:
            out.append(f"{match.group('message')} ({match.group('source')})")
    return out


def render_page(html_file: str | Path, *, timeout_s: float = 60.0) -> RenderedPage:
    """Load a local HTML file headless and return its DOM and console messages.

    Raises:
        BrowserError: Chromium missing, timed out, or printed no DOM.
    """
    url = Path(html_file).resolve().as_uri()
    done = _run(["--enable-logging=stderr", "--v=0", "--dump-dom", url], timeout_s)
    if "<html" not in done.stdout.lower():
        raise BrowserError(
            f"chromium printed no DOM for {url} (exit {done.returncode}): {done.stderr[-2000:]}"
        )
    return RenderedPage(done.stdout, console_messages(done.stderr), done.stderr)


def screenshot(
    html_file: str | Path,
    png: str | Path,
    *,
    width: int = 1280,
    height: int = 1600,
    timeout_s: float = 60.0,
) -> Path:
    """Save a ``width x height`` PNG of the top of a local HTML page.

    Raises:
        BrowserError: Chromium missing, timed out, or wrote no image.
    """
    png = Path(png).resolve()
    png.parent.mkdir(parents=True, exist_ok=True)
    png.unlink(missing_ok=True)
    url = Path(html_file).resolve().as_uri()
    done = _run([f"--screenshot={png}", f"--window-size={width},{height}", url], timeout_s)
    if not png.exists() or png.stat().st_size == 0:
        raise BrowserError(
            f"chromium wrote no screenshot of {url} (exit {done.returncode}): {done.stderr[-2000:]}"
        )
    return png
