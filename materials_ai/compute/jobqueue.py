"""Batch-system clusters (dask-jobqueue ``SLURMCluster``, ``PBSCluster``) from a config."""

from __future__ import annotations

import logging
import shutil
from typing import TYPE_CHECKING, Any

from materials_ai.compute.base import WORKER_MALLOC_ENV
from materials_ai.compute.config import _LOOPBACK, ComputeConfig, _loopback_dashboard
from materials_ai.errors import ConfigError, MaterialsAIError

if TYPE_CHECKING:
    from dask_jobqueue.core import JobQueueCluster

logger = logging.getLogger(__name__)


def make_jobqueue_cluster(
    config: ComputeConfig, *, check_submit_command: bool = False
) -> JobQueueCluster:
    """Build (but do not scale) the SLURM or PBS cluster a config describes.

    The cluster starts its scheduler in this process and submits nothing until it is
    scaled; ``cluster.job_script()`` shows the script each worker job will run. Close it
    with ``cluster.close()``.

    Args:
        config: A config of kind ``slurm`` or ``pbs``.
        check_submit_command: Fail early when ``sbatch``/``qsub`` is not on ``PATH``.

    Raises:
        ConfigError: If ``config.kind`` is not a batch system.
        MaterialsAIError: If ``check_submit_command`` and the submit command is missing.
    """
    from materials_ai.extras import requires_extra

    with requires_extra("SLURM/PBS clusters (compute.kind: slurm, pbs)"):
        from dask_jobqueue import PBSCluster, SLURMCluster

    cluster_cls: type[JobQueueCluster]
    if config.kind == "slurm":
        cluster_cls = SLURMCluster
    elif config.kind == "pbs":
        cluster_cls = PBSCluster
    else:
        raise ConfigError(f"kind {config.kind!r} is not a batch system (slurm, pbs)")

    submit = cluster_cls.job_cls.submit_command
    if check_submit_command and shutil.which(submit) is None:
        raise MaterialsAIError(
            f"kind {config.kind!r} needs {submit!r} on PATH (run on the cluster's login "
            "node), or use configs/compute/local.yaml on this machine"
        )
    jq = config.jobqueue
    dashboard = _loopback_dashboard(config.dashboard_address)
    scheduler_options: dict[str, Any] = {
        "dashboard_address": dashboard or f"{_LOOPBACK}:0",
        "dashboard": dashboard is not None,
    }
    kwargs: dict[str, Any] = {
        "cores": jq.cores,
        "processes": jq.processes,
        "memory": jq.memory,
        "walltime": jq.walltime,
        "account": jq.account,
        "queue": jq.queue,
        "interface": jq.interface,
        "job_name": jq.job_name,
        "local_directory": jq.local_directory,
        "log_directory": jq.log_directory,
        # The nanny of a batch job reads its pre-spawn environment from the dask config;
        # this variable updates it (see WORKER_MALLOC_ENV).
        "job_script_prologue": [
            f'export DASK_DISTRIBUTED__NANNY__PRE_SPAWN_ENVIRON="{WORKER_MALLOC_ENV!r}"',
            *jq.job_script_prologue,
        ],
        "job_extra_directives": list(jq.job_extra_directives),
        "worker_extra_args": list(jq.worker_extra_args),
        "scheduler_options": scheduler_options,
    }
    if jq.python is not None:
        kwargs["python"] = jq.python
    return cluster_cls(**kwargs)
