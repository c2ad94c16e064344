"""PFAS classification against labels written from the OECD (2021) definition (issue 9).

    .venv/bin/python benchmarks/molecules_pfas.py --runs 3

The labelled list is ``LABELLED`` in ``tests/molecules/test_pfas.py`` (name, SMILES, label,
which carbon decides it): the molecules the issue names (PFOS, PFOA, triflate, nonaflate,
fluorobenzene, a CHF2 group) plus refrigerants, etch gases, anaesthetics, drugs and
photoacid generators. Reports accuracy, the confusion matrix, the misclassified names and
the time per molecule of :func:`materials_ai.molecules.pfas.is_pfas` on SMILES input.
Writes ``benchmarks/results/molecules_pfas.json``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import time
from pathlib import Path

from materials_ai.molecules.pfas import is_pfas

ROOT = Path(__file__).resolve().parents[1]


def load_labelled() -> list[tuple[str, str, bool, str]]:
    """The labelled list of the PFAS tests (single source of truth)."""
    path = ROOT / "tests" / "molecules" / "test_pfas.py"
    spec = importlib.util.spec_from_file_location("pfas_labels", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return list(module.LABELLED)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--results", type=Path, default=ROOT / "benchmarks" / "results" / "molecules_pfas.json"
    )
    args = parser.parse_args()
    labelled = load_labelled()
    load_start = os.getloadavg()
    runs = []
    for _ in range(args.runs):
        start = time.perf_counter()
        predicted = [is_pfas(smiles) for _, smiles, _, _ in labelled]
        runs.append(time.perf_counter() - start)
    truth = [label for _, _, label, _ in labelled]
    tp = sum(p and t for p, t in zip(predicted, truth, strict=True))
    tn = sum(not p and not t for p, t in zip(predicted, truth, strict=True))
    fp = sum(p and not t for p, t in zip(predicted, truth, strict=True))
    fn = sum(not p and t for p, t in zip(predicted, truth, strict=True))
    wrong = [
        name for (name, _, label, _), p in zip(labelled, predicted, strict=True) if p is not label
    ]
    result = {
        "benchmark": "pfas_oecd_2021_classification",
        "command": f"python benchmarks/molecules_pfas.py --runs {args.runs}",
        "date": time.strftime("%Y-%m-%d"),
        "labels": "tests/molecules/test_pfas.py::LABELLED",
        "n_molecules": len(labelled),
        "n_pfas": sum(truth),
        "n_non_pfas": len(truth) - sum(truth),
        "accuracy": (tp + tn) / len(labelled),
        "confusion": {"tp": tp, "tn": tn, "fp": fp, "fn": fn},
        "misclassified": wrong,
        "target_accuracy": 1.0,
        "runs": args.runs,
        "seconds_per_run": runs,
        "ms_per_molecule_median": 1e3 * statistics.median(runs) / len(labelled),
        "machine": {
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_at_start": load_start,
        },
    }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(result, indent=1))
    print(
        f"{len(labelled)} molecules ({sum(truth)} PFAS): accuracy {result['accuracy']:.1%}, "
        f"confusion {result['confusion']}, misclassified {wrong}, "
        f"{result['ms_per_molecule_median']:.2f} ms/molecule"
    )


if __name__ == "__main__":
    main()
