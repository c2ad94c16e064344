"""Relax generated candidates with a machine-learned potential, in batches on an executor.

Generated structures are prototype decorations or substituted known cells whose lattice
is an estimate; the surrogates were trained on DFT-relaxed structures. This module relaxes
every candidate (cell and positions) with CHGNet 0.3.0 before it is scored, and reports
per candidate: the relaxed structure, the final energy per atom (eV/atom, CHGNet's
MP2020-compatible scale), the largest residual atomic force (eV/Å), the relative volume
change, the optimiser steps and whether the force criterion was met within the step cap.

**One CHGNet.** The relaxation itself is the ML-potential oracle's
(:class:`materials_ai.oracles.mlp.CHGNetTask`: shipped weights loaded once per process
with ``weights_only=True``, CHGNet's ``StructOptimizer`` with an ASE optimiser and
``FrechetCellFilter``). Candidates sit below oracles in the package layers, so the task
class is reached by name through :data:`RELAXERS` (a lazy registry entry, imported when a
relaxation first runs), as oracle tasks and featurizers are elsewhere.

**Batches and failures.** Structures are cut into batches of ``batch_size``; each batch is
one task of the :class:`~materials_ai.compute.Executor` (serial, or Dask on the workflow's
``compute`` config). Each structure is relaxed on its own inside the batch: a structure
CHGNet cannot take (unknown element, isolated atom, optimiser blow-up) gives a result with
``ok = False`` and a reason; it never ends the batch.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from materials_ai.registry import Registry

if TYPE_CHECKING:
    from pymatgen.core import Structure

    from materials_ai.compute import Executor

__all__ = [
    "RELAXERS",
    "RELAX_COLUMNS",
    "RelaxConfig",
    "RelaxResult",
    "relax_structures",
]

logger = logging.getLogger(__name__)

#: Potentials that relax structures: name -> task class with the oracle-task constructor
#: (``model``, ``relax``, ``optimizer``, ``fmax_ev_per_a``, ``max_steps``, ``relax_cell``,
#: ``hull``) and ``setup()`` / ``run_batch()`` (:class:`materials_ai.oracles.tasks.Task`).
RELAXERS: Registry[Callable[..., Any]] = Registry("relaxation potential")
RELAXERS.register_lazy("chgnet", "materials_ai.oracles.mlp:CHGNetTask")

#: Columns a relaxation adds to a candidate row.
RELAX_COLUMNS = (
    "relax_energy_per_atom",
    "relax_max_force",
    "relax_volume_change",
    "relax_steps",
    "relax_converged",
)


class RelaxConfig(BaseModel):
    """How candidates are relaxed.

    Attributes:
        potential: Registered potential (:data:`RELAXERS`); ``chgnet``.
        model: Shipped model version of that potential (CHGNet ``0.3.0``).
        optimizer: ASE optimiser (``FIRE``, ``BFGS``, ``LBFGS``).
        fmax_ev_per_a: Force criterion (eV/Å): the optimiser stops when every (generalised,
            with the cell filter) force is below it.
        max_steps: Step cap per structure; a relaxation that reaches it is kept with
            ``relax_converged = False``.
        relax_cell: Relax the cell as well as the positions.
        batch_size: Structures per executor task.
        max_sites: Structures with more sites fail with a reason instead of being relaxed
            (bounds the cost of one task).
        max_volume_change: A relaxation whose volume changes by more than this fraction
            (either way) is reported as failed: the cell exploded or collapsed.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    potential: str = "chgnet"
    model: str = "0.3.0"
    optimizer: Literal["FIRE", "BFGS", "LBFGS"] = "FIRE"
    fmax_ev_per_a: float = Field(0.1, gt=0.0)
    max_steps: int = Field(300, ge=1)
    relax_cell: bool = True
    batch_size: int = Field(8, ge=1)
    max_sites: int = Field(40, ge=1)
    max_volume_change: float = Field(1.0, gt=0.0)

    @field_validator("potential")
    @classmethod
    def _registered(cls, value: str) -> str:
        if value not in RELAXERS:
            raise ValueError(f"unknown potential {value!r}; known: {', '.join(RELAXERS.names())}")
        return value


@dataclass(frozen=True)
class RelaxResult:
    """The outcome of relaxing one structure.

    Attributes:
        id: Candidate id.
        ok: False when the relaxation failed (see ``reason``).
        reason: Why it failed (empty when ``ok``).
        structure: The relaxed structure (None on failure).
        energy_per_atom: Final energy (eV/atom; NaN on failure).
        max_force: Largest atomic force norm in the final frame (eV/Å; NaN if unknown).
        volume_change: ``V_final / V_initial - 1`` (dimensionless).
        steps: Optimiser steps taken.
        converged: Whether the force criterion was met within the step cap.
        seconds: Wall time of this structure's relaxation.
    """

    id: str
    ok: bool
    reason: str = ""
    structure: Structure | None = None
    energy_per_atom: float = math.nan
    max_force: float = math.nan
    volume_change: float = math.nan
    steps: int = 0
    converged: bool = False
    seconds: float = 0.0

    def columns(self) -> dict[str, Any]:
        """The :data:`RELAX_COLUMNS` of this result (plus ``relax_status``)."""
        return {
            "relax_energy_per_atom": self.energy_per_atom,
            "relax_max_force": self.max_force,
            "relax_volume_change": self.volume_change,
            "relax_steps": self.steps,
            "relax_converged": self.converged,
            "relax_status": "ok" if self.ok else f"failed: {self.reason}",
        }


