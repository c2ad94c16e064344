"""DFT oracle with GPAW: GLLB-SC band gap (with the derivative discontinuity) and PBE energy.

The recipe is GPAW's own GLLB-SC band-gap tutorial (``gllbsc_si_simple.py`` in GPAW 26.7's
documentation)::

    calc = GPAW(mode=PW(ecut), xc='GLLBSC', kpts=..., occupations=FermiDirac(0.01))
    atoms.calc = calc; atoms.get_potential_energy()
    homo, lumo = calc.get_homo_lumo()
    response = calc.hamiltonian.xc.response
    dxc_pot = response.calculate_discontinuity_potential(homo, lumo)
    ks_gap, dxc = response.calculate_discontinuity(dxc_pot)
    qp_gap = ks_gap + dxc              # the fundamental (quasiparticle) gap

**Defaults** (``shared/STACK.md``, checked against the Castelli table): plane waves at
600 eV (300 eV made SrSnO3 metallic in PBE, 400 eV is ~0.15 eV low) and a Γ-centred 4×4×4
k-point grid (converged to 0.03 eV; Γ-centred so that the Γ, X, M and R points where cubic
perovskites have their band edges are on the grid). Spin-paired, Fermi-Dirac width 0.01 eV.

**Metals.** With a zero Kohn-Sham gap the discontinuity formula returns a meaningless
4.5–5.3 eV, so a KS gap below ``metal_gap_ev`` is reported as a metal: ``band_gap = 0``,
``metal = 1``, no discontinuity.

**PBE energy.** A second SCF with ``xc='PBE'`` at the same settings gives
``pbe_energy_per_atom``. GPAW energies are relative to the isolated (spin-paired) PAW atoms
of its setups, not absolute: compare them only with GPAW energies of the same setups and
settings.

**Missing GLLB-SC setups.** ``gpaw-data`` has no GLLB-SC setup for La (295 Castelli rows).
With ``generate_missing_setups`` the job generates one with GPAW's atomic setup generator
(``gpaw.atom.generator.Generator``, GPAW's default parameters for the element) into
``setup_cache`` (default ``$MATERIALS_AI_CACHE_DIR/gpaw-setups``), once, and reuses it;
the observation's provenance names generated setups. Generated setups are not the
ones Castelli et al. used; flag results that depend on them.

**Failures** (an SCF not converged within ``maxiter``, a missing setup, any GPAW error)
are failed observations with the reason, never exceptions.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from materials_ai.oracles.tasks import TaskResult

if TYPE_CHECKING:
    from pymatgen.core import Structure


def default_setup_cache() -> Path:
    """Folder for generated PAW setups: ``<MATERIALS_AI_CACHE_DIR>/gpaw-setups``."""
    from materials_ai import settings

    return settings.cache_dir() / "gpaw-setups"


def has_setup(symbol: str, xc: str) -> bool:
    """True if GPAW finds a setup file for ``symbol`` and functional ``xc``."""
    from gpaw import setup_paths

    for folder in setup_paths:
        for name in (f"{symbol}.{xc}", f"{symbol}.{xc}.gz"):
            if (Path(folder) / name).is_file():
                return True
    return False


def ensure_setup(symbol: str, xc: str, cache: Path) -> Path | None:
    """Generate a missing setup into ``cache`` (once; file-locked); None if it existed.

    Returns:
        The generated (or previously generated) file, or None when GPAW already had one.
    """
    from gpaw import setup_paths

    cache.mkdir(parents=True, exist_ok=True)
    if str(cache) not in setup_paths:
        setup_paths.insert(0, str(cache))
    target = cache / f"{symbol}.{xc}"
    if target.is_file():
        return target
    if has_setup(symbol, xc):
        return None
    from gpaw.atom.configurations import parameters
    from gpaw.atom.generator import Generator

    with open(cache / f".{symbol}.{xc}.lock", "a+") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        if not target.is_file():
            generator = Generator(symbol, xc, scalarrel=True, nofiles=True)
            setup = generator.run(write_xml=False, **parameters.get(symbol, {}))
            tmp = cache / f".{symbol}.{xc}.{os.getpid()}.tmp"
            setup.write_xml(str(tmp))
            os.replace(tmp, target)
    return target


@dataclass(frozen=True)
class GPAWTask:
    """GLLB-SC band gap and PBE total energy of a structure with GPAW (plane waves).

    Values of each observation (fidelity ``dft_gllbsc``): ``band_gap`` (eV, GLLB-SC
    quasiparticle gap = Kohn-Sham gap + derivative discontinuity; 0 for a metal),
    ``band_gap_ks`` (eV, GLLB-SC Kohn-Sham gap), ``delta_xc`` (eV), ``metal`` (1/0) and,
    with ``pbe_energy``, ``pbe_energy_per_atom`` (eV/atom, GPAW reference).

    Attributes:
        ecut_ev: Plane-wave cutoff (eV).
        kpts: Monkhorst-Pack grid size.
        gamma: Γ-centred grid.
        occupation_width_ev: Fermi-Dirac width (eV).
        maxiter: SCF iterations at most (non-convergence fails the job).
        metal_gap_ev: Kohn-Sham gaps below this are metals (no discontinuity).
        pbe_energy: Also run a PBE SCF for the total energy.
        spinpol: Spin-polarised calculation.
        generate_missing_setups: Generate GLLB-SC setups that ``gpaw-data`` lacks (La).
        setup_cache: Where generated setups live (default ``<cache>/gpaw-setups``).
        convergence: GPAW ``convergence`` dict (default GPAW's).
    """

    ecut_ev: float = 600.0
    kpts: tuple[int, int, int] = (4, 4, 4)
    gamma: bool = True
    occupation_width_ev: float = 0.01
    maxiter: int = 333
    metal_gap_ev: float = 0.01
    pbe_energy: bool = True
    spinpol: bool = False
    generate_missing_setups: bool = True
    setup_cache: str | None = None
    convergence: dict[str, float] = field(default_factory=dict)

    kind: ClassVar[str] = "gpaw"
    fidelity: ClassVar[str] = "dft_gllbsc"

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> GPAWTask:
        data = dict(settings)
        if "kpts" in data:
            data["kpts"] = tuple(int(k) for k in data["kpts"])
        if "convergence" in data:
            data["convergence"] = dict(data["convergence"] or {})
        return cls(**data)

    def settings(self) -> dict[str, Any]:
        data = asdict(self)
        data["kpts"] = list(self.kpts)
        return data

    def versions(self) -> dict[str, str]:
        import ase
        import gpaw

        from materials_ai import __version__

        versions = {"gpaw": str(gpaw.__version__), "ase": str(ase.__version__)}
        try:
            from importlib.metadata import version

            versions["gpaw_data"] = version("gpaw-data")
        except Exception:
            pass
        try:
            from gpaw.xc.libxc import LibXC

            versions["libxc"] = str(LibXC.get_version()) if hasattr(LibXC, "get_version") else ""
        except Exception:
            pass
        versions["materials_ai"] = __version__
        return {k: v for k, v in versions.items() if v}

    def setup(self) -> None:
        import gpaw  # noqa: F401  (fail early, in setup, when GPAW is missing)

    def _cache(self) -> Path:
        return Path(self.setup_cache) if self.setup_cache else default_setup_cache()

    def _atoms(self, structure: Structure) -> Any:
        """ASE atoms of ``structure``; without ``spinpol``, initial magnetic moments zeroed.

        A structure relaxed by CHGNet carries its predicted ``magmom`` site properties,
        which GPAW refuses in a spin-paired calculation; with ``spinpol`` they are kept as
        the initial guess.
        """
        from pymatgen.io.ase import AseAtomsAdaptor

        atoms = AseAtomsAdaptor.get_atoms(structure)
        if not self.spinpol:
            atoms.set_initial_magnetic_moments(None)
        return atoms

    def _calculator(self, xc: str, txt: Path, maxiter: int | None = None) -> Any:
        from gpaw import GPAW, PW, FermiDirac

        return GPAW(
            mode=PW(self.ecut_ev),
            xc=xc,
            kpts={"size": tuple(self.kpts), "gamma": self.gamma},
            occupations=FermiDirac(self.occupation_width_ev),
            spinpol=self.spinpol,
            maxiter=maxiter or self.maxiter,
            convergence=dict(self.convergence) or None,
            txt=str(txt),
        )

    def run_batch(
        self,
        structures: Sequence[Structure],
        workdirs: Sequence[Path],
        on_start: Callable[[int], None],
    ) -> Iterator[TaskResult]:
        for i, structure in enumerate(structures):
            on_start(i)
            yield self.run_one(structure, workdirs[i])

    def run_one(self, structure: Structure, workdir: Path) -> TaskResult:
        """GLLB-SC gap and PBE energy of one structure (failures become results)."""
        from gpaw import ConvergenceError

        workdir.mkdir(parents=True, exist_ok=True)
        details: dict[str, Any] = {}
        generated = []
        elements = sorted({str(el) for el in structure.composition.elements})
        try:
            for symbol in elements:
                xcs = ["GLLBSC"] + (["PBE"] if self.pbe_energy else [])
                for xc in xcs:
                    if self.generate_missing_setups:
                        path = ensure_setup(symbol, xc, self._cache())
                        if path is not None:
                            generated.append(f"{path.name} (generated by gpaw.atom.generator)")
                    elif not has_setup(symbol, xc):
                        return TaskResult(
                            ok=False,
                            reason=f"no GPAW {xc} setup for {symbol} "
                            "(set generate_missing_setups to generate one)",
                        )
        except Exception as exc:
            return TaskResult(ok=False, reason=f"setup generation failed: {exc}")
        if generated:
            details["generated_setups"] = generated

        values: dict[str, float] = {}
        atoms = self._atoms(structure)
        n_atoms = len(atoms)
        step = "GLLBSC"
        try:
            t0 = time.perf_counter()
            calc = self._calculator("GLLBSC", workdir / "gllbsc.txt")
            atoms.calc = calc
            atoms.get_potential_energy()
            homo, lumo = calc.get_homo_lumo()
            ks_gap_est = float(lumo - homo)
            details["homo_ev"], details["lumo_ev"] = float(homo), float(lumo)
            details["scf_iterations_gllbsc"] = _iterations(calc)
            if ks_gap_est < self.metal_gap_ev:
                values.update(band_gap=0.0, band_gap_ks=max(ks_gap_est, 0.0), delta_xc=0.0)
                values["metal"] = 1.0
            else:
                response = calc.hamiltonian.xc.response
                dxc_pot = response.calculate_discontinuity_potential(homo, lumo)
                ks_gap, dxc = response.calculate_discontinuity(dxc_pot)
                values.update(
                    band_gap=float(ks_gap + dxc),
                    band_gap_ks=float(ks_gap),
                    delta_xc=float(dxc),
                    metal=0.0,
                )
            details["seconds_gllbsc"] = time.perf_counter() - t0
            if self.pbe_energy:
                step = "PBE"
                t0 = time.perf_counter()
                atoms = self._atoms(structure)
                calc = self._calculator("PBE", workdir / "pbe.txt")
                atoms.calc = calc
                energy = float(atoms.get_potential_energy())
                values["pbe_energy_per_atom"] = energy / n_atoms
                details["pbe_energy_ev"] = energy
                details["scf_iterations_pbe"] = _iterations(calc)
                details["seconds_pbe"] = time.perf_counter() - t0
        except ConvergenceError as exc:
            return TaskResult(
                ok=False,
                reason=f"{step} SCF did not converge within maxiter={self.maxiter} "
                f"iterations ({type(exc).__name__}: {exc})",
                details=details,
            )
        except Exception as exc:
            return TaskResult(
                ok=False,
                reason=f"GPAW {step} failed: {type(exc).__name__}: {exc}",
                details=details,
            )
        details["n_atoms"] = n_atoms
        details["energy_reference"] = "GPAW: relative to isolated spin-paired PAW atoms"
        return TaskResult(values=values, details=details)


def _iterations(calc: Any) -> int | None:
    try:
        return int(calc.get_number_of_iterations())
    except Exception:
        return None
