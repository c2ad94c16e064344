"""Pre-screen a generated pool with a pretrained surrogate, once, before the campaign.

A generated pool can hold thousands of candidates, and the campaign's own surrogate knows
nothing until the oracle has answered. Properties that the campaign's oracle does not
compute (a band gap when only CHGNet validates) can still be required of the pool through a
model trained on many labels elsewhere, e.g. the shipped ``models/mp2018_chgnet_head``
(PBE gap and formation energy from CHGNet features, trained on MP-2018)::

    pool:
      kind: generated
      generate: {...}
      prescreen:
        model: models/mp2018_chgnet_head
        criteria: [{target: band_gap, min: 1.2, max: 3.3, scale: 0.5}]   # eV (PBE)
        keep: 300

The model (loaded with :func:`~materials_ai.surrogates.kinds.load_surrogate`, any saved
kind) predicts every generated candidate. With ``stability: true`` the generator's
stability screen runs first on its prediction of ``generate.stability.target`` (the
formation energy; :func:`~materials_ai.candidates.pool.screen_stability` against the hull
of ``generate.stability.reference_dataset``): it adds the predicted hull columns and
removes candidates whose chemical system the hull reference does not cover
(``require_covered_hull``; there an energy above the hull, computed or predicted, means
little) or that are unlikely to be stable (``min_probability``). Then candidates whose
predicted mean meets every criterion pass, the ``keep`` with the largest worst-criterion
margin stay (in pool order), and their predicted means join the pool rows as
``prescreen_<target>`` columns. With ``stability: true`` a criterion may also bound the
predicted ``e_above_hull`` (eV/atom), e.g. ``min: -0.2``: a new compound predicted far
*below* the reference hull says that the hull misses phases of its chemical system (the
MP-2018 table is a subset of MP), where a computed energy above it would mislead too.

The summary goes to ``pool/prescreen.json``. It runs when the pool is built; a resumed
campaign reads the kept pool back and never predicts again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from materials_ai.acquisition.objective import Criterion
from materials_ai.errors import ConfigError

if TYPE_CHECKING:
    from materials_ai.candidates.config import StabilityConfig
    from materials_ai.candidates.pool import PoolResult

__all__ = ["PRESCREEN_FILE", "PrescreenConfig", "PrescreenResult", "prescreen", "resolve_model"]

PRESCREEN_FILE = "prescreen.json"
#: The derived criterion target of a pre-screen with ``stability: true`` (eV/atom).
E_ABOVE_HULL = "e_above_hull"


class PrescreenConfig(BaseModel):
    """A pretrained surrogate's verdict on the generated pool (see the module docstring).

    Attributes:
        model: Folder of a saved surrogate (``surrogate.json`` inside); a relative path is
            looked up in the working directory, then in the checkout.
        criteria: Windows on the model's predicted means (its target names and units)
            and, with ``stability``, on the predicted ``e_above_hull`` (eV/atom).
        keep: At most this many passing candidates stay, the largest margins first (None:
            every passing candidate).
        stability: First run the stability screen of ``generate.stability`` on the
            model's formation energy (hull columns; ``require_covered_hull`` and
            ``min_probability`` removals).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str
    criteria: list[Criterion] = Field(min_length=1)
    keep: int | None = Field(None, ge=1)
    stability: bool = False


@dataclass(frozen=True)
class PrescreenResult:
    """What the pre-screen kept.

    Attributes:
        pool: The kept candidates, in pool order, with the stability screen's columns
            (when it ran) in their rows and its removals in the report.
        columns: ``prescreen_<target>`` -> predicted mean of every kept candidate, in
            pool order (target units).
        summary: Counts and settings, as written to ``pool/prescreen.json``.
    """

    pool: PoolResult
    columns: dict[str, list[float]]
    summary: dict[str, Any]


def resolve_model(text: str) -> Path:
    """The model folder ``text`` names (working directory first, then the checkout).

    Raises:
        ConfigError: If neither place holds it.
    """
    from materials_ai.settings import PROJECT_ROOT

    path = Path(text).expanduser()
    for candidate in (path,) if path.is_absolute() else (path, PROJECT_ROOT / path):
        if candidate.is_dir():
            return candidate
    raise ConfigError(f"pool.prescreen.model: {text!r} is no saved surrogate folder")


