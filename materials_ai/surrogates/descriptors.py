"""Fixed-length descriptors of crystals for small-data surrogates (Gaussian processes).

Two descriptor sets, chosen by :class:`~materials_ai.surrogates.config.GPConfig`:

- ``perovskite``: for 5-atom cubic ABX3 cells (the Castelli table), the A and B cations'
  element properties, the anion set, a charge-balanced oxidation-state assignment
  (preferring closed-shell cations, as in :mod:`materials_ai.graphs.oxidation`), the
  Goldschmidt tolerance factor and the octahedral factor. Sites are told apart by
  geometry: A is the site farthest from its nearest neighbour (a/√2 in a cubic cell), B
  the cation with the shortest distances to the others (a/2 to each anion).
- ``composition``: fraction-weighted mean, minimum and maximum of element properties plus
  the number of elements, for any structure.

:class:`DescriptorTable` holds a pool's descriptors scaled to the unit cube with the
pool's own minima and maxima (labels are never used), the input scaling BoTorch's default
GP priors assume.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import product
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from materials_ai.errors import SurrogateError
from materials_ai.graphs.oxidation import valence_electrons_left

if TYPE_CHECKING:
    from pymatgen.core import Structure

DescriptorKind = Literal["perovskite", "composition"]

#: Anion elements of the perovskite descriptor with their formal charge (e).
ANION_CHARGES: dict[str, int] = {"O": -2, "N": -3, "F": -1, "S": -2}

#: Element properties per site: atomic number, period, group, Mendeleev number, Pauling
#: electronegativity, atomic radius (Å), average ionic radius (Å), highest common
#: oxidation state, valence electrons (s + d for groups 1–12, s + p beyond).
ELEMENT_PROPERTIES = (
    "Z",
    "row",
    "group",
    "mendeleev_no",
    "electronegativity",
    "atomic_radius",
    "average_ionic_radius",
    "max_common_oxidation",
    "valence_electrons",
)

#: Features of the cations' oxidation-state assignment and of the cell.
PEROVSKITE_EXTRA = (
    "A_oxidation",
    "B_oxidation",
    "A_d_electrons_left",
    "B_d_electrons_left",
    "balanced_closed_shell",
    "balanced_any",
    "n_closed_shell_cations",
    "anion_O",
    "anion_N",
    "anion_F",
    "anion_S",
    "anion_charge",
    "anion_electronegativity",
    "tolerance_factor",
    "octahedral_factor",
    "electronegativity_difference_B_X",
)


@lru_cache(maxsize=256)
def element_properties(symbol: str) -> tuple[float, ...]:
    """The :data:`ELEMENT_PROPERTIES` of an element (NaN where pymatgen has no value)."""
    from pymatgen.core import Element

    element = Element(symbol)

    def number(value: object) -> float:
        try:
            out = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return math.nan
        return out if math.isfinite(out) else math.nan

    common = element.common_oxidation_states or element.oxidation_states or (0,)
    group = int(element.group)
    return (
        float(element.Z),
        float(element.row),
        float(group),
        number(element.mendeleev_no),
        number(element.X),
        number(element.atomic_radius),
        number(element.average_ionic_radius),
        float(max(common)),
        float(group if group <= 12 else group - 10),
    )


@lru_cache(maxsize=256)
def _ionic_radius(symbol: str, oxidation: int) -> float:
    """Ionic radius in Å at an oxidation state, else the average ionic radius, else atomic."""
    from pymatgen.core import Element

    element = Element(symbol)
    radii = element.ionic_radii
    if oxidation in radii:
        return float(radii[oxidation])
    for value in (element.average_ionic_radius, element.atomic_radius):
        try:
            if value is not None and float(value) > 0:
                return float(value)
        except (TypeError, ValueError):
            continue
    return 1.0


def _closed_shell(symbol: str, oxidation: int) -> bool:
    left = valence_electrons_left(symbol, oxidation)
    return left in (0.0, 10.0) or (
        left == 2.0 and symbol not in ("Be", "Mg", "Ca", "Sr", "Ba", "Ra")
    )


@lru_cache(maxsize=65536)
def oxidation_assignment(a: str, b: str, anion_charge: int) -> tuple[int, int, int, bool]:
    """Oxidation states of A and B that balance ``anion_charge`` electrons.

    Among all pairs of positive known oxidation states summing to ``anion_charge``,
    prefer the one with the most closed-shell cations (d0, d10, d10s2), then the one using
    common oxidation states, then the larger A state's commonness order.

    Returns:
        ``(ox_A, ox_B, n_closed_shell, balanced)``; ``(0, 0, 0, False)`` when no pair of
        known positive states balances the charge.
    """
    from pymatgen.core import Element

    def states(symbol: str) -> tuple[tuple[int, bool], ...]:
        element = Element(symbol)
        common = set(element.common_oxidation_states)
        return tuple((int(s), s in common) for s in element.oxidation_states if s > 0)

    best: tuple[tuple[int, int], tuple[int, int, int, bool]] | None = None
    for (ox_a, common_a), (ox_b, common_b) in product(states(a), states(b)):
        if ox_a + ox_b != anion_charge:
            continue
        closed = int(_closed_shell(a, ox_a)) + int(_closed_shell(b, ox_b))
        key = (closed, int(common_a) + int(common_b))
        if best is None or key > best[0]:
            best = (key, (ox_a, ox_b, closed, True))
    return (0, 0, 0, False) if best is None else best[1]


def _perovskite_sites(structure: Structure) -> tuple[int, int, list[int]]:
    """Indices of the A site, the B site and the three anion sites of a 5-atom cell.

    Anion sites hold an element of :data:`ANION_CHARGES`; of the two cations, B is the one
    closer to the anions (sum of minimum-image distances: a/2 each for the octahedral
    site, a/√2 for the 12-fold A site). On the Castelli table this reproduces the A/B
    order of the published formulas for 97 % of the cells (the rest are strongly
    distorted relaxations).

    Raises:
        SurrogateError: If the cell is not 2 cations + 3 anions.
    """
    symbols = [site.specie.symbol for site in structure]
    anions = [i for i, s in enumerate(symbols) if s in ANION_CHARGES]
    cations = [i for i, s in enumerate(symbols) if s not in ANION_CHARGES]
    if len(symbols) != 5 or len(anions) != 3:
        raise SurrogateError(
            f"the perovskite descriptor needs 5-atom ABX3 cells with X in "
            f"{sorted(ANION_CHARGES)}; {structure.composition.formula} is not one "
            "(use descriptor: composition)"
        )
    distances = np.asarray(structure.distance_matrix, dtype=float)
    b_site = min(cations, key=lambda i: float(distances[i, anions].sum()))
    a_site = next(i for i in cations if i != b_site)
    return a_site, b_site, anions


def perovskite_descriptor(structure: Structure) -> np.ndarray:
    """Descriptor of one 5-atom ABX3 cell.

    Returns:
        `d` float64 values: :data:`ELEMENT_PROPERTIES` of A, then of B, then
        :data:`PEROVSKITE_EXTRA` (NaN where an element property is unknown).

    Raises:
        SurrogateError: If the cell is not 2 cations + 3 anions of :data:`ANION_CHARGES`.
    """
    a_site, b_site, anion_sites = _perovskite_sites(structure)
    a = structure[a_site].specie.symbol
    b = structure[b_site].specie.symbol
    anions = [structure[i].specie.symbol for i in anion_sites]
    charge = -sum(ANION_CHARGES[x] for x in anions)
    ox_a, ox_b, closed, balanced = oxidation_assignment(a, b, charge)
    r_x = float(np.mean([_ionic_radius(x, ANION_CHARGES[x]) for x in anions]))
    r_a = _ionic_radius(a, ox_a) if balanced else _ionic_radius(a, 0)
    r_b = _ionic_radius(b, ox_b) if balanced else _ionic_radius(b, 0)
    x_anion = float(np.mean([element_properties(x)[4] for x in anions]))
    left_a = valence_electrons_left(a, ox_a) if balanced else -1.0
    left_b = valence_electrons_left(b, ox_b) if balanced else -1.0
    extra = (
        float(ox_a),
        float(ox_b),
        left_a,
        left_b,
        float(balanced and closed == 2),
        float(balanced),
        float(closed),
        float(anions.count("O")),
        float(anions.count("N")),
        float(anions.count("F")),
        float(anions.count("S")),
        float(charge),
        x_anion,
        (r_a + r_x) / (math.sqrt(2.0) * (r_b + r_x)),
        r_b / r_x,
        x_anion - element_properties(b)[4],
    )
    return np.array([*element_properties(a), *element_properties(b), *extra], dtype=np.float64)


def composition_descriptor(structure: Structure) -> np.ndarray:
    """Fraction-weighted mean, minimum and maximum of element properties, and the count.

    Returns:
        `3 * len(ELEMENT_PROPERTIES) + 1` float64 values.
    """
    composition = structure.composition.fractional_composition
    symbols = [el.symbol for el in composition.elements]
    weights = np.array([composition[s] for s in symbols], dtype=np.float64)
    table = np.array([element_properties(s) for s in symbols], dtype=np.float64)
    with np.errstate(invalid="ignore"):
        mean = np.nansum(table * weights[:, None], axis=0) / np.maximum(
            (np.isfinite(table) * weights[:, None]).sum(axis=0), 1e-12
        )
    low = np.nanmin(np.where(np.isfinite(table), table, np.nan), axis=0)
    high = np.nanmax(np.where(np.isfinite(table), table, np.nan), axis=0)
    return np.concatenate([mean, low, high, [float(len(symbols))]])


def descriptor_names(kind: DescriptorKind) -> tuple[str, ...]:
    """Column names of a descriptor kind."""
    if kind == "perovskite":
        return (
            *(f"A_{p}" for p in ELEMENT_PROPERTIES),
            *(f"B_{p}" for p in ELEMENT_PROPERTIES),
            *PEROVSKITE_EXTRA,
        )
    return (
        *(f"mean_{p}" for p in ELEMENT_PROPERTIES),
        *(f"min_{p}" for p in ELEMENT_PROPERTIES),
        *(f"max_{p}" for p in ELEMENT_PROPERTIES),
        "n_elements",
    )


def compute_descriptors(structures: Sequence[Any], kind: DescriptorKind) -> np.ndarray:
    """Raw descriptors of structures.

    Args:
        structures: `n` structures.
        kind: ``perovskite`` or ``composition``.

    Returns:
        `n x d` float64, in each property's unit (NaN where a property is unknown).

    Raises:
        SurrogateError: If a structure does not fit the ``perovskite`` descriptor.
    """
    function = perovskite_descriptor if kind == "perovskite" else composition_descriptor
    d = len(descriptor_names(kind))
    out = np.empty((len(structures), d), dtype=np.float64)
    for i, structure in enumerate(structures):
        out[i] = function(structure)
    return out


@dataclass(frozen=True)
class DescriptorTable:
    """A pool's descriptors, scaled to the unit cube.

    The campaign keeps this where a graph surrogate keeps its ``PackedGraphs``: the
    surrogate is fitted on ``table.select(labelled)`` and scores ``table``.

    Attributes:
        ids: `n` candidate ids.
        values: `n x d` scaled descriptors in [0, 1] (unknown values and constant columns
            at 0.5).
        names: `d` column names.
    """

    ids: tuple[str, ...]
    values: np.ndarray
    names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.ids)

    def select(self, indices: np.ndarray | Sequence[int]) -> DescriptorTable:
        """The rows ``indices`` (in that order)."""
        index = np.asarray(indices, dtype=np.int64)
        return DescriptorTable(
            ids=tuple(self.ids[i] for i in index), values=self.values[index], names=self.names
        )

    @classmethod
    def build(
        cls, structures: Sequence[Any], ids: Sequence[str], kind: DescriptorKind
    ) -> DescriptorTable:
        """Compute and scale the descriptors of a pool (min–max over the pool itself).

        Args:
            structures: `n` structures.
            ids: `n` candidate ids.
            kind: Descriptor set.
        """
        if len(structures) != len(ids):
            raise SurrogateError(f"{len(structures)} structures but {len(ids)} ids")
        raw = compute_descriptors(structures, kind)
        return cls(ids=tuple(ids), values=scale_unit_cube(raw), names=descriptor_names(kind))


def unit_cube_bounds(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column minima and spans of ``raw`` (`n x d`), ignoring NaN (0 where a column is empty).

    Returns:
        ``(low, span)``, each `d`.
    """
    raw = np.asarray(raw, dtype=np.float64)
    finite = np.where(np.isfinite(raw), raw, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
        low = np.nanmin(finite, axis=0) if len(raw) else np.zeros(raw.shape[1])
        high = np.nanmax(finite, axis=0) if len(raw) else np.zeros(raw.shape[1])
    low = np.where(np.isfinite(low), low, 0.0)
    span = np.where(np.isfinite(high), high, 0.0) - low
    return low, span


def scale_unit_cube(
    raw: np.ndarray, bounds: tuple[np.ndarray, np.ndarray] | None = None
) -> np.ndarray:
    """Min–max scale columns to [0, 1] with ``bounds`` (default: those of ``raw``).

    Unknown values go to 0.5 (the middle of the cube); constant columns to 0.5.

    Args:
        raw: `n x d`.
        bounds: ``(low, span)`` from :func:`unit_cube_bounds`.

    Returns:
        `n x d` float64 (values outside the bounds fall outside [0, 1]).
    """
    raw = np.asarray(raw, dtype=np.float64)
    low, span = unit_cube_bounds(raw) if bounds is None else bounds
    safe = np.where(span > 0, span, 1.0)
    scaled = np.where(span > 0, (raw - low) / safe, 0.5)
    return np.where(np.isfinite(raw), scaled, 0.5)
