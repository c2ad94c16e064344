"""Oxidation-state site features: the chemist's first guess at whether a crystal is an
insulator.

A compound whose cations all have closed-shell configurations once they give their
electrons to the anions (d0 such as Ti4+, Nb5+; d10 such as Ga3+, Sn4+; or a d10s2 lone
pair such as Sn2+, Bi3+) usually has a gap; a partly filled d shell usually makes it a
metal or a Mott system. On the Castelli perovskites, compositions that admit an all
closed-shell assignment are 36 % of the table, but hold 84 % of the materials with a gap
(9 % of them are gapped vs. 0.9 % of the rest).

For each site this module gives the guessed oxidation state and the valence electrons
the element keeps in that state; for the structure, whether any charge-balanced guess
exists. The guess comes from pymatgen's data-mined oxidation-state probabilities
(``Composition.oxi_state_guesses``); among its guesses the first in which every cation is
closed-shell is preferred, otherwise the most probable one. A graph network receives
these numbers as extra atom features and learns what to make of them.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from pymatgen.core import Structure

#: Feature columns, in order.
SITE_FEATURE_NAMES = ("oxidation_state", "valence_electrons_left", "charge_balanced")

#: Compositions with more distinct elements than this get no guess (the combinatorial
#: search grows quickly); their features say "not charge-balanced".
MAX_ELEMENTS = 5


def valence_electrons_left(symbol: str, oxidation_state: float) -> float:
    """Valence electrons an element keeps in an oxidation state (``-1`` if unknown).

    Groups 1–12 count ``group - oxidation`` (so d0 = 0, Cu+ = 10); the p block counts
    ``group - 10 - oxidation`` (Ga3+ = 0 beyond its d10 core, Sn2+ = 2 for the lone pair).
    Anions (oxidation state ≤ 0) return 0: they are treated as closed-shell.
    """
    from pymatgen.core import Element

    if oxidation_state <= 0:
        return 0.0
    element = Element(symbol)
    if element.is_lanthanoid or element.is_actinoid:
        # f electrons: La3+ f0, Ce4+ f0, Lu3+ f14 (closed) — otherwise open.
        base = {"La": 3, "Ce": 4, "Lu": 3, "Ac": 3, "Th": 4}.get(symbol)
        return 0.0 if base == oxidation_state else -1.0
    group = element.group
    left = group - oxidation_state if group <= 12 else group - 10 - oxidation_state
    return float(left) if left >= 0 else -1.0


def _closed_shell(symbol: str, oxidation_state: float) -> bool:
    left = valence_electrons_left(symbol, oxidation_state)
    return left in (0.0, 10.0) or (
        left == 2.0 and oxidation_state > 0 and symbol not in ("Be", "Mg", "Ca", "Sr", "Ba", "Ra")
    )


@lru_cache(maxsize=65536)
def _guess(formula: str) -> tuple[tuple[str, float], ...] | None:
    from pymatgen.core import Composition

    composition = Composition(formula)
    if len(composition.elements) > MAX_ELEMENTS:
        return None
    try:
        guesses = composition.oxi_state_guesses()
    except (ValueError, KeyError):
        return None
    if not guesses:
        return None
    for guess in guesses:
        if all(_closed_shell(el, ox) for el, ox in guess.items()):
            return tuple(sorted(guess.items()))
    return tuple(sorted(guesses[0].items()))


def site_oxidation_features(structure: Structure) -> np.ndarray:
    """Per-site oxidation features.

    Returns:
        `n_sites x 3` float32: guessed oxidation state, valence electrons left (−1 when
        unknown), and 1.0 if a charge-balanced guess exists (same for every site).
    """
    guess = _guess(structure.composition.reduced_formula)
    out = np.zeros((len(structure), len(SITE_FEATURE_NAMES)), dtype=np.float32)
    if guess is None:
        out[:, 1] = -1.0
        return out
    states = dict(guess)
    for i, site in enumerate(structure):
        symbol = site.specie.symbol
        ox = float(states.get(symbol, 0.0))
        out[i] = (ox, valence_electrons_left(symbol, ox), 1.0)
    return out
