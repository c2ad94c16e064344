"""Re-validate a molecular campaign's ranked list: GFN2-xTB on the top N, DFT on the best M.

    .venv/bin/python benchmarks/molecules_validate.py RUN_DIR --top-xtb 20 --top-dft 3
    .venv/bin/python benchmarks/molecules_validate.py picks.smi --out-dir val/ --top-dft 1

A thin entry point to :mod:`materials_ai.molecules.validate` (same options as
``python -m materials_ai.molecules.validate --help``). Writes
``validated_candidates.csv`` (``xtb_*`` and ``dft_*`` columns, eV and s),
``validation_skipped.csv``, ``validation_summary.json`` and the durable job store of the
two-stage ``OracleChain`` (``xtb`` -> ``dft``), ``validation_jobs/``, next to the ranked list
(``RUN_DIR/final/``). Rerunning it collects finished jobs instead of recomputing them.
"""

from __future__ import annotations

from materials_ai.molecules.validate import main

if __name__ == "__main__":
    raise SystemExit(main())
