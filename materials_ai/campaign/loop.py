"""The campaign: a persisted stage machine around one active-learning loop.

Each stage does one thing, writes what it produced to the run directory, and then the
state file (atomically). A campaign interrupted anywhere resumes at the first stage
that had not completed, and because every random choice is seeded from the workflow
seed, the iteration and the stage, it makes the same picks as an uninterrupted run.

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

import dataclasses
import logging
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from materials_ai.acquisition.objective import DesirabilityObjective
from materials_ai.campaign.config import WorkflowConfig, dump_workflow, load_workflow
from materials_ai.campaign.state import (
    CampaignState,
    ObservationRecord,
    SelectionRecord,
    Stage,
    load_state,
    save_state,
)
from materials_ai.errors import CampaignError
from materials_ai.oracles.replay import ReplayOracle

if TYPE_CHECKING:
    from materials_ai.compute import Executor
    from materials_ai.data.records import Candidate, MaterialsDataset
    from materials_ai.oracles.base import Oracle
    from materials_ai.surrogates.base import PoolFeatures, PoolSurrogate
    from materials_ai.surrogates.prediction import Prediction
    from materials_ai.tracking import Tracker

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


def _seed(*parts: int) -> int:
    """Derive a 63-bit seed from integers (stable across processes and platforms)."""
    return int(np.random.SeedSequence(list(parts)).generate_state(1, dtype=np.uint64)[0] >> 1)


@dataclass(frozen=True)
class CampaignSummary:
    """What a finished (or paused) campaign reports.

    Attributes:
        name: Workflow name.
        run_dir: Run directory.
        done: Whether the campaign finished.
        iteration: Current iteration.
        oracle_calls: Validations requested (seed labels included).
        targets_found: Validated candidates meeting every criterion.
        targets_total: How many the replayed table holds (None for other oracles).
        ranked_csv: Latest ranked list (CSV).
        ranked_json: Latest ranked list (JSON).
        cif_dir: CIFs of the latest top candidates.
        tracking_uri: Where the run is tracked (None without tracking).
        tracking_run_id: The tracker's run id.
    """

    name: str
    run_dir: Path
    done: bool
    iteration: int
    oracle_calls: int
    targets_found: int
    targets_total: int | None
    ranked_csv: Path | None
    ranked_json: Path | None
    cif_dir: Path | None
    tracking_uri: str | None
    tracking_run_id: str | None


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
        self._prepared = False
        self._stage_seconds: dict[str, float] = {}
        # Filled by _prepare():
        self.pool: list[Candidate] = []
        self.index_of: dict[str, int] = {}
        self.chemsys_codes: np.ndarray | None = None
        self.features: PoolFeatures | None = None
        self.oracle: Oracle | None = None
        self.surrogate: PoolSurrogate | None = None
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
        """Load the pool's rows: all, the first ``limit``, or a seeded sample of them.

        A sample is drawn over row numbers before loading, so only the sampled rows are
        parsed.
        """
        from materials_ai.data.loaders import load_dataset
        from materials_ai.data.registry import get_card

        data = self.config.data
        n_rows = get_card(data.dataset).rows
        if data.limit is not None:
            n_rows = min(n_rows, data.limit)
        rows: list[int] | None = None
        if data.sample_size is not None and data.sample_size < n_rows:
            rng = np.random.default_rng(data.sample_seed)
            rows = np.sort(rng.choice(n_rows, size=data.sample_size, replace=False)).tolist()
        dataset = load_dataset(
            data.dataset,
            # A computed (chain) campaign uses the table as a pool only: no labels read.
            targets=self.config.targets if not self._validates() else [],
            data_dir=data.data_dir,
            limit=data.limit if rows is None else None,
            rows=rows,
            progress=self.progress,
        )
        if dataset.skipped:
            import pandas as pd

            pd.DataFrame([dataclasses.asdict(s) for s in dataset.skipped]).to_csv(
                self.run_dir / "skipped_rows.csv", index=False
            )
            logger.warning(
                "%d rows of %s skipped (see %s)",
                len(dataset.skipped),
                data.dataset,
                self.run_dir / "skipped_rows.csv",
            )
        return dataset

    def _prepare(self) -> None:
        if self._prepared:
            return
        from materials_ai.data.registry import get_card
        from materials_ai.surrogates.kinds import build_surrogate, load_surrogate

        dataset = self._load_dataset()
        if self.config.data.screens:  # e.g. pfas_free: rules applied before any label
            from materials_ai.campaign.pool_screens import apply_pool_screens

            dataset = apply_pool_screens(dataset, self.config.data.screens, self.run_dir)
        if len(dataset) < self.config.loop.initial_labels + 1:
            raise CampaignError(
                f"dataset {dataset.name!r} has {len(dataset)} usable rows; the campaign needs "
                f"more than initial_labels = {self.config.loop.initial_labels}"
            )
        self.pool = [r.as_candidate(source=dataset.name) for r in dataset.records]
        self.index_of = {c.id: i for i, c in enumerate(self.pool)}
        chemsys = [
            "-".join(sorted(str(e) for e in c.structure.composition.elements)) for c in self.pool
        ]
        self.chemsys_codes = np.unique(chemsys, return_inverse=True)[1].astype(np.int64)
        card = get_card(dataset.name)
        self.target_units = {t.name: t.unit for t in dataset.targets}
        if self._validates():
            from materials_ai.campaign.validation import build_chain_oracle, target_units

            self.target_units = target_units(
                self.config.oracle.learn, {n: t.unit for n, t in card.targets.items()}
            )
            chain = self.config.oracle.chain
            executor = self.executor if chain is not None and chain.launcher == "executor" else None
            self.oracle = build_chain_oracle(self.config, self.run_dir, executor)
            # Finished jobs are collected, live ones adopted, orphaned ones re-launched.
            self.oracle.resubmit(self.state.pending_tickets())  # type: ignore[attr-defined]
        else:
            replay = ReplayOracle.from_dataset(dataset)
            # Tickets issued before an interruption stay collectable after it.
            replay.resubmit(self.state.pending_tickets())
            self.targets_total = replay.count_satisfying(self.objective)
            self.oracle = replay
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

    def _validates(self) -> bool:
        """True when a fidelity chain validates by computation (not a replayed table)."""
        return self.config.oracle.kind == "chain"

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
        try:
            with self._progress_bar() as advance:
                while not self.state.done:
                    if max_stages is not None and stages_run >= max_stages:
                        break
                    stage = self._next_stage()
                    iteration = self.state.iteration
                    started = time.perf_counter()
                    getattr(self, f"_stage_{stage.value}")()
                    self._stage_seconds[stage.value] = time.perf_counter() - started
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
        stages = self.stages_of(self.state.iteration)
        self.state.completed.append(stage)
        if list(self.state.completed) == list(stages):
            if self._is_final():
                self.state.done = True
            else:
                self.state.iteration += 1
                self.state.completed = []
                if self._is_final_iteration():
                    self.state.final_iteration = self.state.iteration
        save_state(self.state, self.run_dir)

    def _is_final(self) -> bool:
        return self.state.iteration == self.state.final_iteration

    # -- stages -----------------------------------------------------------------------

    def _stage_seed(self) -> None:
        n = self.config.loop.initial_labels
        rng = np.random.default_rng(_seed(self.config.seed, 0))
        picks = np.sort(rng.choice(len(self.pool), size=n, replace=False))
        self._submit(picks, iteration=0, strategy="random", values=[None] * n)

    def _stage_collect(self) -> None:
        assert self.oracle is not None
        tickets = self.state.pending_tickets()
        chain = self.config.oracle.chain
        if chain is not None and tickets:
            from materials_ai.campaign.validation import wait_for

            # Jobs run in detached workers; wait (advancing the chain) up to the limit,
            # then go on with what has finished. The rest stays pending for later.
            settled = wait_for(self.oracle, tickets, chain.wait_timeout_s, chain.poll_s)  # type: ignore[arg-type]
            if not settled:
                logger.info("going on while validations are still running")
        observations = self.oracle.collect(tickets)
        finished = {o.candidate_id for o in observations}
        source_iteration = {
            sid: sel.iteration for sel in self.state.selections for sid in sel.candidate_ids
        }
        for obs in observations:
            self.state.observations.append(
                ObservationRecord(
                    iteration=source_iteration.get(obs.candidate_id, self.state.iteration),
                    observation=obs.to_dict(),
                )
            )
            if not obs.ok:
                logger.warning("validation of %s failed: %s", obs.candidate_id, obs.reason)
        self.state.pending = [t for t in self.state.pending if t["candidate_id"] not in finished]

    def _training_data(self) -> tuple[np.ndarray, np.ndarray]:
        latest: dict[str, dict[str, float]] = {}
        if self._validates():  # each target from its mapped fidelity only
            latest = {
                cid: row for cid, row in self._observed_values().items() if cid in self.index_of
            }
        else:
            for record in self.state.observations:
                obs = record.observation
                if obs["ok"] and obs["candidate_id"] in self.index_of:
                    # Later observations override per target (a lab value keeps the rest).
                    latest.setdefault(obs["candidate_id"], {}).update(obs["values"])
        ids = sorted(latest, key=lambda i: self.index_of[i])
        indices = np.array([self.index_of[i] for i in ids], dtype=np.int64)
        y = np.array(
            [[latest[i].get(t, np.nan) for t in self.config.targets] for i in ids],
            dtype=np.float64,
        ).reshape(len(ids), len(self.config.targets))
        return indices, y

    def _stage_train(self) -> None:
        assert self.surrogate is not None and self.features is not None
        indices, y = self._training_data()
        if self._validates():
            self._check_trainable(y)
        report = self.surrogate.fit_pool(
            self.features.select(indices),
            y,
            warm_start=self.config.loop.warm_start,
            executor=self.executor,
            seed_offset=self.state.iteration,
        )
        model_dir = f"models/iter_{self.state.iteration:03d}"
        self.surrogate.save(self.run_dir / model_dir)
        previous = self.state.model_dir
        self.state.model_dir = model_dir
        self.state.fit = {
            "iteration": self.state.iteration,
            "n_train": report.n_train,
            "val_mae": report.val_mae,
            "seconds": report.seconds,
            "warm_start": report.warm_start,
            "epochs": [m.epochs for m in report.members],
        }
        if previous and previous != model_dir:
            logger.debug("superseded surrogate %s is removed after this iteration", previous)

    def _check_trainable(self, y: np.ndarray) -> None:
        """A computed campaign needs each target observed (at its fidelity) before TRAIN."""
        counts = np.isfinite(y).sum(axis=0) if y.size else np.zeros(len(self.config.targets))
        missing = [
            f"{t} ({self.config.oracle.learn[t]})"
            for t, c in zip(self.config.targets, counts, strict=True)
            if c == 0
        ]
        if missing or len(y) < 2:
            raise CampaignError(
                f"cannot train: no successful observation yet of {missing or 'two candidates'} "
                f"after {len(self.state.observations)} observations "
                f"({sum(not r.observation['ok'] for r in self.state.observations)} failed). "
                "Pass more candidates to that stage (select_top, initial_labels) or fix the "
                "failures (see each job's log in the job store), then resume."
            )

    def _scores_path(self) -> Path:
        return self.run_dir / "scores" / f"iter_{self.state.iteration:03d}.npz"

    def _stage_score(self) -> None:
        assert self.surrogate is not None and self.features is not None
        # With an executor, partitions of the pool are scored in parallel; the result is
        # identical to scoring without one (see surrogates/scoring.py).
        prediction = self.surrogate.predict_pool(self.features, executor=self.executor)
        assert prediction.samples is not None
        path = self._scores_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.stem + ".tmp.npz")
        np.savez(tmp, samples=prediction.samples, acquisition=np.full(len(self.pool), np.nan))
        tmp.replace(path)
        previous = self.state.scores_file
        self.state.scores_file = str(path.relative_to(self.run_dir))
        if previous and previous != self.state.scores_file:
            (self.run_dir / previous).unlink(missing_ok=True)

    def _load_scores(self) -> tuple[np.ndarray, np.ndarray]:
        if not self.state.scores_file:
            raise CampaignError("internal: no pool scores recorded before selection")
        with np.load(self.run_dir / self.state.scores_file, allow_pickle=False) as data:
            return data["samples"], data["acquisition"]

    def _prediction(self) -> Prediction | None:
        from materials_ai.surrogates.prediction import Prediction

        if not self.state.scores_file:
            return None
        samples, _ = self._load_scores()
        return Prediction.from_samples(samples, tuple(self.config.targets))

    def _stage_select(self) -> None:
        from materials_ai.acquisition.select import select_batch

        if self.state.scores_file:
            samples, _ = self._load_scores()
        else:  # random baseline: no model, no scores
            samples = np.empty((0, len(self.pool), len(self.config.targets)))
        requested = self.state.requested_ids()
        available = np.array(
            [i for i, c in enumerate(self.pool) if c.id not in requested], dtype=np.int64
        )
        q = self.config.loop.batch_size
        cap = self.config.loop.max_oracle_calls
        if cap is not None:
            q = min(q, cap - self.state.oracle_calls)
        labelled, y = self._training_data()
        selection = select_batch(
            samples,
            self.objective,
            self.config.acquisition,
            q,
            available=available,
            observed_values=y,
            observed_indices=labelled,
            groups=self.chemsys_codes,
            seed=_seed(self.config.seed, self.state.iteration, 1),
        )
        if self.state.scores_file:
            path = self.run_dir / self.state.scores_file
            tmp = path.with_name(path.stem + ".tmp.npz")
            np.savez(tmp, samples=samples, acquisition=selection.candidate_values)
            tmp.replace(path)
        self.state.selections.append(
            SelectionRecord(
                iteration=self.state.iteration,
                strategy=selection.strategy,
                candidate_ids=[self.pool[i].id for i in selection.indices],
                acquisition_values=[
                    None if not np.isfinite(v) else float(v) for v in selection.pick_values
                ],
                predicted_mean={
                    t: samples[:, selection.indices, j].mean(axis=0).tolist()
                    for j, t in enumerate(self.config.targets)
                }
                if len(samples)
                else {},
                predicted_std={
                    t: samples[:, selection.indices, j].std(axis=0, ddof=1).tolist()
                    if samples.shape[0] > 1
                    else [0.0] * len(selection.indices)
                    for j, t in enumerate(self.config.targets)
                }
                if len(samples)
                else {},
            )
        )

    def _stage_submit(self) -> None:
        selection = self.state.selections[-1]
        if selection.iteration != self.state.iteration:
            raise CampaignError("internal: no selection recorded for this iteration")
        self._submit(
            np.array([self.index_of[i] for i in selection.candidate_ids]),
            iteration=None,
            strategy=None,
            values=None,
        )

    def _submit(
        self,
        indices: np.ndarray,
        *,
        iteration: int | None,
        strategy: str | None,
        values: Sequence[float | None] | None,
    ) -> None:
        assert self.oracle is not None
        candidates = [self.pool[int(i)] for i in indices]
        if iteration is not None:
            self.state.selections.append(
                SelectionRecord(
                    iteration=iteration,
                    strategy=str(strategy),
                    candidate_ids=[c.id for c in candidates],
                    acquisition_values=list(values or []),
                )
            )
        already = {t["candidate_id"] for t in self.state.pending}
        tickets = self.oracle.submit([c for c in candidates if c.id not in already])
        self.state.pending.extend(t.to_dict() for t in tickets)
        self.state.oracle_calls += len(tickets)

    def _stage_record(self) -> None:
        from materials_ai.report.ranked import build_ranked_list, write_ranked_list

        final = self._is_final()
        iteration = self.state.iteration
        prediction = self._prediction()
        acquisition = None
        if self.state.scores_file and not final:
            _, acquisition = self._load_scores()
        observed = self._observed_values()
        selected = (
            self.state.selections[-1].candidate_ids
            if not final
            and self.state.selections
            and self.state.selections[-1].iteration == iteration
            else []
        )
        ranked = build_ranked_list(
            self.pool,
            prediction,
            self.objective,
            observed=observed,
            acquisition_values=acquisition,
            selected_ids=selected,
            target_units=self.target_units,
            size=self.config.loop.ranked_list_size,
            metadata={
                "campaign": self.config.name,
                "iteration": iteration,
                "final": final,
                "oracle_calls": self.state.oracle_calls,
                "dataset": self.config.data.dataset,
            },
        )
        out_dir = self.run_dir / ("final" if final else f"iterations/iter_{iteration:03d}")
        paths = write_ranked_list(ranked, self.pool, out_dir, top_cifs=self.config.loop.top_cifs)
        metrics = self._metrics(iteration, observed)
        self.state.metrics.append(metrics)
        self.tracker.log_metrics(metrics, step=iteration)
        self.tracker.log_artifact(paths["csv"], "final" if final else f"iter_{iteration:03d}")
        if final:
            self.tracker.log_artifact(paths["json"], "final")
        self._log_line(metrics, final)
        self._remove_stale_models()

    def _observed_values(self) -> dict[str, dict[str, float]]:
        if self._validates():
            from materials_ai.campaign.validation import learned_values

            return learned_values(
                (r.observation for r in self.state.observations), self.config.oracle.learn
            )
        observed: dict[str, dict[str, float]] = {}
        for record in self.state.observations:
            obs = record.observation
            if obs["ok"]:
                observed.setdefault(obs["candidate_id"], {}).update(obs["values"])
        return observed

    def targets_found(self) -> int:
        """Validated candidates that meet every criterion."""
        observed = self._observed_values()
        if not observed:
            return 0
        values = np.array(
            [[v.get(t, np.nan) for t in self.config.targets] for v in observed.values()]
        )
        return int(self.objective.satisfied(values).sum())

    def _metrics(self, iteration: int, observed: dict[str, dict[str, float]]) -> dict[str, float]:
        values = np.array(
            [[v.get(t, np.nan) for t in self.config.targets] for v in observed.values()]
        ).reshape(len(observed), len(self.config.targets))
        desirability = self.objective.desirability(values) if len(values) else np.zeros(0)
        finite = desirability[np.isfinite(desirability)]
        metrics: dict[str, float] = {
            "iteration": float(iteration),
            "oracle_calls": float(self.state.oracle_calls),
            "n_labelled": float(len(observed)),
            "targets_found": float(self.targets_found()),
            "best_desirability": float(finite.max()) if finite.size else float("nan"),
        }
        if self.targets_total is not None:
            metrics["targets_total"] = float(self.targets_total)
        if self._validates():
            from materials_ai.oracles.fidelity import fidelity_counts

            for key, count in fidelity_counts(
                r.observation for r in self.state.observations
            ).items():
                metrics[f"observations_{key.replace(':', '_')}"] = float(count)
            metrics["pending_validations"] = float(len(self.state.pending))
        fit = self.state.fit or {}
        if fit.get("iteration") == iteration:
            for target, mae in fit.get("val_mae", {}).items():
                metrics[f"val_mae_{target}"] = float(mae)
        for stage, seconds in self._stage_seconds.items():
            metrics[f"seconds_{stage}"] = float(seconds)
        self._stage_seconds = {}
        return metrics

    def _remove_stale_models(self) -> None:
        models = self.run_dir / "models"
        if not models.exists():
            return
        for folder in models.iterdir():
            if folder.is_dir() and f"models/{folder.name}" != self.state.model_dir:
                shutil.rmtree(folder, ignore_errors=True)

    # -- tracking and display ---------------------------------------------------------

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

    def _log_line(self, metrics: dict[str, float], final: bool) -> None:
        if not self.progress:
            return
        from rich.console import Console

        total = f"/{self.targets_total}" if self.targets_total is not None else ""
        maes = ", ".join(
            f"{k.removeprefix('val_mae_')} {v:.3g}"
            for k, v in metrics.items()
            if k.startswith("val_mae_") and np.isfinite(v)
        )
        label = "final" if final else f"iteration {int(metrics['iteration'])}"
        Console(stderr=True).print(
            f"[bold]{label}[/]: oracle calls {int(metrics['oracle_calls'])}, "
            f"found {int(metrics['targets_found'])}{total}"
            + (f", validation MAE {maes}" if maes else "")
        )

    def _progress_bar(self):  # type: ignore[no-untyped-def]
        from contextlib import contextmanager

        @contextmanager
        def bar():  # type: ignore[no-untyped-def]
            if not self.progress:
                yield lambda state: None
                return
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            total = self.config.loop.iterations + 2
            with Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                transient=False,
            ) as progress:
                task = progress.add_task(
                    self.config.name, total=total, completed=self.state.iteration
                )

                def advance(state: CampaignState) -> None:
                    stage = state.completed[-1].value if state.completed else "next"
                    progress.update(
                        task,
                        completed=total if state.done else min(state.iteration, total),
                        description=f"{self.config.name} · iter {state.iteration} · {stage}",
                    )

                yield advance

        return bar()

    def summary(self) -> CampaignSummary:
        """Where the campaign stands."""
        final = self.run_dir / "final"
        latest = final if final.exists() else None
        if latest is None:
            iters = sorted((self.run_dir / "iterations").glob("iter_*"))
            latest = iters[-1] if iters else None
        tracking_uri = None
        if self.config.tracking.backend != "none":
            from materials_ai.tracking import default_tracking_uri

            tracking_uri = self.config.tracking.tracking_uri or default_tracking_uri(self.run_dir)
        return CampaignSummary(
            name=self.config.name,
            run_dir=self.run_dir,
            done=self.state.done,
            iteration=self.state.iteration,
            oracle_calls=self.state.oracle_calls,
            targets_found=self.targets_found(),
            targets_total=self.targets_total,
            ranked_csv=latest / "ranked_candidates.csv" if latest else None,
            ranked_json=latest / "ranked_candidates.json" if latest else None,
            cif_dir=latest / "cifs" if latest else None,
            tracking_uri=tracking_uri,
            tracking_run_id=self.state.tracking_run_id,
        )
