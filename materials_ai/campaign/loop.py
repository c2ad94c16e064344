"""The campaign: a persisted stage machine around one active-learning loop.

Each stage does one thing, writes what it produced to the run directory, and then the
state file (atomically). A campaign interrupted anywhere resumes at the first stage
that had not completed, and because every random choice is seeded from the workflow
seed, the iteration and the stage, it makes the same picks as an uninterrupted run.

The loop talks to protocols only: a :class:`~materials_ai.surrogates.base.PoolSurrogate`
(built by ``surrogate.kind``), an :class:`~materials_ai.oracles.base.Oracle`, and the
:class:`~materials_ai.campaign.oracle_plans.ValidationPlan` of ``oracle.kind`` for what
differs between replayed and computed validation.

Run directory layout::

    workflow.yaml            the exact settings the run started with
    state.json               campaign state (see CampaignState)
    models/iter_NNN/         latest surrogate (config + weights)
    scores/iter_NNN.npz      latest pool predictions (member samples, acquisition values)
    iterations/iter_NNN/     ranked_candidates.csv / .json and cifs/ of that iteration
    final/                   the same for the finished campaign
    skipped_rows.csv         dataset rows that could not be used, and why
    mlflow.db, mlartifacts/  default MLflow store
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from materials_ai.acquisition.objective import DesirabilityObjective
from materials_ai.campaign import display, record, stages
from materials_ai.campaign.config import WorkflowConfig, dump_workflow, load_workflow
from materials_ai.campaign.oracle_plans import ORACLE_PLANS, ValidationPlan
from materials_ai.campaign.stages import STAGE_WORK
from materials_ai.campaign.state import CampaignState, Stage, load_state, save_state
from materials_ai.campaign.summary import CampaignSummary, summarize
from materials_ai.errors import CampaignError

if TYPE_CHECKING:
    from materials_ai.compute import Executor
    from materials_ai.data.records import Candidate, MaterialsDataset
    from materials_ai.oracles.base import Oracle
    from materials_ai.surrogates.base import PoolFeatures, PoolSurrogate
    from materials_ai.tracking import Tracker

__all__ = ["SELECTION_STAGES", "WORKFLOW_FILE", "Campaign", "CampaignSummary", "StageHook"]

logger = logging.getLogger(__name__)

WORKFLOW_FILE = "workflow.yaml"
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
    ) -> None:
        self.config = config
        self.run_dir = Path(run_dir)
        self.state = state
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
    def start(cls, config: WorkflowConfig, run_dir: str | Path, **kwargs: Any) -> Campaign:
        """Create a new run directory for ``config``.

        Raises:
            CampaignError: If ``run_dir`` already holds a campaign (resume it instead).
        """
        run_dir = Path(run_dir)
        if (run_dir / "state.json").exists():
            raise CampaignError(
                f"{run_dir} already holds a campaign; resume it with "
                f"`materials-ai campaign resume {run_dir}` or choose another --run-dir"
            )
        run_dir.mkdir(parents=True, exist_ok=True)
        dump_workflow(config, run_dir / WORKFLOW_FILE)
        state = CampaignState(workflow_fingerprint=config.fingerprint())
        save_state(state, run_dir)
        return cls(config, run_dir, state, **kwargs)

    @classmethod
    def resume(
        cls, run_dir: str | Path, *, iterations: int | None = None, **kwargs: Any
    ) -> Campaign:
        """Reopen a run directory where it stopped.

        Args:
            run_dir: The run directory.
            iterations: Raise (or lower) the number of selection iterations. Raising it
                reopens a finished campaign: its final iteration becomes a selection round
                (``final/`` is removed and written again at the new end).
            **kwargs: Passed to the constructor (executor, tracker, progress).

        Raises:
            CampaignError: If the directory holds no campaign, or its workflow file was
                changed in a way that alters results.
        """
        run_dir = Path(run_dir)
        state = load_state(run_dir)
        config = load_workflow(run_dir / WORKFLOW_FILE)
        if config.fingerprint() != state.workflow_fingerprint:
            raise CampaignError(
                f"{run_dir / WORKFLOW_FILE} changed since the campaign started "
                "(settings that alter results differ); start a new run instead"
            )
        if iterations is not None and iterations != config.loop.iterations:
            extends = iterations > config.loop.iterations
            config = config.with_overrides(**{"loop.iterations": iterations})
            dump_workflow(config, run_dir / WORKFLOW_FILE)
            state.workflow_fingerprint = config.fingerprint()
            if extends and state.final_iteration is not None:
                # Reopen a finished (or finishing) campaign: its final iteration becomes
                # an ordinary selection round that starts again from COLLECT, so it also
                # trains on observations ingested since (e.g. lab results).
                state.done = False
                state.final_iteration = None
                state.completed = []
                shutil.rmtree(run_dir / "final", ignore_errors=True)
            save_state(state, run_dir)
        return cls(config, run_dir, state, **kwargs)

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
        """Load the pool's rows (labels only where the oracle kind reads them)."""
        from materials_ai.campaign.pool import load_pool_dataset

        return load_pool_dataset(
            self.config, self.run_dir, reads_labels=self.plan.reads_labels, progress=self.progress
        )

    def _prepare(self) -> None:
        if self._prepared:
            return
        from materials_ai.campaign.pool import chemsys_codes, screened_pool
        from materials_ai.data.registry import get_card
        from materials_ai.surrogates.kinds import build_surrogate, load_surrogate

        dataset = screened_pool(self._load_dataset(), self.config, self.run_dir)
        self.pool = [r.as_candidate(source=dataset.name) for r in dataset.records]
        self.index_of = {c.id: i for i, c in enumerate(self.pool)}
        self.chemsys_codes = chemsys_codes(self.pool)
        card = get_card(dataset.name)
        self.target_units = self.plan.target_units({n: t.unit for n, t in card.targets.items()})
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
        self.features = self.surrogate.featurize_pool(
            self.pool, source=f"{card.name}:{card.sha256}"
        )
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
        self._prepare()
        self._start_tracking()
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
        if self.state.done:
            self.tracker.end_run("FINISHED")
        return self.summary()

    def _next_stage(self) -> Stage:
        for stage in self.stages_of(self.state.iteration):
            if stage not in self.state.completed:
                return stage
        raise CampaignError("internal: no stage left in the current iteration")

    def _complete(self, stage: Stage) -> None:
        """Mark a stage completed; roll over to the next iteration after its last stage."""
        planned = self.stages_of(self.state.iteration)
        self.state.completed.append(stage)
        if list(self.state.completed) == list(planned):
            if self.in_final_iteration:
                self.state.done = True
            else:
                self.state.iteration += 1
                self.state.completed = []
                if self._is_final_iteration():
                    self.state.final_iteration = self.state.iteration
        save_state(self.state, self.run_dir)

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
                "dataset": self.config.data.dataset,
                "run_dir": str(self.run_dir.resolve()),
            },
        )
        tracker.log_params(self.config.model_dump(mode="json"))
        self.state.tracking_run_id = tracker.run_id
        save_state(self.state, self.run_dir)

    def summary(self) -> CampaignSummary:
        """Where the campaign stands."""
        return summarize(
            self.config,
            self.run_dir,
            self.state,
            targets_found=self.targets_found(),
            targets_total=self.targets_total,
        )
