"""A fidelity chain: cheap validation of many candidates, expensive validation of the best.

``OracleChain`` is an :class:`~materials_ai.oracles.base.Oracle`. One ``submit`` call (a
campaign batch, in acquisition order) is a *group*. Every candidate of the group goes to the
first stage (e.g. a CHGNet relaxation). When all of the group's jobs of a stage have
finished, the chain picks the candidates for the next stage from their results (filters
``max_values``/``min_values``, optional ``rank_by``, then ``select_top``) and submits them,
on the previous stage's output structure (the relaxed cell) by default.

A chain ticket is finished when the candidate's path through the chain is settled: every
stage it entered has finished and it was either not picked for the next stage or the last
stage finished too. ``collect`` then returns *all* its observations, one per stage it
went through (each with its own fidelity and provenance), so a campaign records the cheap
and the expensive numbers side by side (see :mod:`materials_ai.oracles.fidelity`).

Durability: the chain's own decisions (groups, stage tickets, selections) live in
``<job_dir>/chain.json`` (rewritten atomically); the jobs live in the stage oracles' job
stores. A new process builds the chain from the same config and continues: finished jobs
are read back, selections already made are kept, orphaned jobs are re-launched.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from materials_ai.data.records import Candidate, Observation
from materials_ai.errors import OracleError
from materials_ai.oracles.base import Ticket
from materials_ai.oracles.job_oracle import JobOracle
from materials_ai.oracles.jobs import atomic_write_json, read_json

if TYPE_CHECKING:
    from pymatgen.core import Structure

    from materials_ai.data.records import Molecule

logger = logging.getLogger(__name__)

CHAIN_FILE = "chain.json"


@dataclass
class ChainStage:
    """A stage: its oracle and how candidates are picked for it from the previous stage.

    See :class:`~materials_ai.oracles.config.ChainStageConfig` for the fields.
    """

    oracle: JobOracle
    select_top: int | None = None
    rank_by: str | None = None
    descending: bool = False
    max_values: Mapping[str, float] = field(default_factory=dict)
    min_values: Mapping[str, float] = field(default_factory=dict)
    use_output_structure: bool = True

    def passes(self, values: Mapping[str, float]) -> bool:
        """True if previous-stage ``values`` pass this stage's filters."""
        for key, bound in self.max_values.items():
            v = values.get(key)
            if v is None or not math.isfinite(v) or v > bound:
                return False
        for key, bound in self.min_values.items():
            v = values.get(key)
            if v is None or not math.isfinite(v) or v < bound:
                return False
        return True


