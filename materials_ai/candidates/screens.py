"""Screens, cheapest first, each saying how many candidates it removed and why.

================= ================================================== ==================
screen            removes                                             cost per candidate
================= ================================================== ==================
element_policy    radioactive, highly toxic, excluded or not-allowed  set look-up
                  elements
charge            compositions with no charge-neutral assignment of  cached per
                  tabulated oxidation states (or only one that puts  composition
                  a cation above an anion in electronegativity)
sustainability    (only when a bound is set) low score, high HHI,    cached per
                  scarce elements; always adds score columns         composition
deduplicate       structures equal to an earlier candidate           StructureMatcher on
                  (StructureMatcher within a pre-hash bucket)        pre-hash collisions
novelty           structures equal to a known one                    StructureMatcher on
                  (StructureMatcher within a pre-hash bucket)        pre-hash hits
stability         (after prediction) low probability of lying        hull look-up,
                  within a threshold of the convex hull              cached per system
================= ================================================== ==================

:func:`run_screens` applies screens in order and returns the survivors with a
:class:`ScreenReport`: per-screen counts (in, removed, reasons, seconds,
StructureMatcher calls) and per-candidate outcomes (the screen and reason that removed
it, or the screens it passed) and score columns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from materials_ai.candidates.base import GeneratedCandidate
from materials_ai.candidates.chemistry import balanced_assignments
from materials_ai.candidates.config import (
    ChargeScreenConfig,
    DeduplicationConfig,
    ElementPolicyConfig,
    NoveltyConfig,
    ScreensConfig,
    StabilityConfig,
    SustainabilityConfig,
)
from materials_ai.candidates.known import KnownMaterials, parse_formula_key
from materials_ai.candidates.sustainability import sustainability

if TYPE_CHECKING:
    from pymatgen.analysis.structure_matcher import StructureMatcher

    from materials_ai.candidates.stability import HullReference
from materials_ai.candidates.screening import (
    SCREENS,
    Removal,
    Screen,
    ScreenFactory,
    ScreenOutcome,
    ScreenReport,
    ScreenStep,
    make_screen,
    run_screens,
)

__all__ = [
    "SCREENS",
    "ChargeBalanceScreen",
    "DeduplicationScreen",
    "ElementPolicyScreen",
    "NoveltyScreen",
    "Removal",
    "Screen",
    "ScreenFactory",
    "ScreenOutcome",
    "ScreenReport",
    "ScreenStep",
    "StabilityScreen",
    "SustainabilityScreen",
    "default_screens",
    "make_screen",
    "run_screens",
]


@lru_cache(maxsize=65536)
def _elements(key: str) -> frozenset[str]:
    return frozenset(parse_formula_key(key))


# --------------------------------------------------------------------------- screens


class ElementPolicyScreen:
    """Remove candidates containing radioactive, highly toxic or otherwise excluded elements.

    Args:
        config: The policy (default lists:
            :data:`~materials_ai.candidates.config.DEFAULT_RADIOACTIVE` and
            :data:`~materials_ai.candidates.config.DEFAULT_TOXIC`).
    """

    name = "element_policy"

    def __init__(self, config: ElementPolicyConfig | None = None) -> None:
        self.config = config or ElementPolicyConfig()
        cfg = self.config
        self.radioactive = frozenset(cfg.radioactive) if cfg.exclude_radioactive else frozenset()
        self.toxic = frozenset(cfg.toxic) if cfg.exclude_toxic else frozenset()
        self.excluded = frozenset(cfg.excluded)
        self.allowed = frozenset(cfg.allowed) if cfg.allowed is not None else None

    def check(self, elements: frozenset[str]) -> tuple[str, str] | None:
        """Return (code, detail) if the element set violates the policy, else None."""
        for code, bad_set, label in (
            ("radioactive element", self.radioactive, "radioactive"),
            ("toxic element", self.toxic, "toxic"),
            ("excluded element", self.excluded, "excluded by policy"),
        ):
            bad = sorted(elements & bad_set)
            if bad:
                return code, f"contains {', '.join(bad)} ({label})"
        if self.allowed is not None:
            bad = sorted(elements - self.allowed)
            if bad:
                return "element not allowed", f"contains {', '.join(bad)} (not in the allowed list)"
        return None

    def apply(self, candidates: Sequence[GeneratedCandidate]) -> ScreenOutcome:
        """See :class:`Screen`."""
        outcome = ScreenOutcome()
        cache: dict[str, tuple[str, str] | None] = {}
        for i, c in enumerate(candidates):
            key = c.formula_key
            if key not in cache:
                cache[key] = self.check(_elements(key))
            verdict = cache[key]
            if verdict is not None:
                outcome.removals[i] = verdict
        return outcome


class ChargeBalanceScreen:
    """Remove compositions no tabulated oxidation states make neutral (SMACT-style test).

    A generator's own oxidation states are not trusted blindly: every composition is
    checked with :func:`~materials_ai.candidates.chemistry.balanced_assignments`.

    Args:
        config: Oxidation-state table and whether electronegativity ordering is required.
    """

    name = "charge"

    def __init__(self, config: ChargeScreenConfig | None = None) -> None:
        self.config = config or ChargeScreenConfig()

    def check(self, key: str) -> tuple[str, str] | None:
        """Return (code, detail) if composition ``key`` fails, else None."""
        cfg = self.config
        amounts = parse_formula_key(key)
        if balanced_assignments(amounts, cfg.oxidation_source, cfg.check_electronegativity):
            return None
        if cfg.check_electronegativity and balanced_assignments(
            amounts, cfg.oxidation_source, False
        ):
            return (
                "electronegativity ordering",
                "every charge-neutral assignment has a cation at least as electronegative "
                "as an anion",
            )
        return (
            "not charge balanced",
            f"no charge-neutral assignment of {cfg.oxidation_source} oxidation states",
        )

    def apply(self, candidates: Sequence[GeneratedCandidate]) -> ScreenOutcome:
        """See :class:`Screen`."""
        outcome = ScreenOutcome()
        cache: dict[str, tuple[str, str] | None] = {}
        for i, c in enumerate(candidates):
            key = c.formula_key
            if key not in cache:
                cache[key] = self.check(key)
            verdict = cache[key]
            if verdict is not None:
                outcome.removals[i] = verdict
        return outcome


class SustainabilityScreen:
    """Add sustainability columns; remove candidates outside the bounds that are set.

    Columns: ``hhi_production``, ``hhi_reserve`` (0-10,000), ``abundance_min_ppm``
    (mg/kg) and ``sustainability`` (0-1), see
    :mod:`materials_ai.candidates.sustainability`.
    """

    name = "sustainability"
    COLUMNS = ("hhi_production", "hhi_reserve", "abundance_min_ppm", "sustainability")

    def __init__(self, config: SustainabilityConfig | None = None) -> None:
        self.config = config or SustainabilityConfig()

    def apply(self, candidates: Sequence[GeneratedCandidate]) -> ScreenOutcome:
        """See :class:`Screen`."""
        cfg = self.config
        outcome = ScreenOutcome()
        columns = {name: np.full(len(candidates), np.nan) for name in self.COLUMNS}
        cache: dict[str, Any] = {}
        for i, c in enumerate(candidates):
            key = c.formula_key
            if key not in cache:
                cache[key] = sustainability(parse_formula_key(key), cfg.missing_hhi)
            s = cache[key]
            for name, value in s.as_dict().items():
                columns[name][i] = value
            if cfg.min_score is not None and s.score < cfg.min_score:
                outcome.removals[i] = (
                    "sustainability score",
                    f"score {s.score:.3f} < {cfg.min_score}",
                )
            elif cfg.max_hhi_production is not None and s.hhi_production > cfg.max_hhi_production:
                outcome.removals[i] = (
                    "production HHI",
                    f"production HHI {s.hhi_production:.0f} > {cfg.max_hhi_production:.0f}",
                )
            elif cfg.max_hhi_reserve is not None and s.hhi_reserve > cfg.max_hhi_reserve:
                outcome.removals[i] = (
                    "reserves HHI",
                    f"reserves HHI {s.hhi_reserve:.0f} > {cfg.max_hhi_reserve:.0f}",
                )
            elif cfg.min_abundance_ppm is not None and s.abundance_min_ppm < cfg.min_abundance_ppm:
                outcome.removals[i] = (
                    "crustal abundance",
                    f"{s.scarcest_element} at {s.abundance_min_ppm:g} mg/kg "
                    f"< {cfg.min_abundance_ppm:g}",
                )
        outcome.scores = columns
        return outcome


def _matcher(config: DeduplicationConfig | NoveltyConfig) -> StructureMatcher:
    from pymatgen.analysis.structure_matcher import StructureMatcher

    return StructureMatcher(
        ltol=config.ltol,
        stol=config.stol,
        angle_tol=config.angle_tol,
        primitive_cell=True,
        scale=True,
        attempt_supercell=False,
    )


def _spacegroup(candidate: GeneratedCandidate, symprec: float) -> int | None:
    if candidate.spacegroup is not None:
        return candidate.spacegroup
    from materials_ai.candidates.substitution import spacegroup_number

    return spacegroup_number(candidate.structure, symprec)


class DeduplicationScreen:
    """Remove candidates equal to an earlier candidate of the pool.

    Candidates are bucketed by pre-hash (composition key, space group); only candidates
    of the same bucket are compared, with ``StructureMatcher`` (scale-invariant, so two
    estimates of one structure's lattice still match). The first of a group is kept.
    """

    name = "deduplicate"

    def __init__(self, config: DeduplicationConfig | None = None, symprec: float = 0.1) -> None:
        self.config = config or DeduplicationConfig()
        self.symprec = symprec

    def apply(self, candidates: Sequence[GeneratedCandidate]) -> ScreenOutcome:
        """See :class:`Screen`."""
        outcome = ScreenOutcome()
        buckets: dict[tuple[str, int | None], list[int]] = {}
        for i, c in enumerate(candidates):
            buckets.setdefault((c.formula_key, _spacegroup(c, self.symprec)), []).append(i)
        matcher = None
        for members in buckets.values():
            if len(members) < 2:
                continue
            matcher = matcher or _matcher(self.config)
            kept: list[int] = []
            for i in members:
                duplicate_of = None
                for j in kept:
                    if len(candidates[i].structure) % len(candidates[j].structure) and len(
                        candidates[j].structure
                    ) % len(candidates[i].structure):
                        continue
                    outcome.matcher_calls += 1
                    if matcher.fit(candidates[i].structure, candidates[j].structure):
                        duplicate_of = j
                        break
                if duplicate_of is None:
                    kept.append(i)
                else:
                    outcome.removals[i] = (
                        "duplicate",
                        f"same structure as {candidates[duplicate_of].id}",
                    )
        return outcome


class NoveltyScreen:
    """Remove candidates that match a known structure of any dataset.

    Adds the column ``known_polymorphs``: known structures of the same composition (in
    any structure), so a ranking can tell a new composition from a new polymorph.

    Args:
        known: The known-structure index.
        config: Matcher tolerances and pre-hash settings.
    """

    name = "novelty"

    def __init__(self, known: KnownMaterials, config: NoveltyConfig | None = None) -> None:
        self.known = known
        self.config = config or NoveltyConfig()

    def apply(self, candidates: Sequence[GeneratedCandidate]) -> ScreenOutcome:
        """See :class:`Screen`."""
        cfg = self.config
        outcome = ScreenOutcome()
        polymorphs = np.zeros(len(candidates))
        matcher = None
        for i, c in enumerate(candidates):
            bucket = self.known.bucket(c.formula_key)
            polymorphs[i] = len(bucket)
            if not bucket:
                continue
            matcher = matcher or _matcher(cfg)
            entry, calls = self.known.find_match(
                c.structure,
                c.formula_key,
                _spacegroup(c, cfg.symprec),
                matcher,
                use_spacegroup=cfg.use_spacegroup,
                symprec=cfg.symprec,
            )
            outcome.matcher_calls += calls
            if entry is not None:
                outcome.removals[i] = ("known material", f"matches {entry.label}")
        outcome.scores = {"known_polymorphs": polymorphs}
        return outcome


class StabilityScreen:
    """Score predicted hull distances; remove improbable candidates when a bound is set.

    Columns: ``e_form_pred_ev_per_atom``, ``e_form_std_ev_per_atom`` (after the configured
    scale and floor), ``hull_energy_ev_per_atom``, ``e_above_hull_pred_ev_per_atom``,
    ``p_within_hull_threshold``, ``n_competing_phases`` (reference compounds in the
    candidate's chemical system; 0 = only the elements, so the hull says little) and
    ``hull_uncovered_pairs`` (elements with no reference compound with the most
    electronegative element; see :meth:`HullReference.uncovered_pairs`).

    Args:
        hull: Convex-hull reference of the competing phases.
        e_form_ev_per_atom: Candidate id -> (predicted mean, std) formation energy.
        config: Threshold and optional minimum probability.
    """

    name = "stability"

    def __init__(
        self,
        hull: HullReference,
        e_form_ev_per_atom: Mapping[str, tuple[float, float]],
        config: StabilityConfig | None = None,
    ) -> None:
        self.hull = hull
        self.predictions = e_form_ev_per_atom
        self.config = config or StabilityConfig()

    def apply(self, candidates: Sequence[GeneratedCandidate]) -> ScreenOutcome:
        """See :class:`Screen`. Candidates without a prediction are removed."""
        cfg = self.config
        outcome = ScreenOutcome()
        have = [c.id in self.predictions for c in candidates]
        mean = np.array(
            [
                self.predictions[c.id][0] if h else np.nan
                for c, h in zip(candidates, have, strict=True)
            ]
        )
        std = np.array(
            [
                self.predictions[c.id][1] if h else np.nan
                for c, h in zip(candidates, have, strict=True)
            ]
        )
        std = np.sqrt((cfg.std_scale * std) ** 2 + cfg.std_floor_ev_per_atom**2)
        compositions = [parse_formula_key(c.formula_key) for c in candidates]
        estimate = self.hull.stability(compositions, mean, std, cfg.threshold_ev_per_atom)
        competing: dict[str, int] = {}
        uncovered: dict[str, list[tuple[str, str]]] = {}
        for c, comp in zip(candidates, compositions, strict=True):
            if c.formula_key not in competing:
                competing[c.formula_key] = self.hull.n_competing(comp)
                uncovered[c.formula_key] = self.hull.uncovered_pairs(comp)
        outcome.scores = {
            "e_form_pred_ev_per_atom": mean,
            "e_form_std_ev_per_atom": std,
            "hull_energy_ev_per_atom": estimate.hull_energy,
            "e_above_hull_pred_ev_per_atom": estimate.e_above_hull,
            "p_within_hull_threshold": estimate.p_within,
            "n_competing_phases": np.array(
                [competing[c.formula_key] for c in candidates], dtype=np.float64
            ),
            "hull_uncovered_pairs": np.array(
                [len(uncovered[c.formula_key]) for c in candidates], dtype=np.float64
            ),
        }
        for i, c in enumerate(candidates):
            if not have[i]:
                outcome.removals[i] = ("no prediction", "no formation-energy prediction")
            elif cfg.require_covered_hull and uncovered[c.formula_key]:
                pairs = ", ".join(f"{a}-{b}" for a, b in uncovered[c.formula_key])
                outcome.removals[i] = (
                    "incomplete hull reference",
                    f"no reference compound for {pairs}",
                )
            elif cfg.min_probability is not None and estimate.p_within[i] < cfg.min_probability:
                outcome.removals[i] = (
                    "unlikely stable",
                    f"P(E_hull <= {cfg.threshold_ev_per_atom} eV/atom) = "
                    f"{estimate.p_within[i]:.3f} < {cfg.min_probability}",
                )
        return outcome


def default_screens(config: ScreensConfig, known: KnownMaterials | None) -> list[Screen]:
    """Return the configured pre-prediction screens in cost order.

    Args:
        config: Screen settings.
        known: Known structures; the novelty screen is skipped when None.
    """
    screens: list[Screen] = [
        ElementPolicyScreen(config.element_policy),
        ChargeBalanceScreen(config.charge),
        SustainabilityScreen(config.sustainability),
    ]
    if config.deduplicate.enabled:
        screens.append(DeduplicationScreen(config.deduplicate, symprec=config.novelty.symprec))
    if config.novelty.enabled and known is not None:
        screens.append(NoveltyScreen(known, config.novelty))
    return screens
