"""Ion substitution on known structures, driven by data-mined substitution probabilities.

Hautier et al. (Inorg. Chem. 50, 656 (2011)) learned from the ICSD how likely ion ``a``
replaces ion ``b`` in the same structure type. pymatgen ships their fitted weights
(``lambda.json``, 230 ions) and works offline; this module uses pymatgen's
:class:`SubstitutionProbability` for the numbers and enumerates substitutions with a
vectorised, pruned search instead of ``SubstitutionPredictor.list_prediction`` (same
probabilities, same threshold rule, about 100x fewer Python steps).

For a parent with ions ``s_1..s_k`` (one oxidation state per element, charge-neutral) the
probability that target ions ``t_1..t_k`` adopt the parent's structure is::

    P(t | parent) = prod_i  exp(lambda(s_i, t_i)) / p(t_i)       (conditional on t)

which is pymatgen's ``cond_prob_list(parent ions, target ions)``. Substitutions with
``P >= threshold``, distinct target elements, a zero total charge, target ions whose
oxidation state is in the configured table (``common`` by default, so that every output
passes the charge screen) and at least one changed ion are kept, the most probable first.

The parent's volume is scaled by the ionic volume ratio ``sum_i n_i r(t_i)^3 /
sum_i n_i r(s_i)^3`` (Shannon radii at CN 6, covalent radii where Shannon lists none), in
the spirit of pymatgen's ``RLSVolumePredictor``; the cell shape and fractional coordinates
are kept, so the parent's space group is kept too.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from materials_ai.candidates.base import (
    ExclusionSet,
    GeneratedCandidate,
    candidate_id,
    deduplicate_generated,
)
from materials_ai.candidates.chemistry import (
    balanced_assignments,
    covalent_radius,
    formula_key,
    oxidation_states,
    shannon_radius,
)
from materials_ai.candidates.config import SubstitutionGeneratorConfig
from materials_ai.data.records import Candidate

if TYPE_CHECKING:
    from pymatgen.core import Structure

__all__ = ["SubstitutionGenerator", "SubstitutionTable", "spacegroup_number"]

logger = logging.getLogger(__name__)


class SubstitutionTable:
    """Conditional substitution probabilities as a dense matrix.

    Attributes:
        species: `m` ions as (element, oxidation state), in matrix order.
        index: (element, oxidation state) -> row/column.
        cond: `m x m`; ``cond[a, b]`` = pymatgen ``cond_prob(a, b)``, the probability of
            ion ``a`` given ion ``b`` (``a`` variable, ``b`` fixed).
    """

    def __init__(self, alpha: float = -5.0) -> None:
        from pymatgen.analysis.structure_prediction.substitution_probability import (
            SubstitutionProbability,
        )

        model = SubstitutionProbability(None, alpha)
        ions = sorted(model.species, key=lambda s: (s.symbol, s.oxi_state))
        self.species: list[tuple[str, int]] = [(s.symbol, int(s.oxi_state or 0)) for s in ions]
        self.index = {sp: i for i, sp in enumerate(self.species)}
        m = len(ions)
        lam = np.full((m, m), float(alpha))
        position = {s: i for i, s in enumerate(ions)}
        for pair, value in model._l.items():
            members = [position[s] for s in pair]
            i, j = (members[0], members[0]) if len(members) == 1 else members
            lam[i, j] = lam[j, i] = float(value)
        px = np.array([model.get_px(s) for s in ions], dtype=np.float64)
        self.cond = np.exp(lam) / px[None, :]
        self.charge = np.array([q for _, q in self.species], dtype=np.int64)
        self.symbols = [s for s, _ in self.species]

    def probability(
        self, parent: Sequence[tuple[str, int]], target: Sequence[tuple[str, int]]
    ) -> float:
        """Return ``P(target | parent)`` (pymatgen's ``cond_prob_list(parent, target)``)."""
        p = 1.0
        for s, t in zip(parent, target, strict=True):
            p *= float(self.cond[self.index[s], self.index[t]])
        return p


@lru_cache(maxsize=4)
def _table(alpha: float) -> SubstitutionTable:
    return SubstitutionTable(alpha)


def spacegroup_number(structure: Structure, symprec: float = 0.1) -> int | None:
    """Return the international space-group number found by spglib (None on failure)."""
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    try:
        return int(SpacegroupAnalyzer(structure, symprec=symprec).get_space_group_number())
    except Exception:  # spglib fails on a few pathological cells
        return None


def _radius(symbol: str, q: int) -> float:
    r = shannon_radius(symbol, q, 6)
    return r if math.isfinite(r) else covalent_radius(symbol)


class SubstitutionGenerator:
    """Propose new compounds by substituting ions into known structures.

    Args:
        parents: Known structures as (id, structure), in a stable order.
        config: Threshold, limits and oxidation-state table.
        name: Name recorded as each candidate's ``source``.
        symprec: spglib tolerance (Å) for the parents' space groups (the candidates
            inherit them); keep it equal to the novelty screen's.
    """

    def __init__(
        self,
        parents: Sequence[tuple[str, Structure]],
        config: SubstitutionGeneratorConfig | None = None,
        name: str = "substitution",
        symprec: float = 0.1,
    ) -> None:
        self.parents = list(parents)
        self.config = config or SubstitutionGeneratorConfig()
        self.name = name
        self.symprec = symprec
        self.table = _table(self.config.alpha)

    def generate(
        self, *, seed: int = 0, exclude: ExclusionSet | None = None
    ) -> list[GeneratedCandidate]:
        """Return substituted structures, most probable first within each parent.

        Args:
            seed: Seeds the parent subset when more than ``parents.max_parents`` qualify.
            exclude: Compositions / (composition, space group) pairs to skip.

        Returns:
            Candidates with ids ``sub-<formula>-from-<parent id>``, deduplicated on
            (composition, space group, sites): the most probable one is kept.
        """
        selection = self.config.parents
        eligible = [
            (pid, s)
            for pid, s in self.parents
            if len(s) <= selection.max_sites
            and len(s.composition) <= selection.max_elements
            and s.is_ordered
        ]
        if selection.max_parents is not None and len(eligible) > selection.max_parents:
            rng = np.random.default_rng(seed)
            keep = np.sort(rng.choice(len(eligible), selection.max_parents, replace=False))
            eligible = [eligible[i] for i in keep]
        out: list[GeneratedCandidate] = []
        for pid, parent in eligible:
            out.extend(self._from_parent(pid, parent, exclude))
        return deduplicate_generated(out)

    def substitutions(
        self, parent_ions: Sequence[tuple[str, int]], amounts: Sequence[int]
    ) -> list[tuple[float, tuple[tuple[str, int], ...]]]:
        """Enumerate charge-neutral substitutions of a parent's ions above the threshold.

        Args:
            parent_ions: One (element, oxidation state) per element of the parent.
            amounts: Number of each ion per formula unit (same order).

        Returns:
            (probability, target ions) pairs, most probable first (ties by ion names).
        """
        cfg = self.config
        table = self.table
        rows = [table.cond[table.index[ion]] for ion in parent_ions]
        allowed = np.array(
            [q in oxidation_states(s, cfg.oxidation_source) for s, q in table.species]
        )
        if cfg.allowed_elements is not None:
            allowed_set = set(cfg.allowed_elements)
            allowed &= np.array([s in allowed_set for s in table.symbols])
        orders: list[np.ndarray] = []
        for row in rows:
            candidates = np.flatnonzero(allowed)
            orders.append(candidates[np.argsort(-row[candidates], kind="stable")])
        best = [float(row[o[0]]) if len(o) else 0.0 for row, o in zip(rows, orders, strict=True)]
        # suffix[i] = product of the best factors of positions i..k-1
        suffix = [1.0] * (len(rows) + 1)
        for i in range(len(rows) - 1, -1, -1):
            suffix[i] = suffix[i + 1] * best[i]
        found: list[tuple[float, tuple[int, ...]]] = []
        charges = table.charge
        target_charge = 0

        def recurse(i: int, prob: float, chosen: list[int], charge: int) -> None:
            if i == len(rows):
                if charge == target_charge:
                    found.append((prob, tuple(chosen)))
                return
            row = rows[i]
            for t in orders[i]:
                p = prob * float(row[t])
                if p * suffix[i + 1] < cfg.threshold:
                    break
                symbol = table.symbols[t]
                if any(table.symbols[c] == symbol for c in chosen):
                    continue
                chosen.append(int(t))
                recurse(i + 1, p, chosen, charge + int(charges[t]) * int(amounts[i]))
                chosen.pop()

        recurse(0, 1.0, [], 0)
        parent_idx = tuple(table.index[ion] for ion in parent_ions)
        results = [
            (p, tuple(table.species[t] for t in combo)) for p, combo in found if combo != parent_idx
        ]
        results.sort(key=lambda r: (-r[0], r[1]))
        return results

    def _from_parent(
        self, pid: str, parent: Structure, exclude: ExclusionSet | None
    ) -> list[GeneratedCandidate]:
        counts = parent.composition.get_el_amt_dict()
        try:
            assignments = balanced_assignments(counts, self.config.oxidation_source)
        except ValueError:
            return []
        assignments = [
            a for a in assignments if all((s, q) in self.table.index for s, q in a.items())
        ]
        if not assignments:
            return []
        oxi = assignments[0]
        elements = sorted(oxi)
        parent_ions = [(s, oxi[s]) for s in elements]
        reduced = [round(counts[s]) for s in elements]
        divisor = math.gcd(*reduced)
        amounts = [n // divisor for n in reduced]
        subs = self.substitutions(parent_ions, amounts)
        if not subs:
            return []
        spacegroup = spacegroup_number(parent, self.symprec)
        parent_ionic_volume = sum(
            n * _radius(s, q) ** 3 for (s, q), n in zip(parent_ions, reduced, strict=True)
        )
        out: list[GeneratedCandidate] = []
        for prob, targets in subs:
            new_amounts = {t[0]: n for t, n in zip(targets, amounts, strict=True)}
            key = formula_key(new_amounts)
            if exclude is not None and exclude.excludes(key, spacegroup):
                continue
            mapping: dict[Any, Any] = {s: t[0] for s, t in zip(elements, targets, strict=True)}
            structure = parent.copy()
            structure.replace_species(mapping)
            ionic_volume = sum(
                n * _radius(s, q) ** 3 for (s, q), n in zip(targets, reduced, strict=True)
            )
            if (
                math.isfinite(ionic_volume)
                and math.isfinite(parent_ionic_volume)
                and parent_ionic_volume > 0
            ):
                structure.scale_lattice(parent.volume * ionic_volume / parent_ionic_volume)
            formula = structure.composition.reduced_formula
            out.append(
                GeneratedCandidate(
                    candidate=Candidate(
                        id=candidate_id("sub", formula, "from", pid),
                        structure=structure,
                        source=self.name,
                    ),
                    prototype="substitution",
                    spacegroup=spacegroup,
                    oxidation_states=tuple(targets),
                    formula_key=key,
                    parent_id=pid,
                    score=prob,
                    descriptors={"substitution_probability": prob},
                )
            )
            if len(out) >= self.config.max_per_parent:
                break
        return out
