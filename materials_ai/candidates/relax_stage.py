"""The RELAX stage of a generated pool: select, relax, deduplicate, report.

Between the cheap screens and scoring::

    screened pool --(top K by a pre-score)--> relax (CHGNet, executor batches)
        --> drop failed relaxations --> StructureMatcher among the relaxed candidates and
        against known structures --> relaxed pool (rows + relaxed structures + report)

The pool rows keep every column the screens gave them and gain :data:`RELAX_COLUMNS`
(``relax_energy_per_atom`` eV/atom, ``relax_max_force`` eV/Å, ``relax_volume_change``,
``relax_steps``, ``relax_converged``) and ``relax_status``. What follows (scoring, the
hull, the ranked list, its CIFs, the lab bundle) sees the relaxed structures only.

Relaxation costs seconds per structure on a CPU (CHGNet, tens of optimiser steps), so
``max_candidates`` caps how many are relaxed: the caller passes the pool ordered by a
cheap pre-score (the surrogates on the unrelaxed geometries) and the first ``K`` are
relaxed; the others are left out of the relaxed pool and counted in the report.

This module knows nothing of campaigns or run directories: a caller (the generation
benchmarks in ``benchmarks/``) supplies rows, structures and an executor. A campaign over
a generated pool does not pre-relax its pool: there CHGNet relaxation is the oracle's
cheap fidelity, run on the candidates the loop acquires
(``workflows/novel_perovskite_photocatalysts.yaml``).
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from materials_ai.candidates.dedup import RelaxedDedupConfig, deduplicate_structures
from materials_ai.candidates.energy_correction import (
    DEFAULT_CORRECTION_FILE,
    EnergyCorrection,
    load_energy_correction,
)
from materials_ai.candidates.relax import RelaxConfig, RelaxResult, relax_structures
from materials_ai.candidates.relaxed_stability import CombineRule
from materials_ai.errors import ConfigError

if TYPE_CHECKING:
    from pymatgen.core import Structure

    from materials_ai.candidates.known import KnownMaterials
    from materials_ai.compute import Executor

__all__ = ["RelaxStageConfig", "RelaxedPool", "relax_pool", "resolve_combination"]

logger = logging.getLogger(__name__)


class RelaxStageConfig(BaseModel):
    """Relaxation of a generated pool before scoring (the generation benchmarks).

    Attributes:
        enabled: Relax before scoring (False: score the generated geometries, as before).
        max_candidates: Relax at most this many, the best by the pre-score (the
            surrogates on the unrelaxed structures); None relaxes every screened one.
        relaxation: Potential, optimiser, force threshold and step cap.
        dedup: StructureMatcher settings after relaxation.
        energy_correction: JSON of the fitted CHGNet -> formation-energy references,
            relative to the repository or absolute; None: CHGNet energies are reported
            but not used for stability.
        combine: How the corrected CHGNet formation energy and the surrogate's prediction
            on the relaxed structure are combined (``relaxed_stability``): ``auto`` is
            ``inverse_variance`` when the correction maps onto the hull's reference
            dataset, else ``surrogate`` (logged).
        keep_unconverged: Keep relaxations that hit the step cap (flagged by
            ``relax_converged``); False drops them.
        anchor_polymorphs: Place the relaxed polymorphs of one composition relative to
            its lowest-energy one by their CHGNet energy differences
            (:func:`~materials_ai.candidates.relaxed_stability.anchor_polymorphs`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    max_candidates: int | None = Field(150, ge=1)
    relaxation: RelaxConfig = RelaxConfig()
    dedup: RelaxedDedupConfig = RelaxedDedupConfig()
    energy_correction: str | None = DEFAULT_CORRECTION_FILE
    combine: Literal["auto", "inverse_variance", "surrogate", "chgnet"] = "auto"
    keep_unconverged: bool = True
    anchor_polymorphs: bool = True


def resolve_combination(
    config: RelaxStageConfig, reference_dataset: str
) -> tuple[CombineRule, EnergyCorrection | None]:
    """The combination rule and correction to use against a hull of ``reference_dataset``.

    Raises:
        ConfigError: An explicit ``inverse_variance`` / ``chgnet`` rule without a
            correction, or with one fitted for another reference dataset.
    """
    correction = None
    if config.energy_correction is not None:
        correction = load_energy_correction(config.energy_correction)
    matches = correction is not None and correction.reference_dataset == reference_dataset
    if config.combine == "auto":
        if not matches:
            logger.warning(
                "CHGNet energies are not used for stability: the correction %s maps onto %r, "
                "the hull is built from %r; the surrogate alone scores the relaxed structures",
                config.energy_correction,
                None if correction is None else correction.reference_dataset,
                reference_dataset,
            )
            return "surrogate", correction
        return "inverse_variance", correction
    if config.combine != "surrogate" and not matches:
        raise ConfigError(
            f"relax.combine {config.combine!r} needs an energy correction fitted on "
            f"{reference_dataset!r}; {config.energy_correction!r} is "
            f"{'missing' if correction is None else 'for ' + correction.reference_dataset}"
        )
    return config.combine, correction


@dataclass
class RelaxedPool:
    """The relaxed candidates and what happened to the others.

    Attributes:
        rows: One dict per kept candidate (input columns + relaxation columns), in the
            input order.
        structures: Candidate id -> relaxed structure, for every kept row.
        removed: Candidate id -> why it is not in the relaxed pool.
        report: Counts and timings (JSON-serialisable).
    """

    rows: list[dict[str, Any]]
    structures: dict[str, Structure]
    removed: dict[str, str] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)

    def save(self, path: str | Path) -> Path:
        """Write rows, relaxed CIFs (P1, exact coordinates), removals and report as JSON."""
        from pymatgen.io.cif import CifWriter

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "rows": self.rows,
            "cifs": {cid: str(CifWriter(s)) for cid, s in self.structures.items()},
            "removed": self.removed,
            "report": self.report,
        }
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(payload, default=_jsonable))
        tmp.replace(path)
        return path


