"""Molecular oracle timings: GFN2-xTB on 20-30 heavy-atom molecules, B3LYP/def2-SVP on small ones.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/molecules_oracle_timing.py --runs 3

Issue 9 target: a GFN2-xTB HOMO-LUMO gap single point of a 20-30 heavy-atom molecule in
≤ 2 s; PySCF B3LYP/def2-SVP time reported. Each molecule gets one ETKDG + MMFF94 geometry
(:func:`materials_ai.molecules.geometry.embed`, timed separately); then

* ``xtb``: :func:`~materials_ai.molecules.oracles.xtb_gap` (tblite Calculator set-up + SCF),
  ``--runs`` times, in this process (no job machinery);
* ``pyscf``: :func:`~materials_ai.molecules.oracles.pyscf_gap` with the task defaults
  (B3LYP, def2-SVP, density fitting, grid level 3), once per molecule, one thread.

BLAS/OpenMP threads are whatever ``OMP_NUM_THREADS`` says (1 in the documented run).
Writes ``benchmarks/results/molecules_oracle_timing.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from importlib.metadata import version
from pathlib import Path

from materials_ai.data import Molecule
from materials_ai.molecules.geometry import embed
from materials_ai.molecules.oracles import pyscf_gap, xtb_gap

ROOT = Path(__file__).resolve().parents[1]

#: Name -> SMILES, 20-30 heavy atoms (drugs, steroids, an acene, a photoresist epoxy).
XTB_MOLECULES = {
    "diazepam": "CN1C(=O)CN=C(c2ccccc2)c2cc(Cl)ccc21",
    "estradiol": "C[C@]12CC[C@H]3[C@@H](CCc4cc(O)ccc43)[C@@H]1CC[C@@H]2O",
    "testosterone": "C[C@]12CC[C@H]3[C@@H](CCC4=CC(=O)CC[C@@]43C)[C@@H]1CC[C@@H]2O",
    "pentacene": "c1ccc2cc3cc4cc5ccccc5cc4cc3cc2c1",
    "quercetin": "O=c1c(O)c(-c2ccc(O)c(O)c2)oc2cc(O)cc(O)c12",
    "warfarin": "CC(=O)CC(c1ccccc1)c1c(O)c2ccccc2oc1=O",
    "bisphenol A diglycidyl ether": "CC(C)(c1ccc(OCC2CO2)cc1)c1ccc(OCC2CO2)cc1",
    "loratadine": "CCOC(=O)N1CCC(=C2c3ccc(Cl)cc3CCc3cccnc32)CC1",
    "tamoxifen": "CC/C(=C(\\c1ccccc1)c1ccc(OCCN(C)C)cc1)c1ccccc1",
    "cholesterol": "CC(C)CCC[C@@H](C)[C@H]1CC[C@H]2[C@@H]3CC=C4C[C@@H](O)CC[C@]4(C)[C@H]3CC[C@]12C",
}
#: Small molecules for the DFT timing.
PYSCF_MOLECULES = {"water": "O", "benzene": "c1ccccc1"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="xTB repeats per molecule")
    parser.add_argument("--no-pyscf", action="store_true")
    parser.add_argument(
        "--results",
        type=Path,
        default=ROOT / "benchmarks" / "results" / "molecules_oracle_timing.json",
    )
    args = parser.parse_args()
    load_start = os.getloadavg()
    xtb_rows = []
    for name, smiles in XTB_MOLECULES.items():
        molecule = Molecule.from_smiles(smiles)
        heavy = molecule.to_rdkit().GetNumHeavyAtoms()
        start = time.perf_counter()
        geometry = embed(molecule)
        embed_s = time.perf_counter() - start
        outs = [xtb_gap(geometry) for _ in range(args.runs)]
        times = [o["seconds"] for o in outs]
        xtb_rows.append(
            {
                "name": name,
                "smiles": molecule.smiles,
                "heavy_atoms": heavy,
                "atoms": len(geometry.numbers),
                "embed_s": embed_s,
                "xtb_s": times,
                "xtb_s_median": statistics.median(times),
                "gap_ev": outs[0]["gap"],
                "homo_ev": outs[0]["homo"],
            }
        )
        print(
            f"xtb {name}: {heavy} heavy / {len(geometry.numbers)} atoms, gap "
            f"{outs[0]['gap']:.2f} eV, {statistics.median(times):.2f} s "
            f"(embed {embed_s:.2f} s)"
        )
    pyscf_rows = []
    if not args.no_pyscf:
        for name, smiles in PYSCF_MOLECULES.items():
            molecule = Molecule.from_smiles(smiles)
            geometry = embed(molecule)
            out = pyscf_gap(geometry, threads=int(os.environ.get("OMP_NUM_THREADS", "1")))
            pyscf_rows.append(
                {
                    "name": name,
                    "smiles": molecule.smiles,
                    "atoms": len(geometry.numbers),
                    "n_basis": out["n_basis"],
                    "seconds": out["seconds"],
                    "gap_ev": out["gap"],
                    "homo_ev": out["homo"],
                }
            )
            print(
                f"pyscf {name}: {out['n_basis']:.0f} basis functions, gap {out['gap']:.2f} eV, "
                f"{out['seconds']:.1f} s"
            )
    medians = [r["xtb_s_median"] for r in xtb_rows]
    result = {
        "benchmark": "molecular_oracle_timing",
        "command": (
            f"OMP_NUM_THREADS=1 python benchmarks/molecules_oracle_timing.py --runs {args.runs}"
        ),
        "date": time.strftime("%Y-%m-%d"),
        "target_xtb_s": 2.0,
        "xtb_method": "GFN2-xTB (tblite), 300 K Fermi smearing, ETKDG + MMFF94 geometry",
        "pyscf_method": "B3LYP/def2-SVP, density fitting, grid level 3, RKS",
        "xtb_runs_per_molecule": args.runs,
        "xtb": xtb_rows,
        "xtb_s_median_over_molecules": statistics.median(medians),
        "xtb_s_max_over_molecules": max(medians),
        "pyscf": pyscf_rows,
        "machine": {
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
            "tblite": version("tblite"),
            "pyscf": version("pyscf"),
            "rdkit": version("rdkit"),
            "load_average_at_start": load_start,
            "load_average_end": os.getloadavg(),
        },
    }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
