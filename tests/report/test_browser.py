"""The report renders in headless Chromium: sections present, images decoded, no console
errors, and a screenshot that is not blank.

Needs Debian's ``chromium`` (``.ci/run`` installs it); skipped with the reason otherwise.
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import pytest

from materials_ai.report.browser import find_chromium, render_page, screenshot
from materials_ai.report.html import SECTION_IDS, write_report
from materials_ai.testing.runs import tiny_run

#: Set by .ci/run: a missing Chromium fails the tests instead of skipping them.
REQUIRED = os.environ.get("MATERIALS_AI_REQUIRE_CHROMIUM") == "1"

pytestmark = pytest.mark.skipif(
    find_chromium() is None and not REQUIRED,
    reason="chromium is not installed (apt-get install chromium; .ci/run installs it)",
)


def png_size_and_colours(path: Path) -> tuple[int, int, int]:
    """Width, height and number of distinct pixel rows (a blank page has 1)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    width, height = struct.unpack(">II", data[16:24])
    # Decompress the IDAT stream and count distinct scanlines: a rendered report has many.
    chunks, pos = [], 8
    while pos < len(data):
        length = struct.unpack(">I", data[pos : pos + 4])[0]
        kind = data[pos + 4 : pos + 8]
        if kind == b"IDAT":
            chunks.append(data[pos + 8 : pos + 8 + length])
        pos += 12 + length
    raw = zlib.decompress(b"".join(chunks))
    stride = len(raw) // height
    rows = {raw[i * stride + 1 : (i + 1) * stride] for i in range(height)}
    return width, height, len(rows)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("browser")
    run = tiny_run(root / "copy")
    return write_report(run.run_dir, root / "report.html")


def test_report_renders_with_its_sections_and_no_console_errors(report: Path) -> None:
    page = render_page(report)
    assert page.console == [], f"console messages: {page.console}"
    for section in SECTION_IDS:
        if section != "lab-results":
            assert f'<section id="{section}">' in page.dom, section
    # The page's own check ran after load: every embedded image decoded.
    assert 'data-images-ok="1"' in page.dom


def test_console_errors_are_detected(report: Path, tmp_path: Path) -> None:
    """The check above can fail: a script error, a broken image and a blocked network
    request in a copy of the report all show up as console messages."""
    broken = tmp_path / "broken.html"
    html = report.read_text(encoding="utf-8")
    html = html.replace(
        "</main>",
        '<img src="data:image/png;base64,AAAA" alt="broken">'
        '<img src="https://example.invalid/x.png" alt="remote">'
        "<script>notDefined();</script></main>",
    )
    broken.write_text(html, encoding="utf-8")
    page = render_page(broken)
    joined = "\n".join(page.console)
    assert "Uncaught ReferenceError: notDefined is not defined" in joined
    assert "images failed to decode: broken, remote" in joined
    assert "Content Security Policy" in joined  # the remote image was refused, not fetched
    assert 'data-images-ok="0"' in page.dom


def test_screenshot_of_the_report(report: Path, tmp_path: Path) -> None:
    png = screenshot(report, tmp_path / "report.png", width=1200, height=1400)
    width, height, distinct_rows = png_size_and_colours(png)
    assert (width, height) == (1200, 1400)
    assert distinct_rows > 100  # text, tables and plots, not a blank page
