"""Prototype decoration: charge-balanced ions on six common semiconductor prototypes.

Every lattice parameter is estimated from tabulated radii before any relaxation:

================== ======= ==============================================================
prototype          SG      lattice estimate
================== ======= ==============================================================
perovskite_cubic   221     ``a = [2 (r_B + r_X) + sqrt(2) (r_A + r_X)] / 2``: the mean of
                           the B-X-B and A-X-A contact lengths. Goldschmidt tolerance
                           factor ``t = (r_A + r_X) / (sqrt(2) (r_B + r_X))``, octahedral
                           factor ``mu = r_B / r_X``. Shannon radii, A at CN 12, B and X
                           at CN 6. (SrTiO3: 4.01 Å; measured 3.905 Å.)
perovskite_tilted  127     a0a0c+ (one in-phase tilt, P4/mbm, 10 atoms) with rigid
                           octahedra ``d = r_B + r_X`` and tilt ``phi = arccos(t)``
                           (capped): ``a = sqrt(2) * 2 d cos(phi)``, ``c = 2 d``.
double_perovskite  225     rock-salt ordered A2BB'X6 (Fm-3m, 10-atom primitive cell):
                           ``a = (r_B + r_B' + 2 r_X) + sqrt(2) (r_A + r_X)`` (mean of the
                           two contact lengths of the doubled cell), X at ``x = (r_B +
                           r_X) / a``; ``t`` with the mean B radius.
zincblende         216     ``a = 4 d / sqrt(3)``, ``d = r_cov(A) + r_cov(X)`` (Cordero
                           covalent radii: ionic radii overestimate tetrahedral bonds).
wurtzite           186     ideal: ``a = sqrt(8/3) d``, ``c = 8 d / 3``, ``u = 3/8``.
rocksalt           225     ``a = 2 (r_A + r_X)``, Shannon radii at CN 6.
================== ======= ==============================================================

Ions come from the cation and anion lists with every tabulated oxidation state; a
composition is kept when the charges sum to zero (by construction) and, for perovskites,
when ``t`` and ``mu`` fall in their windows. When one composition admits several
oxidation-state assignments, the one with ``t`` closest to 1 (or the first) is kept.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from materials_ai.candidates.base import (
    ExclusionSet,
    GeneratedCandidate,
    candidate_id,
)
from materials_ai.candidates.chemistry import (
    covalent_radius,
    formula_key,
    oxidation_states,
    shannon_radius,
)
from materials_ai.candidates.config import PrototypeGeneratorConfig, PrototypeName
from materials_ai.candidates.prototype_structures import (
    SPACEGROUPS,
    SQRT2,
    cubic_perovskite,
    double_perovskite,
    perovskite_lattice,
    rocksalt,
    tilted_perovskite,
    wurtzite,
    zincblende,
)
from materials_ai.data.records import Candidate

if TYPE_CHECKING:
    pass

__all__ = [
    "SPACEGROUPS",
    "PrototypeGenerator",
    "cubic_perovskite",
    "double_perovskite",
    "perovskite_lattice",
    "rocksalt",
    "tilted_perovskite",
    "wurtzite",
    "zincblende",
]

# --------------------------------------------------------------------------- ion tables


@dataclass(frozen=True)
class _Ions:
    """Ions as parallel arrays (one row per element + oxidation state)."""

    symbols: list[str]
    element: np.ndarray  # int index of the element (same element -> same index)
    charge: np.ndarray
    r12: np.ndarray  # Shannon radius at CN 12 (A site), Å
    r6: np.ndarray  # Shannon radius at CN 6, Å
    rcov: np.ndarray  # covalent radius, Å

    def __len__(self) -> int:
        return len(self.symbols)


def _ion_table(elements: Sequence[str], sign: int, config: PrototypeGeneratorConfig) -> _Ions:
    symbols: list[str] = []
    element: list[int] = []
    charge: list[int] = []
    r12: list[float] = []
    r6: list[float] = []
    rcov: list[float] = []
    for index, symbol in enumerate(dict.fromkeys(elements)):
        for q in oxidation_states(symbol, config.oxidation_source):
            if q * sign <= 0:
                continue
            symbols.append(symbol)
            element.append(index if sign > 0 else 10_000 + index)
            charge.append(q)
            r12.append(shannon_radius(symbol, q, 12))
            r6.append(shannon_radius(symbol, q, 6))
            rcov.append(covalent_radius(symbol))
    return _Ions(
        symbols,
        np.array(element, dtype=np.int64),
        np.array(charge, dtype=np.int64),
        np.array(r12, dtype=np.float64),
        np.array(r6, dtype=np.float64),
        np.array(rcov, dtype=np.float64),
    )


@dataclass(frozen=True)
class _Decoration:
    """One composition on one prototype, before its structure is built."""

    prototype: PrototypeName
    sites: tuple[str, ...]  # element per distinct site role, in builder argument order
    charges: tuple[int, ...]
    amounts: dict[str, int]
    geometry: tuple[float, ...]  # builder's geometric arguments
    descriptors: dict[str, float]
    score: float


# --------------------------------------------------------------------------- generator


class PrototypeGenerator:
    """Enumerate charge-balanced compositions on the configured prototypes.

    Args:
        config: Prototypes, ion lists and windows.
        name: Name recorded as each candidate's ``source``.
    """

    def __init__(
        self, config: PrototypeGeneratorConfig | None = None, name: str = "prototype"
    ) -> None:
        self.config = config or PrototypeGeneratorConfig()
        self.name = name

    def generate(
        self, *, seed: int = 0, exclude: ExclusionSet | None = None
    ) -> list[GeneratedCandidate]:
        """Return the decorated prototypes (see the module docstring for the geometry).

        Args:
            seed: Seeds the subset drawn when ``max_per_prototype`` caps a prototype.
            exclude: Compositions / (composition, space group) pairs to skip.

        Returns:
            Candidates ordered by prototype (config order), then by enumeration order
            (anion, then cations in list order); ids are ``proto-<prototype>-<formula>``.
        """
        cfg = self.config
        cations = _ion_table(cfg.cations, +1, cfg)
        anions = _ion_table(cfg.anions, -1, cfg)
        out: list[GeneratedCandidate] = []
        for p_index, prototype in enumerate(dict.fromkeys(cfg.prototypes)):
            decorations = self._enumerate(prototype, cations, anions)
            decorations = _best_per_composition(decorations)
            spacegroup = SPACEGROUPS[prototype]
            if exclude is not None:
                decorations = [
                    d
                    for d in decorations
                    if not exclude.excludes(formula_key(d.amounts), spacegroup)
                ]
            if cfg.max_per_prototype is not None and len(decorations) > cfg.max_per_prototype:
                rng = np.random.default_rng([seed, p_index])
                keep = np.sort(rng.choice(len(decorations), cfg.max_per_prototype, replace=False))
                decorations = [decorations[i] for i in keep]
            out.extend(self._build(d, spacegroup) for d in decorations)
        return out

    # -- enumeration ----------------------------------------------------------------

    def _enumerate(self, prototype: PrototypeName, cat: _Ions, an: _Ions) -> list[_Decoration]:
        if prototype in ("perovskite_cubic", "perovskite_tilted"):
            return self._perovskites(prototype, cat, an)
        if prototype == "double_perovskite":
            return self._double_perovskites(cat, an)
        return self._binaries(prototype, cat, an)

    def _perovskites(self, prototype: PrototypeName, cat: _Ions, an: _Ions) -> list[_Decoration]:
        cfg = self.config
        t_lo, t_hi = cfg.tolerance_range
        mu_lo, mu_hi = cfg.octahedral_range
        out: list[_Decoration] = []
        for k in range(len(an)):
            r_x = an.r6[k]
            if not np.isfinite(r_x):
                continue
            r_a = cat.r12[:, None]
            r_b = cat.r6[None, :]
            t = (r_a + r_x) / (SQRT2 * (r_b + r_x))
            mu = r_b / r_x
            ok = (
                (cat.charge[:, None] + cat.charge[None, :] == -3 * an.charge[k])
                & (cat.element[:, None] != cat.element[None, :])
                & np.isfinite(t)
                & (t >= t_lo)
                & (t <= t_hi)
                & (mu >= mu_lo)
                & (mu <= mu_hi)
            )
            if prototype == "perovskite_tilted":
                ok &= t < cfg.tilted_max_tolerance
            for i, j in zip(*np.nonzero(ok), strict=True):
                a_sym, b_sym, x_sym = cat.symbols[i], cat.symbols[j], an.symbols[k]
                a_len, t_ij, mu_j = perovskite_lattice(cat.r12[i], cat.r6[j], r_x)
                descriptors = {
                    "tolerance_factor": float(t_ij),
                    "octahedral_factor": float(mu_j),
                }
                if prototype == "perovskite_cubic":
                    geometry: tuple[float, ...] = (float(a_len),)
                    descriptors["lattice_a_angstrom"] = float(a_len)
                else:
                    tilt = min(math.degrees(math.acos(min(float(t_ij), 1.0))), cfg.max_tilt_deg)
                    geometry = (float(cat.r6[j] + r_x), tilt)
                    descriptors["tilt_deg"] = tilt
                out.append(
                    _Decoration(
                        prototype,
                        (a_sym, b_sym, x_sym),
                        (int(cat.charge[i]), int(cat.charge[j]), int(an.charge[k])),
                        {a_sym: 1, b_sym: 1, x_sym: 3},
                        geometry,
                        descriptors,
                        -abs(float(t_ij) - 1.0),
                    )
                )
        return out

    def _double_perovskites(self, cat: _Ions, an: _Ions) -> list[_Decoration]:
        cfg = self.config
        t_lo, t_hi = cfg.tolerance_range
        mu_lo, mu_hi = cfg.octahedral_range
        out: list[_Decoration] = []
        n = len(cat)
        upper = np.triu(np.ones((n, n), dtype=bool), k=1)
        for k in range(len(an)):
            r_x = an.r6[k]
            if not np.isfinite(r_x):
                continue
            mu = cat.r6 / r_x
            mu_ok = (mu >= mu_lo) & (mu <= mu_hi) & np.isfinite(mu)
            pair_ok = (
                upper
                & mu_ok[:, None]
                & mu_ok[None, :]
                & (cat.element[:, None] != cat.element[None, :])
            )
            r_bmean = (cat.r6[:, None] + cat.r6[None, :]) / 2.0
            q_pair = cat.charge[:, None] + cat.charge[None, :]
            for i in range(n):
                r_a = cat.r12[i]
                if not np.isfinite(r_a):
                    continue
                t = (r_a + r_x) / (SQRT2 * (r_bmean + r_x))
                ok = (
                    pair_ok
                    & (2 * cat.charge[i] + q_pair == -6 * an.charge[k])
                    & (cat.element[:, None] != cat.element[i])
                    & (cat.element[None, :] != cat.element[i])
                    & (t >= t_lo)
                    & (t <= t_hi)
                )
                for j, m in zip(*np.nonzero(ok), strict=True):
                    rb, rb2 = cat.r6[j], cat.r6[m]
                    a_len = (rb + rb2 + 2 * r_x) + SQRT2 * (r_a + r_x)
                    x_frac = (rb + r_x) / a_len
                    syms = (cat.symbols[i], cat.symbols[j], cat.symbols[m], an.symbols[k])
                    t_val = float(t[j, m])
                    out.append(
                        _Decoration(
                            "double_perovskite",
                            syms,
                            (
                                int(cat.charge[i]),
                                int(cat.charge[j]),
                                int(cat.charge[m]),
                                int(an.charge[k]),
                            ),
                            {syms[0]: 2, syms[1]: 1, syms[2]: 1, syms[3]: 6},
                            (float(a_len), float(x_frac)),
                            {
                                "tolerance_factor": t_val,
                                "lattice_a_angstrom": float(a_len),
                            },
                            -abs(t_val - 1.0),
                        )
                    )
        return out

    def _binaries(self, prototype: PrototypeName, cat: _Ions, an: _Ions) -> list[_Decoration]:
        out: list[_Decoration] = []
        for k in range(len(an)):
            for i in np.nonzero(cat.charge == -an.charge[k])[0]:
                c_sym, x_sym = cat.symbols[i], an.symbols[k]
                if prototype == "rocksalt":
                    d = cat.r6[i] + an.r6[k]
                    geometry: tuple[float, ...] = (2.0 * d,)
                elif prototype == "zincblende":
                    d = cat.rcov[i] + an.rcov[k]
                    geometry = (4.0 * d / math.sqrt(3.0),)
                else:  # wurtzite
                    d = cat.rcov[i] + an.rcov[k]
                    geometry = (math.sqrt(8.0 / 3.0) * d, 8.0 * d / 3.0)
                if not np.isfinite(d):
                    continue
                out.append(
                    _Decoration(
                        prototype,
                        (c_sym, x_sym),
                        (int(cat.charge[i]), int(an.charge[k])),
                        {c_sym: 1, x_sym: 1},
                        geometry,
                        {"bond_length_angstrom": float(d)},
                        0.0,
                    )
                )
        return out

    # -- building -------------------------------------------------------------------

    def _build(self, d: _Decoration, spacegroup: int) -> GeneratedCandidate:
        if d.prototype == "perovskite_cubic":
            structure = cubic_perovskite(d.geometry[0], *d.sites)
        elif d.prototype == "perovskite_tilted":
            structure = tilted_perovskite(d.geometry[0], d.geometry[1], *d.sites)
        elif d.prototype == "double_perovskite":
            structure = double_perovskite(d.geometry[0], d.geometry[1], *d.sites)
        elif d.prototype == "zincblende":
            structure = zincblende(d.geometry[0], *d.sites)
        elif d.prototype == "wurtzite":
            structure = wurtzite(d.geometry[0], d.geometry[1], d.sites[0], d.sites[1])
        else:
            structure = rocksalt(d.geometry[0], *d.sites)
        formula = structure.composition.reduced_formula
        cid = candidate_id("proto", d.prototype, formula)
        states = tuple(dict(zip(d.sites, d.charges, strict=True)).items())
        return GeneratedCandidate(
            candidate=Candidate(id=cid, structure=structure, source=self.name),
            prototype=d.prototype,
            spacegroup=spacegroup,
            oxidation_states=states,
            formula_key=formula_key(d.amounts),
            score=d.score,
            descriptors=d.descriptors,
        )


def _best_per_composition(decorations: list[_Decoration]) -> list[_Decoration]:
    """Keep one decoration per composition: the highest score (first on ties), in order."""
    best: dict[str, int] = {}
    for i, d in enumerate(decorations):
        key = formula_key(d.amounts)
        j = best.get(key)
        if j is None or d.score > decorations[j].score:
            best[key] = i
    return [decorations[i] for i in sorted(best.values())]
