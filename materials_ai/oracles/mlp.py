"""ML-potential oracle: CHGNet relaxation, energy and energy above the MP hull.

**Model.** CHGNet 0.3.0 from the PyPI package ``chgnet`` 0.4.2 (Modified BSD licence,
Regents of the University of California / LBNL). The wheel ships the weights
(``chgnet/pretrained/0.3.0/*.pth.tar``), so nothing is downloaded: this module loads the
file itself with ``torch.load(..., weights_only=True)`` (CHGNet's own ``CHGNet.load``
passes ``weights_only=False``). CHGNet imports no e3nn, so the mace/e3nn trap of
``shared/STACK.md`` does not apply inside these workers; the worker process never imports
``mace``.

**Energies on the hull's footing.** CHGNet 0.3.0 was trained on MPtrj energies *with* the
Materials Project 2020 compatibility corrections (anion and GGA+U corrections) applied, so
its total energy ``E`` of a structure is an MP2020-corrected energy. The shipped elemental
reference entries (``mbd_2023-02-07-mp-elemental-reference-entries.json.gz``: the lowest-
energy MP phase of each element, uncorrected GGA, MP applies no correction to elemental
phases) give chemical potentials ``mu_i``, and::

    formation_energy = (E - sum_i n_i mu_i) / N            (eV/atom, MP2020 scale)
    e_above_hull     = formation_energy - H_2018(x)          (eV/atom)

with ``H_2018`` the convex hull of MP-2018 formation energies at the composition
(:class:`~materials_ai.candidates.stability.HullReference`, MP legacy corrections). Both
scales are fitted to the same experimental formation enthalpies, so they agree to first
order, but they are **not identical**: the MP2020 scheme changed the oxide/peroxide/
superoxide corrections, added corrections for more anions and refitted the U corrections of
transition-metal oxides and fluorides. Expect systematic offsets of a few tens of meV/atom
in GGA+U systems (Co, Cr, Fe, Mn, Mo, Ni, V, W with O or F) and smaller ones elsewhere;
``benchmarks/oracle_mlp.py`` measures the offset of CHGNet formation energies against
MP-2018 ones. Treat ``e_above_hull`` as a screen (is it near the hull?) with that
uncertainty, not as a converged stability verdict; the DFT stage is the check. A hull of
competing phases recomputed with CHGNet itself would remove the scale mismatch (see the
docs), at the cost of relaxing every competing phase.
"""

from __future__ import annotations

import gzip
import json
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from materials_ai.errors import OracleError
from materials_ai.oracles.tasks import TaskResult, worker_cores

if TYPE_CHECKING:
    from pymatgen.core import Structure

    from materials_ai.candidates.stability import HullReference

ELEMENTAL_REFERENCE_FILE = "inorganic/mbd_2023-02-07-mp-elemental-reference-entries.json.gz"
CHGNET_WEIGHTS = {
    "0.3.0": "pretrained/0.3.0/chgnet_0.3.0_e29f68s314m37.pth.tar",
    "0.2.0": "pretrained/0.2.0/chgnet_0.2.0_e30f77s348m32.pth.tar",
}
CHGNET_LICENCE = "Modified BSD (chgnet 0.4.2, The Regents of the University of California)"


