"""Propose new materials: generators, screens, relaxation, sustainability and hull stability.

Typical use (see :mod:`materials_ai.candidates.pool`)::

    from materials_ai.candidates import KnownMaterials, PoolConfig, generate_pool

    known = KnownMaterials.from_datasets()
    pool = generate_pool(PoolConfig(seed=0), known=known)
    candidates = pool.candidates          # list[Candidate], screened, novel
    print(pool.report.summary())

Importing this package is light: pymatgen is imported when a generator, screen or hull
first needs it.
"""

from __future__ import annotations

from materials_ai.candidates.base import (
    CandidateGenerator,
    ExclusionSet,
    GeneratedCandidate,
    PrehashKey,
)
from materials_ai.candidates.chemistry import balanced_assignments, formula_key
from materials_ai.candidates.config import (
    DEFAULT_RADIOACTIVE,
    DEFAULT_TOXIC,
    ChargeScreenConfig,
    DeduplicationConfig,
    ElementPolicyConfig,
    NoveltyConfig,
    ParentSelection,
    PoolConfig,
    PrototypeGeneratorConfig,
    ScreensConfig,
    StabilityConfig,
    SubstitutionGeneratorConfig,
    SustainabilityConfig,
)
from materials_ai.candidates.dedup import RelaxedDedupConfig, deduplicate_structures
from materials_ai.candidates.energy_correction import (
    EnergyCorrection,
    fit_energy_correction,
    load_energy_correction,
)
from materials_ai.candidates.known import KnownEntry, KnownMaterials
from materials_ai.candidates.naming import PrototypeMatch, PrototypeNamer, prototype_name
from materials_ai.candidates.pool import (
    PoolResult,
    build_generators,
    generate_pool,
    screen_stability,
)
from materials_ai.candidates.prototypes import PrototypeGenerator
from materials_ai.candidates.ranking import (
    first_per_composition,
    probability_improves,
    proposal_order,
    proposal_thresholds,
)
from materials_ai.candidates.relax import RelaxConfig, RelaxResult, relax_structures
from materials_ai.candidates.relax_stage import RelaxedPool, RelaxStageConfig, relax_pool
from materials_ai.candidates.relaxed_calibration import (
    RelaxedCalibration,
    fit_relaxed_calibration,
)
from materials_ai.candidates.relaxed_stability import (
    CombinedEnergy,
    combine_formation_energies,
    relaxed_formation_energies,
)
from materials_ai.candidates.screens import (
    ChargeBalanceScreen,
    DeduplicationScreen,
    ElementPolicyScreen,
    NoveltyScreen,
    Removal,
    Screen,
    ScreenReport,
    ScreenStep,
    StabilityScreen,
    SustainabilityScreen,
    default_screens,
    run_screens,
)
from materials_ai.candidates.stability import HullReference, StabilityEstimate, probability_within
from materials_ai.candidates.substitution import SubstitutionGenerator
from materials_ai.candidates.sustainability import SustainabilityScore, sustainability

__all__ = [
    "DEFAULT_RADIOACTIVE",
    "DEFAULT_TOXIC",
    "CandidateGenerator",
    "ChargeBalanceScreen",
    "ChargeScreenConfig",
    "CombinedEnergy",
    "DeduplicationConfig",
    "DeduplicationScreen",
    "ElementPolicyConfig",
    "ElementPolicyScreen",
    "EnergyCorrection",
    "ExclusionSet",
    "GeneratedCandidate",
    "HullReference",
    "KnownEntry",
    "KnownMaterials",
    "NoveltyConfig",
    "NoveltyScreen",
    "ParentSelection",
    "PoolConfig",
    "PoolResult",
    "PrehashKey",
    "PrototypeGenerator",
    "PrototypeGeneratorConfig",
    "PrototypeMatch",
    "PrototypeNamer",
    "RelaxConfig",
    "RelaxResult",
    "RelaxStageConfig",
    "RelaxedCalibration",
    "RelaxedDedupConfig",
    "RelaxedPool",
    "Removal",
    "Screen",
    "ScreenReport",
    "ScreenStep",
    "ScreensConfig",
    "StabilityConfig",
    "StabilityEstimate",
    "StabilityScreen",
    "SubstitutionGenerator",
    "SubstitutionGeneratorConfig",
    "SustainabilityConfig",
    "SustainabilityScore",
    "SustainabilityScreen",
    "balanced_assignments",
    "build_generators",
    "combine_formation_energies",
    "deduplicate_structures",
    "default_screens",
    "first_per_composition",
    "fit_energy_correction",
    "fit_relaxed_calibration",
    "formula_key",
    "generate_pool",
    "load_energy_correction",
    "probability_improves",
    "probability_within",
    "proposal_order",
    "proposal_thresholds",
    "prototype_name",
    "relax_pool",
    "relax_structures",
    "relaxed_formation_energies",
    "run_screens",
    "screen_stability",
    "sustainability",
]
