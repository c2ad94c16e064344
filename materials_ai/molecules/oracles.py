"""Molecular oracles: GFN2-xTB (tblite) and DFT (PySCF) HOMO/LUMO/gap, as durable jobs.

Both are tasks of the platform's job machinery (:mod:`materials_ai.oracles.tasks`,
registered as ``xtb`` and ``pyscf``): a :class:`~materials_ai.oracles.job_oracle.JobOracle`
turns each submitted molecule into a job directory (``input.json`` with the SMILES,
``status.json``, ``log.txt``, ``output.json``, ``work/geometry.xyz``) that a detached
worker process computes, so a validation survives the campaign process and is collected
after a resume, exactly like the crystal oracles.

=========  ===============================================  ===============
kind       what                                             fidelity
=========  ===============================================  ===============
``xtb``    GFN2-xTB single point on an ETKDG + MMFF94       ``xtb_gfn2``
           geometry (~0.01–0.1 s per QM9-sized molecule)
``pyscf``  B3LYP/def2-SVP (density fitting) single point    ``dft_b3lyp``
           on the same geometry (minutes for 20+ atoms)
=========  ===============================================  ===============

Values: ``homo``, ``lumo`` and ``gap`` in eV (orbital energies; the gap is LUMO − HOMO).
GFN2-xTB gaps are much smaller than B3LYP's (see ``shared/STACK.md``): use them to rank,
not as values on the B3LYP scale of QM9.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from materials_ai.molecules.geometry import BOHR_ANGSTROM, HARTREE_EV, Geometry, embed
from materials_ai.oracles.tasks import TaskResult

if TYPE_CHECKING:
    from materials_ai.data.records import Molecule
    from materials_ai.oracles.job_oracle import JobOracle, Launcher
    from materials_ai.oracles.jobs import JobStore

__all__ = [
    "PySCFTask",
    "XTBTask",
    "frontier_orbitals",
    "pyscf_gap",
    "pyscf_oracle",
    "xtb_gap",
    "xtb_oracle",
]


def frontier_orbitals(energies_ha: np.ndarray, occupations: np.ndarray) -> tuple[float, float]:
    """HOMO and LUMO energies (eV) from orbital energies (Ha) and occupations.

    The HOMO is the highest orbital holding more than half an electron (per spin channel:
    occupations up to 2 in a restricted calculation); the LUMO is the next one up.
    """
    energies = np.asarray(energies_ha, dtype=np.float64).ravel()
    occupations = np.asarray(occupations, dtype=np.float64).ravel()
    order = np.argsort(energies)
    energies, occupations = energies[order], occupations[order]
    occupied = np.nonzero(occupations > 0.5)[0]
    if occupied.size == 0 or occupied[-1] + 1 >= energies.size:
        raise ValueError("no occupied or no virtual orbital")
    homo = occupied[-1]
    return float(energies[homo] * HARTREE_EV), float(energies[homo + 1] * HARTREE_EV)


def _result(homo: float, lumo: float, geometry: Geometry, details: Mapping[str, Any]) -> TaskResult:
    return TaskResult(
        values={"homo": homo, "lumo": lumo, "gap": lumo - homo},
        details={
            "n_atoms": len(geometry.numbers),
            "charge": geometry.charge,
            "n_unpaired": geometry.n_unpaired,
            "force_field": geometry.force_field,
            **dict(details),
        },
    )


# --------------------------------------------------------------------------- xTB


def xtb_gap(
    geometry: Geometry, *, method: str = "GFN2-xTB", electronic_temperature_k: float = 300.0
) -> dict[str, float]:
    """GFN2-xTB single point: ``homo``, ``lumo``, ``gap`` (eV), ``energy_ha``, ``seconds``."""
    from tblite.interface import Calculator

    start = time.perf_counter()
    calc = Calculator(
        method,
        geometry.numbers,
        geometry.positions_angstrom / BOHR_ANGSTROM,
        charge=float(geometry.charge),
        uhf=int(geometry.n_unpaired),
    )
    calc.set("verbosity", 0)
    calc.set("temperature", electronic_temperature_k * 3.166811563e-6)  # K -> Ha
    res = calc.singlepoint()
    homo, lumo = frontier_orbitals(res.get("orbital-energies"), res.get("orbital-occupations"))
    return {
        "homo": homo,
        "lumo": lumo,
        "gap": lumo - homo,
        "energy_ha": float(res.get("energy")),
        "seconds": time.perf_counter() - start,
    }


@dataclass(frozen=True)
class XTBTask:
    """GFN2-xTB (tblite) HOMO/LUMO/gap on an ETKDG + MMFF94 geometry.

    Attributes:
        method: ``GFN2-xTB`` (or ``GFN1-xTB``).
        electronic_temperature_k: Fermi smearing temperature (K).
        embed_seed: Seed of the ETKDG embedding (deterministic geometries).
    """

    method: str = "GFN2-xTB"
    electronic_temperature_k: float = 300.0
    embed_seed: int = 0

    kind: ClassVar[str] = "xtb"
    fidelity: ClassVar[str] = "xtb_gfn2"

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> XTBTask:
        return cls(**dict(settings))

    def settings(self) -> dict[str, Any]:
        return asdict(self)

    def versions(self) -> dict[str, str]:
        from importlib.metadata import version

        return {"tblite": version("tblite"), "rdkit": version("rdkit")}

    def setup(self) -> None:
        from materials_ai.extras import requires_extra

        with requires_extra("The GFN2-xTB oracle (tblite)"):
            import tblite.interface  # noqa: F401  (fail early if missing)

    def run_batch(
        self,
        structures: Sequence[Molecule],
        workdirs: Sequence[Path],
        on_start: Callable[[int], None],
    ) -> Iterator[TaskResult]:
        for i, molecule in enumerate(structures):
            on_start(i)
            yield _run_one(molecule, workdirs[i], self.embed_seed, self._compute)

    def _compute(self, geometry: Geometry) -> dict[str, float]:
        return xtb_gap(
            geometry, method=self.method, electronic_temperature_k=self.electronic_temperature_k
        )


def _run_one(
    molecule: Any,
    workdir: Path,
    seed: int,
    compute: Callable[[Geometry], dict[str, float]],
) -> TaskResult:
    from materials_ai.data.records import Molecule

    if not isinstance(molecule, Molecule):
        return TaskResult(ok=False, reason="a molecular oracle needs a Molecule, got a crystal")
    try:
        geometry = embed(molecule, seed=seed)
    except Exception as exc:
        return TaskResult(ok=False, reason=f"geometry: {exc}")
    (workdir / "geometry.xyz").write_text(geometry.to_xyz(molecule.smiles))
    try:
        out = compute(geometry)
    except Exception as exc:
        return TaskResult(ok=False, reason=f"{type(exc).__name__}: {exc}")
    details = {k: v for k, v in out.items() if k not in ("homo", "lumo", "gap")}
    return _result(out["homo"], out["lumo"], geometry, {"smiles": molecule.smiles, **details})


# --------------------------------------------------------------------------- PySCF


def pyscf_gap(
    geometry: Geometry,
    *,
    xc: str = "B3LYP",
    basis: str = "def2-SVP",
    density_fit: bool = True,
    grid_level: int = 3,
    max_cycle: int = 100,
    conv_tol: float = 1e-8,
    threads: int | None = None,
) -> dict[str, float]:
    """Kohn-Sham DFT single point: ``homo``, ``lumo``, ``gap`` (eV), ``energy_ha``, ``seconds``.

    Restricted KS for closed shells, unrestricted otherwise (frontier orbitals taken over
    both spin channels).

    Raises:
        RuntimeError: If the SCF does not converge.
    """
    from pyscf import dft, gto, lib

    if threads is not None:
        lib.num_threads(threads)
    start = time.perf_counter()
    mol = gto.M(
        atom=[
            (s, tuple(p))
            for s, p in zip(geometry.symbols, geometry.positions_angstrom, strict=True)
        ],
        unit="Angstrom",
        basis=basis,
        charge=geometry.charge,
        spin=geometry.n_unpaired,
        verbose=0,
    )
    mf = dft.RKS(mol) if geometry.n_unpaired == 0 else dft.UKS(mol)
    mf.xc = xc
    mf.grids.level = grid_level
    mf.max_cycle = max_cycle
    mf.conv_tol = conv_tol
    if density_fit:
        mf = mf.density_fit()
    energy = mf.kernel()
    if not mf.converged:
        raise RuntimeError(f"SCF did not converge in {max_cycle} cycles")
    if geometry.n_unpaired == 0:
        homo, lumo = frontier_orbitals(mf.mo_energy, mf.mo_occ)
    else:
        energies = np.concatenate([mf.mo_energy[0], mf.mo_energy[1]])
        occupations = np.concatenate([mf.mo_occ[0], mf.mo_occ[1]])
        occ_e = energies[occupations > 0.5]
        vir_e = energies[occupations <= 0.5]
        homo, lumo = float(occ_e.max() * HARTREE_EV), float(vir_e.min() * HARTREE_EV)
    return {
        "homo": homo,
        "lumo": lumo,
        "gap": lumo - homo,
        "energy_ha": float(energy),
        "n_basis": float(mol.nao_nr()),
        "seconds": time.perf_counter() - start,
    }


@dataclass(frozen=True)
class PySCFTask:
    """PySCF Kohn-Sham DFT (default B3LYP/def2-SVP, density fitting) on ETKDG + MMFF94.

    Attributes:
        xc: Exchange-correlation functional.
        basis: Basis set.
        density_fit: Use density fitting (RI-J/K; ~same gaps, much faster).
        grid_level: PySCF integration grid level (0–9; 1 halves the cost, same gaps to
            ~0.01 eV for organic molecules).
        max_cycle: SCF iterations allowed.
        conv_tol: SCF energy convergence (Ha).
        embed_seed: Seed of the ETKDG embedding.
    """

    xc: str = "B3LYP"
    basis: str = "def2-SVP"
    density_fit: bool = True
    grid_level: int = 3
    max_cycle: int = 100
    conv_tol: float = 1e-8
    embed_seed: int = 0

    kind: ClassVar[str] = "pyscf"
    fidelity: ClassVar[str] = "dft_b3lyp"

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> PySCFTask:
        return cls(**dict(settings))

    def settings(self) -> dict[str, Any]:
        return asdict(self)

    def versions(self) -> dict[str, str]:
        from importlib.metadata import version

        return {"pyscf": version("pyscf"), "rdkit": version("rdkit")}

    def setup(self) -> None:
        from materials_ai.extras import requires_extra

        with requires_extra("The PySCF DFT oracle"):
            import pyscf  # noqa: F401

    def run_batch(
        self,
        structures: Sequence[Molecule],
        workdirs: Sequence[Path],
        on_start: Callable[[int], None],
    ) -> Iterator[TaskResult]:
        from materials_ai.oracles.tasks import worker_cores

        def compute(geometry: Geometry) -> dict[str, float]:
            return pyscf_gap(
                geometry,
                xc=self.xc,
                basis=self.basis,
                density_fit=self.density_fit,
                grid_level=self.grid_level,
                max_cycle=self.max_cycle,
                conv_tol=self.conv_tol,
                threads=worker_cores(),
            )

        for i, molecule in enumerate(structures):
            on_start(i)
            yield _run_one(molecule, workdirs[i], self.embed_seed, compute)


# --------------------------------------------------------------------------- oracles


def xtb_oracle(
    store: JobStore | str | Path,
    *,
    task: XTBTask | None = None,
    launcher: Launcher | None = None,
    batch_size: int = 50,
    name: str = "xtb",
) -> JobOracle:
    """A durable-job oracle computing GFN2-xTB gaps (many molecules per worker)."""
    from materials_ai.oracles.job_oracle import JobOracle

    return JobOracle(task or XTBTask(), store, name=name, launcher=launcher, batch_size=batch_size)


def pyscf_oracle(
    store: JobStore | str | Path,
    *,
    task: PySCFTask | None = None,
    launcher: Launcher | None = None,
    cores: int = 1,
    timeout_s: float | None = None,
    name: str = "pyscf",
) -> JobOracle:
    """A durable-job oracle computing B3LYP/def2-SVP gaps (one molecule per worker)."""
    from materials_ai.oracles.job_oracle import JobOracle

    return JobOracle(
        task or PySCFTask(),
        store,
        name=name,
        launcher=launcher,
        batch_size=1,
        cores=cores,
        timeout_s=timeout_s,
    )
