"""Regression: the shipped Castelli workflows make the same picks for the same seed.

The picks in ``data/pinned_picks.json`` were recorded before the campaign loop was
redesigned (commit 92be6a1). Every refactoring step must keep them: a change here means
behaviour changed, not just structure. Record new picks only for a deliberate change of
behaviour, and say so in the commit.

OpenBLAS (under numpy and scipy) chooses its kernels by CPU, and the GP's hyperparameter
fit follows their last bits: the same code picks differently with the Haswell kernels (an
AMD EPYC) than with the SkylakeX ones (an Intel Xeon, where the picks were recorded). Each
campaign therefore runs in a child process with ``OPENBLAS_CORETYPE`` fixed to Haswell,
which every x86-64 CPU with AVX2 runs, so the pins hold on either vendor's machines.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from materials_ai.settings import DATA_DIR_ENV, PROJECT_ROOT

pytestmark = pytest.mark.integration

PINNED_FILE = json.loads((Path(__file__).parent / "data" / "pinned_picks.json").read_text())
PINNED = PINNED_FILE["picks"]
OPENBLAS_CORETYPE = PINNED_FILE["openblas_coretype"]

#: Runs one campaign and prints its picks as JSON: argv = workflow, overrides (JSON), run dir.
CHILD = """
import json, sys
from materials_ai.campaign.config import load_workflow
from materials_ai.campaign.loop import Campaign
from materials_ai.campaign.state import load_state
workflow, overrides, run_dir = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
Campaign.start(load_workflow(workflow).with_overrides(**overrides), run_dir).run()
print(json.dumps([s.candidate_ids for s in load_state(run_dir).selections]))
"""

#: The same reduced settings the picks were recorded with.
OVERRIDES: dict[str, dict[str, Any]] = {
    "castelli_water_splitting_gp.yaml": {
        "data.sample_size": 2000,
        "acquisition.strategy": "qucb",  # recorded with qucb; the loop, not the default
        "loop.iterations": 2,
        "loop.max_oracle_calls": None,
        "tracking.backend": "none",
    },
    "castelli_water_splitting.yaml": {
        "data.sample_size": 300,
        "acquisition.strategy": "qucb",
        "loop.initial_labels": 30,
        "loop.batch_size": 10,
        "loop.iterations": 2,
        "loop.max_oracle_calls": None,
        "surrogate.n_members": 2,
        "surrogate.training.max_epochs": 6,
        "surrogate.training.warm_start_epochs": 3,
        "surrogate.training.min_val_size": 3,
        "tracking.backend": "none",
    },
}


@pytest.fixture
def real_data(monkeypatch: pytest.MonkeyPatch) -> Path:
    value = os.environ.get(DATA_DIR_ENV)
    if not value or not Path(value).is_dir():
        pytest.skip(f"{DATA_DIR_ENV} is not set to the dataset mirror")
    monkeypatch.delenv("MATERIALS_AI_CARDS_DIR", raising=False)
    return Path(value)


def _has_avx2() -> bool:
    cpuinfo = Path("/proc/cpuinfo")
    return platform.machine() in ("x86_64", "AMD64") and (
        cpuinfo.exists() and " avx2" in cpuinfo.read_text()
    )


@pytest.mark.parametrize("workflow", sorted(OVERRIDES))
def test_same_seed_same_picks(real_data: Path, tmp_path: Path, workflow: str) -> None:
    if not _has_avx2():
        pytest.skip(f"the picks were recorded with OpenBLAS's {OPENBLAS_CORETYPE} kernels (AVX2)")
    env = {**os.environ, "OPENBLAS_CORETYPE": OPENBLAS_CORETYPE}  # real_data unset the cards dir
    path = PROJECT_ROOT / "workflows" / workflow
    args = [str(path), json.dumps(OVERRIDES[workflow]), str(tmp_path / "run")]
    child = subprocess.run(
        [sys.executable, "-c", CHILD, *args], env=env, capture_output=True, text=True
    )
    assert child.returncode == 0, child.stderr[-3000:]
    picks = json.loads(child.stdout.strip().splitlines()[-1])
    assert picks == PINNED[workflow]
