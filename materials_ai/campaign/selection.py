"""Choosing what to validate: seeds, the SEED stage's random picks, SELECT's batch.

Every random choice of a campaign is seeded from ``(workflow seed, iteration, stage)``
through :func:`derive_seed`, so a resumed campaign makes the same picks as one that never
stopped. Pool scores (member samples and acquisition values of the latest SCORE stage)
live in ``scores/iter_NNN.npz``, written atomically.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from materials_ai.campaign.state import SelectionRecord
from materials_ai.errors import CampaignError

if TYPE_CHECKING:
    from materials_ai.acquisition.select import BatchSelection
    from materials_ai.data.records import Candidate


def derive_seed(*parts: int) -> int:
    """Derive a 63-bit seed from integers (stable across processes and platforms)."""
    return int(np.random.SeedSequence(list(parts)).generate_state(1, dtype=np.uint64)[0] >> 1)


def seed_picks(seed: int, pool_size: int, n: int) -> np.ndarray:
    """The SEED stage's ``n`` random pool indices (sorted) for workflow seed ``seed``."""
    rng = np.random.default_rng(derive_seed(seed, 0))
    return np.sort(rng.choice(pool_size, size=n, replace=False))


def available_indices(pool: Sequence[Candidate], requested: Collection[str]) -> np.ndarray:
    """Pool indices of candidates never submitted (neither observed nor pending)."""
    return np.array([i for i, c in enumerate(pool) if c.id not in requested], dtype=np.int64)


def selection_record(
    iteration: int,
    selection: BatchSelection,
    samples: np.ndarray,
    pool: Sequence[Candidate],
    targets: Sequence[str],
) -> SelectionRecord:
    """What the state keeps of a selection, with each pick's prediction at pick time.

    Args:
        iteration: The selecting iteration.
        selection: The selection.
        samples: `s x n x t` member samples it was made from (`s = 0`: no model).
        pool: The `n` candidates.
        targets: The `t` target names.
    """
    return SelectionRecord(
        iteration=iteration,
        strategy=selection.strategy,
        candidate_ids=[pool[i].id for i in selection.indices],
        acquisition_values=[
            None if not np.isfinite(v) else float(v) for v in selection.pick_values
        ],
        predicted_mean={
            t: samples[:, selection.indices, j].mean(axis=0).tolist() for j, t in enumerate(targets)
        }
        if len(samples)
        else {},
        predicted_std={
            t: samples[:, selection.indices, j].std(axis=0, ddof=1).tolist()
            if samples.shape[0] > 1
            else [0.0] * len(selection.indices)
            for j, t in enumerate(targets)
        }
        if len(samples)
        else {},
    )


def save_scores(
    path: Path, samples: np.ndarray, acquisition: np.ndarray, domain: np.ndarray | None = None
) -> None:
    """Write pool scores to ``path`` atomically (temporary file, then rename).

    Args:
        path: The scores file.
        samples: `s x n x t` member samples or posterior draws.
        acquisition: `n` acquisition values (NaN before selection).
        domain: `n` distance-to-training scores, when the surrogate gives them.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.npz")
    arrays = {"samples": samples, "acquisition": acquisition}
    if domain is not None:
        arrays["domain"] = domain
    np.savez(tmp, **arrays)  # type: ignore[arg-type]  # numpy stub
    tmp.replace(path)


def load_domain(run_dir: Path, scores_file: str | None) -> np.ndarray | None:
    """The `n` distance-to-training scores of the latest scores (None if not recorded)."""
    if not scores_file:
        return None
    with np.load(run_dir / scores_file, allow_pickle=False) as data:
        return data["domain"] if "domain" in data.files else None


def load_scores(run_dir: Path, scores_file: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Member samples (`s x n x t`) and acquisition values (`n`) of the latest scores.

    Raises:
        CampaignError: If no scores were recorded.
    """
    if not scores_file:
        raise CampaignError("internal: no pool scores recorded before selection")
    with np.load(run_dir / scores_file, allow_pickle=False) as data:
        return data["samples"], data["acquisition"]
