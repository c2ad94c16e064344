"""Compute configs: :class:`ComputeConfig` and the batch-system worker job it describes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from materials_ai.errors import ConfigError

_LOOPBACK = "127.0.0.1"


class AdaptiveConfig(BaseModel):
    """Adaptive scaling of a batch-system cluster, counted in jobs.

    Attributes:
        minimum_jobs: Jobs kept alive while idle (0 frees the allocation between maps).
        maximum_jobs: Upper bound on queued plus running worker jobs.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    minimum_jobs: int = Field(default=0, ge=0)
    maximum_jobs: int = Field(default=4, ge=1)

    @model_validator(mode="after")
    def _check_order(self) -> AdaptiveConfig:
        if self.minimum_jobs > self.maximum_jobs:
            raise ValueError(
                f"minimum_jobs ({self.minimum_jobs}) exceeds maximum_jobs ({self.maximum_jobs})"
            )
        return self


class JobQueueConfig(BaseModel):
    """One worker job on SLURM or PBS (``dask-jobqueue``); used when ``kind`` is slurm/pbs.

    Attributes:
        cores: CPU cores per job.
        processes: Dask worker processes per job; each gets ``cores / processes`` threads.
        memory: Memory per job (``"16GiB"``), split between the job's worker processes.
        walltime: Job time limit, ``HH:MM:SS`` (SLURM also takes ``D-HH:MM:SS``).
        account: Account (``-A``) charged for the jobs.
        queue: Partition (SLURM) or queue (PBS).
        interface: Network interface of the scheduler and workers (``"ib0"``); ``None`` uses
            the host's default address.
        job_name: Name of the worker jobs in the queue.
        python: Python on the compute nodes; ``None`` uses this process's interpreter
            (right when the venv lives on a shared file system).
        local_directory: Worker scratch space on the node (``"$TMPDIR"``).
        log_directory: Folder for the jobs' stdout/stderr files.
        job_script_prologue: Shell lines run before the worker starts (``module load``,
            ``source .venv/bin/activate``).
        job_extra_directives: Extra ``#SBATCH`` / ``#PBS`` lines, without the prefix.
        worker_extra_args: Extra ``dask worker`` arguments. ``--lifetime`` (shorter than
            ``walltime``) with ``--lifetime-stagger`` lets workers retire cleanly, handing
            their data on, before the batch system kills the job; adaptive scaling then
            submits replacements.
        adaptive: Adaptive scaling bounds.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    cores: int = Field(default=8, ge=1)
    processes: int = Field(default=1, ge=1)
    memory: str = "16GiB"
    walltime: str = "01:00:00"
    account: str | None = None
    queue: str | None = None
    interface: str | None = None
    job_name: str = "materials-ai-worker"
    python: str | None = None
    local_directory: str | None = None
    log_directory: str | None = None
    job_script_prologue: list[str] = Field(default_factory=list)
    job_extra_directives: list[str] = Field(default_factory=list)
    worker_extra_args: list[str] = Field(
        default_factory=lambda: ["--lifetime", "55m", "--lifetime-stagger", "4m"]
    )
    adaptive: AdaptiveConfig = Field(default_factory=AdaptiveConfig)

    @model_validator(mode="after")
    def _check_lifetime(self) -> JobQueueConfig:
        if self.processes > self.cores:
            raise ValueError(f"processes ({self.processes}) exceeds cores ({self.cores})")
        walltime_s = _walltime_seconds(self.walltime)
        lifetime_s = _option_seconds(self.worker_extra_args, "--lifetime")
        stagger_s = _option_seconds(self.worker_extra_args, "--lifetime-stagger") or 0.0
        if lifetime_s is not None and lifetime_s + stagger_s >= walltime_s:
            raise ValueError(
                f"worker --lifetime plus --lifetime-stagger ({lifetime_s + stagger_s:.0f} s) "
                f"must be shorter than walltime {self.walltime!r} ({walltime_s:.0f} s), or "
                "the batch system kills workers before they retire"
            )
        return self


def _walltime_seconds(walltime: str) -> float:
    """Seconds in a SLURM/PBS walltime (``MM``, ``MM:SS``, ``HH:MM:SS``, ``D-HH[:MM[:SS]]``)."""
    days = 0
    text = walltime.strip()
    try:
        if "-" in text:
            day_text, text = text.split("-", 1)
            days = int(day_text)
            parts = [int(p) for p in text.split(":")]
            parts += [0] * (3 - len(parts))  # D-HH, D-HH:MM
            hours, minutes, seconds = parts
        else:
            parts = [int(p) for p in text.split(":")]
            if len(parts) == 1:
                hours, minutes, seconds = 0, parts[0], 0
            elif len(parts) == 2:
                hours, (minutes, seconds) = 0, parts
            else:
                hours, minutes, seconds = parts
    except ValueError as exc:
        raise ValueError(f"walltime {walltime!r} is not HH:MM:SS, MM:SS, MM or D-HH:MM:SS") from exc
    return float(((days * 24 + hours) * 60 + minutes) * 60 + seconds)


def _option_seconds(args: Sequence[str], option: str) -> float | None:
    """Seconds given to ``option`` in a worker argument list (``--opt 5m`` or ``--opt=5m``)."""
    value: str | None = None
    for i, arg in enumerate(args):
        if arg == option and i + 1 < len(args):
            value = args[i + 1]
        elif arg.startswith(option + "="):
            value = arg.split("=", 1)[1]
    if value is None:
        return None
    from dask.utils import parse_timedelta

    try:
        return float(parse_timedelta(value, default="seconds"))
    except (KeyError, ValueError, TypeError) as exc:
        raise ValueError(f"cannot read {option} {value!r} as a duration (e.g. '55m')") from exc


class ComputeConfig(BaseModel):
    """Where and how :meth:`Executor.map` runs.

    Attributes:
        kind: ``serial``, ``local``, ``remote``, ``slurm`` or ``pbs`` (see the module doc).
        n_workers: Worker processes (``local``); ``None`` lets Dask pick from the core count.
        threads_per_worker: Threads per worker (``local``). 1 suits GIL-bound Python and
            libraries that start their own threads (torch, BLAS).
        processes: Workers are processes, not threads (``local``); keep ``True`` for
            Python-heavy work.
        memory_limit: Memory per worker (``local``), ``"auto"`` (machine memory split
            evenly), a size (``"4GiB"``) or ``None`` for no limit.
        scheduler_address: Address of a running scheduler (``remote``), e.g.
            ``"tcp://10.0.0.5:8786"``.
        connect_timeout_s: Seconds to wait for that scheduler.
        dashboard_address: Where the scheduler serves its dashboard when this executor
            starts the scheduler (``local``, ``slurm``, ``pbs``). A bare port (``":0"``:
            any free port, ``":8787"``) is bound to ``127.0.0.1``; reach it from another
            machine with an SSH tunnel. Give a host (``"0.0.0.0:8787"``) to expose it;
            ``None`` disables the dashboard.
        jobqueue: The worker job (``slurm``, ``pbs``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["serial", "local", "remote", "slurm", "pbs"] = "serial"
    n_workers: int | None = Field(default=None, ge=1)
    threads_per_worker: int = Field(default=1, ge=1)
    processes: bool = True
    memory_limit: str | None = "auto"
    scheduler_address: str | None = None
    connect_timeout_s: float = Field(default=30.0, gt=0)
    dashboard_address: str | None = ":0"
    jobqueue: JobQueueConfig = Field(default_factory=JobQueueConfig)

    @model_validator(mode="after")
    def _check_kind(self) -> ComputeConfig:
        if self.kind == "remote" and not self.scheduler_address:
            raise ValueError("kind 'remote' needs scheduler_address (e.g. 'tcp://host:8786')")
        return self


def _loopback_dashboard(address: str | None) -> str | None:
    """Bind a host-less dashboard address (``":0"``) to the loopback interface.

    ``distributed`` binds ``":port"`` to every interface (0.0.0.0); the platform's default
    is to keep the dashboard private to the machine.
    """
    if address is None:
        return None
    text = str(address).strip()
    if text.isdigit():
        return f"{_LOOPBACK}:{text}"
    if text.startswith(":"):
        return f"{_LOOPBACK}{text}"
    return text


def load_compute_config(path: str | Path) -> ComputeConfig:
    """Read a compute config from a YAML file.

    Args:
        path: A YAML mapping of :class:`ComputeConfig` fields (see ``configs/compute/``).

    Raises:
        ConfigError: If the file is missing or not YAML, or a key is unknown or invalid;
            the message names the file and the key.
    """
    from materials_ai.config_errors import read_yaml_file, validate_config

    path = Path(path)
    data = read_yaml_file(path, "compute config")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a compute config must be a mapping, got {type(data).__name__}")
    return validate_config(ComputeConfig, data, str(path), "compute config")
