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
from materials_ai.campaign import display, record, stages
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
    ) -> None:
        self.config = config
        self.run_dir = Path(run_dir)
        self.rundir = rundir if rundir is not None else RunDirectory(self.run_dir)
        self.state = state
        #: Set by :meth:`resume` when there is nothing to run (why); :meth:`run` then
        #: returns at once.
        self.idle_reason: str | None = None
        self.progress = progress
        self._executor = executor
        self._owns_executor = executor is None
        self._tracker = tracker
        self.objective = DesirabilityObjective(config.objective, config.targets)
        self.plan: ValidationPlan = ORACLE_PLANS.get(config.oracle.kind)(config, self.objective)
        self._prepared = False
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
            **kwargs: Passed to the constructor (executor, tracker, progress).

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
            **kwargs: Passed to the constructor (executor, tracker, progress).

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
        config = stored
        if state.iterations is not None:
            config = stored.with_overrides(**{"loop.iterations": state.iterations})
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
        self.targets_total = self.plan.targets_total
        # The surrogate kind decides what the pool becomes (graphs, a feature table);
        # the loop only passes it back to the same surrogate (surrogates/kinds.py).
        self.surrogate = build_surrogate(
            self.config.surrogate,
            self.config.targets,
            [self.target_units.get(t, "") for t in self.config.targets],
        )
        self.features = self.surrogate.featurize_pool(self.pool, source=source.source_key)
        if self.state.model_dir:
            self.surrogate = load_surrogate(self.run_dir / self.state.model_dir)
        self._prepared = True

    # -- the stage machine ------------------------------------------------------------

    def stages_of(self, iteration: int) -> tuple[Stage, ...]:
        """The stages iteration ``iteration`` runs."""
        uses_model = self.config.acquisition.strategy != "random"
        if iteration == 0:
            return (Stage.SEED,)
        if iteration == self.state.final_iteration:
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
        bar = display.progress_bar(
            self.config.name,
            self.config.loop.iterations + 2,
            self.state.iteration,
            enabled=self.progress,
        )
        try:
            with bar as advance:
                while not self.state.done:
                    if max_stages is not None and stages_run >= max_stages:
                        break
                    stage = self._next_stage()
                    iteration = self.state.iteration
                    started = time.perf_counter()
                    STAGE_WORK[stage](self)
                    self.stage_seconds[stage.value] = time.perf_counter() - started
                    self._complete(stage)
                    stages_run += 1
                    advance(self.state)
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

    # -- stage helpers (the stages themselves are in campaign/stages.py) ---------------

    def _training_data(self) -> tuple[np.ndarray, np.ndarray]:
        """Pool indices and labels (`m x t`, NaN: unobserved) of the observed candidates."""
        return stages.training_data(self)

    def targets_found(self) -> int:
        """Validated candidates that meet every criterion."""
        observed = self.plan.observed_values(self.state.observations)
        return record.count_found(observed, self.objective, self.config.targets)

    # -- tracking and summary ---------------------------------------------------------

    def _start_tracking(self) -> None:
        tracker = self.tracker
        if self.state.tracking_run_id is not None:
            tracker.start_run(self.config.name, run_id=self.state.tracking_run_id)
            return
        tracker.start_run(
            self.config.name,
            tags={
                "workflow": self.config.name,
                "dataset": self.config.pool_label,
                "run_dir": str(self.run_dir.resolve()),
            },
        )
        tracker.log_params(self.config.model_dump(mode="json"))
        self.state.tracking_run_id = tracker.run_id
        self.rundir.write_state(self.state)

    def summary(self) -> CampaignSummary:
        """Where the campaign stands."""
        return summarize(
            self.config,
            self.run_dir,
            self.state,
            targets_found=self.targets_found(),
            targets_total=self.targets_total,
        )
