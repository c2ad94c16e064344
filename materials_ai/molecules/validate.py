"""Re-validate the top of a molecular ranked list: GFN2-xTB on N, then DFT on the best M.

A finished molecular campaign (``workflows/pfas_free_molecules.yaml``) ranks molecules by
the surrogate and the replayed QM9 values. This module takes that ranked list (or any list
of SMILES), computes

1. GFN2-xTB (tblite) HOMO/LUMO/gap on the first ``top_xtb`` molecules, and
2. B3LYP/def2-SVP (PySCF) on the ``top_dft`` best of those by an xTB value,

as durable jobs of :class:`~materials_ai.oracles.job_oracle.JobOracle` (one job directory
per molecule and method under ``<out_dir>/validation_jobs/``, detached worker processes),
and writes ``validated_candidates.csv`` next to the ranked list: every input column plus
``xtb_*`` and ``dft_*`` columns (eV, seconds). Running it again continues: finished jobs are
read back, never recomputed; jobs whose worker died are re-launched.

Command line (also ``benchmarks/molecules_validate.py``)::

    python -m materials_ai.molecules.validate RUN_DIR --top-xtb 20 --top-dft 3
    python -m materials_ai.molecules.validate smiles.txt --out-dir val/ --top-dft 1

Input rows whose SMILES RDKit rejects are reported by row (``validation_skipped.csv``) and
the rest proceed. GFN2-xTB gaps are several eV below B3LYP's: rank with them, do not compare
them with QM9's B3LYP values.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from materials_ai.data.records import Candidate, Observation, SkippedRow
from materials_ai.errors import DataError, MaterialsAIError
from materials_ai.molecules.validation_input import (
    InputRow,
    find_ranked_list,
    parse_rows,
    read_molecule_rows,
)
from materials_ai.oracles.config import PySCFOracleConfig, XTBOracleConfig
from materials_ai.oracles.job_oracle import JobOracle, ProcessLauncher
from materials_ai.oracles.jobs import JobStore

__all__ = [
    "VALIDATED_FILE",
    "InputRow",
    "ValidationConfig",
    "ValidationResult",
    "find_ranked_list",
    "main",
    "parse_rows",
    "read_molecule_rows",
    "validate_molecules",
    "validate_ranked_list",
]

logger = logging.getLogger(__name__)

VALIDATED_FILE = "validated_candidates.csv"
SKIPPED_FILE = "validation_skipped.csv"
SUMMARY_FILE = "validation_summary.json"
VALUE_NAMES = ("homo", "lumo", "gap")
STAGES = ("xtb", "dft")


class ValidationConfig(BaseModel):
    """What to validate and how.

    Attributes:
        top_xtb: Molecules of the list (from the top) computed with xTB.
        top_dft: Molecules passed on to DFT, picked among the successful xTB results.
        rank_by: xTB value (``gap``, ``homo``, ``lumo``) ranking the xTB results before
            taking ``top_dft``; None keeps the input (ranked-list) order.
        descending: Rank ``rank_by`` from high to low.
        min_values: xTB values (eV) a molecule needs at least to go to DFT.
        max_values: xTB values (eV) a molecule may have at most to go to DFT.
        xtb: GFN2-xTB settings.
        dft: PySCF settings (default B3LYP/def2-SVP, density fitting).
        job_dir: Job store folder, relative to the output folder (or absolute).
        max_parallel: Concurrent worker processes.
        xtb_batch_size: xTB molecules per worker process.
        dft_cores: Threads of a DFT worker (BLAS/OpenMP).
        xtb_timeout_s: Wall-clock limit of one xTB job (s).
        dft_timeout_s: Wall-clock limit of one DFT job (s).
        wait_timeout_s: How long to wait for each stage (s); None: until it finishes.
            Unfinished jobs are reported ``pending`` and a rerun collects them.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    top_xtb: int = Field(20, ge=0)
    top_dft: int = Field(3, ge=0)
    rank_by: str | None = "gap"
    descending: bool = True
    min_values: dict[str, float] = Field(default_factory=dict)
    max_values: dict[str, float] = Field(default_factory=dict)
    xtb: XTBOracleConfig = XTBOracleConfig()
    dft: PySCFOracleConfig = PySCFOracleConfig()
    job_dir: str = "validation_jobs"
    max_parallel: int = Field(1, ge=1)
    xtb_batch_size: int = Field(50, ge=1)
    dft_cores: int = Field(1, ge=1)
    xtb_timeout_s: float | None = Field(300.0, gt=0)
    dft_timeout_s: float | None = Field(7200.0, gt=0)
    wait_timeout_s: float | None = Field(None, ge=0)


