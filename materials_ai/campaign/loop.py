"""The campaign: a persisted stage machine around one active-learning loop.

Each stage does one thing, writes what it produced to the run directory, and then the
state file (atomically). A campaign interrupted anywhere resumes at the first stage
that had not completed, and because every random choice is seeded from the workflow
seed, the iteration and the stage, it makes the same picks as an uninterrupted run.

The loop talks to protocols only: a :class:`~materials_ai.surrogates.base.PoolSurrogate`
(built by ``surrogate.kind``), an :class:`~materials_ai.oracles.base.Oracle`, and the
:class:`~materials_ai.campaign.oracle_plans.ValidationPlan` of ``oracle.kind`` for what
differs between replayed and computed validation.

The run directory (:class:`~materials_ai.campaign.rundir.RunDirectory`, whose docstring
shows its layout) is owned by the running campaign: :meth:`Campaign.run` holds its lock,
writes the state through its journal, and merges lab observations queued in its inbox at
every stage boundary.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from materials_ai.acquisition.objective import DesirabilityObjective
from materials_ai.campaign import display, interrupt, record
from materials_ai.campaign.config import WorkflowConfig
from materials_ai.campaign.oracle_plans import ORACLE_PLANS, ValidationPlan
from materials_ai.campaign.rounds import set_total_rounds
from materials_ai.campaign.rundir import RunDirectory
from materials_ai.campaign.stages import STAGE_WORK
from materials_ai.campaign.state import CampaignState, Stage
from materials_ai.campaign.summary import CampaignSummary, summarize
from materials_ai.errors import CampaignError

if TYPE_CHECKING:
    from materials_ai.campaign.pool_sources import Pool
    from materials_ai.compute import Executor
    from materials_ai.data.records import Candidate, MaterialsDataset
    from materials_ai.oracles.base import Oracle
    from materials_ai.surrogates.base import PoolFeatures, PoolSurrogate
    from materials_ai.tracking import Tracker

__all__ = ["SELECTION_STAGES", "Campaign", "CampaignSummary", "StageHook"]

logger = logging.getLogger(__name__)

SELECTION_STAGES = (
    Stage.COLLECT,
    Stage.TRAIN,
    Stage.SCORE,
    Stage.SELECT,
    Stage.SUBMIT,
    Stage.RECORD,
)

#: Called after every completed stage with (iteration, stage); raising stops the run
#: (tests use it to inject interruptions).
StageHook = Callable[[int, Stage], None]


class Campaign:
    """An active-learning campaign bound to a run directory.

    Create one with :meth:`start` (new run directory) or :meth:`resume` (existing), then
    call :meth:`run`.

    Args:
        config: The workflow.
        run_dir: Run directory (holds state, models, outputs).
        state: Current state.
        executor: Parallel executor (default: built from ``config.compute``).
        tracker: Experiment tracker (default: built from ``config.tracking``).
        progress: Show progress bars and per-iteration lines on the console.
        rundir: The run directory object (default: one for ``run_dir``).
        surrogate: Used instead of the one ``config.surrogate`` builds or a resume
            loads (e.g. :class:`materials_ai.testing.fakes.FixedSurrogate`).
        oracle: Used instead of the one ``config.oracle`` builds; pending tickets are
            resubmitted to it (e.g. :class:`materials_ai.testing.fakes.TableOracle`).
    """

    def __init__(
        self,
        config: WorkflowConfig,
        run_dir: Path,
        state: CampaignState,
        *,
        executor: Executor | None = None,
        tracker: Tracker | None = None,
        progress: bool = False,
        rundir: RunDirectory | None = None,
        surrogate: PoolSurrogate[Any] | None = None,
        oracle: Oracle | None = None,
    ) -> None:
        self._given_surrogate, self._given_oracle = surrogate, oracle
        self.config = config
        self.run_dir = Path(run_dir)
        self.rundir = rundir if rundir is not None else RunDirectory(self.run_dir)
        self.state = state
        #: Why there is nothing to run (set by :meth:`resume`; :meth:`run` then returns).
        self.idle_reason: str | None = None
        self.progress = progress
        self._executor = executor
        self._owns_executor = executor is None
        self._tracker = tracker
        self.objective = DesirabilityObjective(config.objective, config.targets)
        self.plan: ValidationPlan = ORACLE_PLANS.get(config.oracle.kind)(config, self.objective)
        self._prepared = False
        #: The stage running now (None between stages); a stopped run names it.
        self.running_stage: Stage | None = None
        #: Seconds of each stage run since the last RECORD stage.
        self.stage_seconds: dict[str, float] = {}
        # Filled by _prepare():
        self.pool: list[Candidate] = []
        self.index_of: dict[str, int] = {}
        self.chemsys_codes: np.ndarray | None = None
        self.features: PoolFeatures | None = None
        self.oracle: Oracle | None = None
        self.surrogate: PoolSurrogate[Any] | None = None
        self.target_units: dict[str, str] = {}
        self.targets_total: int | None = None

    # -- construction -----------------------------------------------------------------

    @classmethod
    def start(
        cls,
        config: WorkflowConfig,
        run_dir: str | Path,
        *,
        clear_old_outputs: bool = False,
        **kwargs: Any,
    ) -> Campaign:
        """Create a new run directory for ``config``.

        Args:
            config: The workflow.
            run_dir: The run directory (created).
            clear_old_outputs: Delete outputs another campaign left in ``run_dir``
                (``final/``, ``iterations/``, models, journals) instead of refusing.
            **kwargs: Passed to the constructor (executor, tracker, progress,
                surrogate, oracle).

        Raises:
            CampaignError: If ``run_dir`` already holds a campaign (resume it instead).
            StaleOutputsError: If it holds another campaign's outputs.
            RunDirectoryLockedError: If another process owns it.
        """
        rundir = RunDirectory(run_dir)
        state = rundir.create(config, clear_old_outputs=clear_old_outputs)
        return cls(config, rundir.path, state, rundir=rundir, **kwargs)

    @classmethod
    def resume(
        cls, run_dir: str | Path, *, iterations: int | None = None, **kwargs: Any
    ) -> Campaign:
        """Reopen a run directory where it stopped.

        Args:
            run_dir: The run directory.
            iterations: Stop after this many selection rounds in total (stored in the
                state; the run's ``workflow.yaml`` is never rewritten). More than the
                campaign has chosen reopens a finished campaign; fewer (or as many, once
                finished) leaves it as it is (:attr:`idle_reason` says so and :meth:`run`
                does nothing).
            **kwargs: Passed to the constructor (executor, tracker, progress,
                surrogate, oracle).

        Raises:
            CampaignError: If the directory holds no campaign, or its workflow file was
                changed in a way that alters results.
            RunDirectoryLockedError: If ``iterations`` is given while another process
                owns the run.
        """
        rundir = RunDirectory(run_dir)
        state = rundir.read_state()
        stored = rundir.read_workflow()
        if stored.fingerprint() != state.workflow_fingerprint:
            raise CampaignError(
                f"{rundir.workflow_file} changed since the campaign started "
                "(settings that alter results differ); start a new run instead"
            )
        idle = None
        if iterations is not None:
            state, idle = set_total_rounds(rundir, iterations, configured=stored.loop.iterations)
        total = {} if state.iterations is None else {"loop.iterations": state.iterations}
        config = stored.with_overrides(**total) if total else stored
        campaign = cls(config, rundir.path, state, rundir=rundir, **kwargs)
        campaign.idle_reason = idle
        return campaign

    # -- lazily built context ---------------------------------------------------------

    @property
    def executor(self) -> Executor:
        """The executor (built on first use)."""
        if self._executor is None:
            from materials_ai.compute import make_executor

            self._executor = make_executor(self.config.compute, progress=self.progress)
        return self._executor

    @property
    def tracker(self) -> Tracker:
        """The tracker (built on first use)."""
        if self._tracker is None:
            from materials_ai.tracking import make_tracker

            self._tracker = make_tracker(self.config.tracking, self.run_dir)
        return self._tracker

    def _load_dataset(self) -> MaterialsDataset:
        """Load the pool's rows from its source (labels only where the oracle reads them)."""
        return self._load_pool().dataset

    def _load_pool(self) -> Pool:
        from materials_ai.campaign.pool_sources import load_pool

        return load_pool(self.config, self.run_dir, self.plan, progress=self.progress)

    def _prepare(self) -> None:
        if self._prepared:
            return
        from materials_ai.campaign.pool import chemsys_codes, screened_pool
        from materials_ai.surrogates.kinds import build_surrogate, load_surrogate

        source = self._load_pool()  # pool.kind: dataset rows, user files or generated
        dataset = screened_pool(source.dataset, self.config, self.run_dir)
        self.pool = [r.as_candidate(source=dataset.name) for r in dataset.records]
        self.index_of = {c.id: i for i, c in enumerate(self.pool)}
        self.chemsys_codes = chemsys_codes(self.pool)
        self.target_units = source.target_units
        # Builds the oracle and re-registers pending tickets (a resumed campaign).
        self.oracle = self.plan.build(dataset, self.run_dir, lambda: self.executor, self.state)
        if self._given_oracle is not None:
            self.oracle = self._given_oracle
            self.oracle.resubmit(self.state.pending_tickets())
        self.targets_total = self.plan.targets_total
        # The surrogate kind decides what the pool becomes (graphs, a feature table);
        # the loop only passes it back to the same surrogate (surrogates/kinds.py).
        self.surrogate = self._given_surrogate or build_surrogate(
            self.config.surrogate,
            self.config.targets,
            [self.target_units.get(t, "") for t in self.config.targets],
        )
        self.features = self.surrogate.featurize_pool(self.pool, source=source.source_key)
        if self.state.model_dir and self._given_surrogate is None:
            self.surrogate = load_surrogate(self.run_dir / self.state.model_dir)
        self._prepared = True

    # -- the stage machine ------------------------------------------------------------

    def stages_of(self, iteration: int, final: bool | None = None) -> tuple[Stage, ...]:
        """The stages iteration ``iteration`` runs (``final``: whether it is the final
        iteration; default: whether the state says so)."""
        uses_model = self.config.acquisition.strategy != "random"
        if final is None:
            final = iteration == self.state.final_iteration
        if iteration == 0:
            return (Stage.SEED,)
        if final:
            if self.config.loop.final_retrain and uses_model:
                return (Stage.COLLECT, Stage.TRAIN, Stage.SCORE, Stage.RECORD)
            return (Stage.COLLECT, Stage.RECORD)
        if not uses_model:  # a random baseline needs no surrogate
            return (Stage.COLLECT, Stage.SELECT, Stage.SUBMIT, Stage.RECORD)
        return SELECTION_STAGES

    def _is_final_iteration(self) -> bool:
        return self.state.iteration > self.config.loop.iterations or self._budget_spent()

    def _budget_spent(self) -> bool:
        cap = self.config.loop.max_oracle_calls
        return (cap is not None and self.state.oracle_calls >= cap) or (
            self._prepared and len(self.state.requested_ids()) >= len(self.pool)
        )

    def run(
        self, *, after_stage: StageHook | None = None, max_stages: int | None = None
    ) -> CampaignSummary:
        """Run stages until the campaign is done.

        Args:
            after_stage: Called after each completed (and persisted) stage.
            max_stages: Stop after this many stages (the campaign stays resumable).

        Returns:
            The summary of where the campaign stands.
        """
        if self.idle_reason is not None:
            return self.summary()
        with self.rundir.lock("run"):
            self._sync_state()
            self._prepare()
            self._start_tracking()
            self._run_stages(after_stage, max_stages)
            if self.rundir.merge_inbox(self.state):
                self.rundir.write_state(self.state)
        if self.state.done:
            self.tracker.end_run("FINISHED")
        return self.summary()

    def _sync_state(self) -> None:
        """Now the owner: read what others wrote since, and merge the lab inbox."""
        if self.rundir.changed_on_disk():
            self.state = self.rundir.read_state()
            rounds = self.state.iterations
            if rounds is not None and rounds != self.config.loop.iterations:
                self.config = self.config.with_overrides(**{"loop.iterations": rounds})
        if self.rundir.merge_inbox(self.state):
            self.rundir.write_state(self.state)

    def _run_stages(self, after_stage: StageHook | None, max_stages: int | None) -> None:
        stages_run = 0
        bar = display.campaign_progress(
            self.config.name,
            self.state,
            self.stages_of,
            rounds_total=self.config.loop.iterations,
            batch_size=self.config.loop.batch_size,
            max_oracle_calls=self.config.loop.max_oracle_calls,
            enabled=self.progress,
        )
        try:
            with bar as shown:
                while not self.state.done:
                    if max_stages is not None and stages_run >= max_stages:
                        break
                    stage = self._next_stage()
                    iteration = self.state.iteration
                    self.running_stage = stage
                    shown.stage_started(self.state, stage)
                    started = time.perf_counter()
                    STAGE_WORK[stage](self)
                    seconds = time.perf_counter() - started
                    self.stage_seconds[stage.value] = seconds
                    with interrupt.deferred():  # a stop signal waits for the state file
                        self._complete(stage)
                        self.running_stage = None
                    stages_run += 1
                    shown.stage_finished(self.state, stage, seconds)
                    if after_stage is not None:
                        after_stage(iteration, stage)
        finally:
            if self._owns_executor and self._executor is not None:
                self._executor.close()
                self._executor = None

    def _next_stage(self) -> Stage:
        for stage in self.stages_of(self.state.iteration):
            if stage not in self.state.completed:
                return stage
        raise CampaignError("internal: no stage left in the current iteration")

    def _complete(self, stage: Stage) -> None:
        """Mark a stage completed; roll over to the next iteration after its last stage."""
        planned = self.stages_of(self.state.iteration)
        self.state.completed.append(stage)
        # Lab results queued by `campaign ingest` join at the stage boundary.
        self.rundir.merge_inbox(self.state)
        if list(self.state.completed) == list(planned):
            if self.in_final_iteration:
                self.state.done = True
            else:
                self.state.iteration += 1
                self.state.completed = []
                if self._is_final_iteration():
                    self.state.final_iteration = self.state.iteration
        self.rundir.write_state(self.state)

    @property
    def in_final_iteration(self) -> bool:
        """Whether the current iteration is the campaign's final one."""
        return self.state.iteration == self.state.final_iteration

    # -- results, tracking and summary (the stages are in campaign/stages.py) ----------

    def targets_found(self) -> int:
        """Validated candidates that meet every criterion."""
        observed = self.plan.observed_values(self.state.observations)
        return record.count_found(observed, self.objective, self.config.targets)

    def _start_tracking(self) -> None:
        from materials_ai.campaign.tracking_setup import start_tracking

        start_tracking(self)  # MLflow run (reattached on resume), params, pool dataset

    def summary(self) -> CampaignSummary:
        """Where the campaign stands."""
        found, total = self.targets_found(), self.targets_total
        return summarize(
            self.config, self.run_dir, self.state, targets_found=found, targets_total=total
        )