class OracleChain:
    """Stages of job oracles of rising fidelity, as one durable oracle.

    Args:
        stages: Cheapest first; stage names must differ.
        state_dir: Folder of ``chain.json`` (usually the job store root).
        name: Chain name (ticket prefix and ``Ticket.oracle``).
    """

    fidelity = "chain"

    def __init__(
        self, stages: Sequence[ChainStage], state_dir: str | Path, *, name: str = "chain"
    ) -> None:
        if not stages:
            raise OracleError("a fidelity chain needs at least one stage")
        names = [s.oracle.name for s in stages]
        if len(set(names)) != len(names):
            raise OracleError(f"chain stage oracles need distinct names, got {names}")
        self.stages = list(stages)
        self.name = name
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._state: dict[str, Any] = self._load()

    # -- persistence ------------------------------------------------------------------

    def _load(self) -> dict[str, Any]:
        path = self.state_dir / CHAIN_FILE
        if path.exists():
            state = dict(read_json(path))
            stored = state.get("stages", [])
            current = [s.oracle.name for s in self.stages]
            if stored and stored != current:
                raise OracleError(
                    f"{path} was written for stages {stored}, not {current}: use another job_dir"
                )
            return state
        return {"format": 1, "stages": [s.oracle.name for s in self.stages], "groups": {}}

    def _save(self) -> None:
        atomic_write_json(self.state_dir / CHAIN_FILE, self._state)

    # -- the Oracle protocol ------------------------------------------------------------

    def submit(self, candidates: Sequence[Candidate]) -> list[Ticket]:
        """Send ``candidates`` (in priority order) to the first stage; returns at once."""
        if not candidates:
            return []
        with self._lock:
            groups = self._state["groups"]
            digest = hashlib.sha256("\n".join(c.id for c in candidates).encode()).hexdigest()
            group_id = f"g{len(groups):04d}-{digest[:8]}"
            first = self.stages[0].oracle
            tickets = first.submit(candidates, extra={"chain_group": group_id, "chain_stage": 0})
            groups[group_id] = {
                "candidates": [c.id for c in candidates],
                "stage_tickets": [[t.to_dict() for t in tickets]] + [[] for _ in self.stages[1:]],
                "selected": [[c.id for c in candidates]] + [None for _ in self.stages[1:]],
            }
            self._save()
        return [Ticket(f"{self.name}/{group_id}/{c.id}", c.id, self.name) for c in candidates]

    def collect(self, tickets: Sequence[Ticket]) -> list[Observation]:
        """Observations of the tickets whose path through the chain is settled.

        Advances the chain on the way (submits the next stage of groups whose stage
        finished) and re-launches orphaned jobs. Idempotent; never blocks.
        """
        by_group: dict[str, list[Ticket]] = {}
        for ticket in tickets:
            group_id = self._group_of(ticket)
            by_group.setdefault(group_id, []).append(ticket)
        observations: list[Observation] = []
        for group_id, group_tickets in by_group.items():
            self._advance(group_id)
            for ticket in group_tickets:
                observations.extend(self._settled_observations(group_id, ticket.candidate_id))
        return observations

    def resubmit(self, tickets: Sequence[Ticket]) -> None:
        """Re-launch orphaned jobs of these tickets' groups (a resumed campaign calls it)."""
        groups = {self._group_of(t) for t in tickets if t.oracle == self.name}
        for group_id in groups:
            group = self._state["groups"].get(group_id)
            if group is None:
                continue
            for stage, stage_tickets in zip(self.stages, group["stage_tickets"], strict=True):
                stage.oracle.resubmit([Ticket.from_dict(t) for t in stage_tickets])
            self._advance(group_id)

    # -- extras -------------------------------------------------------------------------

    def finished(self, tickets: Sequence[Ticket]) -> list[bool]:
        """Whether each ticket's path through the chain is settled."""
        out = []
        for ticket in tickets:
            group_id = self._group_of(ticket)
            self._advance(group_id)
            out.append(self._settled(group_id, ticket.candidate_id))
        return out

    def wait(
        self, tickets: Sequence[Ticket], *, timeout_s: float | None = None, poll_s: float = 2.0
    ) -> bool:
        """Block until every ticket is settled or ``timeout_s`` passed; True if all settled.

        Jobs of any stage left without a worker (e.g. the rest of a batch whose worker
        crashed) are re-launched while waiting.
        """
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            self.resubmit(tickets)
            if all(self.finished(tickets)):
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(poll_s)

    def stage_observations(self, ticket: Ticket) -> dict[str, Observation | None]:
        """Where a ticket's candidate stands at each stage it entered (read-only).

        Unlike :meth:`collect`, this answers for unsettled tickets too and advances or
        launches nothing (:meth:`collect` and :meth:`wait` do that).

        Returns:
            Stage oracle name -> the candidate's observation there (as :meth:`collect`
            gives it), or None while that job is unfinished; cheapest stage first. Stages
            whose selection is not made yet, or that did not pick the candidate, are absent.

        Raises:
            OracleError: If the ticket belongs to another oracle or is unknown to the chain.
        """
        with self._lock:
            group = self._state["groups"][self._group_of(ticket)]
            out: dict[str, Observation | None] = {}
            for s, stage in enumerate(self.stages):
                selected = group["selected"][s]
                stage_ticket = self._stage_ticket(group, s, ticket.candidate_id)
                if selected is None or stage_ticket is None or ticket.candidate_id not in selected:
                    break
                info = stage.oracle.store.info(stage_ticket.id)
                # A finished (or lost) job: collect reads its observation, launching nothing.
                done = info.finished or info.state == "missing"
                out[stage.oracle.name] = stage.oracle.collect([stage_ticket])[0] if done else None
            return out

    def stage_summary(self) -> list[dict[str, int]]:
        """Per stage: jobs submitted, finished, ok (for reports and metrics)."""
        summary = []
        for s, stage in enumerate(self.stages):
            submitted = finished = ok = 0
            for group in self._state["groups"].values():
                for t in group["stage_tickets"][s]:
                    submitted += 1
                    info = stage.oracle.store.info(t["id"])
                    if info.finished:
                        finished += 1
                        ok += int(info.state == "done")
            summary.append({"stage": s, "submitted": submitted, "finished": finished, "ok": ok})
        return summary

    def close(self) -> None:
        """Stop launching (detached workers finish their jobs)."""
        for stage in self.stages:
            stage.oracle.close()

    # -- internals ------------------------------------------------------------------------

    def _group_of(self, ticket: Ticket) -> str:
        if ticket.oracle != self.name:
            raise OracleError(
                f"ticket {ticket.id!r} belongs to oracle {ticket.oracle!r}, not {self.name!r}"
            )
        parts = ticket.id.split("/")
        if len(parts) < 3 or parts[1] not in self._state["groups"]:
            raise OracleError(f"ticket {ticket.id!r} is unknown to chain {self.name!r}")
        return parts[1]

    def _advance(self, group_id: str) -> None:
        """Make every selection whose previous stage has finished for the whole group."""
        with self._lock:
            group = self._state["groups"][group_id]
            for s in range(1, len(self.stages)):
                if group["selected"][s] is not None:
                    continue
                previous = self.stages[s - 1].oracle
                prev_tickets = [Ticket.from_dict(t) for t in group["stage_tickets"][s - 1]]
                previous.collect(prev_tickets)  # re-launches orphans
                if not all(previous.finished(prev_tickets)):
                    return
                stage = self.stages[s]
                picked, candidates = self._select(stage, previous, prev_tickets)
                tickets = stage.oracle.submit(
                    candidates, extra={"chain_group": group_id, "chain_stage": s}
                )
                group["selected"][s] = picked
                group["stage_tickets"][s] = [t.to_dict() for t in tickets]
                self._save()
                logger.info(
                    "chain %s group %s: %d of %d candidates go to stage %d (%s)",
                    self.name,
                    group_id,
                    len(picked),
                    len(prev_tickets),
                    s,
                    stage.oracle.name,
                )

    def _select(
        self, stage: ChainStage, previous: JobOracle, prev_tickets: Sequence[Ticket]
    ) -> tuple[list[str], list[Candidate]]:
        from materials_ai.data.records import structure_from_dict

        rows = []
        for order, ticket in enumerate(prev_tickets):
            result = previous.result(ticket)
            if result is None or not result.observation.ok:
                continue
            values = dict(result.observation.values)
            if not stage.passes(values):
                continue
            structure: Structure | Molecule | None = (
                result.structure if stage.use_output_structure else None
            )
            if structure is None:
                inp = previous.store.read_input(ticket.id)
                structure = structure_from_dict(inp["structure"])  # crystal or molecule
            rows.append((order, ticket.candidate_id, values, structure))
        if stage.rank_by is not None:
            key = stage.rank_by
            sign = -1.0 if stage.descending else 1.0

            def rank(row: tuple[int, str, dict[str, float], Any]) -> tuple[float, int]:
                v = row[2].get(key)
                ok = v is not None and math.isfinite(v)
                return (sign * v if ok else math.inf, row[0])  # type: ignore[operator]

            rows.sort(key=rank)
        if stage.select_top is not None:
            rows = rows[: stage.select_top]
        picked = [r[1] for r in rows]
        candidates = [
            Candidate(cid, structure, source=f"{self.name}:{previous.name}")
            for _, cid, _, structure in rows
        ]
        return picked, candidates

    def _settled(self, group_id: str, candidate_id: str) -> bool:
        group = self._state["groups"][group_id]
        for s, stage in enumerate(self.stages):
            selected = group["selected"][s]
            if selected is None:
                return False  # the selection for this stage is still pending
            if candidate_id not in selected:
                return True  # the candidate's path ended before this stage
            ticket = self._stage_ticket(group, s, candidate_id)
            if ticket is None or not stage.oracle.store.info(ticket.id).finished:
                return False
        return True

    def _stage_ticket(self, group: Mapping[str, Any], s: int, candidate_id: str) -> Ticket | None:
        for t in group["stage_tickets"][s]:
            if t["candidate_id"] == candidate_id:
                return Ticket.from_dict(t)
        return None

    def _settled_observations(self, group_id: str, candidate_id: str) -> list[Observation]:
        if not self._settled(group_id, candidate_id):
            return []
        group = self._state["groups"][group_id]
        observations = []
        for s, stage in enumerate(self.stages):
            ticket = self._stage_ticket(group, s, candidate_id)
            if ticket is None:
                break
            observations.extend(stage.oracle.collect([ticket]))
        return observations