@dataclass(frozen=True)
class ValidationResult:
    """What :func:`validate_molecules` wrote.

    Attributes:
        table: One row per input molecule (input order) with ``xtb_*``/``dft_*`` columns.
        skipped: Input rows that could not be used.
        csv_path: Path of the validated CSV.
        summary: Counts and timings (also in ``validation_summary.json``).
    """

    table: pd.DataFrame
    skipped: tuple[SkippedRow, ...]
    csv_path: Path
    summary: Mapping[str, Any]


# --------------------------------------------------------------------------- running


def _oracle(
    kind: str, config: ValidationConfig, root: Path, launcher: ProcessLauncher
) -> JobOracle:
    if kind == "xtb":
        return JobOracle(
            config.xtb.task(),
            JobStore(root / "xtb"),
            name="xtb",
            launcher=launcher,
            batch_size=config.xtb_batch_size,
            cores=1,
            timeout_s=config.xtb_timeout_s,
        )
    return JobOracle(
        config.dft.task(),
        JobStore(root / "dft"),
        name="dft",
        launcher=launcher,
        batch_size=1,
        cores=config.dft_cores,
        timeout_s=config.dft_timeout_s,
    )


def _run_stage(
    oracle: JobOracle, rows: Sequence[InputRow], wait_timeout_s: float | None
) -> dict[str, Observation | None]:
    """Submit ``rows``, wait, and return candidate id -> observation (None: pending)."""
    if not rows:
        return {}
    candidates = [Candidate(r.id, r.molecule, source="validate") for r in rows]
    tickets = oracle.submit(candidates)
    logger.info("%s: %d jobs in %s", oracle.name, len(tickets), oracle.store.root)
    oracle.wait(tickets, timeout_s=wait_timeout_s, poll_s=0.5)
    out: dict[str, Observation | None] = {r.id: None for r in rows}
    for observation in oracle.collect(tickets):
        out[observation.candidate_id] = observation
    return out


def select_for_dft(
    rows: Sequence[InputRow],
    xtb: Mapping[str, Observation | None],
    config: ValidationConfig,
) -> list[InputRow]:
    """The molecules that go to DFT: successful xTB, inside the filters, best ``top_dft``.

    Ranking by ``config.rank_by`` (ties and missing values keep the input order).
    """
    passed = []
    for order, row in enumerate(rows):
        obs = xtb.get(row.id)
        if obs is None or not obs.ok:
            continue
        values = obs.values
        if any(not values.get(k, math.nan) >= v for k, v in config.min_values.items()):
            continue
        if any(not values.get(k, math.nan) <= v for k, v in config.max_values.items()):
            continue
        passed.append((order, row, values))
    if config.rank_by is not None:
        sign = -1.0 if config.descending else 1.0
        key = config.rank_by

        def rank(item: tuple[int, InputRow, Mapping[str, float]]) -> tuple[float, int]:
            value = item[2].get(key)
            ok = value is not None and math.isfinite(value)
            return (sign * float(value) if ok else math.inf, item[0])  # type: ignore[arg-type]

        passed.sort(key=rank)
    return [row for _, row, _ in passed[: config.top_dft]]


def _stage_columns(
    prefix: str, obs: Observation | None, submitted: bool
) -> dict[str, float | str | None]:
    cols: dict[str, float | str | None] = {f"{prefix}_{v}": math.nan for v in VALUE_NAMES}
    if not submitted:
        return {
            **cols,
            f"{prefix}_status": "",
            f"{prefix}_wall_s": math.nan,
            f"{prefix}_reason": "",
        }
    if obs is None:
        return {
            **cols,
            f"{prefix}_status": "pending",
            f"{prefix}_wall_s": math.nan,
            f"{prefix}_reason": "",
        }
    for v in VALUE_NAMES:
        if v in obs.values:
            cols[f"{prefix}_{v}"] = float(obs.values[v])
    wall = obs.provenance.get("wall_s")
    return {
        **cols,
        f"{prefix}_status": "done" if obs.ok else "failed",
        f"{prefix}_wall_s": float(wall) if wall is not None else math.nan,
        f"{prefix}_reason": obs.reason,
    }


