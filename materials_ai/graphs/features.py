"""Physical descriptors of the chemical elements, used as atom features.

A learned embedding per element cannot say anything about an element absent from the
training data; a few physical descriptors (electronegativity, radius, position in the
periodic table, ionisation energy) let a model relate an unseen element to seen ones.
"""

from __future__ import annotations

import warnings
from functools import lru_cache

import numpy as np

#: Largest atomic number covered by the tables (Z = 1 .. MAX_Z).
MAX_Z = 100

FEATURE_NAMES: tuple[str, ...] = (
    "electronegativity_pauling",
    "atomic_radius_angstrom",
    "row",
    "group",
    "mendeleev_number",
    "atomic_mass_amu",
    "first_ionization_energy_ev",
    "block_s",
    "block_p",
    "block_d",
    "block_f",
)


def _raw_features(z: int) -> list[float]:
    from pymatgen.core.periodic_table import Element

    el = Element.from_Z(z)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        x = el.X
        radius = el.atomic_radius
        try:
            ion = el.ionization_energies[0] if el.ionization_energies else None
        except (IndexError, KeyError, ValueError):
            ion = None
        mendeleev = el.mendeleev_no
    block = el.block
    return [
        float(x) if x is not None and np.isfinite(x) else np.nan,
        float(radius) if radius is not None else np.nan,
        float(el.row),
        float(el.group),
        float(mendeleev) if mendeleev is not None else np.nan,
        float(el.atomic_mass),
        float(ion) if ion is not None else np.nan,
        float(block == "s"),
        float(block == "p"),
        float(block == "d"),
        float(block == "f"),
    ]


@lru_cache(maxsize=1)
def element_feature_table() -> np.ndarray:
    """Return standardised element descriptors.

    Returns:
        A `(MAX_Z + 1) x d` float32 array; row ``Z`` describes element ``Z`` (row 0 is
        zeros). Each continuous column has zero mean and unit variance over the
        elements; a value pymatgen does not know is set to the column mean (0).
    """
    raw = np.array([_raw_features(z) for z in range(1, MAX_Z + 1)], dtype=np.float64)
    n_continuous = 7
    cont = raw[:, :n_continuous]
    mean = np.nanmean(cont, axis=0)
    std = np.nanstd(cont, axis=0)
    cont = (cont - mean) / np.where(std > 0, std, 1.0)
    cont = np.where(np.isfinite(cont), cont, 0.0)
    table = np.zeros((MAX_Z + 1, raw.shape[1]), dtype=np.float32)
    table[1:, :n_continuous] = cont
    table[1:, n_continuous:] = raw[:, n_continuous:]
    table.setflags(write=False)  # shared by every caller through the cache
    return table
