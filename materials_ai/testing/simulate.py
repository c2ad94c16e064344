"""A campaign-like process that submits validations and waits: for kill/resume checks.

``python -m materials_ai.testing.simulate STORE TICKETS.json [--task sleep|gpaw] ...``
submits ``--n`` small structures to a :class:`~materials_ai.oracles.job_oracle.JobOracle`
with ``--parallel`` worker processes, writes the tickets to ``TICKETS.json`` (as a campaign
writes its pending tickets to ``state.json``) and waits for the results. Tests and
``benchmarks/oracle_resume.py`` kill it with SIGKILL while jobs run, then resume from the
tickets file in another process and count, from the job directories, what was recomputed
(:func:`run_counts`) and what was lost.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from materials_ai.oracles.base import Ticket
from materials_ai.oracles.jobs import JobStore


def demo_structures(n: int) -> list[Any]:
    """``n`` distinct small cells: rock-salt oxides with slightly different lattices."""
    from pymatgen.core import Lattice, Structure

    cations = ["Mg", "Ca", "Sr", "Ba", "Zn", "Cd", "Ni", "Co"]
    out = []
    for i in range(n):
        a = 4.2 + 0.05 * i
        cation = cations[i % len(cations)]
        half = a / 2
        lattice = Lattice([[0.0, half, half], [half, 0.0, half], [half, half, 0.0]])
        coords = [[0.0, 0.0, 0.0], [0.5, 0.5, 0.5]]
        out.append(Structure(lattice, [cation, "O"], coords))
    return out


def make_oracle(store: str | Path, task: str, seconds: float, parallel: int) -> Any:
    """The oracle used by the simulated campaign (and by its resumption)."""
    from materials_ai.oracles.job_oracle import JobOracle, ProcessLauncher
    from materials_ai.testing.sleep import SleepTask

    if task == "sleep":
        job_task: Any = SleepTask(seconds=seconds)
    elif task == "gpaw":
        from materials_ai.oracles.dft import GPAWTask

        # Rock-salt oxides at low settings: ~10-30 s per job on one core.
        job_task = GPAWTask(ecut_ev=400, kpts=(3, 3, 3), pbe_energy=True)
    else:
        raise SystemExit(f"unknown task {task!r}")
    return JobOracle(job_task, store, name=task, launcher=ProcessLauncher(parallel))


def run_counts(store: str | Path, job_ids: Sequence[str]) -> dict[str, int]:
    """Job id -> how many times a worker started it (``running`` entries in its history)."""
    jobs = JobStore(store)
    counts = {}
    for job_id in job_ids:
        status = jobs.read_status(job_id) or {}
        counts[job_id] = sum(1 for h in status.get("history", []) if h.get("state") == "running")
    return counts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("store")
    parser.add_argument("tickets")
    parser.add_argument("--task", default="sleep", choices=["sleep", "gpaw"])
    parser.add_argument("--n", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--parallel", type=int, default=2)
    args = parser.parse_args(argv)

    from materials_ai.data.records import Candidate

    oracle = make_oracle(args.store, args.task, args.seconds, args.parallel)
    candidates = [Candidate(f"cand{i}", s) for i, s in enumerate(demo_structures(args.n))]
    tickets = oracle.submit(candidates)
    tmp = Path(args.tickets + ".tmp")
    tmp.write_text(json.dumps([t.to_dict() for t in tickets]))
    tmp.replace(args.tickets)
    print("submitted", flush=True)
    oracle.wait(tickets, poll_s=0.5)
    print("all finished", flush=True)
    return 0


def load_tickets(path: str | Path) -> list[Ticket]:
    """Tickets written by :func:`main`."""
    return [Ticket.from_dict(t) for t in json.loads(Path(path).read_text())]


if __name__ == "__main__":
    sys.exit(main())