def validate_molecules(
    rows: Sequence[InputRow],
    out_dir: str | Path,
    config: ValidationConfig | None = None,
    *,
    skipped: Sequence[SkippedRow] = (),
    source: str = "",
) -> ValidationResult:
    """Run xTB on the first ``top_xtb`` rows and DFT on the best ``top_dft`` of those.

    Args:
        rows: Parsed molecules, best first (ranked-list order).
        out_dir: Where ``validated_candidates.csv``, ``validation_skipped.csv``,
            ``validation_summary.json`` and (by default) the job store go.
        config: Settings (defaults: 20 xTB, 3 DFT ranked by xTB gap, high first).
        skipped: Input rows already rejected (written to ``validation_skipped.csv``).
        source: Where the rows came from (recorded in the summary).

    Returns:
        The table (every input row, with ``xtb_homo, xtb_lumo, xtb_gap`` in eV,
        ``xtb_status`` (``done``/``failed``/``pending``/empty when not submitted),
        ``xtb_wall_s``, ``xtb_reason`` and the same ``dft_*`` columns, ``dft_selected``)
        and where it was written.

    Raises:
        OracleError: If the job machinery fails outside a single job.
    """
    config = config or ValidationConfig()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    root = Path(config.job_dir)
    if not root.is_absolute():
        root = out_dir / root
    started = time.perf_counter()
    launcher = ProcessLauncher(config.max_parallel)
    try:
        xtb_rows = list(rows[: config.top_xtb])
        xtb_oracle = _oracle("xtb", config, root, launcher)
        t0 = time.perf_counter()
        xtb = _run_stage(xtb_oracle, xtb_rows, config.wait_timeout_s)
        xtb_seconds = time.perf_counter() - t0
        dft_rows = select_for_dft(xtb_rows, xtb, config)
        dft_oracle = _oracle("dft", config, root, launcher)
        t0 = time.perf_counter()
        dft = _run_stage(dft_oracle, dft_rows, config.wait_timeout_s)
        dft_seconds = time.perf_counter() - t0
    finally:
        launcher.close()

    records = []
    dft_ids = {r.id for r in dft_rows}
    for row in rows:
        record: dict[str, Any] = {"id": row.id, "smiles": row.molecule.smiles, **row.fields}
        record.update(_stage_columns("xtb", xtb.get(row.id), row.id in xtb))
        record["dft_selected"] = row.id in dft_ids
        record.update(_stage_columns("dft", dft.get(row.id), row.id in dft))
        records.append(record)
    table = pd.DataFrame.from_records(records)
    if "rank" in table.columns:  # a ranked list: keep its rank first
        table = table[["rank", *(c for c in table.columns if c != "rank")]]
    csv_path = out_dir / VALIDATED_FILE
    table.to_csv(csv_path, index=False)
    pd.DataFrame(
        [{"row": s.row, "id": s.id, "field": s.field, "reason": s.reason} for s in skipped],
        columns=["row", "id", "field", "reason"],
    ).to_csv(out_dir / SKIPPED_FILE, index=False)

    def counts(stage: Mapping[str, Observation | None]) -> dict[str, int]:
        return {
            "submitted": len(stage),
            "done": sum(o is not None and o.ok for o in stage.values()),
            "failed": sum(o is not None and not o.ok for o in stage.values()),
            "pending": sum(o is None for o in stage.values()),
        }

    summary = {
        "source": source,
        "n_input": len(rows) + len(skipped),
        "n_skipped": len(skipped),
        "xtb": {
            **counts(xtb),
            "seconds": xtb_seconds,
            "settings": config.xtb.model_dump(),
        },
        "dft": {
            **counts(dft),
            "seconds": dft_seconds,
            "settings": config.dft.model_dump(),
        },
        "config": config.model_dump(mode="json"),
        "job_dir": str(root),
        "csv": str(csv_path),
        "seconds": time.perf_counter() - started,
    }
    (out_dir / SUMMARY_FILE).write_text(json.dumps(summary, indent=1, default=str))
    return ValidationResult(table, tuple(skipped), csv_path, summary)