def prescreen(
    pool: PoolResult,
    config: PrescreenConfig,
    stability: StabilityConfig | None = None,
    folder: Path | None = None,
) -> PrescreenResult:
    """Predict the ``pool`` with the configured model and keep what meets the criteria.

    Args:
        pool: The generated pool (after the generator's screens), `n` candidates.
        config: The pre-screen settings.
        stability: The generator's stability settings (used with ``config.stability``).
        folder: Where to write ``prescreen.json`` (None: not written).

    Raises:
        ConfigError: If the model is missing or predicts none of a criterion's target.
    """
    from materials_ai.acquisition.objective import DesirabilityObjective, ObjectiveConfig
    from materials_ai.candidates.pool import PoolResult
    from materials_ai.surrogates.kinds import load_surrogate

    path = resolve_model(config.model)
    surrogate: Any = load_surrogate(path)
    names = tuple(surrogate.target_names)
    derived = (E_ABOVE_HULL,) if config.stability and stability is not None else ()
    missing = [c.target for c in config.criteria if c.target not in names + derived]
    if derived and stability is not None and stability.target not in names:
        missing.append(stability.target)
    if missing:
        raise ConfigError(
            f"pool.prescreen: {path} predicts {list(names)}, not {missing} (criteria, "
            "stability target)"
        )
    n_in = len(pool.generated)
    mean = np.empty((0, len(names) + len(derived)))
    if n_in:
        prediction = surrogate.predict(pool.candidates)
        names = tuple(prediction.target_names)
        mean, std = np.asarray(prediction.mean, np.float64), np.asarray(prediction.std)
        if derived and stability is not None:
            column = names.index(stability.target)
            pool, mean = _stability_screen(pool, mean, std, column, stability)
    names += derived
    n_stable = len(pool.generated)
    objective = DesirabilityObjective(ObjectiveConfig(criteria=config.criteria), names)
    margin = objective.desirability(mean) if n_stable else np.empty(0)
    passing = np.flatnonzero(np.isfinite(margin) & (margin >= 0))
    # Largest margin first, ties by pool order; then back to pool order.
    kept = np.sort(passing[np.lexsort((passing, -margin[passing]))][: config.keep])
    targets = sorted({c.target for c in config.criteria})
    columns = {f"prescreen_{t}": [float(v) for v in mean[kept, names.index(t)]] for t in targets}
    summary = {
        "model": str(path),
        "criteria": [c.model_dump(mode="json") for c in config.criteria],
        "keep": config.keep,
        "n_in": n_in,
        "n_after_stability": n_stable,
        "n_passed": len(passing),
        "n_kept": len(kept),
        "n_unpredicted": int((~np.isfinite(margin)).sum()),
    }
    if folder is not None:
        (folder / PRESCREEN_FILE).write_text(json.dumps(summary, indent=1))
    survivors = PoolResult([pool.generated[int(i)] for i in kept], pool.report)
    return PrescreenResult(pool=survivors, columns=columns, summary=summary)


def _stability_screen(
    pool: PoolResult, mean: np.ndarray, std: np.ndarray, column: int, config: StabilityConfig
) -> tuple[PoolResult, np.ndarray]:
    """The generator's stability screen on the model's formation energy (column
    ``column`` of `n x t` ``mean``/``std``); the survivors and their rows of ``mean``
    with the predicted energy above the hull appended (eV/atom)."""
    from materials_ai.candidates.pool import screen_stability
    from materials_ai.candidates.stability import HullReference

    hull = HullReference.from_card(config.reference_dataset, config.target)
    screened = screen_stability(pool, hull, mean[:, column], std[:, column], config)
    row_of = {g.id: i for i, g in enumerate(pool.generated)}
    rows = [row_of[g.id] for g in screened.generated]
    e_above_hull = [float(r["e_above_hull_pred_ev_per_atom"]) for r in screened.rows()]
    return screened, np.column_stack([mean[rows], np.asarray(e_above_hull).reshape(-1)])
