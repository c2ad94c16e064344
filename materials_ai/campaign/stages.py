"""What each stage of a campaign iteration does.

:class:`~materials_ai.campaign.loop.Campaign` decides *which* stage runs next and persists
the state after it; the functions here do the stage's work on the campaign (its pool,
surrogate, oracle, validation plan and state) and leave the state to be saved. They talk
to protocols only: :class:`~materials_ai.surrogates.base.PoolSurrogate`,
:class:`~materials_ai.oracles.base.Oracle` and
:class:`~materials_ai.campaign.oracle_plans.ValidationPlan`.

======== ==================================================================================
SEED     random initial picks, submitted
COLLECT  finished validations become observations (a computing oracle is waited for)
TRAIN    the surrogate is fitted on everything observed (``models/iter_NNN``)
SCORE    the whole pool is predicted (``scores/iter_NNN.npz``)
SELECT   the acquisition function picks a batch
SUBMIT   the batch goes to the oracle
RECORD   ranked list, CIFs and metrics of the iteration (``iterations/``, ``final/``)
======== ==================================================================================
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from materials_ai.campaign import display, record, selection
from materials_ai.campaign.layout import FINAL_DIR, ITERATIONS_DIR
from materials_ai.campaign.relaxed import relaxed_structures
from materials_ai.campaign.state import ObservationRecord, SelectionRecord, Stage
from materials_ai.errors import CampaignError
from materials_ai.tracking import metrics_with_units

if TYPE_CHECKING:
    from materials_ai.campaign.context import CampaignContext
    from materials_ai.surrogates.prediction import Prediction

logger = logging.getLogger(__name__)


def seed(campaign: CampaignContext) -> None:
    """SEED: submit ``initial_labels`` random candidates (seeded by the workflow seed)."""
    n = campaign.config.loop.initial_labels
    picks = selection.seed_picks(campaign.config.seed, len(campaign.pool), n)
    submit_indices(campaign, picks, iteration=0, strategy="random", values=[None] * n)


def collect(campaign: CampaignContext) -> None:
    """COLLECT: record the observations of finished tickets; the rest stay pending."""
    assert campaign.oracle is not None
    state = campaign.state
    tickets = state.pending_tickets()
    campaign.plan.wait(campaign.oracle, tickets)  # a computing oracle: jobs may be running
    observations = campaign.oracle.collect(tickets)
    finished = {o.candidate_id for o in observations}
    source_iteration = {sid: sel.iteration for sel in state.selections for sid in sel.candidate_ids}
    for obs in observations:
        state.observations.append(
            ObservationRecord(
                iteration=source_iteration.get(obs.candidate_id, state.iteration),
                observation=obs.to_dict(),
            )
        )
        if not obs.ok:
            logger.warning("validation of %s failed: %s", obs.candidate_id, obs.reason)
    state.pending = [t for t in state.pending if t["candidate_id"] not in finished]


def training_data(campaign: CampaignContext) -> tuple[np.ndarray, np.ndarray]:
    """Pool indices (`m`) and labels (`m x t`, NaN: unobserved) of the observed candidates.

    Each label is the value the validation plan learns from (for a chain, the mapped
    fidelity only; for a replay, the latest observation per target).
    """
    index_of = campaign.index_of
    observed = campaign.plan.observed_values(campaign.state.observations)
    latest = {cid: row for cid, row in observed.items() if cid in index_of}
    ids = sorted(latest, key=lambda i: index_of[i])
    indices = np.array([index_of[i] for i in ids], dtype=np.int64)
    targets = campaign.config.targets
    y = np.array(
        [[latest[i].get(t, np.nan) for t in targets] for i in ids], dtype=np.float64
    ).reshape(len(ids), len(targets))
    return indices, y


def train(campaign: CampaignContext) -> None:
    """TRAIN: fit the surrogate on everything observed and save it."""
    assert campaign.surrogate is not None and campaign.features is not None
    state = campaign.state
    indices, y = training_data(campaign)
    campaign.plan.check_trainable(y, state.observations)
    report = campaign.surrogate.fit_pool(
        campaign.features.select(indices),
        y,
        warm_start=campaign.config.loop.warm_start,
        executor=campaign.executor,
        seed_offset=state.iteration,
    )
    model_dir = f"models/iter_{state.iteration:03d}"
    campaign.surrogate.save(campaign.run_dir / model_dir)
    previous = state.model_dir
    state.model_dir = model_dir
    state.fit = {
        "iteration": state.iteration,
        "n_train": report.n_train,
        "val_mae": report.val_mae,
        "seconds": report.seconds,
        "warm_start": report.warm_start,
        "epochs": [m.epochs for m in report.members],
    }
    if previous and previous != model_dir:
        logger.debug("superseded surrogate %s is removed after this iteration", previous)


def score(campaign: CampaignContext) -> None:
    """SCORE: predict the whole pool; keep the member samples of this iteration only."""
    assert campaign.surrogate is not None and campaign.features is not None
    state, run_dir = campaign.state, campaign.run_dir
    # With an executor, partitions of the pool are scored in parallel; the result is
    # identical to scoring without one (see surrogates/scoring.py).
    prediction = campaign.surrogate.predict_pool(campaign.features, executor=campaign.executor)
    assert prediction.samples is not None
    path = run_dir / "scores" / f"iter_{state.iteration:03d}.npz"
    selection.save_scores(
        path, prediction.samples, np.full(len(campaign.pool), np.nan), prediction.domain
    )
    previous = state.scores_file
    state.scores_file = str(path.relative_to(run_dir))
    if previous and previous != state.scores_file:
        (run_dir / previous).unlink(missing_ok=True)


def select(campaign: CampaignContext) -> None:
    """SELECT: pick a batch among candidates never submitted, within the call budget."""
    from materials_ai.acquisition.select import select_batch

    state, config = campaign.state, campaign.config
    if state.scores_file:
        samples, _ = selection.load_scores(campaign.run_dir, state.scores_file)
    else:  # random baseline: no model, no scores
        samples = np.empty((0, len(campaign.pool), len(config.targets)))
    available = selection.available_indices(campaign.pool, state.requested_ids())
    q = config.loop.batch_size
    cap = config.loop.max_oracle_calls
    if cap is not None:
        q = min(q, cap - state.oracle_calls)
    labelled, y = training_data(campaign)
    picked = select_batch(
        samples,
        campaign.objective,
        config.acquisition,
        q,
        available=available,
        observed_values=y,
        observed_indices=labelled,
        groups=campaign.chemsys_codes,
        seed=selection.derive_seed(config.seed, state.iteration, 1),
    )
    if state.scores_file:
        path = campaign.run_dir / state.scores_file
        domain = selection.load_domain(campaign.run_dir, state.scores_file)
        selection.save_scores(path, samples, picked.candidate_values, domain)
    state.selections.append(
        selection.selection_record(state.iteration, picked, samples, campaign.pool, config.targets)
    )


def submit(campaign: CampaignContext) -> None:
    """SUBMIT: send this iteration's selection to the oracle."""
    chosen = campaign.state.selections[-1]
    if chosen.iteration != campaign.state.iteration:
        raise CampaignError("internal: no selection recorded for this iteration")
    indices = np.array([campaign.index_of[i] for i in chosen.candidate_ids])
    submit_indices(campaign, indices, iteration=None, strategy=None, values=None)


