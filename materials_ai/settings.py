"""Process-wide settings read from the environment.

=========================  =============================================================
variable                   meaning
=========================  =============================================================
``MATERIALS_AI_DATA_DIR``  folder holding the dataset files named by the cards in
                           ``datasets/`` (CI and the Makefile use ``../shared/datasets``)
``MATERIALS_AI_CACHE_DIR`` folder for derived caches (parsed structures, graphs);
                           default ``~/.cache/materials-ai``
``MATERIALS_AI_CARDS_DIR`` folder of dataset cards; default ``datasets/`` of this checkout,
                           else the cards shipped in the installed package
=========================  =============================================================
"""

from __future__ import annotations

import os
from pathlib import Path

from materials_ai.errors import DataError

#: Root of the source checkout (the folder holding ``pyproject.toml``).
PROJECT_ROOT = Path(__file__).resolve().parent.parent

DATA_DIR_ENV = "MATERIALS_AI_DATA_DIR"
CACHE_DIR_ENV = "MATERIALS_AI_CACHE_DIR"
CARDS_DIR_ENV = "MATERIALS_AI_CARDS_DIR"


def data_dir(override: str | Path | None = None) -> Path:
    """Return the folder that holds the dataset files.

    Args:
        override: An explicit folder; wins over the environment.

    Raises:
        DataError: If neither ``override`` nor ``MATERIALS_AI_DATA_DIR`` is set.
    """
    if override is not None:
        return Path(override).expanduser().resolve()
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return Path(env).expanduser().resolve()
    raise DataError(
        f"No data directory: set {DATA_DIR_ENV} to the folder holding the dataset files "
        "(see datasets/README.md for where to obtain them; in this project's CI it is "
        "../shared/datasets)."
    )


def cache_dir(override: str | Path | None = None) -> Path:
    """Return (and create) the folder for derived caches."""
    if override is not None:
        path = Path(override)
    else:
        env = os.environ.get(CACHE_DIR_ENV)
        path = Path(env) if env else Path.home() / ".cache" / "materials-ai"
    path = path.expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


#: The dataset cards inside the package (a link to ``datasets/`` in a checkout; the
#: copied cards in an installed wheel).
SHIPPED_CARDS_DIR = Path(__file__).resolve().parent / "datasets"


def cards_dir(override: str | Path | None = None) -> Path:
    """Return the folder of dataset cards: ``override``, else ``MATERIALS_AI_CARDS_DIR``,
    else ``datasets/`` of the checkout, else the cards shipped with the package."""
    if override is not None:
        return Path(override).expanduser().resolve()
    env = os.environ.get(CARDS_DIR_ENV)
    if env:
        return Path(env).expanduser().resolve()
    checkout = PROJECT_ROOT / "datasets"
    in_checkout = (PROJECT_ROOT / "pyproject.toml").is_file() and checkout.is_dir()
    return checkout if in_checkout else SHIPPED_CARDS_DIR
