"""Prototype structures built from radius-based lattice estimates (table in ``prototypes``).

Each builder returns a pymatgen ``Structure`` of one prototype, decorated with the given
elements; :func:`perovskite_lattice` is the perovskite lattice estimate from radii.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from pymatgen.core import Structure

__all__ = [
    "SPACEGROUPS",
    "cubic_perovskite",
    "double_perovskite",
    "perovskite_lattice",
    "rocksalt",
    "tilted_perovskite",
    "wurtzite",
    "zincblende",
]

#: Space-group number of each prototype, as constructed.
SPACEGROUPS: dict[str, int] = {
    "perovskite_cubic": 221,
    "perovskite_tilted": 127,
    "double_perovskite": 225,
    "zincblende": 216,
    "wurtzite": 186,
    "rocksalt": 225,
}

SQRT2 = math.sqrt(2.0)


# --------------------------------------------------------------------------- structures


def _structure(
    lattice: np.ndarray | Sequence[Sequence[float]],
    species: Sequence[str],
    coords: Sequence[Sequence[float]],
    cartesian: bool = False,
) -> Structure:
    from pymatgen.core import Lattice, Structure

    return Structure(Lattice(lattice), list(species), coords, coords_are_cartesian=cartesian)


def perovskite_lattice(r_a: float, r_b: float, r_x: float) -> tuple[float, float, float]:
    """Estimate the cubic perovskite lattice parameter from ionic radii.

    Args:
        r_a: A-site radius (Å, CN 12).
        r_b: B-site radius (Å, CN 6).
        r_x: Anion radius (Å, CN 6).

    Returns:
        ``(a, t, mu)``: lattice parameter (Å), Goldschmidt tolerance factor and
        octahedral factor (dimensionless).
    """
    a = (2.0 * (r_b + r_x) + SQRT2 * (r_a + r_x)) / 2.0
    t = (r_a + r_x) / (SQRT2 * (r_b + r_x))
    return a, t, r_b / r_x


def cubic_perovskite(a_angstrom: float, a_site: str, b_site: str, anion: str) -> Structure:
    """Return the 5-atom cubic ABX3 perovskite (Pm-3m): B at the origin, A at the centre."""
    coords: list[list[float]] = [
        [0.5, 0.5, 0.5],
        [0.0, 0.0, 0.0],
        [0.5, 0.0, 0.0],
        [0.0, 0.5, 0.0],
        [0.0, 0.0, 0.5],
    ]
    return _structure(np.eye(3) * a_angstrom, [a_site, b_site, anion, anion, anion], coords)


def tilted_perovskite(
    bx_angstrom: float, tilt_deg: float, a_site: str, b_site: str, anion: str
) -> Structure:
    """Return a 10-atom a0a0c+ tilted ABX3 perovskite (P4/mbm) with rigid octahedra.

    Args:
        bx_angstrom: B-X bond length (Å).
        tilt_deg: In-phase rotation of the octahedra about c (degrees, > 0).
        a_site: A element. b_site: B element. anion: X element.

    Returns:
        The structure: cell ``sqrt(2) a_p x sqrt(2) a_p x c`` with ``a_p = 2 d cos(phi)``
        and ``c = 2 d``; equatorial X at (1/4 -+ u, 1/4 +- u, 0) and equivalents,
        ``u = tan(phi) / 4`` (Wyckoff 4g of P4/mbm).
    """
    phi = math.radians(tilt_deg)
    a_p = 2.0 * bx_angstrom * math.cos(phi)
    a = SQRT2 * a_p
    c = 2.0 * bx_angstrom
    u = math.tan(phi) / 4.0
    x = 0.25 - u
    coords = [
        [0.0, 0.5, 0.5],  # A (2c)
        [0.5, 0.0, 0.5],
        [0.0, 0.0, 0.0],  # B (2a)
        [0.5, 0.5, 0.0],
        [0.0, 0.0, 0.5],  # apical X (2b)
        [0.5, 0.5, 0.5],
        [x, x + 0.5, 0.0],  # equatorial X (4g)
        [-x, -x + 0.5, 0.0],
        [x + 0.5, -x, 0.0],
        [-x + 0.5, x, 0.0],
    ]
    species = [a_site, a_site, b_site, b_site, anion, anion, anion, anion, anion, anion]
    return _structure(np.diag([a, a, c]), species, coords)


def double_perovskite(
    a_angstrom: float, x_frac: float, a_site: str, b_site: str, b2_site: str, anion: str
) -> Structure:
    """Return the 10-atom primitive cell of rock-salt ordered A2BB'X6 (Fm-3m).

    Args:
        a_angstrom: Conventional cubic lattice parameter (Å).
        x_frac: Anion coordinate x of Wyckoff 24e (x, 0, 0) (B-X = x a).
        a_site: A element (8c). b_site: B element (4a). b2_site: B' element (4b).
        anion: X element.
    """
    a = a_angstrom
    lattice = np.array([[0.0, a / 2, a / 2], [a / 2, 0.0, a / 2], [a / 2, a / 2, 0.0]])
    d = x_frac * a
    cart = [
        [a / 4, a / 4, a / 4],
        [3 * a / 4, 3 * a / 4, 3 * a / 4],
        [0.0, 0.0, 0.0],
        [a / 2, 0.0, 0.0],
        [d, 0.0, 0.0],
        [-d, 0.0, 0.0],
        [0.0, d, 0.0],
        [0.0, -d, 0.0],
        [0.0, 0.0, d],
        [0.0, 0.0, -d],
    ]
    species = [a_site, a_site, b_site, b2_site, anion, anion, anion, anion, anion, anion]
    return _structure(lattice, species, cart, cartesian=True)


def zincblende(a_angstrom: float, cation: str, anion: str) -> Structure:
    """Return the 2-atom primitive cell of zinc blende AX (F-43m)."""
    h = a_angstrom / 2
    lattice = [[0.0, h, h], [h, 0.0, h], [h, h, 0.0]]
    return _structure(lattice, [cation, anion], [[0, 0, 0], [0.25, 0.25, 0.25]])


def wurtzite(
    a_angstrom: float, c_angstrom: float, cation: str, anion: str, u: float = 0.375
) -> Structure:
    """Return the 4-atom wurtzite AX cell (P6_3mc) with internal parameter ``u``."""
    from pymatgen.core import Lattice, Structure

    lattice = Lattice.hexagonal(a_angstrom, c_angstrom)
    coords = [[1 / 3, 2 / 3, 0.0], [2 / 3, 1 / 3, 0.5], [1 / 3, 2 / 3, u], [2 / 3, 1 / 3, 0.5 + u]]
    return Structure(lattice, [cation, cation, anion, anion], coords)


def rocksalt(a_angstrom: float, cation: str, anion: str) -> Structure:
    """Return the 2-atom primitive cell of rock salt AX (Fm-3m)."""
    h = a_angstrom / 2
    lattice = [[0.0, h, h], [h, 0.0, h], [h, h, 0.0]]
    return _structure(lattice, [cation, anion], [[0, 0, 0], [0.5, 0.5, 0.5]])
