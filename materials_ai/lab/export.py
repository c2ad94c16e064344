"""The lab hand-off bundle: what a laboratory receives from a campaign.

``write_bundle(run_dir, out_dir, top=20, lang="en")`` writes::

    README.txt            for the lab (English or Spanish): contents, objective, how to reply
    candidates.csv        one row per candidate, best first (columns: CANDIDATE_COLUMNS)
    candidates.json       {"schema_version", "kind", "created", "campaign", "columns",
                           "candidates": [...]}
    schema.json           every column of candidates.csv and of results_template.csv:
                          name, type, unit, description; plus the results rules
    cifs/NNN_<id>_<formula>.cif   one symmetrised CIF per candidate (space group written)
    report.html           the campaign report (see materials_ai.report.html)
    results_template.csv  id column pre-filled; measured_<target>_<unit>, phase_pure,
                          synthesized and notes left empty for the lab

``export_campaign`` never destroys a lab's work: a folder that already holds a bundle (the
lab may have filled its ``results_template.csv`` there) is left as it is, and the new
bundle is written into the next free version subfolder, ``v2/``, ``v3/`` … of it. An
export into the run directory (the default ``RUN_DIR/export``) takes the run's lock, so it
waits for (``wait_s``) or refuses while a campaign is running there; exports elsewhere only
read the run.

The layout is versioned by :data:`~materials_ai.lab.schema.BUNDLE_SCHEMA_VERSION` (in
``candidates.json``, ``schema.json`` and the README); ``docs/lab_handoff.md`` documents it
for people. A change that renames or removes a column, or changes its meaning or unit,
increments the version. The columns themselves are defined in :mod:`materials_ai.lab.schema`.
Columns that later screens add to the ranked list (hull distance, sustainability score …)
are passed through under their own names and listed in ``schema.json``.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from materials_ai.campaign.layout import cif_file_name
from materials_ai.data.records import Molecule
from materials_ai.errors import CampaignError
from materials_ai.lab.readme import describe_columns, render_readme
from materials_ai.lab.schema import (
    BUNDLE_SCHEMA_VERSION,
    ID_COLUMN,
    LEADING_COLUMNS,
    NOTES_COLUMN,
    STRUCTURE_COLUMNS,
    YES_NO_COLUMNS,
    Column,
    candidate_columns,
    results_columns,
    results_schema,
    unit_token,
)
from materials_ai.report.i18n import translator
from materials_ai.report.structures import molfile, summarize_structure, symmetrized_cif

if TYPE_CHECKING:
    import pandas as pd
    from pymatgen.core import Structure

__all__ = [
    "BUNDLE_SCHEMA_VERSION",
    "build_candidate_table",
    "bundle_folder",
    "export_campaign",
    "write_bundle",
]

logger = logging.getLogger(__name__)

#: Ranked-list columns that stay inside the campaign (not useful to a lab).
_INTERNAL = {"acquisition_value", "_structure_index"}

#: Descriptions of known pass-through columns (matched by substring).
_EXTRA_DESCRIPTIONS = {
    "hull": ("float", "eV/atom", "Energy above the convex hull (thermodynamic stability)."),
    "sustainab": ("float", "", "Sustainability score of the composition (higher is better)."),
    "smiles": ("str", "", "Canonical SMILES of the molecule (RDKit)."),
    "domain_distance": (
        "float",
        "",
        "Distance of the candidate to the surrogate's training data, relative to the "
        "training data's own spread (above 1: outside the model's domain, trust less).",
    ),
    "outside_domain": ("bool", "", "domain_distance above 1: an extrapolation."),
    "relaxed_energy": (
        "float",
        "eV/atom",
        "Final energy of the validation's relaxation (the potential's own scale); the CIF "
        "holds the relaxed cell.",
    ),
    "relaxed_max_force": ("float", "eV/Å", "Largest residual atomic force after relaxation."),
    "relaxed_volume_change": (
        "float",
        "",
        "Relaxed over initial cell volume minus 1 (0.05 = 5 % larger).",
    ),
}


def _value(value: Any) -> Any:
    """JSON-safe scalar (NaN -> None, NumPy -> Python)."""
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return None if not math.isfinite(float(value)) else float(value)
    return value


def _extra_columns(table: pd.DataFrame, known: set[str]) -> list[Column]:
    from pandas.api.types import is_numeric_dtype

    out = []
    for name in table.columns:
        if name in known or name in _INTERNAL:
            continue
        kind, unit, description = "str", "", "Added by a screen of this campaign."
        for needle, spec in _EXTRA_DESCRIPTIONS.items():
            if needle in name.lower():
                kind, unit, description = spec
        if kind == "str" and is_numeric_dtype(table[name].dtype):  # not pandas' str dtype
            kind = "float"
        out.append(Column(str(name), kind, unit, description))
    return out


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def build_candidate_table(
    ranked: pd.DataFrame,
    targets: Sequence[str],
    units: Mapping[str, str],
    fidelity: Mapping[str, str],
    structures: Mapping[str, Structure | Molecule],
) -> tuple[pd.DataFrame, list[Column]]:
    """candidates.csv as a DataFrame, and the documentation of each of its columns."""
    import pandas as pd

    core = candidate_columns(targets, units)
    renamed: dict[str, str] = {}
    for target in targets:
        token = unit_token(units.get(target, ""))
        suffix = f"_{token}" if token else ""
        for kind in ("pred_mean", "pred_std", "validated"):
            renamed[f"{target}_{kind}"] = f"{target}_{kind}{suffix}"
    extras = _extra_columns(ranked, {c.name for c in core} | set(renamed))
    rows = []
    for _, r in ranked.iterrows():
        cid = str(r["id"])
        row: dict[str, Any] = {c.name: r.get(c.name) for c in LEADING_COLUMNS}
        row["rank"] = int(r["rank"])
        row["id"] = cid
        row["fidelity"] = fidelity.get(cid, "") if r.get("status") == "validated" else ""
        if r.get("status") != "validated":  # unknown until validated: empty, never False
            row["satisfies_all"] = None
        for old, new in renamed.items():
            row[new] = r.get(old, np.nan)
        for c in extras:
            row[c.name] = r.get(c.name)
        structure = structures.get(cid)
        name = cif_file_name(int(r["rank"]), cid, str(r["formula"]))
        if isinstance(structure, Molecule):  # no cell: a molfile, no lattice columns
            for c in STRUCTURE_COLUMNS:
                row[c.name] = None
            row["cif_file"] = "cifs/" + name.removesuffix(".cif") + ".mol"
        elif structure is not None:
            s = summarize_structure(structure)
            for c in STRUCTURE_COLUMNS[:-1]:
                row[c.name] = getattr(s, c.name)
            row["cif_file"] = "cifs/" + name
        else:
            for c in STRUCTURE_COLUMNS:
                row[c.name] = None
        rows.append(row)
    columns = list(LEADING_COLUMNS) + [c for c in core if c.name in renamed.values()]
    columns += extras + list(STRUCTURE_COLUMNS)
    table = pd.DataFrame(rows, columns=[c.name for c in columns])
    return table, columns


def write_bundle(
    run_dir: str | Path,
    out_dir: str | Path,
    *,
    top: int = 20,
    lang: str = "en",
    structures: Mapping[str, Structure | Molecule] | None = None,
) -> dict[str, Path]:
    """Write the lab hand-off bundle of a campaign's latest ranked list.

    Structures come from the ranked lists' CIFs and, for candidates without one, from the
    campaign's pool (the dataset is loaded through ``MATERIALS_AI_DATA_DIR``).

    Args:
        run_dir: The run directory.
        out_dir: Bundle folder (created; it must not hold a bundle already, see
            :func:`bundle_folder`).
        top: Candidates to include, best first.
        lang: Language of README.txt and report.html (``en`` or ``es``).
        structures: Structures already at hand (id -> structure).

    Returns:
        Paths: ``csv``, ``json``, ``schema``, ``cifs``, ``report``, ``readme``, ``template``.

    Raises:
        CampaignError: No ranked list yet, ``top`` < 1, or ``out_dir`` holds a bundle.
        StaleOutputsError: The latest ranked list belongs to another campaign.
        ConfigError: Unsupported ``lang``.
    """
    from materials_ai import __version__
    from materials_ai.campaign.inspect import campaign_target_units, candidate_structures
    from materials_ai.campaign.rundir import RunDirectory
    from materials_ai.campaign.summary import rounds_done
    from materials_ai.report.analysis import fidelities_by_candidate
    from materials_ai.report.html import write_report
    from materials_ai.surrogates.describe import describe_surrogate

    translator(lang)  # fail on an unsupported language before any work
    if top < 1:
        raise CampaignError(f"--top must be at least 1, got {top}")
    rundir, out = RunDirectory(run_dir), Path(out_dir)
    if _holds_bundle(out):
        raise CampaignError(f"{out} already holds a bundle; it is never overwritten")
    run_dir = rundir.path
    state = rundir.read_state()
    config = rundir.read_workflow(state)
    ranked, payload, _ = rundir.latest_ranked_list(state)
    ranked = ranked.head(top)
    units = dict(payload.get("target_units") or {})
    if any(x not in units for x in config.targets):
        units = {**campaign_target_units(run_dir, config), **units}
    ids = [str(i) for i in ranked["id"]]
    found = dict(structures or {})
    wanted = [i for i in ids if i not in found]
    if wanted:
        formulas = [str(f) for f, i in zip(ranked["formula"], ids, strict=True) if i in wanted]
        found.update(candidate_structures(run_dir, wanted, formulas=formulas, load_pool=True))
    missing = [i for i in ids if i not in found]
    if missing:
        logger.warning("no structure (and no CIF) for %d candidate(s): %s", len(missing), missing)

    out.mkdir(parents=True, exist_ok=True)
    table, columns = build_candidate_table(
        ranked, config.targets, units, fidelities_by_candidate(state), found
    )
    surrogate = describe_surrogate(config.surrogate, "en")
    columns = describe_columns(columns, surrogate)
    csv_path = out / "candidates.csv"
    tmp = csv_path.with_name(csv_path.name + ".tmp")
    table.to_csv(tmp, index=False, float_format="%.6g")
    os.replace(tmp, csv_path)

    cif_dir = out / "cifs"
    cif_dir.mkdir(exist_ok=True)
    for _, r in table.iterrows():
        structure = found.get(str(r["id"]))
        if isinstance(structure, Molecule):
            _write_text(out / str(r["cif_file"]), molfile(structure))
        elif structure is not None:
            _write_text(out / str(r["cif_file"]), symmetrized_cif(structure))

    created = datetime.now(UTC).isoformat(timespec="seconds")
    meta = dict(payload.get("metadata") or {})
    # Selection rounds as the user counts them (--iterations 3: 3 once finished): the
    # final list's iteration is one past the last round (campaign/summary.py).
    list_final = bool(meta.get("final", state.done))
    list_iteration = int(meta.get("iteration", state.iteration))
    list_rounds = max(list_iteration - 1, 0) if list_final else list_iteration
    rounds_total = config.loop.iterations
    campaign = {
        "name": config.name,
        "id": state.campaign_id,
        "description": config.description,
        "dataset": config.pool_label,
        "iteration": meta.get("iteration", state.iteration),
        "final": list_final,
        "selection_rounds": list_rounds,
        "selection_rounds_total": rounds_total,
        "oracle_calls": state.oracle_calls,
        "targets": {x: units.get(x, "") for x in config.targets},
        "objective": [c.model_dump(mode="json") for c in config.objective.criteria],
        "surrogate": surrogate.as_dict(),
    }
    json_path = out / "candidates.json"
    _write_text(
        json_path,
        json.dumps(
            {
                "schema_version": BUNDLE_SCHEMA_VERSION,
                "kind": "materials-ai lab hand-off",
                "created": created,
                "materials_ai_version": __version__,
                "campaign": campaign,
                "columns": [c.as_dict() for c in columns],
                "candidates": [
                    {k: _value(v) for k, v in row.items()} for row in table.to_dict("records")
                ],
            },
            indent=1,
            ensure_ascii=False,
        ),
    )
    schema_path = out / "schema.json"
    _write_text(
        schema_path,
        json.dumps(
            {
                "schema_version": BUNDLE_SCHEMA_VERSION,
                "surrogate": surrogate.as_dict(),
                "candidates_csv": {"columns": [c.as_dict() for c in columns]},
                "results_csv": results_schema(config.targets, units),
            },
            indent=1,
            ensure_ascii=False,
        ),
    )

    template_path = out / "results_template.csv"
    measured = [m.column for m in results_columns(config.targets, units)]
    header = [ID_COLUMN, *measured, *YES_NO_COLUMNS, NOTES_COLUMN]
    lines = [",".join(header)] + [
        ",".join([cid] + [""] * (len(header) - 1)) for cid in table["id"].astype(str)
    ]
    _write_text(template_path, "\n".join(lines) + "\n")

    report_path = write_report(
        run_dir, out / "report.html", lang=lang, top=min(max(top, 10), 50), structures=found
    )

    readme = render_readme(
        config,
        lang=lang,
        units=units,
        n_candidates=len(table),
        created=created,
        iteration=list_rounds,
        done=state.done,
        state_iteration=min(rounds_done(state) + 1, max(rounds_total, 1)),
        oracle_calls=state.oracle_calls,
    )
    readme_path = out / "README.txt"
    _write_text(readme_path, readme)
    return {
        "csv": csv_path,
        "json": json_path,
        "schema": schema_path,
        "cifs": cif_dir,
        "report": report_path,
        "readme": readme_path,
        "template": template_path,
    }


def _holds_bundle(folder: Path) -> bool:
    return any((folder / name).exists() for name in ("candidates.json", "results_template.csv"))


def bundle_folder(out: Path) -> Path:
    """Where a new bundle asked for in ``out`` goes: ``out`` itself unless it holds a
    bundle already, else its next free version subfolder ``v2``, ``v3`` … (created).

    Raises:
        CampaignError: ``out`` is a file.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise CampaignError(f"--out {out} is a file; give a folder for the bundle")
    if not _holds_bundle(out):
        return out
    version = 2
    while True:
        folder = out / f"v{version}"
        try:
            folder.mkdir()  # atomic: two exports at once get two versions
        except FileExistsError:
            version += 1
            continue
        return folder


