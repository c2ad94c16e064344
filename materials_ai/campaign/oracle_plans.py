"""Validation plans: what a campaign does differently for each kind of oracle.

A campaign validates its picks either by replaying the dataset's own labels
(``oracle: {kind: replay}``) or by computing them through a fidelity chain
(``oracle: {kind: chain}``, see :mod:`materials_ai.campaign.validation`). The two differ
in a handful of places: whether the pool's labels are read at all, the units of the
targets, how the oracle is built and resumed, which observed value a target learns from,
whether COLLECT waits for running jobs, whether TRAIN can start, and which extra metrics
are recorded. A :class:`ValidationPlan` holds exactly those differences, so the
:class:`~materials_ai.campaign.loop.Campaign` talks to a plan and an
:class:`~materials_ai.oracles.base.Oracle` and never asks which kind it has.

Plans are looked up by ``config.oracle.kind`` in :data:`ORACLE_PLANS`::

    plan = ORACLE_PLANS.get(config.oracle.kind)(config, objective)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, cast

import numpy as np

from materials_ai.errors import CampaignError
from materials_ai.registry import Registry

if TYPE_CHECKING:
    from materials_ai.acquisition.objective import DesirabilityObjective
    from materials_ai.campaign.config import WorkflowConfig
    from materials_ai.campaign.state import CampaignState, ObservationRecord
    from materials_ai.compute import Executor
    from materials_ai.data.records import MaterialsDataset
    from materials_ai.oracles.base import Oracle, Ticket
    from materials_ai.oracles.chain import OracleChain

logger = logging.getLogger(__name__)

#: Observed values: candidate id -> workflow target -> value.
ObservedValues = dict[str, dict[str, float]]


class ValidationPlan(Protocol):
    """How a campaign validates, for one kind of oracle.

    Attributes:
        reads_labels: Whether the pool's labels are read from the dataset (a replay
            answers from them; a computing oracle uses the table as a pool only).
        targets_total: Candidates of the whole pool that meet every criterion, known
            after :meth:`build` for a replay (None when unknown).
    """

    reads_labels: bool
    targets_total: int | None

    def target_units(self, card_units: Mapping[str, str]) -> dict[str, str]:
        """Unit of each workflow target.

        Args:
            card_units: Target name -> unit, from the dataset card.
        """
        ...

    def build(
        self,
        dataset: MaterialsDataset,
        run_dir: Path,
        executor: Callable[[], Executor],
        state: CampaignState,
    ) -> Oracle:
        """Build the oracle and re-register the state's pending tickets with it.

        Args:
            dataset: The loaded pool.
            run_dir: The campaign's run directory.
            executor: Returns the campaign's executor (called only if the oracle uses it,
                so that none is started otherwise).
            state: Campaign state (its pending tickets are resubmitted).
        """
        ...

    def observed_values(self, records: Iterable[ObservationRecord]) -> ObservedValues:
        """Candidate id -> workflow target -> the value the campaign learns from."""
        ...

    def wait(self, oracle: Oracle, tickets: Sequence[Ticket]) -> None:
        """Wait (within the workflow's limit) for submitted validations before COLLECT."""
        ...

    def check_trainable(self, y: np.ndarray, records: Sequence[ObservationRecord]) -> None:
        """Raise :class:`CampaignError` if TRAIN cannot start on labels ``y``.

        Args:
            y: Training labels, candidates × targets (NaN where unobserved).
            records: Every observation so far (for the message).
        """
        ...

    def extra_metrics(
        self, records: Iterable[ObservationRecord], pending: Sequence[object]
    ) -> dict[str, float]:
        """Metrics this kind of oracle adds to every RECORD stage."""
        ...


#: Builds a plan from the workflow and its objective.
PlanFactory = Callable[["WorkflowConfig", "DesirabilityObjective"], ValidationPlan]

#: Validation plans by ``oracle.kind``.
ORACLE_PLANS: Registry[PlanFactory] = Registry("oracle kind")


class _PlanBase:
    """What every plan keeps: the workflow, its objective, and the table's target count.

    Args:
        config: The workflow.
        objective: The workflow's objective.
    """

    def __init__(self, config: WorkflowConfig, objective: DesirabilityObjective) -> None:
        self.config = config
        self.objective = objective
        self.targets_total: int | None = None


class ReplayPlan(_PlanBase):
    """Validation by replaying the dataset's own labels (retrospective campaigns).

    Args:
        config: The workflow.
        objective: The workflow's objective (to count the table's targets).
    """

    reads_labels = True

    def target_units(self, card_units: Mapping[str, str]) -> dict[str, str]:
        """The card's unit of each workflow target."""
        return {t: card_units[t] for t in self.config.targets}

    def build(
        self,
        dataset: MaterialsDataset,
        run_dir: Path,
        executor: Callable[[], Executor],
        state: CampaignState,
    ) -> Oracle:
        """A :class:`~materials_ai.oracles.replay.ReplayOracle` of the pool's labels."""
        from materials_ai.oracles.replay import ReplayOracle

        replay = ReplayOracle.from_dataset(dataset)
        # Tickets issued before an interruption stay collectable after it.
        replay.resubmit(state.pending_tickets())
        self.targets_total = replay.count_satisfying(self.objective)
        return replay

    def observed_values(self, records: Iterable[ObservationRecord]) -> ObservedValues:
        """Every successful observation; later ones override per target."""
        observed: ObservedValues = {}
        for record in records:
            obs = record.observation
            if obs["ok"]:
                # Later observations override per target (a lab value keeps the rest).
                observed.setdefault(obs["candidate_id"], {}).update(obs["values"])
        return observed

    def wait(self, oracle: Oracle, tickets: Sequence[Ticket]) -> None:
        """A replay answers at once: nothing to wait for."""

    def check_trainable(self, y: np.ndarray, records: Sequence[ObservationRecord]) -> None:
        """Any labels will do (the surrogate reports what it cannot fit)."""

    def extra_metrics(
        self, records: Iterable[ObservationRecord], pending: Sequence[object]
    ) -> dict[str, float]:
        """None."""
        return {}


class ChainPlan(_PlanBase):
    """Validation by computation through the workflow's fidelity chain.

    Args:
        config: The workflow (``oracle.kind: chain``).
        objective: The workflow's objective (unused: a computed pool's total is unknown).
    """

    reads_labels = False

    def target_units(self, card_units: Mapping[str, str]) -> dict[str, str]:
        """Unit of each target's observed value, else the card's."""
        from materials_ai.campaign.validation import target_units

        return target_units(self.config.oracle.learn, card_units)

    def build(
        self,
        dataset: MaterialsDataset,
        run_dir: Path,
        executor: Callable[[], Executor],
        state: CampaignState,
    ) -> Oracle:
        """The fidelity chain, its jobs of pending tickets adopted or re-launched."""
        from materials_ai.campaign.validation import build_chain_oracle

        chain = self.config.oracle.chain
        use = executor() if chain is not None and chain.launcher == "executor" else None
        oracle = build_chain_oracle(self.config, run_dir, use)
        # Finished jobs are collected, live ones adopted, orphaned ones re-launched.
        oracle.resubmit(state.pending_tickets())
        return oracle

    def observed_values(self, records: Iterable[ObservationRecord]) -> ObservedValues:
        """Each target from its mapped fidelity only (``oracle.learn``)."""
        from materials_ai.campaign.validation import learned_values

        return learned_values((r.observation for r in records), self.config.oracle.learn)

    def wait(self, oracle: Oracle, tickets: Sequence[Ticket]) -> None:
        """Wait (advancing the chain) up to ``chain.wait_timeout_s``."""
        from materials_ai.campaign.validation import wait_for

        chain = self.config.oracle.chain
        if chain is None or not tickets:
            return
        # Jobs run in detached workers; wait (advancing the chain) up to the limit,
        # then go on with what has finished. The rest stays pending for later.
        settled = wait_for(
            cast("OracleChain", oracle), list(tickets), chain.wait_timeout_s, chain.poll_s
        )
        if not settled:
            logger.info("going on while validations are still running")

    def check_trainable(self, y: np.ndarray, records: Sequence[ObservationRecord]) -> None:
        """A computed campaign needs each target observed (at its fidelity) before TRAIN.

        Raises:
            CampaignError: If a target has no observation yet, or fewer than two
                candidates have any.
        """
        targets = self.config.targets
        counts = np.isfinite(y).sum(axis=0) if y.size else np.zeros(len(targets))
        missing = [
            f"{t} ({self.config.oracle.learn[t]})"
            for t, c in zip(targets, counts, strict=True)
            if c == 0
        ]
        if missing or len(y) < 2:
            raise CampaignError(
                f"cannot train: no successful observation yet of {missing or 'two candidates'} "
                f"after {len(records)} observations "
                f"({sum(not r.observation['ok'] for r in records)} failed). "
                "Pass more candidates to that stage (select_top, initial_labels) or fix the "
                "failures (see each job's log in the job store), then resume."
            )

    def extra_metrics(
        self, records: Iterable[ObservationRecord], pending: Sequence[object]
    ) -> dict[str, float]:
        """Observations per fidelity and validations still running."""
        from materials_ai.oracles.fidelity import fidelity_counts

        metrics = {
            f"observations_{key.replace(':', '_')}": float(count)
            for key, count in fidelity_counts(r.observation for r in records).items()
        }
        metrics["pending_validations"] = float(len(pending))
        return metrics


ORACLE_PLANS.add("replay", ReplayPlan)
ORACLE_PLANS.add("chain", ChainPlan)