def load_elemental_references(path: str | Path) -> dict[str, float]:
    """Element -> energy per atom (eV) of the MP reference phase, from the shipped file."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        data = json.load(handle)
    refs = {}
    for element, entry in data.items():
        n_atoms = sum(float(v) for v in entry["composition"].values())
        refs[str(element)] = (float(entry["energy"]) + float(entry.get("correction", 0.0))) / (
            n_atoms
        )
    return refs


class MPHull:
    """Formation energy and energy above the MP-2018 hull of a CHGNet (MP2020) energy.

    Args:
        elemental_refs: Element -> reference energy per atom (eV), MP2020-compatible.
        hull: The MP-2018 formation-energy hull.
    """

    def __init__(self, elemental_refs: Mapping[str, float], hull: HullReference) -> None:
        self.elemental_refs = dict(elemental_refs)
        self.hull = hull

    @classmethod
    def from_data_dir(cls, data_dir: str | Path | None = None) -> MPHull:
        """Build from ``MATERIALS_AI_DATA_DIR`` (the elemental file and the mp2018 table)."""
        from materials_ai import settings
        from materials_ai.candidates.stability import HullReference

        root = settings.data_dir(data_dir)
        refs_path = root / ELEMENTAL_REFERENCE_FILE
        if not refs_path.is_file():
            raise OracleError(f"MP elemental references not found at {refs_path}")
        hull = HullReference.from_card("mp2018", "formation_energy", data_dir=data_dir)
        return cls(load_elemental_references(refs_path), hull)

    def evaluate(self, structure: Structure, energy_per_atom_ev: float) -> dict[str, float]:
        """``formation_energy``, ``hull_energy`` and ``e_above_hull`` (eV/atom; NaN if unknown)."""
        amounts = {str(el): float(n) for el, n in structure.composition.get_el_amt_dict().items()}
        missing = [el for el in amounts if el not in self.elemental_refs]
        if missing:
            nan = float("nan")
            return {"formation_energy": nan, "hull_energy": nan, "e_above_hull": nan}
        n_atoms = sum(amounts.values())
        e_form = (
            energy_per_atom_ev
            - sum(n * self.elemental_refs[el] for el, n in amounts.items()) / n_atoms
        )
        hull_energy = self.hull.hull_energy(amounts)
        return {
            "formation_energy": float(e_form),
            "hull_energy": float(hull_energy),
            "e_above_hull": float(e_form - hull_energy),
        }


@lru_cache(maxsize=2)
def load_chgnet(model: str = "0.3.0") -> Any:
    """Load a shipped CHGNet model on the CPU with ``weights_only=True`` (no download)."""
    import chgnet
    import torch
    from chgnet.model import CHGNet

    relative = CHGNET_WEIGHTS.get(model)
    if relative is None:
        raise OracleError(f"unknown CHGNet model {model!r}; shipped: {sorted(CHGNET_WEIGHTS)}")
    path = Path(chgnet.__file__).parent / relative
    state = torch.load(path, map_location="cpu", weights_only=True)
    net = CHGNet.from_dict(state["model"], mlp_out_bias=model == "0.2.0", version=model)
    return net.to("cpu").eval()


@dataclass(frozen=True)
class CHGNetTask:
    """Relax (or single-point) structures with CHGNet; energies and the MP hull distance.

    Values of each observation (fidelity ``ml_potential``):
    ``energy_per_atom`` (eV/atom, MP2020-compatible total energy), ``formation_energy``
    and ``e_above_hull`` (eV/atom, see the module docstring), ``relax_converged`` (1/0).

    Attributes:
        model: Shipped CHGNet version (``0.3.0``).
        relax: Relax positions (and cell) before the final energy; False: single point.
        optimizer: ASE optimiser name understood by CHGNet (``FIRE``, ``BFGS``, ``LBFGS``...).
        fmax_ev_per_a: Force convergence criterion (eV/Å).
        max_steps: Optimiser steps at most.
        relax_cell: Relax the cell too (``FrechetCellFilter``).
        hull: ``mp2018``: compute ``formation_energy`` and ``e_above_hull``; ``none``: skip.
        fail_unconverged: A relaxation that hits ``max_steps`` is a failed observation
            (default: kept, with ``relax_converged = 0``).
        data_dir: Where the elemental references and mp2018 table live (default
            ``MATERIALS_AI_DATA_DIR`` of the worker).
        batch_size: Structures per CHGNet forward pass for single points.
    """

    model: str = "0.3.0"
    relax: bool = True
    optimizer: str = "FIRE"
    fmax_ev_per_a: float = 0.1
    max_steps: int = 500
    relax_cell: bool = True
    hull: str = "mp2018"
    fail_unconverged: bool = False
    data_dir: str | None = None
    batch_size: int = 16

    kind: ClassVar[str] = "chgnet"
    fidelity: ClassVar[str] = "ml_potential"

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> CHGNetTask:
        return cls(**dict(settings))

    def settings(self) -> dict[str, Any]:
        return asdict(self)

    def versions(self) -> dict[str, str]:
        import ase
        import chgnet
        import pymatgen.core
        import torch

        from materials_ai import __version__

        return {
            "chgnet": str(chgnet.__version__),
            "chgnet_model": self.model,
            "torch": str(torch.__version__),
            "ase": str(ase.__version__),
            "pymatgen": str(pymatgen.core.__version__),
            "materials_ai": __version__,
        }

    def setup(self) -> None:
        import torch

        torch.set_num_threads(worker_cores())
        self._model()  # load once per worker
        if self.hull == "mp2018":
            self._hull()

    def _model(self) -> Any:
        return load_chgnet(self.model)

    def _hull(self) -> MPHull | None:
        if self.hull == "none":
            return None
        return _cached_hull(self.data_dir)

    def run_batch(
        self,
        structures: Sequence[Structure],
        workdirs: Sequence[Path],
        on_start: Callable[[int], None],
    ) -> Iterator[TaskResult]:
        model = self._model()
        if not self.relax:
            for start in range(0, len(structures), self.batch_size):
                chunk = list(structures[start : start + self.batch_size])
                for i in range(start, start + len(chunk)):
                    on_start(i)
                t0 = time.perf_counter()
                predictions = model.predict_structure(chunk, task="e", batch_size=len(chunk))
                if isinstance(predictions, dict):
                    predictions = [predictions]
                seconds = (time.perf_counter() - t0) / len(chunk)
                for structure, prediction in zip(chunk, predictions, strict=True):
                    yield self._result(structure, float(prediction["e"]), None, True, 0, seconds)
            return
        from chgnet.model import StructOptimizer

        relaxer = StructOptimizer(model=model, optimizer_class=self.optimizer, use_device="cpu")
        for i, structure in enumerate(structures):
            on_start(i)
            t0 = time.perf_counter()
            out = relaxer.relax(
                structure,
                fmax=self.fmax_ev_per_a,
                steps=self.max_steps,
                relax_cell=self.relax_cell,
                verbose=False,
            )
            final: Structure = out["final_structure"]  # type: ignore[assignment]
            trajectory: Any = out["trajectory"]
            # Frames: step 0, one per optimiser step, and a final call after the run.
            n_steps = max(len(trajectory.energies) - 2, 0)
            energy = float(trajectory.energies[-1]) / len(final)
            forces = trajectory.forces[-1]
            fmax = float(max((sum(c * c for c in f) ** 0.5 for f in forces), default=0.0))
            converged = n_steps < self.max_steps
            yield self._result(
                final,
                energy,
                structure,
                converged,
                n_steps,
                time.perf_counter() - t0,
                fmax=fmax,
            )

    def _result(
        self,
        final: Structure,
        energy_per_atom: float,
        initial: Structure | None,
        converged: bool,
        n_steps: int,
        seconds: float,
        *,
        fmax: float | None = None,
    ) -> TaskResult:
        values = {"energy_per_atom": energy_per_atom, "relax_converged": float(converged)}
        details: dict[str, Any] = {
            "n_steps": n_steps,
            "seconds": seconds,
            "fmax_ev_per_a": fmax,
            "licence": CHGNET_LICENCE,
        }
        hull = self._hull()
        if hull is not None:
            hull_values = hull.evaluate(final, energy_per_atom)
            details["hull_energy"] = hull_values.pop("hull_energy")
            details["hull_reference"] = "mp2018 formation energies (MP legacy corrections)"
            details["energy_scale"] = "CHGNet 0.3.0 = MP2020-compatible; mu from MP 2023-02-07"
            values.update({k: v for k, v in hull_values.items() if math.isfinite(v)})
        if initial is not None:
            details["volume_change"] = float(final.volume / initial.volume - 1.0)
        if self.relax and not converged and self.fail_unconverged:
            return TaskResult(
                ok=False,
                reason=f"relaxation not converged in {self.max_steps} steps (fmax {fmax:.3g})",
                structure=final.as_dict(),
                details=details,
            )
        return TaskResult(values=values, structure=final.as_dict(), details=details)


@lru_cache(maxsize=2)
def _cached_hull(data_dir: str | None) -> MPHull:
    return MPHull.from_data_dir(data_dir)
