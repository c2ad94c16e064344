"""``notebooks/README.md`` lists every notebook, and every notebook it lists exists."""

from __future__ import annotations

import re
from pathlib import Path

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"


def test_readme_table_lists_every_notebook() -> None:
    text = (NOTEBOOK_DIR / "README.md").read_text()
    listed = set(re.findall(r"^\| `(\d\d_\w+\.ipynb)` \|", text, re.M))
    present = {p.name for p in NOTEBOOK_DIR.glob("*.ipynb")}
    assert len(present) >= 4
    assert listed == present, f"listed {sorted(listed)}, present {sorted(present)}"
