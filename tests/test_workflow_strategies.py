"""Every shipped workflow runs the strategy that docs/benchmarks.md lists for it."""

from __future__ import annotations

import re

import yaml

from materials_ai.settings import PROJECT_ROOT

TABLE_HEADING = "## Shipped workflows: the acquisition strategy each runs"


def _documented() -> dict[str, str]:
    text = (PROJECT_ROOT / "docs" / "benchmarks.md").read_text()
    section = text.split(TABLE_HEADING, 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(workflows/[^`]+)` \| (\w+) \|", section, flags=re.MULTILINE)
    return dict(rows)


def test_each_workflow_with_acquisition_runs_its_documented_strategy() -> None:
    documented = _documented()
    shipped = {}
    for path in sorted((PROJECT_ROOT / "workflows").glob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        if data.get("kind") == "generative":
            continue  # ranks once, no acquisition
        strategy = (data.get("acquisition") or {}).get("strategy", "qucb")
        shipped[f"workflows/{path.name}"] = strategy
    assert set(shipped) == set(documented), "a workflow is missing from the docs table"
    assert shipped == documented
