"""Element data the generators and screens share: oxidation states, radii, electronegativity.

Everything here is read from data that pymatgen ships (no network): common and ICSD
oxidation states, Pauling electronegativities, Shannon (1976) ionic radii and Cordero et
al. (2008) covalent radii. Lookups are cached per element, so hot loops touch plain dicts.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Literal

import numpy as np

__all__ = [
    "OxidationSource",
    "balanced_assignments",
    "covalent_radius",
    "electronegativity",
    "formula_key",
    "is_charge_balanced",
    "oxidation_states",
    "reduce_amounts",
    "shannon_radius",
]

#: Which table of oxidation states to use: pymatgen's ``common_oxidation_states`` (a
#: short list of the usual states) or ``icsd_oxidation_states`` (every state seen in the
#: ICSD, broader).
OxidationSource = Literal["common", "icsd"]

_ROMAN = {
    "I": 1,
    "II": 2,
    "III": 3,
    "IV": 4,
    "IVSQ": 4,
    "IVPY": 4,
    "V": 5,
    "VI": 6,
    "VII": 7,
    "VIII": 8,
    "IX": 9,
    "X": 10,
    "XI": 11,
    "XII": 12,
    "XIV": 14,
}


@lru_cache(maxsize=256)
def _element(symbol: str):  # type: ignore[no-untyped-def]
    from pymatgen.core import Element

    return Element(symbol)


@lru_cache(maxsize=512)
def oxidation_states(symbol: str, source: OxidationSource = "common") -> tuple[int, ...]:
    """Return the non-zero oxidation states of an element.

    Args:
        symbol: Element symbol (``"Ti"``).
        source: ``"common"`` or ``"icsd"`` (see :data:`OxidationSource`).

    Returns:
        The states, ascending; empty for elements with none (noble gases).
    """
    element = _element(symbol)
    states = (
        element.common_oxidation_states if source == "common" else element.icsd_oxidation_states
    )
    return tuple(sorted(int(s) for s in states if int(s) != 0))


@lru_cache(maxsize=256)
def electronegativity(symbol: str) -> float:
    """Return the Pauling electronegativity of an element (NaN when undefined)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = _element(symbol).X
    return float(value) if value is not None else float("nan")


@lru_cache(maxsize=2048)
def shannon_radius(symbol: str, oxidation_state: int, coordination: int) -> float:
    """Return the Shannon (1976) effective ionic radius of an ion, in Å.

    The radius at the requested coordination number is used when tabulated; otherwise
    the one at the nearest tabulated coordination (ties go to the higher one). Among
    spin states the high-spin radius is preferred, as for most oxides.

    Args:
        symbol: Element symbol.
        oxidation_state: Charge of the ion (e.g. ``4`` for Ti4+, ``-2`` for O2-).
        coordination: Coordination number wanted (e.g. 6 for an octahedral site).

    Returns:
        The ionic radius in Å, or NaN when Shannon lists no radius for this ion.
    """
    table = _element(symbol).data.get("Shannon radii", {}).get(str(int(oxidation_state)))
    if not table:
        return float("nan")
    options: list[tuple[float, int, float]] = []
    for cn_label, spins in table.items():
        cn = _ROMAN.get(cn_label)
        if cn is None:
            continue
        entry = spins.get("") or spins.get("High Spin") or next(iter(spins.values()))
        radius = entry.get("ionic_radius")
        if radius is None:
            continue
        options.append((abs(cn - coordination), -cn, float(radius)))
    if not options:
        return float("nan")
    return min(options)[2]


@lru_cache(maxsize=256)
def covalent_radius(symbol: str) -> float:
    """Return the covalent radius of an element (Cordero et al., Dalton Trans. 2008), in Å.

    Used for tetrahedral (zinc-blende, wurtzite) semiconductors, whose bonds are
    covalent enough that sums of ionic radii overestimate them (ZnS: 2.44 Å from
    Shannon radii vs. 2.34 Å measured; 2.27 Å from covalent radii).
    """
    from pymatgen.analysis.molecule_structure_comparator import CovalentRadius

    value = CovalentRadius.radius.get(symbol)
    return float(value) if value is not None else float("nan")


