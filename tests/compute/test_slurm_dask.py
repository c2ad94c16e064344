"""A campaign's pool scoring and training on Dask workers that are SLURM jobs.

Runs against the single-node SLURM of ``scripts/slurm-dev-cluster.sh`` (``make slurm``):
skipped without it, failed when ``MATERIALS_AI_REQUIRE_SLURM=1`` (CI, ``.ci/run``). One
2-iteration Castelli campaign with ``configs/compute/slurm.yaml`` runs once for the module;
while it scores the pool, one worker job is ``scancel``-led.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from materials_ai.compute import COMPUTE_CONFIG_DIR, DaskExecutor, load_compute_config
from materials_ai.settings import DATA_DIR_ENV, PROJECT_ROOT

pytestmark = [pytest.mark.slurm, pytest.mark.integration, pytest.mark.timeout(420)]

WORKFLOW = "castelli_water_splitting.yaml"


def _slurm_problem() -> str | None:
    """Why no SLURM node can run jobs here (None when one is up)."""
    if shutil.which("sinfo") is None or shutil.which("sbatch") is None:
        return "SLURM's clients (sinfo, sbatch) are not installed"
    result = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True)
    states = result.stdout.split()
    if result.returncode != 0 or not {"idle", "mixed", "allocated"} & set(states):
        return f"no SLURM node is up (sinfo: {result.stderr.strip() or states})"
    return None


def _require_slurm() -> None:
    problem = _slurm_problem()
    if problem is None:
        return
    message = f"{problem}; start it with `make slurm` (scripts/slurm-dev-cluster.sh start)"
    if os.environ.get("MATERIALS_AI_REQUIRE_SLURM") == "1":
        pytest.fail(f"MATERIALS_AI_REQUIRE_SLURM=1 but {message}")
    pytest.skip(message)


def _slowed(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``fn`` after a 1 s pause, so a worker is surely busy when its job is cancelled.

    A closure: cloudpickle sends it by value (the workers cannot import this test module).
    """

    def call(item: Any) -> Any:
        import time

        time.sleep(1.0)
        return fn(item)

    return call


class ScancelDuringScoring:
    """The campaign's executor, which ``scancel``-s a busy worker's job while scoring the pool."""

    def __init__(self, inner: DaskExecutor) -> None:
        self.inner = inner
        self.cancelled: list[str] = []
        self.scoring_maps = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any], *, desc: str = "") -> list[Any]:
        if desc != "scoring pool" or self.cancelled:
            return self.inner.map(fn, items, desc=desc)
        self.scoring_maps += 1
        killer = threading.Thread(target=self._cancel_a_busy_worker, daemon=True)
        killer.start()
        try:
            return self.inner.map(_slowed(fn), items, desc=desc)
        finally:
            killer.join(timeout=60)

    def _cancel_a_busy_worker(self) -> None:
        client, cluster = self.inner.client, self.inner.cluster
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not self.cancelled:
            processing = client.processing()
            workers = client.scheduler_info()["workers"]
            for address, keys in processing.items():
                name = workers.get(address, {}).get("name")
                job = cluster.workers.get(name) if name is not None else None
                if keys and job is not None and job.job_id:
                    subprocess.run(["scancel", str(job.job_id)], check=True)
                    self.cancelled.append(str(job.job_id))
                    return
            time.sleep(0.1)

    def __enter__(self) -> ScancelDuringScoring:
        return self

    def __exit__(self, *exc: object) -> None:
        self.inner.close()


@pytest.fixture(scope="module")
def slurm_campaign(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The pinned 2-iteration Castelli campaign, run once on SLURM workers."""
    _require_slurm()
    data_dir = os.environ.get(DATA_DIR_ENV)
    if not data_dir or not Path(data_dir).is_dir():
        pytest.skip(f"{DATA_DIR_ENV} is not set to the dataset mirror")
    sys.path.insert(0, str(Path(__file__).parents[1] / "campaign"))
    try:
        from test_pinned_picks import OVERRIDES, PINNED
    finally:
        sys.path.pop(0)
    from materials_ai.campaign.config import load_workflow
    from materials_ai.campaign.loop import Campaign
    from materials_ai.campaign.state import load_state

    compute = load_compute_config(COMPUTE_CONFIG_DIR / "slurm.yaml")
    config = load_workflow(PROJECT_ROOT / "workflows" / WORKFLOW).with_overrides(
        **OVERRIDES[WORKFLOW]
    )
    config = config.model_copy(update={"compute": compute})
    run_dir = tmp_path_factory.mktemp("slurm-campaign") / "run"
    cwd = os.getcwd()
    os.chdir(run_dir.parent)  # worker job logs go to ./logs/dask
    try:
        executor = DaskExecutor.from_config(compute, progress=False)
        with ScancelDuringScoring(executor) as wrapped:
            campaign = Campaign.start(config, run_dir, executor=wrapped, progress=False)
            campaign.run()
            pool_size = len(campaign.pool)
            dashboard = executor.dashboard_link
    finally:
        os.chdir(cwd)
    yield {
        "state": load_state(run_dir),
        "run_dir": run_dir,
        "pinned": PINNED[WORKFLOW],
        "cancelled": wrapped.cancelled,
        "pool_size": pool_size,
        "dashboard": dashboard,
        "logs": run_dir.parent / "logs" / "dask",
    }


def test_campaign_on_slurm_workers_makes_the_serial_picks(slurm_campaign: dict) -> None:
    picks = [s.candidate_ids for s in slurm_campaign["state"].selections]
    # The serial run's picks for this seed (tests/campaign/test_pinned_picks.py checks them).
    assert picks == slurm_campaign["pinned"]
    assert slurm_campaign["dashboard"] and slurm_campaign["dashboard"].startswith("http://")
    # The work ran in SLURM jobs: each worker job left its log.
    assert list(slurm_campaign["logs"].glob("materials-ai-worker-*.err"))


def test_scancel_of_a_worker_job_while_scoring_loses_nothing(slurm_campaign: dict) -> None:
    from materials_ai.oracles.slurm_queue import job_states

    [job_id] = slurm_campaign["cancelled"]
    assert job_states([job_id])[job_id].state == "CANCELLED"
    state = slurm_campaign["state"]
    assert state.done
    # Every candidate of the pool scored once: one finite column per candidate.
    with np.load(slurm_campaign["run_dir"] / state.scores_file) as scores:
        samples = scores["samples"]
    assert samples.shape[1] == slurm_campaign["pool_size"]
    assert np.isfinite(samples).all()
