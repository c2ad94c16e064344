"""Reading and changing SLURM's queue: ``sbatch``, ``squeue``/``sacct``, ``scancel``.

State of a batch job, in this order of sources:

1. ``squeue -t all``: pending and running jobs, and finished ones while ``slurmctld`` still
   holds them (``MinJobAge``, 300 s by default), with SLURM's reason and exit status;
2. ``sacct``: finished jobs on clusters with accounting (``slurmdbd``);
3. the ``jobcomp/filetxt`` log (``JobCompLoc`` of ``scontrol show config``): finished jobs on
   a cluster without accounting, such as ``scripts/slurm-dev-cluster.sh``'s.

A job that none of them knows is reported as ``UNKNOWN``.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from materials_ai.errors import OracleError

logger = logging.getLogger(__name__)

#: States in which SLURM still holds the job (it may run, or is running).
ACTIVE_STATES = frozenset(
    {
        "PENDING",
        "CONFIGURING",
        "RUNNING",
        "COMPLETING",
        "SUSPENDED",
        "REQUEUED",
        "REQUEUE_FED",
        "REQUEUE_HOLD",
        "RESIZING",
        "SIGNALING",
        "STAGE_OUT",
        "STOPPED",
        "RESV_DEL_HOLD",
    }
)
#: Final states after which the job's work may be tried again (not the job's own fault).
RETRY_STATES = frozenset({"NODE_FAIL", "PREEMPTED", "BOOT_FAIL", "UNKNOWN"})

_COMMAND_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class SlurmJob:
    """What SLURM says about one batch job.

    Attributes:
        job_id: SLURM's job id.
        state: ``PENDING``, ``RUNNING``, ``COMPLETED``, ``FAILED``, ``TIMEOUT``,
            ``CANCELLED``, ``OUT_OF_MEMORY``, ``NODE_FAIL``... or ``UNKNOWN``.
        reason: SLURM's reason (``Resources``, ``NonZeroExitCode``, ``TimeLimit``...), or "".
        exit_code: ``code:signal`` as SLURM prints it, or "".
        time_limit: The job's walltime as SLURM prints it, or "".
        source: Where the state came from (``squeue``, ``sacct``, ``jobcomp``, ``none``).
    """

    job_id: str
    state: str
    reason: str = ""
    exit_code: str = ""
    time_limit: str = ""
    source: str = "none"

    @property
    def active(self) -> bool:
        """SLURM still holds the job (pending, running, completing...)."""
        return self.state in ACTIVE_STATES

    def describe(self) -> str:
        """One line for a failed observation, e.g. ``SLURM job 12 TIMEOUT (walltime 00:01:00)``."""
        text = f"SLURM job {self.job_id} {self.state}"
        details = []
        if self.state == "TIMEOUT" and self.time_limit:
            details.append(f"exceeded its walltime {self.time_limit}")
        if self.exit_code and self.exit_code not in ("0:0", ""):
            code, _, sig = self.exit_code.partition(":")
            details.append(f"signal {sig}" if sig not in ("", "0") else f"exit code {code}")
        if self.reason and self.reason not in ("None", "TimeLimit", "NonZeroExitCode"):
            details.append(f"reason {self.reason}")
        return text + (f" ({', '.join(details)})" if details else "")


def _run(command: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(command),
        capture_output=True,
        text=True,
        timeout=_COMMAND_TIMEOUT_S,
        check=False,
    )


def require_slurm() -> None:
    """Raise :class:`OracleError` unless ``sbatch`` and ``squeue`` are on ``PATH``."""
    missing = [c for c in ("sbatch", "squeue", "scancel") if shutil.which(c) is None]
    if missing:
        raise OracleError(
            f"oracle launcher 'slurm' needs {', '.join(missing)} on PATH (run on the cluster's "
            "login node, or start scripts/slurm-dev-cluster.sh)"
        )


def submit(script: Path, *, extra_args: Sequence[str] = ()) -> str:
    """Submit a batch script with ``sbatch --parsable``; returns SLURM's job id.

    Raises:
        OracleError: If ``sbatch`` refuses the job (the message is SLURM's).
    """
    result = _run(["sbatch", "--parsable", *extra_args, str(script)])
    if result.returncode != 0:
        message = (result.stderr or result.stdout).strip().splitlines()
        raise OracleError(f"sbatch {script} failed: {message[-1] if message else result}")
    return result.stdout.strip().split(";")[0]


def cancel(job_ids: Iterable[str]) -> None:
    """``scancel`` the given SLURM jobs (unknown or finished ones are ignored)."""
    ids = sorted(set(job_ids))
    if ids:
        result = _run(["scancel", *ids])
        if result.returncode != 0:
            logger.warning("scancel %s: %s", " ".join(ids), result.stderr.strip())


def _exit_code_from_status(raw: str) -> str:
    """``squeue``'s raw wait status (``768``) as ``code:signal`` (``3:0``)."""
    try:
        status = int(raw)
    except ValueError:
        return raw
    return f"{(status >> 8) & 0xFF}:{status & 0x7F}"


def normalise_time(text: str) -> str:
    """A SLURM duration (``1:00``, ``2-03:00:00``, minutes) as ``[D-]HH:MM:SS``."""
    text = text.strip()
    days, _, rest = text.rpartition("-")
    try:
        parts = [int(p) for p in rest.split(":")]
    except ValueError:
        return text  # UNLIMITED, INVALID, ""
    if len(parts) == 1:  # minutes
        parts = [parts[0] // 60, parts[0] % 60, 0]
    parts = [0] * (3 - len(parts)) + parts
    hours, minutes, seconds = parts[-3:]
    return (f"{days}-" if days else "") + f"{hours:02d}:{minutes:02d}:{seconds:02d}"


def _from_squeue(ids: Sequence[str]) -> dict[str, SlurmJob]:
    fields = "JobID:|,State:|,Reason:|,TimeLimit:|,exit_code:|"
    found: dict[str, SlurmJob] = {}
    result = _run(["squeue", "-h", "-t", "all", "-j", ",".join(ids), "-O", fields])
    lines = result.stdout.splitlines()
    if result.returncode != 0 and len(ids) > 1:
        # squeue refuses the whole list when one id is unknown to slurmctld: ask singly.
        lines = []
        for job_id in ids:
            one = _run(["squeue", "-h", "-t", "all", "-j", job_id, "-O", fields])
            lines += one.stdout.splitlines() if one.returncode == 0 else []
    for line in lines:
        parts = [p.strip() for p in line.split("|")]
        if len(parts) < 5 or parts[0] not in ids:
            continue
        found[parts[0]] = SlurmJob(
            parts[0],
            parts[1].split()[0] if parts[1] else "UNKNOWN",
            reason=parts[2],
            exit_code=_exit_code_from_status(parts[4]),
            time_limit=normalise_time(parts[3]),
            source="squeue",
        )
    return found


def _from_sacct(ids: Sequence[str]) -> dict[str, SlurmJob]:
    if shutil.which("sacct") is None:
        return {}
    result = _run(
        [
            "sacct",
            "-n",
            "-P",
            "-X",
            "-j",
            ",".join(ids),
            "-o",
            "JobID,State,ExitCode,Reason,Timelimit",
        ]
    )
    if result.returncode != 0:  # no accounting storage (a dev cluster)
        return {}
    found = {}
    for line in result.stdout.splitlines():
        parts = line.split("|")
        if len(parts) >= 5 and parts[0] in ids:
            state = parts[1].split()[0] if parts[1] else "UNKNOWN"  # "CANCELLED by 0"
            found[parts[0]] = SlurmJob(
                parts[0], state, parts[3], parts[2], normalise_time(parts[4]), source="sacct"
            )
    return found


_jobcomp_path: list[Path | None] = []


def _jobcomp_log() -> Path | None:
    """``JobCompLoc`` when ``JobCompType`` is ``jobcomp/filetxt`` (read once)."""
    if not _jobcomp_path:
        path = None
        result = _run(["scontrol", "show", "config"])
        config = dict(
            (k.strip(), v.strip())
            for k, _, v in (line.partition("=") for line in result.stdout.splitlines())
        )
        if config.get("JobCompType") == "jobcomp/filetxt" and config.get("JobCompLoc"):
            path = Path(config["JobCompLoc"])
        _jobcomp_path.append(path)
    return _jobcomp_path[0]


def _from_jobcomp(ids: Sequence[str]) -> dict[str, SlurmJob]:
    path = _jobcomp_log()
    if path is None or not path.is_file():
        return {}
    wanted = set(ids)
    found = {}
    pattern = re.compile(r"(\w+)=(\S*)")
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if not line.startswith("JobId="):
                continue
            fields = dict(pattern.findall(line))
            job_id = fields.get("JobId", "")
            if job_id in wanted:  # a later line (a requeued job) wins
                limit = normalise_time(fields.get("TimeLimit", ""))  # minutes there
                found[job_id] = SlurmJob(
                    job_id,
                    fields.get("JobState", "UNKNOWN"),
                    exit_code=fields.get("ExitCode", ""),
                    time_limit=limit,
                    source="jobcomp",
                )
    return found


def job_states(job_ids: Iterable[str]) -> dict[str, SlurmJob]:
    """The state of each SLURM job (``UNKNOWN`` where no source knows it).

    Args:
        job_ids: SLURM job ids.

    Returns:
        Job id -> :class:`SlurmJob`.
    """
    ids = sorted(set(job_ids))
    if not ids:
        return {}
    states = _from_squeue(ids)
    missing = [i for i in ids if i not in states]
    for source in (_from_sacct, _from_jobcomp):
        if not missing:
            break
        states.update(source(missing))
        missing = [i for i in ids if i not in states]
    for job_id in missing:
        states[job_id] = SlurmJob(job_id, "UNKNOWN")
    return states
