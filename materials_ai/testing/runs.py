"""A tiny campaign run directory, built once per process and copied by each test.

Report, export and ingest tests all need a run directory with selections, observations and
ranked lists. Running even a tiny campaign takes seconds, so :func:`tiny_run` builds it once
(per set of arguments) in a temporary folder and copies it where the test wants it::

    run = tiny_run(tmp_path / "run")           # a paused 3-round campaign, see below
    with tiny_env(run):                        # its dataset registered in the environment
        Campaign.resume(run.run_dir).run()

The campaign is :func:`~materials_ai.testing.campaigns.tiny_workflow` with three selection
rounds over a 40-row synthetic dataset (row 5 has a broken CIF, row 7 no band gap), stopped
after the RECORD stage of round 2 (``stop_after_stages = 13``): the picks of round 1 have
been observed (parity pairs exist), those of round 2 are pending, and
``iterations/iter_002`` holds the latest ranked list with the CIFs of its top 3.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from materials_ai.testing.campaigns import tiny_workflow
from materials_ai.testing.datasets import write_tiny_dataset

#: Stages of a paused tiny run: seed (1) + rounds 1 and 2 (6 each).
PAUSED_STAGES = 13


@dataclass(frozen=True)
class TinyRun:
    """A copied tiny run.

    Attributes:
        run_dir: The run directory.
        cards_dir: Cards folder of its dataset (``MATERIALS_AI_CARDS_DIR``).
        data_dir: Data folder of its dataset (``MATERIALS_AI_DATA_DIR``).
        cache_dir: Cache folder (``MATERIALS_AI_CACHE_DIR``).
    """

    run_dir: Path
    cards_dir: Path
    data_dir: Path
    cache_dir: Path


_BUILT: dict[tuple[Any, ...], Path] = {}


@contextmanager
def tiny_env(run: TinyRun) -> Iterator[None]:
    """Register the run's dataset through the environment for the duration of the block."""
    names = {
        "MATERIALS_AI_CARDS_DIR": run.cards_dir,
        "MATERIALS_AI_DATA_DIR": run.data_dir,
        "MATERIALS_AI_CACHE_DIR": run.cache_dir,
    }
    saved = {k: os.environ.get(k) for k in names}
    os.environ.update({k: str(v) for k, v in names.items()})
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _build(stop_after_stages: int | None, overrides: dict[str, Any]) -> Path:
    from materials_ai.campaign.loop import Campaign

    root = Path(tempfile.mkdtemp(prefix="materials-ai-tiny-run-"))
    atexit.register(shutil.rmtree, root, True)
    tiny = write_tiny_dataset(root, n_rows=40, corrupt_rows=[5], missing_label_rows=[7])
    run = TinyRun(root / "run", tiny.cards_dir, tiny.data_dir, root / "cache")
    with tiny_env(run):
        campaign = Campaign.start(tiny_workflow(**overrides), run.run_dir)
        campaign.run(max_stages=stop_after_stages)
    return root


def tiny_run(
    dest: str | Path,
    *,
    stop_after_stages: int | None = PAUSED_STAGES,
    **overrides: Any,
) -> TinyRun:
    """Copy a tiny campaign run (built on first use) to ``dest``.

    Args:
        dest: Folder to create; the run directory is ``dest/run``.
        stop_after_stages: Stop the campaign after this many stages (None: run to the end).
        **overrides: Dotted-path workflow overrides; default three selection rounds.

    Returns:
        Paths of the copy (its dataset and cache are copied too).
    """
    settings = {"loop.iterations": 3, **overrides}
    key = (stop_after_stages, tuple(sorted(settings.items())))
    if key not in _BUILT:
        _BUILT[key] = _build(stop_after_stages, settings)
    dest = Path(dest)
    shutil.copytree(_BUILT[key], dest)
    return TinyRun(dest / "run", dest / "cards", dest / "data", dest / "cache")