def relax_pool(
    rows: Sequence[Mapping[str, Any]],
    structures: Sequence[Structure],
    config: RelaxStageConfig | None = None,
    *,
    order: Sequence[int] | None = None,
    executor: Executor | None = None,
    known: KnownMaterials | None = None,
) -> RelaxedPool:
    """Relax the best ``max_candidates`` of a screened pool and deduplicate them.

    Args:
        rows: `n` pool rows (each with an ``id``).
        structures: `n` structures, same order.
        config: Stage settings (default :class:`RelaxStageConfig`).
        order: Pool indices best first (the pre-score); None: input order.
        executor: Where relaxation batches run (default: serially here).
        known: Known structures for the post-relaxation novelty check (None: skipped).

    Returns:
        The relaxed pool.
    """
    config = config or RelaxStageConfig()
    started = time.perf_counter()
    n = len(rows)
    if len(structures) != n:
        raise ValueError(f"{n} rows for {len(structures)} structures")
    ids = [str(r["id"]) for r in rows]
    ranked = list(range(n)) if order is None else [int(i) for i in order]
    limit = n if config.max_candidates is None else min(config.max_candidates, n)
    chosen = sorted(ranked[:limit])
    removed: dict[str, str] = {
        ids[i]: f"not relaxed: below the top {limit} of the pre-score" for i in ranked[limit:]
    }
    results = relax_structures(
        [ids[i] for i in chosen],
        [structures[i] for i in chosen],
        config.relaxation,
        executor=executor,
    )
    relax_seconds = time.perf_counter() - started
    by_index: dict[int, RelaxResult] = dict(zip(chosen, results, strict=True))
    usable = []
    for i, r in by_index.items():
        if not r.ok:
            removed[ids[i]] = f"relaxation failed: {r.reason}"
        elif not r.converged and not config.keep_unconverged:
            removed[ids[i]] = f"relaxation not converged in {r.steps} steps"
        else:
            usable.append(i)
    relaxed = [by_index[i].structure for i in usable]
    t0 = time.perf_counter()
    outcome = deduplicate_structures(
        relaxed,  # type: ignore[arg-type]  # ok results carry a structure
        [by_index[i].energy_per_atom for i in usable],
        config.dedup,
        known=known,
    )
    dedup_seconds = time.perf_counter() - t0
    usable_ids = [ids[i] for i in usable]
    kept = set()
    for j, i in enumerate(usable):
        why = outcome.reason(j, usable_ids)
        if why:
            removed[ids[i]] = why
        else:
            kept.add(i)
    out_rows = []
    out_structures: dict[str, Structure] = {}
    for i in sorted(kept):
        row = dict(rows[i])
        row.update(by_index[i].columns())
        out_rows.append(row)
        out_structures[ids[i]] = by_index[i].structure  # type: ignore[assignment]
    ok = [r for r in results if r.ok]
    reasons = Counter(_category(why) for why in removed.values())
    report = {
        "n_in": n,
        "n_selected": len(chosen),
        "n_relaxed_ok": len(ok),
        "n_failed": len(results) - len(ok),
        "n_unconverged": sum(not r.converged for r in ok),
        "n_duplicates": len(outcome.duplicate_of),
        "n_known_matches": len(outcome.known_match),
        "n_kept": len(out_rows),
        "removed_by_reason": dict(reasons),
        "failures": {r.id: r.reason for r in results if not r.ok},
        "matcher_calls": outcome.matcher_calls,
        "relax_seconds": relax_seconds,
        "dedup_seconds": dedup_seconds,
        "structures_per_second": len(results) / relax_seconds if relax_seconds > 0 else None,
        "mean_steps": sum(r.steps for r in ok) / len(ok) if ok else None,
        "relaxation": config.relaxation.model_dump(mode="json"),
    }
    logger.info(
        "relax stage: %d selected, %d relaxed, %d failed, %d duplicates, %d known, %d kept",
        len(chosen),
        len(ok),
        report["n_failed"],
        report["n_duplicates"],
        report["n_known_matches"],
        len(out_rows),
    )
    return RelaxedPool(out_rows, out_structures, removed, report)


def _category(reason: str) -> str:
    for prefix in ("not relaxed", "relaxation failed", "relaxation not converged", "duplicate"):
        if reason.startswith(prefix):
            return prefix
    return "known structure" if reason.startswith("relaxes into known") else reason


def _jsonable(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)
