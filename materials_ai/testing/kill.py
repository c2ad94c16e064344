"""Kill -9 a campaign process mid-validation, for crash-safety tests.

The tests of the validated, generated-pool and SLURM campaigns all start a campaign in a
separate process, wait until some validation jobs have written their output while others
still run, and then send SIGKILL, before resuming it in the test's own process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

#: A campaign started from a workflow file (argv 1) in a run directory (argv 2).
RUN_CAMPAIGN_SCRIPT = """
import sys
from materials_ai.campaign.config import load_workflow
from materials_ai.campaign.loop import Campaign
Campaign.start(load_workflow(sys.argv[1]), sys.argv[2]).run()
"""


def kill_campaign_when_jobs_finished(
    workflow: Path,
    run_dir: Path,
    *,
    job_folder: Path,
    n_finished: int,
    timeout_s: float = 120.0,
    poll_s: float = 0.1,
    env: Mapping[str, str] | None = None,
) -> None:
    """Run the campaign of ``workflow`` in a new process; SIGKILL it once ``n_finished``
    job directories under ``job_folder`` hold an ``output.json``.

    Args:
        workflow: Workflow YAML file.
        run_dir: The campaign's run directory (created by the process).
        job_folder: Job store whose finished jobs are counted (e.g.
            ``run_dir/oracle_jobs/<stage>``).
        n_finished: Finished jobs to wait for before the kill.
        timeout_s: Seconds to wait for them.
        poll_s: Seconds between looks.
        env: Environment of the process (default: this one with ``OMP_NUM_THREADS=1``).

    Raises:
        AssertionError: If the campaign ended before the kill, or too few jobs finished
            within ``timeout_s``.
    """
    environment = dict(env) if env is not None else {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(
        [sys.executable, "-c", RUN_CAMPAIGN_SCRIPT, str(workflow), str(run_dir)],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            done = list(job_folder.glob("*/output.json")) if job_folder.exists() else []
            if len(done) >= n_finished:
                break
            if process.poll() is not None:
                raise AssertionError("the campaign ended before it could be killed")
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"{len(done)} of {n_finished} jobs finished within {timeout_s:.0f} s"
                )
            time.sleep(poll_s)
        process.send_signal(signal.SIGKILL)
        process.wait()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
