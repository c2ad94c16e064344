"""Batch-system clusters: job scripts render from the shipped configs, nothing is submitted."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from materials_ai.compute import (
    COMPUTE_CONFIG_DIR,
    WORKER_MALLOC_ENV,
    ComputeConfig,
    load_compute_config,
    make_executor,
    make_jobqueue_cluster,
)
from materials_ai.errors import MaterialsAIError


@pytest.mark.skipif(shutil.which("sbatch") is not None, reason="sbatch is installed here")
def test_slurm_executor_needs_sbatch() -> None:
    config = load_compute_config(COMPUTE_CONFIG_DIR / "slurm.yaml")
    with pytest.raises(MaterialsAIError, match=r"'sbatch' on PATH"):
        make_executor(config)


@pytest.fixture
def no_job_submission(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make any attempt to submit a batch job fail the test (and record it)."""
    from dask_jobqueue.core import Job

    submitted: list[str] = []

    async def refuse(self: Job, script_filename: str) -> str:
        submitted.append(script_filename)
        raise AssertionError("a job was submitted")

    monkeypatch.setattr(Job, "_submit_job", refuse)
    return submitted


def _loopback_only(config: ComputeConfig) -> ComputeConfig:
    """The same config with the scheduler on the loopback interface (nothing else listens)."""
    jobqueue = config.jobqueue.model_copy(update={"interface": "lo"})
    return config.model_copy(update={"jobqueue": jobqueue})


@pytest.mark.parametrize(
    ("name", "expected_lines"),
    [
        (
            "slurm",
            [
                r"#SBATCH --cpus-per-task=1",
                r"#SBATCH --mem=2G",
                r"#SBATCH -t 01:00:00",
                r"#SBATCH -J materials-ai-worker",
            ],
        ),
        (
            "pbs",
            [
                r"#PBS -l select=1:ncpus=8:mem=16GB",
                r"#PBS -l walltime=02:00:00",
                r"#PBS -N materials-ai-worker",
            ],
        ),
    ],
)
def test_job_script_renders_from_shipped_config_without_submitting(
    name: str, expected_lines: list[str], no_job_submission: list[str]
) -> None:
    config = _loopback_only(load_compute_config(COMPUTE_CONFIG_DIR / f"{name}.yaml"))
    cluster = make_jobqueue_cluster(config)
    try:
        script = cluster.job_script()
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        assert len(cluster.workers) == 0 and len(cluster.worker_spec) == 0
    finally:
        cluster.close()
    lines = script.splitlines()
    for expected in expected_lines:
        assert expected in lines, f"{expected!r} missing from:\n{script}"
    worker_line = next(line for line in lines if "distributed.cli.dask_worker" in line)
    jq = config.jobqueue
    if jq.processes > 1:  # one process per job needs no --nworkers
        assert f"--nworkers {jq.processes}" in worker_line
    assert f"--nthreads {jq.cores // jq.processes}" in worker_line
    assert " ".join(jq.worker_extra_args) in worker_line
    for prologue_line in jq.job_script_prologue:
        assert prologue_line in lines
    assert f"--local-directory {jq.local_directory}" in worker_line
    assert no_job_submission == []
    # The worker nanny's malloc settings travel as a dask config variable.
    [export] = [line for line in lines if "PRE_SPAWN_ENVIRON" in line]
    code = (
        "import dask, distributed; "
        "print(dask.config.get('distributed.nanny.pre-spawn-environ')['MALLOC_MMAP_THRESHOLD_'])"
    )
    out = subprocess.run(
        ["bash", "-c", f'{export}; {sys.executable} -c "{code}"'],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.strip() == str(WORKER_MALLOC_ENV["MALLOC_MMAP_THRESHOLD_"])
