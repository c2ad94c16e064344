"""A fast stand-in relaxation potential for tests of the RELAX stage.

:class:`ScalingRelaxTask` has the oracle-task interface that
:mod:`materials_ai.candidates.relax` expects (constructor keywords, ``setup``,
``run_batch``) but computes nothing: it scales every lattice vector by ``SCALE``, reports
an energy per atom that depends only on the composition and fails on structures that
contain :data:`FAILING_ELEMENT`. Register it with :func:`register_fake_potential`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from materials_ai.candidates.relax import RELAXERS
from materials_ai.oracles.tasks import TaskResult

if TYPE_CHECKING:
    from pymatgen.core import Structure

__all__ = ["FAILING_ELEMENT", "SCALE", "ScalingRelaxTask", "register_fake_potential"]

#: Linear scale applied to every relaxed lattice.
SCALE = 1.02
#: Structures with this element raise inside the "potential".
FAILING_ELEMENT = "Zr"


@dataclass(frozen=True)
class ScalingRelaxTask:
    """Pretend relaxation: lattice x :data:`SCALE`, energy ``-1 - 0.01 Z_mean`` eV/atom."""

    model: str = "0.3.0"
    relax: bool = True
    optimizer: str = "FIRE"
    fmax_ev_per_a: float = 0.1
    max_steps: int = 300
    relax_cell: bool = True
    hull: str = "none"

    def setup(self) -> None:
        """Nothing to load."""

    def run_batch(
        self,
        structures: Sequence[Structure],
        workdirs: Sequence[Path],
        on_start: Callable[[int], None],
    ) -> Iterator[TaskResult]:
        """One pretend result per structure."""
        for i, structure in enumerate(structures):
            on_start(i)
            if FAILING_ELEMENT in {str(el) for el in structure.composition.elements}:
                raise RuntimeError(f"pretend failure on {structure.composition.reduced_formula}")
            final = structure.copy()
            final.scale_lattice(structure.volume * SCALE**3)
            z_mean = sum(site.specie.Z for site in structure) / len(structure)
            yield TaskResult(
                values={"energy_per_atom": -1.0 - 0.01 * z_mean, "relax_converged": 1.0},
                structure=final.as_dict(),
                details={
                    "n_steps": 3,
                    "fmax_ev_per_a": 0.01,
                    "volume_change": SCALE**3 - 1.0,
                },
            )


def register_fake_potential(name: str = "fake") -> str:
    """Register :class:`ScalingRelaxTask` under ``name`` (idempotent); return the name."""
    RELAXERS.add(name, ScalingRelaxTask, replace=True)
    return name
