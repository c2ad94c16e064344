"""Re-validate the top of a molecular ranked list: a two-stage chain, GFN2-xTB then DFT.

A finished molecular campaign (``workflows/pfas_free_molecules.yaml``) ranks molecules by
the surrogate and the replayed QM9 values. This module takes that ranked list (or any list
of SMILES) and runs it through one :class:`~materials_ai.oracles.chain.OracleChain`, the
engine of the computed crystal campaigns, built from the same
:class:`~materials_ai.oracles.config.FidelityChainConfig` (:meth:`ValidationConfig.chain_config`):

1. stage ``xtb``: GFN2-xTB (tblite) HOMO/LUMO/gap on the first ``top_xtb`` molecules
   (``xtb_batch_size`` molecules per worker process), then
2. stage ``dft``: B3LYP/def2-SVP (PySCF) on the ``top_dft`` best of those by an xTB value
   (``rank_by``, ``descending``, ``min_values``/``max_values``), on the input molecule.

The list is submitted to the chain once, waited on, and each molecule's per-stage
observations are read back (:meth:`~materials_ai.oracles.chain.OracleChain.stage_observations`).
``validated_candidates.csv`` is written next to the ranked list: every input column plus
``xtb_*`` and ``dft_*`` columns (eV, seconds). As in any chain, the DFT selection is made
once every xTB job of the list has finished; until then the ``dft_*`` columns stay empty.

Job directory layout (``<out_dir>/validation_jobs/`` by default): the chain's state
``chain.json`` (groups, DFT selections), one job store per stage (``xtb/``, ``dft/``) and
``validation_tickets.json`` (the chain tickets of each validation request, keyed by the
molecules and the selection settings). Running it again continues: the same request gets
its tickets back, finished jobs are read back, never recomputed, and jobs whose worker died
are re-launched. Job directories of the earlier, chain-less version have the same job ids
and are reused; a ``chain.json`` written for other stages makes it stop (use another
``job_dir``).

Command line (also ``benchmarks/molecules_validate.py``)::

    python -m materials_ai.molecules.validate RUN_DIR --top-xtb 20 --top-dft 3
    python -m materials_ai.molecules.validate smiles.txt --out-dir val/ --top-dft 1

Input rows whose SMILES RDKit rejects are reported by row (``validation_skipped.csv``) and
the rest proceed. GFN2-xTB gaps are several eV below B3LYP's: rank with them, do not compare
them with QM9's B3LYP values.
"""

from __future__ import annotations

import argparse
import hashlib
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
from materials_ai.errors import DataError, MaterialsAIError, OracleError
from materials_ai.molecules.validation_input import (
    InputRow,
    find_ranked_list,
    parse_rows,
    read_molecule_rows,
)
from materials_ai.oracles.base import Ticket
from materials_ai.oracles.chain import OracleChain
from materials_ai.oracles.config import (
    ChainStageConfig,
    FidelityChainConfig,
    PySCFOracleConfig,
    ResourcesConfig,
    XTBOracleConfig,
)
from materials_ai.oracles.jobs import atomic_write_json, read_json

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
TICKETS_FILE = "validation_tickets.json"
VALUE_NAMES = ("homo", "lumo", "gap")
STAGES = ("xtb", "dft")
POLL_S = 0.5
# Stage fields that only say how jobs run, not which jobs a request makes.
_RUN_FIELDS = {"batch_size", "resources"}


