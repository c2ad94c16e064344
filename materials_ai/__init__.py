"""materials-ai: AI-driven discovery of semiconductor materials.

The package is organised as one loop (see ``docs/architecture.md``)::

    data -> graphs -> surrogates -> acquisition -> oracles -> campaign -> report

Importing :mod:`materials_ai` is cheap: heavy dependencies (torch-geometric, BoTorch,
MLflow, Dask) are imported by the submodules that need them, never here.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