def reduce_amounts(amounts: Mapping[str, float]) -> dict[str, int]:
    """Return integer amounts divided by their greatest common divisor.

    Raises:
        ValueError: If an amount is not a positive integer (partial occupancy).
    """
    ints: dict[str, int] = {}
    for symbol, amount in amounts.items():
        rounded = round(float(amount))
        if rounded <= 0 or abs(rounded - float(amount)) > 1e-6:
            raise ValueError(f"amount {amount} of {symbol} is not a positive integer")
        ints[symbol] = rounded
    divisor = math.gcd(*ints.values())
    return {s: n // divisor for s, n in ints.items()}


def formula_key(amounts: Mapping[str, float]) -> str:
    """Return a canonical key of a reduced composition (``"O3SrTi"`` for SrTiO3).

    Elements are sorted alphabetically and amounts reduced by their common divisor, so
    the key is cheap, unique per reduced composition and independent of site order.
    Amounts of 1 are written out (``"O3Sr1Ti1"``) so that the key is unambiguous.
    """
    reduced = reduce_amounts(amounts)
    return "".join(f"{s}{reduced[s]}" for s in sorted(reduced))


@lru_cache(maxsize=65536)
def _balanced_cached(
    key: tuple[tuple[str, int], ...], source: OxidationSource, check_electronegativity: bool
) -> tuple[tuple[int, ...], ...]:
    symbols = [s for s, _ in key]
    amounts = np.array([n for _, n in key], dtype=np.int64)
    state_lists = [oxidation_states(s, source) for s in symbols]
    if any(not states for states in state_lists):
        return ()
    chis = [electronegativity(s) for s in symbols]
    found: list[tuple[int, ...]] = []
    for combo in itertools.product(*state_lists):
        if int(np.dot(amounts, combo)) != 0:
            continue
        if check_electronegativity:
            cation_chi = [chi for chi, q in zip(chis, combo, strict=True) if q > 0]
            anion_chi = [chi for chi, q in zip(chis, combo, strict=True) if q < 0]
            if not cation_chi or not anion_chi:
                continue
            if any(math.isnan(c) for c in cation_chi + anion_chi):
                continue
            if max(cation_chi) >= min(anion_chi):
                continue
        found.append(tuple(int(q) for q in combo))
    return tuple(found)


def balanced_assignments(
    amounts: Mapping[str, float],
    source: OxidationSource = "common",
    check_electronegativity: bool = True,
) -> list[dict[str, int]]:
    """Return every charge-neutral assignment of one oxidation state per element.

    The test of Davies et al. (SMACT, Chem 1, 617 (2016)): a composition is plausible as an
    ionic solid if some choice of one (tabulated) oxidation state per element sums to
    zero and, with ``check_electronegativity``, every cation is less electronegative
    (Pauling) than every anion. Mixed valence of one element is not considered.

    Args:
        amounts: Element symbol -> amount (integer multiples of a formula unit).
        source: Oxidation-state table (:data:`OxidationSource`).
        check_electronegativity: Require max χ(cations) < min χ(anions).

    Returns:
        Element -> oxidation state, one dict per valid assignment (empty when none).
        Results are cached per reduced composition.
    """
    reduced = reduce_amounts(amounts)
    key = tuple(sorted(reduced.items()))
    symbols = [s for s, _ in key]
    return [
        dict(zip(symbols, combo, strict=True))
        for combo in _balanced_cached(key, source, check_electronegativity)
    ]


def is_charge_balanced(species: Sequence[tuple[str, int]], amounts: Mapping[str, float]) -> bool:
    """Return True if the given (element, oxidation state) pairs sum to zero charge.

    Args:
        species: One (symbol, oxidation state) per element.
        amounts: Element -> amount.
    """
    return sum(q * float(amounts[s]) for s, q in species) == 0