def submit_indices(
    campaign: CampaignContext,
    indices: np.ndarray,
    *,
    iteration: int | None,
    strategy: str | None,
    values: Sequence[float | None] | None,
) -> None:
    """Submit pool candidates ``indices`` (those not already pending) and count the calls.

    Args:
        campaign: The campaign.
        indices: Pool indices.
        iteration: When given, also record the picks as a selection of that iteration.
        strategy: The recorded selection's strategy.
        values: The recorded selection's acquisition values.
    """
    assert campaign.oracle is not None
    state = campaign.state
    candidates = [campaign.pool[int(i)] for i in indices]
    if iteration is not None:
        state.selections.append(
            SelectionRecord(
                iteration=iteration,
                strategy=str(strategy),
                candidate_ids=[c.id for c in candidates],
                acquisition_values=list(values or []),
            )
        )
    already = {t["candidate_id"] for t in state.pending}
    tickets = campaign.oracle.submit([c for c in candidates if c.id not in already])
    state.pending.extend(t.to_dict() for t in tickets)
    state.oracle_calls += len(tickets)


def latest_prediction(campaign: CampaignContext) -> Prediction | None:
    """The latest pool prediction (None before any SCORE stage)."""
    from materials_ai.surrogates.prediction import Prediction

    if not campaign.state.scores_file:
        return None
    samples, _ = selection.load_scores(campaign.run_dir, campaign.state.scores_file)
    prediction = Prediction.from_samples(samples, tuple(campaign.config.targets))
    domain = selection.load_domain(campaign.run_dir, campaign.state.scores_file)
    if domain is None:
        return prediction
    return Prediction(
        mean=prediction.mean,
        std=prediction.std,
        samples=prediction.samples,
        target_names=prediction.target_names,
        domain=domain,
    )


