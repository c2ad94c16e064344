"""Predicted energy above the convex hull, and the probability of lying near it.

**Reference.** The hull is built with pymatgen's :class:`PhaseDiagram` from formation
energies of one dataset (by default MP-2018, ``mp2018``), each entry's energy being
``E_f x N_atoms`` and every element at 0 eV/atom. This is exact for Materials Project
formation energies: MP defines ``E_f = (E - sum_i n_i mu_i) / N`` with ``mu_i`` the
(corrected) energy per atom of element ``i``'s reference phase, so formation energies are
total energies minus a function that is linear in composition. Adding a linear function of
composition moves every point and every hull facet by the same amount at each composition,
so hull distances and decomposition energies are unchanged, provided every entry uses the
same ``mu_i`` and correction scheme: true within one MP snapshot (MP-2018 legacy
corrections here), never across datasets. A metastable elemental polymorph keeps its
positive ``E_f``; the reference phases sit at 0.

**Candidates.** For a candidate of composition ``x`` with predicted formation energy
``mu +- sigma`` (eV/atom) and hull energy ``H(x)`` of the competing phases (the hull is
fixed: the candidate is not part of it)::

    e_above_hull = mu - H(x)                       (negative: below the known hull)
    P(e_above_hull <= tau) = Phi((H(x) + tau - mu) / sigma)

with ``Phi`` the standard normal CDF (a Gaussian on the formation energy). With
``sigma = 0`` the probability is 1 or 0.

**Fast path.** Entries are grouped by element set once; a chemical system's
:class:`PhaseDiagram` is built the first time a candidate needs it, from the lowest
formation energy per reduced composition of every subsystem, and kept (as are hull
energies per composition). A pool of thousands of candidates in a few hundred systems
builds a few hundred small diagrams.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from scipy.special import ndtr

from materials_ai.candidates.chemistry import formula_key
from materials_ai.errors import CandidateError

if TYPE_CHECKING:
    from pymatgen.analysis.phase_diagram import PhaseDiagram

    from materials_ai.data.records import MaterialsDataset

__all__ = ["HullReference", "StabilityEstimate", "probability_within"]

logger = logging.getLogger(__name__)

CompositionLike = Mapping[str, float] | str


def probability_within(
    mean_ev_per_atom: np.ndarray,
    std_ev_per_atom: np.ndarray,
    hull_energy_ev_per_atom: np.ndarray,
    threshold_ev_per_atom: float,
) -> np.ndarray:
    """Probability that the energy above the hull is at most ``threshold``.

    Args:
        mean_ev_per_atom: `n` predicted formation energies.
        std_ev_per_atom: `n` predictive standard deviations (>= 0).
        hull_energy_ev_per_atom: `n` hull energies at the candidates' compositions.
        threshold_ev_per_atom: Allowed distance above the hull.

    Returns:
        `n` probabilities, ``Phi((H + tau - mu) / sigma)``; NaN where the mean is NaN.
    """
    mean = np.asarray(mean_ev_per_atom, dtype=np.float64)
    margin = np.asarray(hull_energy_ev_per_atom, dtype=np.float64) + threshold_ev_per_atom - mean
    return probability_of_margin(margin, std_ev_per_atom)


def probability_of_margin(margin: np.ndarray, std: np.ndarray) -> np.ndarray:
    """``P(X <= x + margin)`` for a Gaussian ``X`` of mean ``x`` and std ``std``.

    Args:
        margin: Distances from the means to their thresholds (threshold - mean).
        std: Standard deviations (>= 0), broadcastable to ``margin``.

    Returns:
        ``Phi(margin / std)``; a step (1 where ``margin >= 0``) where ``std == 0``; NaN
        where the margin is NaN.
    """
    margin = np.asarray(margin, dtype=np.float64)
    std = np.asarray(std, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(
            std > 0, ndtr(margin / np.where(std > 0, std, 1.0)), (margin >= 0).astype(float)
        )
    return np.where(np.isfinite(margin), p, np.nan)


@dataclass(frozen=True, slots=True)
class StabilityEstimate:
    """Predicted stability of `n` candidates.

    Attributes:
        hull_energy: `n` hull energies of the competing phases (eV/atom).
        e_above_hull: `n` predicted ``mean - hull_energy`` (eV/atom; negative = below).
        std: `n` standard deviations of ``e_above_hull`` (= of the formation energy).
        p_within: `n` probabilities of ``e_above_hull <= threshold``.
        threshold: The threshold used (eV/atom).
    """

    hull_energy: np.ndarray
    e_above_hull: np.ndarray
    std: np.ndarray
    p_within: np.ndarray
    threshold: float


def _amounts(composition: CompositionLike) -> dict[str, float]:
    if isinstance(composition, str):
        from pymatgen.core import Composition

        return {str(k): float(v) for k, v in Composition(composition).get_el_amt_dict().items()}
    return {str(k): float(v) for k, v in composition.items()}


class HullReference:
    """Convex hulls of one dataset's formation energies, per chemical system, cached.

    Args:
        entries: (composition, formation energy in eV/atom) pairs; a composition is an
            element -> amount mapping or a formula string.
        name: Where the energies come from (for messages).

    Raises:
        CandidateError: If an energy is not finite.
    """

    def __init__(self, entries: Iterable[tuple[CompositionLike, float]], name: str = "") -> None:
        self.name = name
        lowest: dict[str, tuple[float, dict[str, int]]] = {}
        for composition, energy in entries:
            e = float(energy)
            if not np.isfinite(e):
                raise CandidateError(
                    f"hull reference {name!r}: non-finite energy for {composition}"
                )
            amounts = _amounts(composition)
            key = formula_key(amounts)
            if key not in lowest or e < lowest[key][0]:
                from materials_ai.candidates.known import parse_formula_key

                lowest[key] = (e, parse_formula_key(key))
        self._by_system: dict[frozenset[str], list[tuple[dict[str, int], float]]] = {}
        for _key, (e, amounts_int) in sorted(lowest.items()):
            self._by_system.setdefault(frozenset(amounts_int), []).append((amounts_int, e))
        self._diagrams: dict[tuple[str, ...], PhaseDiagram] = {}
        self._hull_cache: dict[str, float] = {}
        self._element_index: dict[str, list[frozenset[str]]] | None = None
        self.n_compositions = len(lowest)

    @classmethod
    def from_dataset(
        cls,
        dataset: MaterialsDataset,
        target: str = "formation_energy",
        *,
        exclude_formula_keys: Collection[str] = (),
        exclude_ids: Collection[str] = (),
    ) -> HullReference:
        """Build from a loaded dataset's formation energies.

        Args:
            dataset: Records carrying ``target`` (eV/atom), e.g. ``load_dataset("mp2018",
                targets=["formation_energy"])``.
            target: Name of the formation-energy target.
            exclude_formula_keys: Compositions to leave out (held-out materials).
            exclude_ids: Record ids to leave out.

        Raises:
            CandidateError: If the dataset lacks ``target``.
        """
        if target not in dataset.target_names:
            raise CandidateError(
                f"dataset {dataset.name!r} has no target {target!r} "
                f"(it has {list(dataset.target_names)})"
            )
        drop_keys = set(exclude_formula_keys)
        drop_ids = set(exclude_ids)
        entries: list[tuple[CompositionLike, float]] = []
        for record in dataset.records:
            if record.id in drop_ids:
                continue
            amounts = record.structure.composition.get_el_amt_dict()
            if drop_keys and formula_key(amounts) in drop_keys:
                continue
            entries.append((amounts, record.targets[target]))
        return cls(entries, name=dataset.name)

    @classmethod
    def from_card(
        cls,
        name: str,
        target: str = "formation_energy",
        *,
        data_dir: str | Path | None = None,
        exclude_formula_keys: Collection[str] = (),
        exclude_ids: Collection[str] = (),
    ) -> HullReference:
        """Build from a registered dataset, reading only compositions and energies.

        A card with a ``formula_column`` (MP-2018) is read as a table of formulas and
        formation energies, seconds instead of minutes of structure parsing; any other
        card is loaded with its structures (:meth:`from_dataset`). Rows the loader would
        skip (a non-finite value, one outside the target's ``valid_range``) are skipped.

        Args:
            name: Dataset card name, e.g. ``"mp2018"``.
            target: Formation-energy target (eV/atom).
            data_dir: Dataset folder (default: ``MATERIALS_AI_DATA_DIR``).
            exclude_formula_keys: Compositions to leave out (held-out materials).
            exclude_ids: Record ids to leave out.

        Raises:
            CandidateError: If the card has no such target.
        """
        import pandas as pd
        from pymatgen.core import Composition

        from materials_ai.data import get_card, load_dataset
        from materials_ai.data.loaders import clean_id
        from materials_ai.data.registry import dataset_path

        card = get_card(name)
        if target not in card.targets:
            raise CandidateError(
                f"dataset {name!r} has no target {target!r} (it has {list(card.targets)})"
            )
        if card.formula_column is None or card.id_column is None:
            dataset = load_dataset(card, targets=[target], data_dir=data_dir)
            return cls.from_dataset(
                dataset,
                target,
                exclude_formula_keys=exclude_formula_keys,
                exclude_ids=exclude_ids,
            )
        spec = card.targets[target]
        table = pd.read_csv(
            dataset_path(card, data_dir),
            usecols=[card.id_column, card.formula_column, spec.column],
            comment=card.comment,
        )
        drop_keys = set(exclude_formula_keys)
        drop_ids = set(exclude_ids)
        entries: list[tuple[CompositionLike, float]] = []
        for raw_id, formula, raw in zip(
            (clean_id(raw, card) for raw in table[card.id_column]),
            table[card.formula_column].astype(str),
            table[spec.column].to_numpy(dtype=float),
            strict=True,
        ):
            value = float(raw) * spec.scale
            if not math.isfinite(value) or not spec.contains(value) or raw_id in drop_ids:
                continue
            amounts = Composition(formula.replace(" ", "")).get_el_amt_dict()
            if drop_keys and formula_key(amounts) in drop_keys:
                continue
            entries.append((amounts, value))
        return cls(entries, name=card.name)

    # -- hulls ------------------------------------------------------------------------

    def phase_diagram(self, elements: Iterable[str]) -> PhaseDiagram:
        """Return the (cached) phase diagram of a chemical system, elements at 0 eV/atom."""
        from pymatgen.analysis.phase_diagram import PDEntry, PhaseDiagram
        from pymatgen.core import Composition

        system = tuple(sorted(set(elements)))
        diagram = self._diagrams.get(system)
        if diagram is not None:
            return diagram
        pd_entries = [PDEntry(Composition({el: 1}), 0.0, name=el) for el in system]
        for size in range(1, len(system) + 1):
            for subset in itertools.combinations(system, size):
                for amounts, e in self._by_system.get(frozenset(subset), []):
                    n_atoms = sum(amounts.values())
                    pd_entries.append(PDEntry(Composition(amounts), e * n_atoms))
        diagram = PhaseDiagram(pd_entries)
        self._diagrams[system] = diagram
        return diagram

    def hull_energy(self, composition: CompositionLike) -> float:
        """Formation energy of the hull at ``composition`` (eV/atom, <= 0)."""
        from pymatgen.core import Composition

        amounts = _amounts(composition)
        key = formula_key(amounts)
        cached = self._hull_cache.get(key)
        if cached is not None:
            return cached
        if len(amounts) == 1:
            value = 0.0
        else:
            diagram = self.phase_diagram(amounts)
            value = float(diagram.get_hull_energy_per_atom(Composition(amounts)))
        self._hull_cache[key] = value
        return value

    def n_competing(self, composition: CompositionLike) -> int:
        """Number of reference compounds (not elements) in the composition's chemical system.

        Zero means the hull there is made of the elements alone: a candidate in such a
        system is "stable" against an empty reference, which says little.
        """
        elements = sorted(_amounts(composition))
        count = 0
        for size in range(2, len(elements) + 1):
            for subset in itertools.combinations(elements, size):
                count += len(self._by_system.get(frozenset(subset), ()))
        return count

    def uncovered_pairs(self, composition: CompositionLike) -> list[tuple[str, str]]:
        """Element pairs (each element with the most electronegative one) that no reference
        compound covers: where the reference lacks e.g. every K-I compound, the hull of a
        K-Ca-I candidate is made of what little is left and is too shallow to judge."""
        from materials_ai.candidates.chemistry import electronegativity

        elements = sorted(_amounts(composition))
        if len(elements) < 2:
            return []
        chi = {e: electronegativity(e) for e in elements}
        anion = max(elements, key=lambda e: (np.nan_to_num(chi[e], nan=-1.0), e))
        missing = []
        for element in elements:
            if element == anion:
                continue
            covered = any(
                element in system and anion in system for system in self._systems_with(element)
            )
            if not covered:
                missing.append((element, anion))
        return missing

    def _systems_with(self, element: str) -> list[frozenset[str]]:
        index = self._element_index
        if index is None:
            index = {}
            for system in self._by_system:
                for e in system:
                    index.setdefault(e, []).append(system)
            self._element_index = index
        return index.get(element, [])

    def hull_energies(self, compositions: Sequence[CompositionLike]) -> np.ndarray:
        """`n` hull energies (eV/atom)."""
        return np.array([self.hull_energy(c) for c in compositions], dtype=np.float64)

    def e_above_hull(
        self,
        compositions: Sequence[CompositionLike],
        e_form_ev_per_atom: Sequence[float] | np.ndarray,
    ) -> np.ndarray:
        """`n` signed distances ``E_f - H(x)`` (eV/atom; negative = below the hull)."""
        return np.asarray(e_form_ev_per_atom, dtype=np.float64) - self.hull_energies(compositions)

    def stability(
        self,
        compositions: Sequence[CompositionLike],
        mean_ev_per_atom: Sequence[float] | np.ndarray,
        std_ev_per_atom: Sequence[float] | np.ndarray,
        threshold_ev_per_atom: float = 0.1,
    ) -> StabilityEstimate:
        """Predicted hull distance and probability of lying within ``threshold``.

        Args:
            compositions: `n` compositions.
            mean_ev_per_atom: `n` predicted formation energies (NaN allowed: no result).
            std_ev_per_atom: `n` predictive standard deviations.
            threshold_ev_per_atom: Allowed distance above the hull.
        """
        mean = np.asarray(mean_ev_per_atom, dtype=np.float64)
        std = np.asarray(std_ev_per_atom, dtype=np.float64)
        if mean.shape != (len(compositions),) or std.shape != mean.shape:
            raise CandidateError(
                f"need one mean and one std per composition ({len(compositions)}); "
                f"got {mean.shape} and {std.shape}"
            )
        hull = self.hull_energies(compositions)
        return StabilityEstimate(
            hull_energy=hull,
            e_above_hull=mean - hull,
            std=std,
            p_within=probability_within(mean, std, hull, threshold_ev_per_atom),
            threshold=threshold_ev_per_atom,
        )