def validate_ranked_list(
    source: str | Path,
    config: ValidationConfig | None = None,
    *,
    out_dir: str | Path | None = None,
) -> ValidationResult:
    """Validate a run directory's ranked list, a ranked CSV, or a SMILES file.

    Args:
        source: Run directory (``final/ranked_candidates.csv``, else the latest
            ``iterations/iter_NNN/``), a CSV with ``smiles`` (and ``id``) columns, or a
            text file with one SMILES (and optional id) per line.
        config: Settings.
        out_dir: Output folder (default: the ranked list's folder).

    Raises:
        DataError: If no input is found or it has no molecules.
    """
    source = Path(source)
    path = find_ranked_list(source) if source.is_dir() else source
    rows, skipped = read_molecule_rows(path)
    for s in skipped:
        logger.warning("skipped input %s", s)
    if not rows:
        raise DataError(f"{path}: no valid molecule ({len(skipped)} rows skipped)")
    target = Path(out_dir) if out_dir is not None else path.parent
    return validate_molecules(rows, target, config, skipped=skipped, source=str(path))


# --------------------------------------------------------------------------- CLI


def build_parser() -> argparse.ArgumentParser:
    """The command-line options (see the module docstring)."""
    parser = argparse.ArgumentParser(
        prog="python -m materials_ai.molecules.validate",
        description="GFN2-xTB on the top N of a molecular ranked list, then DFT on the best M.",
    )
    parser.add_argument("source", type=Path, help="run dir, ranked CSV or SMILES file")
    parser.add_argument("--out-dir", type=Path, help="default: next to the ranked list")
    parser.add_argument("--top-xtb", type=int, default=20)
    parser.add_argument("--top-dft", type=int, default=3)
    parser.add_argument("--rank-by", default="gap", help="xTB value; 'none': list order")
    parser.add_argument("--ascending", action="store_true", help="rank low values first")
    parser.add_argument("--min-gap", type=float, help="xTB gap (eV) needed for DFT")
    parser.add_argument("--max-gap", type=float, help="xTB gap (eV) allowed for DFT")
    parser.add_argument("--basis", default="def2-SVP")
    parser.add_argument("--xc", default="B3LYP")
    parser.add_argument("--grid-level", type=int, default=3)
    parser.add_argument("--dft-cores", type=int, default=1)
    parser.add_argument("--max-parallel", type=int, default=1)
    parser.add_argument("--wait-timeout-s", type=float, help="per stage; default: no limit")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        config = ValidationConfig(
            top_xtb=args.top_xtb,
            top_dft=args.top_dft,
            rank_by=None if args.rank_by.lower() == "none" else args.rank_by,
            descending=not args.ascending,
            min_values={} if args.min_gap is None else {"gap": args.min_gap},
            max_values={} if args.max_gap is None else {"gap": args.max_gap},
            dft=PySCFOracleConfig(xc=args.xc, basis=args.basis, grid_level=args.grid_level),
            dft_cores=args.dft_cores,
            max_parallel=args.max_parallel,
            wait_timeout_s=args.wait_timeout_s,
        )
        result = validate_ranked_list(args.source, config, out_dir=args.out_dir)
    except (MaterialsAIError, ValueError) as exc:
        print(f"error: {exc}")
        return 1
    shown = ["id", "smiles", "xtb_gap", "xtb_status", "dft_gap", "dft_status"]
    done = result.table[result.table["xtb_status"] != ""]
    print(done[[c for c in shown if c in done.columns]].to_string(index=False))
    for s in result.skipped:
        print(f"skipped: {s}")
    print(f"wrote {result.csv_path}")
    summary = result.summary
    print(
        f"xTB {summary['xtb']['done']}/{summary['xtb']['submitted']} done "
        f"({summary['xtb']['seconds']:.1f} s); DFT {summary['dft']['done']}/"
        f"{summary['dft']['submitted']} done ({summary['dft']['seconds']:.1f} s)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