class ValidationConfig(BaseModel):
    """What to validate and how (mapped onto a chain by :meth:`chain_config`).

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
        wait_timeout_s: How long to wait for the chain, both stages together (s); None:
            until it finishes. Unfinished jobs are reported ``pending`` and a rerun
            collects them.
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

    def chain_config(self) -> FidelityChainConfig:
        """The two-stage chain (``xtb`` -> ``dft``) these settings describe.

        The same config a workflow's ``oracle: {kind: chain}`` section holds: worker
        processes of this process (``launcher: processes``), ``job_dir`` relative to the
        output folder. DFT runs on the input molecule (xTB returns no geometry to pass on).
        """
        return FidelityChainConfig(
            job_dir=self.job_dir,
            launcher="processes",
            max_parallel=self.max_parallel,
            wait_timeout_s=self.wait_timeout_s,
            poll_s=POLL_S,
            stages=[
                ChainStageConfig(
                    oracle=self.xtb,
                    name="xtb",
                    batch_size=self.xtb_batch_size,
                    resources=ResourcesConfig(cores=1, timeout_s=self.xtb_timeout_s),
                ),
                ChainStageConfig(
                    oracle=self.dft,
                    name="dft",
                    select_top=self.top_dft,
                    rank_by=self.rank_by,
                    descending=self.descending,
                    min_values=dict(self.min_values),
                    max_values=dict(self.max_values),
                    use_output_structure=False,
                    batch_size=1,
                    resources=ResourcesConfig(cores=self.dft_cores, timeout_s=self.dft_timeout_s),
                ),
            ],
        )


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


def _request_key(chain_config: FidelityChainConfig, rows: Sequence[InputRow]) -> str:
    """Fingerprint of a request: its molecules and what decides the chain's jobs."""
    payload = {
        "stages": [s.model_dump(mode="json", exclude=_RUN_FIELDS) for s in chain_config.stages],
        "molecules": [[r.id, r.molecule.smiles] for r in rows],
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _submit_once(chain: OracleChain, rows: Sequence[InputRow], key: str) -> list[Ticket]:
    """The chain tickets of ``rows``: those of an earlier run of the same request, else new."""
    if not rows:
        return []
    path = chain.state_dir / TICKETS_FILE
    known: dict[str, Any] = dict(read_json(path)) if path.exists() else {}
    if key in known:
        tickets = [Ticket.from_dict(t) for t in known[key]]
        try:
            chain.finished(tickets)  # raises if chain.json does not know them
        except OracleError as exc:
            logger.warning("submitting again: %s", exc)
        else:
            logger.info("continuing %d chain tickets of %s", len(tickets), path)
            return tickets
    candidates = [Candidate(r.id, r.molecule, source="validate") for r in rows]
    tickets = chain.submit(candidates)
    known[key] = [t.to_dict() for t in tickets]
    atomic_write_json(path, known)
    logger.info("submitted %d molecules to chain %s", len(tickets), chain.state_dir)
    return tickets


def _wait(
    chain: OracleChain, tickets: Sequence[Ticket], timeout_s: float | None
) -> tuple[float, float]:
    """Wait for the chain (relaunching dead workers); returns seconds of each stage (s).

    The first stage's time runs until all its jobs of ``tickets`` have finished, the
    second's from then on; what remains unfinished at ``timeout_s`` stays pending.
    """
    start = time.monotonic()
    deadline = None if timeout_s is None else start + timeout_s
    first = chain.stages[0].oracle.name
    first_done: float | None = None
    while True:
        chain.resubmit(tickets)  # relaunches orphans and makes due selections
        settled = all(chain.finished(tickets))
        now = time.monotonic()
        if first_done is None and (
            settled or all(chain.stage_observations(t).get(first) is not None for t in tickets)
        ):
            first_done = now
        if settled or (deadline is not None and now >= deadline):
            break
        time.sleep(POLL_S)
    end = time.monotonic()
    if first_done is None:
        return end - start, 0.0
    return first_done - start, end - first_done


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


def _counts(stages: Mapping[str, Mapping[str, Observation | None]], stage: str) -> dict[str, int]:
    entered = [seen[stage] for seen in stages.values() if stage in seen]
    return {
        "submitted": len(entered),
        "done": sum(o is not None and o.ok for o in entered),
        "failed": sum(o is not None and not o.ok for o in entered),
        "pending": sum(o is None for o in entered),
    }


def validate_molecules(
    rows: Sequence[InputRow],
    out_dir: str | Path,
    config: ValidationConfig | None = None,
    *,
    skipped: Sequence[SkippedRow] = (),
    source: str = "",
) -> ValidationResult:
    """Run the ``xtb`` -> ``dft`` chain on the first ``top_xtb`` rows.

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
        OracleError: If the job machinery fails outside a single job, or the job folder's
            ``chain.json`` was written for other stages.
    """
    config = config or ValidationConfig()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    chain_config = config.chain_config()
    started = time.perf_counter()
    chain = chain_config.build(out_dir)
    try:
        xtb_rows = list(rows[: config.top_xtb])
        tickets = _submit_once(chain, xtb_rows, _request_key(chain_config, xtb_rows))
        xtb_seconds, dft_seconds = _wait(chain, tickets, config.wait_timeout_s)
        stages = {t.candidate_id: chain.stage_observations(t) for t in tickets}
        settled = sum(chain.finished(tickets))
    finally:
        chain.close()

    records = []
    for row in rows:
        seen = stages.get(row.id, {})
        record: dict[str, Any] = {"id": row.id, "smiles": row.molecule.smiles, **row.fields}
        record.update(_stage_columns("xtb", seen.get("xtb"), "xtb" in seen))
        record["dft_selected"] = "dft" in seen
        record.update(_stage_columns("dft", seen.get("dft"), "dft" in seen))
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

    summary = {
        "source": source,
        "n_input": len(rows) + len(skipped),
        "n_skipped": len(skipped),
        "xtb": {
            **_counts(stages, "xtb"),
            "seconds": xtb_seconds,
            "settings": config.xtb.model_dump(),
        },
        "dft": {
            **_counts(stages, "dft"),
            "seconds": dft_seconds,
            "settings": config.dft.model_dump(),
        },
        "settled": settled,
        "config": config.model_dump(mode="json"),
        "chain": chain_config.model_dump(mode="json"),
        "job_dir": str(chain.state_dir),
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
        description="GFN2-xTB on the top N of a molecular ranked list, then DFT on the best M "
        "(a two-stage OracleChain).",
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
    parser.add_argument("--wait-timeout-s", type=float, help="both stages; default: no limit")
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
