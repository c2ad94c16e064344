"""Relaxed structures that validations produced, for ranked lists, CIFs and lab bundles.

A validation that relaxes a candidate (the CHGNet oracle: cell + positions) stores the
final structure and the relaxation's record in its durable job directory
(``output.json``: ``structure``, ``details``); the observation's provenance names that
directory. A ranked list then shows the relaxed geometry, not the generated or tabulated
one it started from, with the relaxation's final energy, largest residual force and
volume change as columns.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from materials_ai.data.records import Observation

logger = logging.getLogger(__name__)

#: ``output.json`` of a job directory (``oracles/job_store.py``).
JOB_OUTPUT_FILE = "output.json"

#: Ranked-list columns added for relaxed candidates (units in the names).
RELAXED_COLUMNS = (
    "relaxed_energy_eV_per_atom",
    "relaxed_max_force_eV_per_A",
    "relaxed_volume_change",
)


@dataclass(frozen=True)
class RelaxedStructure:
    """The result of one validation's relaxation.

    Attributes:
        structure: The relaxed pymatgen ``Structure``.
        energy_per_atom: Final energy of the relaxation, eV/atom (the potential's own
            scale), or NaN if not recorded.
        max_force: Largest residual force on an atom at the end, eV/Å (NaN if unknown).
        volume_change: Final over initial cell volume minus 1 (NaN if unknown).
        job_dir: The job directory it was read from.
    """

    structure: Any
    energy_per_atom: float
    max_force: float
    volume_change: float
    job_dir: str

    def columns(self) -> dict[str, float]:
        """The :data:`RELAXED_COLUMNS` values of this relaxation."""
        values = (self.energy_per_atom, self.max_force, self.volume_change)
        return dict(zip(RELAXED_COLUMNS, values, strict=True))


def _number(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number if math.isfinite(number) else math.nan


def read_relaxation(job_dir: str | Path) -> RelaxedStructure | None:
    """The relaxed structure a job directory holds (None: none, or unreadable)."""
    from materials_ai.data.records import structure_from_dict

    path = Path(job_dir) / JOB_OUTPUT_FILE
    try:
        output = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    data = output.get("structure") if isinstance(output, dict) else None
    if not isinstance(data, dict) or "lattice" not in data:  # no crystal (or a molecule)
        return None
    details = output.get("details") or {}
    if "volume_change" not in details:  # not a relaxation (e.g. a DFT single point)
        return None
    try:
        structure = structure_from_dict(data)
    except Exception as error:  # a damaged output: the ranked list keeps the pool's cell
        logger.warning("%s: cannot read the relaxed structure: %s", path, error)
        return None
    observation = output.get("observation") or {}
    energy = (observation.get("values") or {}).get("energy_per_atom")
    return RelaxedStructure(
        structure=structure,
        energy_per_atom=_number(energy),
        max_force=_number(details.get("fmax_ev_per_a")),
        volume_change=_number(details.get("volume_change")),
        job_dir=str(job_dir),
    )


def relaxed_structures(observations: Iterable[Observation]) -> dict[str, RelaxedStructure]:
    """Candidate id -> its relaxed structure, from the successful observations whose job
    directory holds one (the latest such observation of a candidate wins)."""
    found: dict[str, RelaxedStructure] = {}
    for observation in observations:
        job_dir = observation.provenance.get("job_dir") if observation.ok else None
        if not job_dir:
            continue
        relaxed = read_relaxation(job_dir)
        if relaxed is not None:
            found[observation.candidate_id] = relaxed
    return found
