"""Rank generated proposals: new materials first, one entry per composition first.

A generated pool holds several kinds of candidate that a plain sort by
``P(stable) x P(gap)`` treats alike:

* candidates of a composition that no reference entry has: a genuinely new material when
  it lies within ``threshold`` of the hull;
* new polymorphs of a composition whose ground state is already known (a DFT entry of the
  reference data): their hull distance is measured against a hull that already holds
  that composition, so a polymorph a little above the known ground state scores as
  "stable" although it proposes nothing new. Such a candidate is worth validating only if
  it is predicted to *improve on what is known*: below the known ground state, and still
  within ``threshold`` of the hull. :func:`proposal_thresholds` gives each candidate the
  threshold that expresses this;
* several candidates (prototypes, substitution children, polymorphs) of one composition.
  A lab list wants each composition once before any second geometry of it:
  :func:`proposal_order` puts every composition's best candidate first, then the others,
  each part in score order (the acquisition's ``max_per_chemsys`` does the same for a
  batch).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from materials_ai.candidates.stability import probability_of_margin
from materials_ai.errors import CandidateError

__all__ = [
    "first_per_composition",
    "probability_improves",
    "proposal_order",
    "proposal_thresholds",
]


def proposal_thresholds(
    known_e_above_hull: Sequence[float] | np.ndarray, threshold_ev_per_atom: float
) -> np.ndarray:
    """Per-candidate hull threshold: the plain one, or the known ground state's distance.

    Args:
        known_e_above_hull: `n` hull distances (eV/atom, >= 0) of the lowest known entry of
            each candidate's composition; NaN where the composition has no known entry.
        threshold_ev_per_atom: Allowed distance above the hull for a new composition.

    Returns:
        `n` thresholds (eV/atom): ``threshold`` for a new composition,
        ``min(threshold, known_e_above_hull)`` for a polymorph of a known one.
    """
    known = np.asarray(known_e_above_hull, dtype=np.float64)
    return np.where(
        np.isfinite(known), np.minimum(threshold_ev_per_atom, known), threshold_ev_per_atom
    )


def probability_improves(
    e_above_hull_ev_per_atom: Sequence[float] | np.ndarray,
    std_ev_per_atom: Sequence[float] | np.ndarray,
    thresholds_ev_per_atom: Sequence[float] | np.ndarray,
) -> np.ndarray:
    """Probability that each candidate lies at or below its own threshold.

    Args:
        e_above_hull_ev_per_atom: `n` predicted hull distances (eV/atom).
        std_ev_per_atom: `n` standard deviations of those distances (eV/atom, >= 0).
        thresholds_ev_per_atom: `n` thresholds (:func:`proposal_thresholds`).

    Returns:
        `n` probabilities ``Phi((t - e) / s)`` (a step function where ``s == 0``); NaN
        where the hull distance is NaN.
    """
    e = np.asarray(e_above_hull_ev_per_atom, dtype=np.float64)
    s = np.asarray(std_ev_per_atom, dtype=np.float64)
    t = np.asarray(thresholds_ev_per_atom, dtype=np.float64)
    if not (e.shape == s.shape == t.shape and e.ndim == 1):
        raise CandidateError(
            f"hull distances, stds and thresholds need one value per candidate; got "
            f"{e.shape}, {s.shape} and {t.shape}"
        )
    return probability_of_margin(t - e, s)


def proposal_order(
    composition_keys: Sequence[str],
    score: Sequence[float] | np.ndarray,
    tiebreak: Sequence[float] | np.ndarray | None = None,
    *,
    one_per_composition: bool = True,
) -> np.ndarray:
    """Best-first order of `n` candidates.

    Args:
        composition_keys: `n` reduced-composition keys (equal for polymorphs).
        score: `n` scores, higher first (NaN last).
        tiebreak: `n` values that order equal scores, lower first (e.g. the predicted hull
            distance); None: input order.
        one_per_composition: Put each composition's best candidate before any second
            candidate of a composition.

    Returns:
        `n` indices into the inputs, best first.
    """
    n = len(composition_keys)
    s = np.asarray(score, dtype=np.float64)
    tb = np.zeros(n) if tiebreak is None else np.asarray(tiebreak, dtype=np.float64)
    if s.shape != (n,) or tb.shape != (n,):
        raise CandidateError(
            f"need one score and one tiebreak per candidate ({n}); got {s.shape} and {tb.shape}"
        )
    primary = np.where(np.isfinite(s), -s, np.inf)
    secondary = np.where(np.isfinite(tb), tb, np.inf)
    order = np.lexsort((np.arange(n), secondary, primary))
    if not one_per_composition:
        return order
    return order[first_per_composition([composition_keys[int(i)] for i in order])]


def first_per_composition(ordered_keys: Sequence[str]) -> np.ndarray:
    """Reorder an already ranked list so that each composition appears once first.

    Args:
        ordered_keys: `n` composition keys, best candidate first.

    Returns:
        `n` positions into ``ordered_keys``: every composition's first occurrence, in list
        order, then every later occurrence, in list order.
    """
    seen: set[str] = set()
    first: list[int] = []
    later: list[int] = []
    for position, key in enumerate(ordered_keys):
        (later if key in seen else first).append(position)
        seen.add(key)
    return np.array(first + later, dtype=np.int64)