def export_campaign(
    run_dir: str | Path,
    out_dir: str | Path | None = None,
    top: int = 50,
    *,
    lang: str = "en",
    wait_s: float = 0.0,
) -> dict[str, Path]:
    """Write the lab hand-off bundle of a campaign (see :func:`write_bundle`).

    An earlier bundle in ``out_dir`` is kept as it is (with the lab's filled template and
    its CIFs): the new one goes into a version subfolder (:func:`bundle_folder`).

    Args:
        run_dir: The run directory.
        out_dir: Bundle folder (default ``RUN_DIR/export``).
        top: Candidates to hand off (best first).
        lang: Language of the lab README and the report (``en`` or ``es``).
        wait_s: Seconds to wait for a campaign running in ``run_dir`` when the bundle
            goes inside the run directory.

    Returns:
        Paths written: ``csv``, ``json``, ``schema``, ``cifs``, ``report``, ``readme``,
        ``template``, and ``folder`` (the bundle folder).

    Raises:
        RunDirectoryLockedError: The bundle goes inside the run directory and a campaign
            running there kept it for ``wait_s`` seconds.
    """
    from contextlib import nullcontext

    from materials_ai.campaign.rundir import RunDirectory

    rundir = RunDirectory(run_dir)
    rundir.read_state()  # a clear error for a folder without campaign, before any mkdir
    out = Path(out_dir) if out_dir is not None else rundir.path / "export"
    inside = rundir.contains(out)
    guard = (
        rundir.lock(
            "export",
            wait_s=wait_s,
            hint="export when it has finished, give --wait SECONDS, or export to a folder "
            "outside the run directory with --out",
        )
        if inside
        else nullcontext()
    )
    with guard:
        folder = bundle_folder(out)
        if folder != out:
            logger.info("%s holds an earlier bundle (kept); writing this one to %s", out, folder)
        paths = write_bundle(rundir.path, folder, top=top, lang=lang)
    return {**paths, "folder": folder}