def record_iteration(campaign: CampaignContext) -> None:
    """RECORD: write the ranked list and CIFs, log the metrics, drop superseded models."""
    state, config, run_dir = campaign.state, campaign.config, campaign.run_dir
    final = campaign.in_final_iteration
    iteration = state.iteration
    prediction = latest_prediction(campaign)
    acquisition = None
    if state.scores_file and not final:
        _, acquisition = selection.load_scores(run_dir, state.scores_file)
    observed = campaign.plan.observed_values(state.observations)
    last = state.selections[-1] if state.selections else None
    selected = last.candidate_ids if not final and last and last.iteration == iteration else []
    paths = record.write_ranking(
        campaign.pool,
        prediction,
        campaign.objective,
        run_dir / (FINAL_DIR if final else f"{ITERATIONS_DIR}/iter_{iteration:03d}"),
        observed=observed,
        acquisition=acquisition,
        selected=selected,
        target_units=campaign.target_units,
        size=config.loop.ranked_list_size,
        one_per_composition=config.loop.ranked_one_per_composition,
        top_cifs=config.loop.top_cifs,
        metadata={
            "campaign": config.name,
            "campaign_id": state.campaign_id,
            "iteration": iteration,
            "final": final,
            "oracle_calls": state.oracle_calls,
            "dataset": config.pool_label,
        },
        relaxed=relaxed_structures(state.typed_observations()),
    )
    metrics = record.iteration_metrics(
        iteration,
        observed,
        campaign.objective,
        config.targets,
        oracle_calls=state.oracle_calls,
        targets_total=campaign.targets_total,
        extra=campaign.plan.extra_metrics(state.observations, state.pending),
        fit=state.fit,
        stage_seconds=campaign.stage_seconds,
    )
    campaign.stage_seconds = {}
    state.metrics.append(metrics)
    tracker = campaign.tracker
    # Tracked under names with units (val_mae_band_gap_eV, time_train_s); state keeps its own.
    tracker.log_metrics(metrics_with_units(metrics, campaign.target_units), step=iteration)
    tracker.log_artifact(paths["csv"], "final" if final else f"iter_{iteration:03d}")
    if final:
        tracker.log_artifact(paths["json"], "final")
    display.log_line(
        metrics,
        final,
        campaign.targets_total,
        enabled=campaign.progress,
        rounds_total=config.loop.iterations,
        units=campaign.target_units,
    )
    _remove_stale_models(campaign)


def _remove_stale_models(campaign: CampaignContext) -> None:
    models = campaign.run_dir / "models"
    if not models.exists():
        return
    for folder in models.iterdir():
        if folder.is_dir() and f"models/{folder.name}" != campaign.state.model_dir:
            shutil.rmtree(folder, ignore_errors=True)


#: The work of each stage.
STAGE_WORK: Mapping[Stage, Callable[[CampaignContext], None]] = {
    Stage.SEED: seed,
    Stage.COLLECT: collect,
    Stage.TRAIN: train,
    Stage.SCORE: score,
    Stage.SELECT: select,
    Stage.SUBMIT: submit,
    Stage.RECORD: record_iteration,
}
