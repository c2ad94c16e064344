"""Generate and screen a candidate pool in one call (what a generative campaign needs).

Typical use::

    from materials_ai.candidates import PoolConfig, KnownMaterials, generate_pool

    known = KnownMaterials.from_datasets()            # every dataset with structures
    pool = generate_pool(PoolConfig(seed=0), known=known)
    pool.candidates                                     # list[Candidate] for the surrogate
    print(pool.report.summary())                        # per-screen counts and reasons

After the surrogate has scored the pool, :func:`screen_stability` adds the hull screen to the
same report.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from materials_ai.candidates.base import CandidateGenerator, ExclusionSet, GeneratedCandidate
from materials_ai.candidates.config import (
    PoolConfig,
    PrototypeGeneratorConfig,
    StabilityConfig,
    SubstitutionGeneratorConfig,
)
from materials_ai.candidates.known import KnownMaterials
from materials_ai.candidates.prototypes import PrototypeGenerator
from materials_ai.candidates.screens import (
    ScreenReport,
    StabilityScreen,
    default_screens,
    run_screens,
)
from materials_ai.candidates.stability import HullReference
from materials_ai.candidates.substitution import SubstitutionGenerator
from materials_ai.data.records import Candidate
from materials_ai.errors import CandidateError

__all__ = ["PoolResult", "build_generators", "generate_pool", "screen_stability"]

logger = logging.getLogger(__name__)


@dataclass
class PoolResult:
    """A screened pool.

    Attributes:
        generated: The surviving candidates with their generator annotations.
        report: Per-screen counts, per-candidate reasons and score columns.
    """

    generated: list[GeneratedCandidate]
    report: ScreenReport

    @property
    def candidates(self) -> list[Candidate]:
        """The surviving candidates as plain :class:`Candidate` objects (no labels)."""
        return [g.candidate for g in self.generated]

    def rows(self) -> list[dict[str, Any]]:
        """One dict per survivor: id, formula, prototype, space group, source, parent,
        generator score, score columns and the screens passed (for ranked lists)."""
        out = []
        for g in self.generated:
            row: dict[str, Any] = {
                "id": g.id,
                "formula": g.formula,
                "prototype": g.prototype,
                "spacegroup": g.spacegroup,
                "source": g.candidate.source,
                "parent_id": g.parent_id,
                "generator_score": g.score,
            }
            row.update(self.report.scores.get(g.id, {}))
            row["screens_passed"] = ",".join(self.report.passed.get(g.id, []))
            out.append(row)
        return out


def build_generators(config: PoolConfig, known: KnownMaterials | None) -> list[CandidateGenerator]:
    """Instantiate the configured generators.

    Raises:
        CandidateError: If a substitution generator is configured without ``known``.
    """
    generators: list[CandidateGenerator] = []
    for i, gen_config in enumerate(config.generators):
        if isinstance(gen_config, PrototypeGeneratorConfig):
            generators.append(
                PrototypeGenerator(gen_config, name=f"prototype{i}" if i else "prototype")
            )
        elif isinstance(gen_config, SubstitutionGeneratorConfig):
            if known is None:
                raise CandidateError(
                    "a substitution generator needs known structures to start from; pass "
                    "known=KnownMaterials.from_datasets(...)"
                )
            sel = gen_config.parents
            parents = known.select(
                datasets=sel.datasets,
                anonymous_formulas=sel.anonymous_formulas,
                ids=sel.ids,
                required_elements=sel.required_elements,
                max_sites=sel.max_sites,
                max_elements=sel.max_elements,
            )
            generators.append(
                SubstitutionGenerator(
                    parents,
                    gen_config,
                    name=f"substitution{i}" if i else "substitution",
                    symprec=config.screens.novelty.symprec,
                )
            )
        else:  # pragma: no cover - the discriminated union admits nothing else
            raise CandidateError(f"unknown generator config {type(gen_config).__name__}")
    return generators


def generate_pool(
    config: PoolConfig,
    *,
    known: KnownMaterials | None = None,
    generators: Sequence[CandidateGenerator] | None = None,
    exclude: ExclusionSet | None = None,
) -> PoolResult:
    """Generate candidates and run the pre-prediction screens.

    Args:
        config: Generators, screens and seed.
        known: Known structures for the novelty screen and substitution parents; when
            None and either needs them, built with
            :meth:`KnownMaterials.from_datasets` (``config.known_datasets``).
        generators: Use these instead of the configured ones.
        exclude: Extra exclusions passed to every generator (besides the known
            compositions when ``config.exclude_known_formulas``).

    Returns:
        The survivors (ids unique; duplicates across generators removed by the
        deduplication screen) and the report.
    """
    needs_known = config.screens.novelty.enabled or any(
        isinstance(g, SubstitutionGeneratorConfig) for g in config.generators
    )
    if known is None and needs_known:
        known = KnownMaterials.from_datasets(config.known_datasets)
    gens = list(generators) if generators is not None else build_generators(config, known)
    exclusion = exclude or ExclusionSet()
    if config.exclude_known_formulas and known is not None:
        exclusion = exclusion.union(known.exclusion_set())
    report = ScreenReport()
    pool: list[GeneratedCandidate] = []
    seen: set[str] = set()
    start = time.perf_counter()
    for i, gen in enumerate(gens):
        produced = gen.generate(seed=config.seed + i, exclude=exclusion)
        fresh = [c for c in produced if c.id not in seen]
        seen.update(c.id for c in fresh)
        report.generated[gen.name] = report.generated.get(gen.name, 0) + len(fresh)
        pool.extend(fresh)
    report.generation_seconds = time.perf_counter() - start
    survivors, report = run_screens(pool, default_screens(config.screens, known), report)
    logger.info("pool: %d generated, %d survive the screens", len(pool), len(survivors))
    return PoolResult(survivors, report)


def screen_stability(
    pool: PoolResult,
    hull: HullReference,
    e_form_mean_ev_per_atom: Sequence[float] | np.ndarray,
    e_form_std_ev_per_atom: Sequence[float] | np.ndarray,
    config: StabilityConfig | None = None,
) -> PoolResult:
    """Add the stability screen to a pool after the surrogate scored it.

    Args:
        pool: The screened pool.
        hull: Hull of the competing phases (e.g. ``HullReference.from_dataset(mp2018)``).
        e_form_mean_ev_per_atom: `n` predicted formation energies, in ``pool`` order.
        e_form_std_ev_per_atom: `n` predictive standard deviations.
        config: Threshold and optional minimum probability.

    Returns:
        A new result holding the survivors; the report is extended in place.
    """
    mean = np.asarray(e_form_mean_ev_per_atom, dtype=np.float64)
    std = np.asarray(e_form_std_ev_per_atom, dtype=np.float64)
    if mean.shape != (len(pool.generated),) or std.shape != mean.shape:
        raise CandidateError(
            f"need one prediction per pool candidate ({len(pool.generated)}); "
            f"got mean {mean.shape}, std {std.shape}"
        )
    predictions: Mapping[str, tuple[float, float]] = {
        g.id: (float(m), float(s)) for g, m, s in zip(pool.generated, mean, std, strict=True)
    }
    screen = StabilityScreen(hull, predictions, config)
    survivors, report = run_screens(pool.generated, [screen], pool.report)
    return PoolResult(survivors, report)
