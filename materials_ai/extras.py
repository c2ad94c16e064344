"""Optional dependencies: which ``pip install 'materials-ai[extra]'`` brings a package.

The core installs without RDKit, MACE, dask-jobqueue, tblite, PySCF or GPAW; the code that
needs one imports it inside the function that uses it, under :func:`requires_extra`, so a
missing package fails with a message naming the extra to install::

    with requires_extra("SMILES input"):
        from rdkit import Chem

    # MissingExtraError: SMILES input needs rdkit, which is not installed:
    #   pip install 'materials-ai[molecules]'
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from materials_ai.errors import MaterialsAIError

__all__ = ["EXTRA_OF", "MissingExtraError", "requires_extra"]

#: Top-level module -> (distribution, extra) (see ``[project.optional-dependencies]``).
EXTRA_OF: dict[str, tuple[str, str]] = {
    "rdkit": ("rdkit", "molecules"),
    "tblite": ("tblite", "molecules"),
    "pyscf": ("pyscf", "molecules"),
    "selfies": ("selfies", "molecules"),
    "mace": ("mace-torch", "mace"),
    "e3nn": ("mace-torch", "mace"),
    "dask_jobqueue": ("dask-jobqueue", "hpc"),
    "gpaw": ("gpaw", "dft"),
}


class MissingExtraError(MaterialsAIError, ImportError):
    """A feature needs an optional package that is not installed.

    Also an :class:`ImportError`, so code that already catches import failures keeps
    working.

    Attributes:
        extra: The extra that installs it (``molecules``, ``mace``, ``hpc``, ``dft``).
    """

    def __init__(self, message: str, extra: str) -> None:
        super().__init__(message)
        self.extra = extra


@contextmanager
def requires_extra(feature: str) -> Iterator[None]:
    """Turn a missing optional package imported in the block into :class:`MissingExtraError`.

    Args:
        feature: What needs it, for the message (``"SMILES input"``, ``"MACE members"``).

    Raises:
        MissingExtraError: If the block fails to import a module of :data:`EXTRA_OF`.
            Other import errors propagate unchanged.
    """
    try:
        yield
    except ModuleNotFoundError as exc:
        top = (exc.name or "").split(".")[0]
        if top not in EXTRA_OF:
            raise
        package, extra = EXTRA_OF[top]
        raise MissingExtraError(
            f"{feature} needs {package}, which is not installed: "
            f"pip install 'materials-ai[{extra}]'",
            extra,
        ) from exc
