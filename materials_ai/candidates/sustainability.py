"""Sustainability of a composition: supply concentration (HHI) and crustal abundance.

* **Herfindahl-Hirschman index** (HHI, 0-10,000) of each element's world production and
  of its known reserves, from pymatgen's ``hhi_data.csv`` (Gaultois et al., Chem. Mater.
  25, 2911 (2013)); the composition's HHI is the mass-fraction-weighted mean, as in
  pymatgen's ``HHIModel.get_hhi``. Below 1,500 a market counts as unconcentrated, above
  2,500 as highly concentrated (US Department of Justice).
* **Crustal abundance** (mg/kg) of the scarcest element of the composition, from the table
  below: CRC Handbook of Chemistry and Physics, 97th ed. (2016), section 14, "Abundance of
  elements in the earth's crust and in the sea" (crust column). pymatgen ships no abundance
  data, so the values are copied here. Elements without a value (no long-lived isotope)
  count as 1e-9 mg/kg.

The score combines the three on 0-1 (higher = more sustainable)::

    score = [ (1 - HHI_p / 10^4) + (1 - HHI_r / 10^4) + A ] / 3
    A     = clip((log10(abundance_min / (mg/kg)) + 3) / 8, 0, 1)

so an element at 1 ppb (Te, Ir) contributes ``A = 0``, one at 100,000 mg/kg or more
(O, Si) ``A = 1``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

__all__ = [
    "CRUSTAL_ABUNDANCE_MG_PER_KG",
    "SustainabilityScore",
    "hhi_table",
    "sustainability",
]

#: Crustal abundance, mg/kg (CRC Handbook of Chemistry and Physics, 97th ed., 2016, 14-17).
CRUSTAL_ABUNDANCE_MG_PER_KG: dict[str, float] = {
    "H": 1.40e3, "He": 8e-3, "Li": 20, "Be": 2.8, "B": 10, "C": 200, "N": 19, "O": 4.61e5,
    "F": 585, "Ne": 5e-3, "Na": 2.36e4, "Mg": 2.33e4, "Al": 8.23e4, "Si": 2.82e5, "P": 1.05e3,
    "S": 350, "Cl": 145, "Ar": 3.5, "K": 2.09e4, "Ca": 4.15e4, "Sc": 22, "Ti": 5.65e3,
    "V": 120, "Cr": 102, "Mn": 950, "Fe": 5.63e4, "Co": 25, "Ni": 84, "Cu": 60, "Zn": 70,
    "Ga": 19, "Ge": 1.5, "As": 1.8, "Se": 0.05, "Br": 2.4, "Kr": 1e-4, "Rb": 90, "Sr": 370,
    "Y": 33, "Zr": 165, "Nb": 20, "Mo": 1.2, "Ru": 1e-3, "Rh": 1e-3, "Pd": 1.5e-2,
    "Ag": 7.5e-2, "Cd": 0.15, "In": 0.25, "Sn": 2.3, "Sb": 0.2, "Te": 1e-3, "I": 0.45,
    "Xe": 3e-5, "Cs": 3, "Ba": 425, "La": 39, "Ce": 66.5, "Pr": 9.2, "Nd": 41.5, "Sm": 7.05,
    "Eu": 2.0, "Gd": 6.2, "Tb": 1.2, "Dy": 5.2, "Ho": 1.3, "Er": 3.5, "Tm": 0.52, "Yb": 3.2,
    "Lu": 0.8, "Hf": 3.0, "Ta": 2.0, "W": 1.25, "Re": 7e-4, "Os": 1.5e-3, "Ir": 1e-3,
    "Pt": 5e-3, "Au": 4e-3, "Hg": 8.5e-2, "Tl": 0.85, "Pb": 14, "Bi": 8.5e-3, "Po": 2e-10,
    "Rn": 4e-13, "Ra": 9e-7, "Ac": 5.5e-10, "Th": 9.6, "Pa": 1.4e-6, "U": 2.7,
}  # fmt: skip

_MISSING_ABUNDANCE = 1e-9


@lru_cache(maxsize=1)
def hhi_table() -> dict[str, tuple[float, float]]:
    """Element -> (production HHI, reserves HHI), from pymatgen's shipped table."""
    from pymatgen.analysis.hhi import HHIModel

    return {str(k): (float(v[0]), float(v[1])) for k, v in HHIModel().symbol_hhip_hhir.items()}


@lru_cache(maxsize=256)
def _atomic_mass(symbol: str) -> float:
    from pymatgen.core import Element

    return float(Element(symbol).atomic_mass)


@dataclass(frozen=True, slots=True)
class SustainabilityScore:
    """Sustainability figures of one composition.

    Attributes:
        hhi_production: Mass-weighted production HHI (0-10,000; lower is better).
        hhi_reserve: Mass-weighted reserves HHI (0-10,000; lower is better).
        abundance_min_ppm: Crustal abundance of the scarcest element (mg/kg).
        scarcest_element: That element.
        score: Combined score (0-1; higher is more sustainable).
    """

    hhi_production: float
    hhi_reserve: float
    abundance_min_ppm: float
    scarcest_element: str
    score: float

    def as_dict(self) -> dict[str, float]:
        """Numeric fields as a dict (for report columns)."""
        return {
            "hhi_production": self.hhi_production,
            "hhi_reserve": self.hhi_reserve,
            "abundance_min_ppm": self.abundance_min_ppm,
            "sustainability": self.score,
        }


def sustainability(
    amounts: Mapping[str, float], missing_hhi: float = 10000.0
) -> SustainabilityScore:
    """Return the sustainability figures of a composition.

    Args:
        amounts: Element -> amount (any scale).
        missing_hhi: HHI used for an element without HHI data.

    Returns:
        The figures (see the module docstring for the formulas).
    """
    table = hhi_table()
    masses = {s: float(n) * _atomic_mass(s) for s, n in amounts.items()}
    total = sum(masses.values())
    hhi_p = hhi_r = 0.0
    for symbol, mass in masses.items():
        p, r = table.get(symbol, (missing_hhi, missing_hhi))
        hhi_p += p * mass / total
        hhi_r += r * mass / total
    abundances = {s: CRUSTAL_ABUNDANCE_MG_PER_KG.get(s, _MISSING_ABUNDANCE) for s in amounts}
    scarcest = min(sorted(abundances), key=lambda s: abundances[s])
    low = abundances[scarcest]
    a_term = min(max((math.log10(low) + 3.0) / 8.0, 0.0), 1.0)
    score = ((1.0 - hhi_p / 1e4) + (1.0 - hhi_r / 1e4) + a_term) / 3.0
    return SustainabilityScore(hhi_p, hhi_r, low, scarcest, score)