def _task(config: RelaxConfig) -> Any:
    cls = RELAXERS.get(config.potential)
    return cls(
        model=config.model,
        relax=True,
        optimizer=config.optimizer,
        fmax_ev_per_a=config.fmax_ev_per_a,
        max_steps=config.max_steps,
        relax_cell=config.relax_cell,
        hull="none",
    )


def _reason(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0][:200] if text else ''}".rstrip(": ")


def _relax_one(task: Any, cid: str, structure: Structure, config: RelaxConfig) -> RelaxResult:
    from pymatgen.core import Structure

    if len(structure) > config.max_sites:
        return RelaxResult(cid, False, f"{len(structure)} sites > max_sites {config.max_sites}")
    t0 = time.perf_counter()
    try:
        # CHGNet prints a line per optimiser it builds; keep the worker's stdout clean.
        with contextlib.redirect_stdout(io.StringIO()):
            result = next(iter(task.run_batch([structure], [Path(".")], lambda _i: None)))
    except Exception as error:  # one structure's failure must not end the batch
        return RelaxResult(cid, False, _reason(error), seconds=time.perf_counter() - t0)
    seconds = time.perf_counter() - t0
    details = result.details
    energy = float(result.values.get("energy_per_atom", math.nan))
    fmax = details.get("fmax_ev_per_a")
    volume_change = float(details.get("volume_change", math.nan))
    steps = int(details.get("n_steps", 0))
    if not result.ok or result.structure is None:
        return RelaxResult(cid, False, result.reason or "no structure", seconds=seconds)
    if not math.isfinite(energy):
        return RelaxResult(cid, False, "non-finite energy", steps=steps, seconds=seconds)
    if abs(volume_change) > config.max_volume_change:
        return RelaxResult(
            cid,
            False,
            f"volume changed by {volume_change:+.0%} (> {config.max_volume_change:.0%})",
            energy_per_atom=energy,
            volume_change=volume_change,
            steps=steps,
            seconds=seconds,
        )
    final = Structure.from_dict(result.structure)
    if "magmom" in final.site_properties:  # CHGNet's predicted moments: not kept
        final.remove_site_property("magmom")
    return RelaxResult(
        id=cid,
        ok=True,
        structure=final,
        energy_per_atom=energy,
        max_force=math.nan if fmax is None else float(fmax),
        volume_change=volume_change,
        steps=steps,
        converged=bool(result.values.get("relax_converged", 0.0)),
        seconds=seconds,
    )


def _relax_batch(item: tuple[RelaxConfig, list[tuple[str, Structure]]]) -> list[RelaxResult]:
    """Executor task: relax one batch (module-level, so Dask can pickle it by name)."""
    config, batch = item
    try:
        task = _task(config)
        task.setup()
    except Exception as error:  # the potential cannot load: every row fails, with why
        reason = f"potential unavailable: {_reason(error)}"
        return [RelaxResult(cid, False, reason) for cid, _ in batch]
    return [_relax_one(task, cid, structure, config) for cid, structure in batch]


def relax_structures(
    ids: Sequence[str],
    structures: Sequence[Structure],
    config: RelaxConfig | None = None,
    *,
    executor: Executor | None = None,
) -> list[RelaxResult]:
    """Relax `n` structures; one result per structure, in input order.

    Args:
        ids: `n` candidate ids.
        structures: `n` structures (ordered sites, plain elements).
        config: Relaxation settings (default :class:`RelaxConfig`).
        executor: Where the batches run (default: serially in this process).

    Returns:
        `n` results; failures are results with ``ok = False`` and a reason.
    """
    from materials_ai.compute import SerialExecutor

    config = config or RelaxConfig()
    if len(ids) != len(structures):
        raise ValueError(f"{len(ids)} ids for {len(structures)} structures")
    pairs = list(zip(ids, structures, strict=True))
    batches = [
        (config, pairs[start : start + config.batch_size])
        for start in range(0, len(pairs), config.batch_size)
    ]
    if not batches:
        return []
    runner = executor if executor is not None else SerialExecutor(progress=False)
    started = time.perf_counter()
    results = [r for batch in runner.map(_relax_batch, batches, desc="relax") for r in batch]
    failed = sum(not r.ok for r in results)
    logger.info(
        "relaxed %d structures in %.1f s (%d failed)",
        len(results),
        time.perf_counter() - started,
        failed,
    )
    return results
