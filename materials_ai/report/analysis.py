"""Numbers behind the report's plots, computed from a campaign's persisted state.

Everything here is plain NumPy on what ``state.json`` holds, so each quantity can be tested
with closed-form values:

* out-of-sample pairs: the surrogate's prediction of each pick *at selection time*
  (:attr:`SelectionRecord.predicted_mean` / ``predicted_std``) against the value observed
  later, the honest basis of parity and calibration plots;
* calibration: the observed coverage of central normal intervals against their nominal
  probability, and standardised errors ``z = (y - mu) / sigma``;
* the discovery curve and its random-search expectation ``K * calls / N``;
* the non-dominated (Pareto) set of validated candidates over the criteria margins.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from materials_ai.campaign.state import CampaignState

#: Nominal probabilities of the central intervals drawn in the calibration plot.
COVERAGE_LEVELS = tuple(np.round(np.arange(0.05, 1.0, 0.05), 2))


@dataclass(frozen=True)
class OutOfSamplePairs:
    """Predictions made at selection time and the values observed afterwards, for one target.

    Attributes:
        target: Target name.
        candidate_ids: `m` candidate ids.
        iteration: `m` selection rounds that made each prediction.
        predicted_mean: `m` predicted means (target unit).
        predicted_std: `m` predicted standard deviations (target unit).
        observed: `m` observed values (target unit).
        fidelity: `m` fidelities of the observations (``replay``, ``experiment`` …).
    """

    target: str
    candidate_ids: tuple[str, ...]
    iteration: np.ndarray
    predicted_mean: np.ndarray
    predicted_std: np.ndarray
    observed: np.ndarray
    fidelity: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.candidate_ids)


def out_of_sample_pairs(
    state: CampaignState, targets: Sequence[str]
) -> dict[str, OutOfSamplePairs]:
    """Join each pick's prediction at selection time with its later successful observations.

    A pick observed twice (e.g. replayed DFT and later a lab measurement) gives one pair per
    observation, each labelled with its fidelity. Seed labels (no prediction) and picks
    whose validation has not returned are left out.

    Returns:
        Target name -> pairs (possibly empty), for every name in ``targets``.
    """
    observations: dict[str, list[tuple[dict[str, float], str]]] = {}
    for record in state.observations:
        obs = record.observation
        if obs.get("ok", True):
            observations.setdefault(str(obs["candidate_id"]), []).append(
                (dict(obs.get("values", {})), str(obs.get("fidelity", "")))
            )
    out: dict[str, OutOfSamplePairs] = {}
    for target in targets:
        rows: list[tuple[str, int, float, float, float, str]] = []
        for selection in state.selections:
            means = selection.predicted_mean.get(target)
            stds = selection.predicted_std.get(target)
            if not means:
                continue
            for k, cid in enumerate(selection.candidate_ids):
                if k >= len(means):
                    break
                std = stds[k] if stds is not None and k < len(stds) else float("nan")
                for values, fidelity in observations.get(cid, []):
                    value = values.get(target)
                    if value is not None and np.isfinite(value) and np.isfinite(means[k]):
                        rows.append(
                            (cid, selection.iteration, means[k], std, float(value), fidelity)
                        )
        out[target] = OutOfSamplePairs(
            target=target,
            candidate_ids=tuple(r[0] for r in rows),
            iteration=np.array([r[1] for r in rows], dtype=np.int64),
            predicted_mean=np.array([r[2] for r in rows], dtype=np.float64),
            predicted_std=np.array([r[3] for r in rows], dtype=np.float64),
            observed=np.array([r[4] for r in rows], dtype=np.float64),
            fidelity=tuple(r[5] for r in rows),
        )
    return out


@dataclass(frozen=True)
class ParityStats:
    """Accuracy of predictions against observations.

    Attributes:
        n: Number of pairs.
        mae: Mean absolute error.
        rmse: Root-mean-square error.
        r2: Coefficient of determination ``1 - SS_res / SS_tot`` (NaN for fewer than two
            pairs or constant observations).
    """

    n: int
    mae: float
    rmse: float
    r2: float


def parity_stats(predicted: np.ndarray, observed: np.ndarray) -> ParityStats:
    """MAE, RMSE and R² of `m` predictions against `m` observations."""
    predicted = np.asarray(predicted, dtype=np.float64)
    observed = np.asarray(observed, dtype=np.float64)
    n = int(predicted.size)
    if n == 0:
        return ParityStats(0, float("nan"), float("nan"), float("nan"))
    err = predicted - observed
    ss_tot = float(((observed - observed.mean()) ** 2).sum())
    r2 = 1.0 - float((err**2).sum()) / ss_tot if n > 1 and ss_tot > 0 else float("nan")
    return ParityStats(n, float(np.abs(err).mean()), float(np.sqrt((err**2).mean())), r2)


def z_scores(pairs: OutOfSamplePairs) -> np.ndarray:
    """Standardised errors ``(observed - mean) / std`` of the pairs with ``std > 0``."""
    ok = np.isfinite(pairs.predicted_std) & (pairs.predicted_std > 0)
    return (pairs.observed[ok] - pairs.predicted_mean[ok]) / pairs.predicted_std[ok]


def interval_coverage(z: np.ndarray, levels: Sequence[float] = COVERAGE_LEVELS) -> np.ndarray:
    """Observed share of ``|z|`` inside the central normal interval of each nominal level.

    The central interval of probability ``p`` is ``|z| <= Phi^-1((1 + p) / 2)``; for a
    calibrated Gaussian predictor the observed share equals ``p``.

    Args:
        z: `m` standardised errors.
        levels: `L` nominal probabilities in (0, 1).

    Returns:
        `L` observed shares (NaN when ``z`` is empty).
    """
    z = np.asarray(z, dtype=np.float64)
    if z.size == 0:
        return np.full(len(levels), np.nan)
    normal = NormalDist()
    half_widths = np.array([normal.inv_cdf((1.0 + p) / 2.0) for p in levels])
    return (np.abs(z)[None, :] <= half_widths[:, None]).mean(axis=1)


def random_search_expectation(calls: np.ndarray, n_hits: int, pool_size: int) -> np.ndarray:
    """Expected hits of random search after ``calls`` validations: ``K * calls / N``.

    Drawing without replacement from ``N`` candidates of which ``K`` are hits, the number
    of hits in ``c`` draws is hypergeometric with mean ``K c / N`` (capped at ``K``).
    """
    if pool_size <= 0:
        raise ValueError(f"pool_size must be positive, got {pool_size}")
    calls = np.asarray(calls, dtype=np.float64)
    return np.minimum(n_hits * calls / pool_size, float(n_hits))


@dataclass(frozen=True)
class DiscoveryCurve:
    """Hits found against oracle calls, one point per recorded iteration.

    Attributes:
        oracle_calls: `k` cumulative oracle calls.
        targets_found: `k` validated candidates meeting every criterion.
        targets_total: Hits in the whole pool, when the oracle knows it.
    """

    oracle_calls: np.ndarray
    targets_found: np.ndarray
    targets_total: int | None


def discovery_curve(metrics: Sequence[Mapping[str, float]]) -> DiscoveryCurve:
    """The discovery curve from ``state.metrics`` (starts at the origin)."""
    calls = [0.0] + [float(m["oracle_calls"]) for m in metrics if "oracle_calls" in m]
    found = [0.0] + [float(m.get("targets_found", np.nan)) for m in metrics if "oracle_calls" in m]
    totals = [m["targets_total"] for m in metrics if np.isfinite(m.get("targets_total", np.nan))]
    return DiscoveryCurve(
        oracle_calls=np.array(calls),
        targets_found=np.array(found),
        targets_total=int(totals[-1]) if totals else None,
    )


def pareto_mask(scores: np.ndarray) -> np.ndarray:
    """Non-dominated rows of `n x c` scores, every column to be maximised.

    Row ``i`` is dominated when another row is ``>=`` on every column and ``>`` on one.
    Rows with a NaN are never on the front (and do not dominate).

    Returns:
        Boolean `n`.
    """
    scores = np.asarray(scores, dtype=np.float64)
    n = scores.shape[0]
    finite = np.isfinite(scores).all(axis=1)
    mask = finite.copy()
    idx = np.flatnonzero(finite)
    sub = scores[idx]
    for k, i in enumerate(idx):
        others = np.delete(sub, k, axis=0)
        if others.size == 0:
            continue
        dominated = np.all(others >= sub[k], axis=1) & np.any(others > sub[k], axis=1)
        if dominated.any():
            mask[i] = False
    assert mask.shape == (n,)
    return mask


def merged_observed_values(state: CampaignState) -> dict[str, dict[str, float]]:
    """Candidate id -> target -> value over every successful observation, later ones winning.

    Values merge per target: a lab measurement of one property overrides that property and
    keeps the others from earlier observations (e.g. replayed DFT values).
    """
    merged: dict[str, dict[str, float]] = {}
    for record in state.observations:
        obs = record.observation
        if obs.get("ok", True):
            merged.setdefault(str(obs["candidate_id"]), {}).update(
                {k: float(v) for k, v in obs.get("values", {}).items()}
            )
    return merged


def fidelities_by_candidate(state: CampaignState) -> dict[str, str]:
    """Candidate id -> fidelities of its successful observations, in order (``replay +
    experiment``)."""
    seen: dict[str, list[str]] = {}
    for record in state.observations:
        obs = record.observation
        if obs.get("ok", True):
            kinds = seen.setdefault(str(obs["candidate_id"]), [])
            fidelity = str(obs.get("fidelity", ""))
            if fidelity not in kinds:
                kinds.append(fidelity)
    return {cid: " + ".join(kinds) for cid, kinds in seen.items()}
