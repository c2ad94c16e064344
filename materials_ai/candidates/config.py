"""Configuration of candidate generation and screening (pydantic, unknown keys rejected).

A workflow names its generators and screens in YAML; each block below is one model. Defaults
are chosen to give a sensible pool of inorganic semiconductor candidates without any setting.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from materials_ai.candidates.chemistry import OxidationSource

__all__ = [
    "DEFAULT_ANIONS",
    "DEFAULT_CATIONS",
    "DEFAULT_RADIOACTIVE",
    "DEFAULT_TOXIC",
    "PROTOTYPES",
    "ChargeScreenConfig",
    "DeduplicationConfig",
    "ElementPolicyConfig",
    "GeneratorConfig",
    "NoveltyConfig",
    "ParentSelection",
    "PoolConfig",
    "PrototypeGeneratorConfig",
    "PrototypeName",
    "ScreensConfig",
    "StabilityConfig",
    "SubstitutionGeneratorConfig",
    "SustainabilityConfig",
]

PrototypeName = Literal[
    "perovskite_cubic",
    "perovskite_tilted",
    "double_perovskite",
    "zincblende",
    "wurtzite",
    "rocksalt",
]
PROTOTYPES: tuple[PrototypeName, ...] = (
    "perovskite_cubic",
    "perovskite_tilted",
    "double_perovskite",
    "zincblende",
    "wurtzite",
    "rocksalt",
)

#: Elements with no stable isotope: Tc, Pm and every element from Po (Z = 84) on. Bi
#: (half-life 2e19 years) is kept.
DEFAULT_RADIOACTIVE: tuple[str, ...] = (
    "Tc", "Pm", "Po", "At", "Rn", "Fr", "Ra", "Ac", "Th", "Pa", "U", "Np", "Pu", "Am", "Cm",
    "Bk", "Cf", "Es", "Fm", "Md", "No", "Lr",
)  # fmt: skip

#: Highly toxic elements: the RoHS-restricted metals Pb, Hg and Cd (EU Directive
#: 2011/65/EU), and Tl, As, Be and Os, whose common compounds are acutely toxic or
#: carcinogenic (thallium salts, arsenic and its oxides, beryllium dust: IARC group 1;
#: volatile OsO4). Cr is kept: only Cr(VI) is restricted, and a composition does not fix
#: the oxidation state of its chromium.
DEFAULT_TOXIC: tuple[str, ...] = ("Pb", "Hg", "Cd", "Tl", "As", "Be", "Os")

#: Cation elements tried on prototype sites: metals and metalloids up to U (Z <= 92).
#: Radioactive and toxic ones are included on purpose: the element policy removes them
#: and records why, so changing the policy never needs a new generation setting.
DEFAULT_CATIONS: tuple[str, ...] = (
    "Li", "Be", "B", "Na", "Mg", "Al", "Si", "K", "Ca", "Sc", "Ti", "V", "Cr", "Mn", "Fe",
    "Co", "Ni", "Cu", "Zn", "Ga", "Ge", "As", "Rb", "Sr", "Y", "Zr", "Nb", "Mo", "Tc", "Ru",
    "Rh", "Pd", "Ag", "Cd", "In", "Sn", "Sb", "Te", "Cs", "Ba", "La", "Ce", "Pr", "Nd", "Pm",
    "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu", "Hf", "Ta", "W", "Re", "Os",
    "Ir", "Pt", "Au", "Hg", "Tl", "Pb", "Bi", "Th", "U",
)  # fmt: skip

#: Anion elements tried on prototype anion sites.
DEFAULT_ANIONS: tuple[str, ...] = (
    "N", "P", "As", "Sb", "O", "S", "Se", "Te", "F", "Cl", "Br", "I",
)  # fmt: skip


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_range(value: tuple[float, float], name: str) -> tuple[float, float]:
    if value[0] > value[1]:
        raise ValueError(f"{name}: lower bound {value[0]} > upper bound {value[1]}")
    return value


class PrototypeGeneratorConfig(_Strict):
    """Decorate prototype structures with charge-balanced ion combinations.

    Attributes:
        kind: Registry name.
        prototypes: Which prototypes to decorate.
        cations: Cation elements (symbols); every common positive oxidation state is tried.
        anions: Anion elements; every common negative oxidation state is tried.
        oxidation_source: Oxidation-state table (``common`` or ``icsd``).
        tolerance_range: Window on the Goldschmidt tolerance factor ``t`` of perovskites
            (dimensionless). 0.8-1.1 spans the known oxide and halide perovskites.
        octahedral_range: Window on the octahedral factor ``r_B / r_X`` (Li et al.,
            Acta Cryst. B 64, 702 (2008): octahedra need ``r_B / r_X >= 0.414``).
        tilted_max_tolerance: A tilted (a0a0c+) perovskite is proposed besides the cubic
            one when ``t`` is below this.
        max_tilt_deg: Cap on the estimated octahedral tilt angle (degrees).
        max_per_prototype: Keep at most this many per prototype (a seeded random subset,
            in enumeration order); None keeps all.
    """

    kind: Literal["prototype"] = "prototype"
    prototypes: list[PrototypeName] = Field(default_factory=lambda: list(PROTOTYPES))
    cations: list[str] = Field(default_factory=lambda: list(DEFAULT_CATIONS))
    anions: list[str] = Field(default_factory=lambda: list(DEFAULT_ANIONS))
    oxidation_source: OxidationSource = "common"
    tolerance_range: tuple[float, float] = (0.8, 1.1)
    octahedral_range: tuple[float, float] = (0.414, 0.9)
    tilted_max_tolerance: float = Field(0.97, gt=0.0, le=1.2)
    max_tilt_deg: float = Field(15.0, ge=0.0, le=30.0)
    max_per_prototype: int | None = Field(None, ge=1)

    @field_validator("tolerance_range", "octahedral_range")
    @classmethod
    def _ordered(cls, value: tuple[float, float]) -> tuple[float, float]:
        return _check_range(value, "range")

    @field_validator("cations", "anions")
    @classmethod
    def _elements(cls, value: list[str]) -> list[str]:
        return _check_elements(value)


class ParentSelection(_Strict):
    """Which known structures a substitution starts from.

    Attributes:
        datasets: Dataset names whose structures may be parents.
        anonymous_formulas: Keep only parents with these anonymised formulas
            (``ABC3`` for ABX3), or None for any.
        ids: Keep only these parent ids (dataset ids), or None for any.
        required_elements: Keep only parents containing every one of these elements
            (e.g. ``["O"]`` for oxides), or None.
        max_sites: Largest parent cell, in sites.
        max_elements: Most distinct elements in a parent.
        max_parents: At most this many parents (a seeded random subset); None keeps all.
    """

    datasets: list[str] = Field(default_factory=lambda: ["mp2018"])
    anonymous_formulas: list[str] | None = None
    ids: list[str] | None = None
    required_elements: list[str] | None = None
    max_sites: int = Field(20, ge=1)
    max_elements: int = Field(4, ge=1, le=8)
    max_parents: int | None = Field(200, ge=1)


class SubstitutionGeneratorConfig(_Strict):
    """Data-mined ion substitution (Hautier et al., Inorg. Chem. 50, 656 (2011)).

    Attributes:
        kind: Registry name.
        parents: Which known structures to start from.
        threshold: Keep a substitution when the product of conditional substitution
            probabilities over the parent's species is at least this (pymatgen's
            ``SubstitutionPredictor`` default is 1e-3).
        alpha: Log-weight of never-observed substitution pairs (pymatgen default -5).
        max_per_parent: Keep the most probable substitutions per parent, at most this many.
        oxidation_source: Table used to assign the parent's oxidation states.
        allowed_elements: Only substitute in these elements (None: any in the table).
    """

    kind: Literal["substitution"] = "substitution"
    parents: ParentSelection = ParentSelection()
    threshold: float = Field(1e-3, gt=0.0, le=1.0)
    alpha: float = -5.0
    max_per_parent: int = Field(50, ge=1)
    oxidation_source: OxidationSource = "common"
    allowed_elements: list[str] | None = None

    @field_validator("allowed_elements")
    @classmethod
    def _elements(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _check_elements(value)


GeneratorConfig = Annotated[
    PrototypeGeneratorConfig | SubstitutionGeneratorConfig, Field(discriminator="kind")
]


class ElementPolicyConfig(_Strict):
    """Which elements a candidate may contain.

    Attributes:
        exclude_radioactive: Remove candidates with an element of ``radioactive``.
        exclude_toxic: Remove candidates with an element of ``toxic``.
        radioactive: The radioactive list (default :data:`DEFAULT_RADIOACTIVE`).
        toxic: The highly toxic list (default :data:`DEFAULT_TOXIC`).
        excluded: Further elements to remove (e.g. costly noble metals).
        allowed: When set, only these elements are allowed at all.
    """

    exclude_radioactive: bool = True
    exclude_toxic: bool = True
    radioactive: list[str] = Field(default_factory=lambda: list(DEFAULT_RADIOACTIVE))
    toxic: list[str] = Field(default_factory=lambda: list(DEFAULT_TOXIC))
    excluded: list[str] = Field(default_factory=list)
    allowed: list[str] | None = None

    @field_validator("radioactive", "toxic", "excluded")
    @classmethod
    def _elements(cls, value: list[str]) -> list[str]:
        return _check_elements(value)


class ChargeScreenConfig(_Strict):
    """Charge neutrality with tabulated oxidation states.

    Attributes:
        oxidation_source: ``common`` (default) or the broader ``icsd`` table.
        check_electronegativity: Also require every cation to be less electronegative
            (Pauling) than every anion.
    """

    oxidation_source: OxidationSource = "common"
    check_electronegativity: bool = True


class SustainabilityConfig(_Strict):
    """Sustainability score and optional filters.

    Scores are always computed and reported; a candidate is removed only by a bound
    that is set.

    Attributes:
        min_score: Remove candidates whose score (0-1, higher = more sustainable) is lower.
        max_hhi_production: Remove candidates whose mass-weighted production HHI (0-10,000)
            is higher. 2,500 is the US DoJ threshold of a highly concentrated market.
        max_hhi_reserve: Same for the reserves HHI.
        min_abundance_ppm: Remove candidates whose scarcest element's crustal abundance
            (mg/kg) is lower.
        missing_hhi: HHI assumed for an element pymatgen's table lacks (H, noble gases,
            radioactive elements); the default counts it as a monopoly (conservative).
    """

    min_score: float | None = Field(None, ge=0.0, le=1.0)
    max_hhi_production: float | None = Field(None, ge=0.0, le=10000.0)
    max_hhi_reserve: float | None = Field(None, ge=0.0, le=10000.0)
    min_abundance_ppm: float | None = Field(None, ge=0.0)
    missing_hhi: float = Field(10000.0, ge=0.0, le=10000.0)


class _MatcherTolerances(_Strict):
    ltol: float = Field(0.2, gt=0.0)
    stol: float = Field(0.3, gt=0.0)
    angle_tol: float = Field(5.0, gt=0.0)


class DeduplicationConfig(_MatcherTolerances):
    """Remove candidates that ``StructureMatcher`` finds equal to an earlier one.

    Attributes:
        enabled: Run the screen.
        ltol: StructureMatcher fractional length tolerance.
        stol: StructureMatcher site tolerance (fraction of the average free length).
        angle_tol: StructureMatcher angle tolerance (degrees).
    """

    enabled: bool = True


class NoveltyConfig(_MatcherTolerances):
    """Remove candidates that match a known structure.

    Attributes:
        enabled: Run the screen.
        use_spacegroup: Pre-hash by (composition, space group) instead of composition
            alone: fewer StructureMatcher calls, at the risk of missing a match whose
            space group spglib reads differently at ``symprec``.
        symprec: spglib tolerance (Å) for the space group of known structures.
        ltol: StructureMatcher fractional length tolerance.
        stol: StructureMatcher site tolerance.
        angle_tol: StructureMatcher angle tolerance (degrees).
    """

    enabled: bool = True
    use_spacegroup: bool = True
    symprec: float = Field(0.1, gt=0.0)


class ScreensConfig(_Strict):
    """The screens, run in this (cost) order.

    Attributes:
        element_policy: Element policy (set look-ups).
        charge: Charge neutrality and electronegativity (cached per composition).
        sustainability: HHI and crustal abundance (table look-ups).
        deduplicate: Within-pool StructureMatcher on pre-hash collisions.
        novelty: StructureMatcher against known structures sharing a pre-hash.
    """

    element_policy: ElementPolicyConfig = ElementPolicyConfig()
    charge: ChargeScreenConfig = ChargeScreenConfig()
    sustainability: SustainabilityConfig = SustainabilityConfig()
    deduplicate: DeduplicationConfig = DeduplicationConfig()
    novelty: NoveltyConfig = NoveltyConfig()


class StabilityConfig(_Strict):
    """Predicted stability against the convex hull.

    Attributes:
        reference_dataset: Dataset whose formation energies build the hull.
        target: Its formation-energy target name.
        threshold_ev_per_atom: A candidate counts as (meta)stable when its energy above
            the hull is at most this (eV/atom). 0.1 eV/atom is a common synthesisability
            allowance for metastable phases.
        min_probability: Remove candidates whose probability of lying within the
            threshold is lower; None only scores.
        std_scale: Multiplies the surrogate's standard deviation (ensembles are often
            over-confident; fit it on held-out data).
        std_floor_ev_per_atom: Added in quadrature to the (scaled) standard deviation, for
            errors the ensemble does not see (e.g. unrelaxed prototype geometries):
            ``sigma = sqrt((std_scale * std)^2 + floor^2)``.
        require_covered_hull: Remove candidates whose chemical system lacks a reference
            compound between some element and the most electronegative element (e.g. no
            K-I compound for a K-Ca-I candidate): there the hull is too shallow to judge.
    """

    reference_dataset: str = "mp2018"
    target: str = "formation_energy"
    threshold_ev_per_atom: float = Field(0.1, ge=0.0)
    min_probability: float | None = Field(None, ge=0.0, le=1.0)
    std_scale: float = Field(1.0, gt=0.0)
    std_floor_ev_per_atom: float = Field(0.0, ge=0.0)
    require_covered_hull: bool = False


def _default_generators() -> list[GeneratorConfig]:
    return [PrototypeGeneratorConfig()]


class PoolConfig(_Strict):
    """A generated pool: generators, then screens.

    Attributes:
        seed: Seeds every generator (generator ``i`` gets ``seed + i``).
        generators: At least one generator.
        screens: Screen settings.
        known_datasets: Datasets whose structures count as known (novelty and exclusion);
            None uses every dataset card that has structures.
        exclude_known_formulas: Also tell generators to skip known compositions
            entirely (every polymorph), not just known structures.
        stability: Hull settings for :func:`~materials_ai.candidates.stability.HullReference`.
    """

    seed: int = 0
    generators: list[GeneratorConfig] = Field(default_factory=_default_generators, min_length=1)
    screens: ScreensConfig = ScreensConfig()
    known_datasets: list[str] | None = None
    exclude_known_formulas: bool = False
    stability: StabilityConfig = StabilityConfig()


def _check_elements(symbols: list[str]) -> list[str]:
    from pymatgen.core import Element

    bad = [s for s in symbols if not Element.is_valid_symbol(s)]
    if bad:
        raise ValueError(f"not element symbols: {bad}")
    return symbols
