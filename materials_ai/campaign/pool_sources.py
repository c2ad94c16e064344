"""Pool sources: where a campaign's candidates come from.

A campaign runs the same loop over any pool; the ``pool:`` section of the workflow names
the source by ``kind`` and :data:`POOL_SOURCES` turns it into a :class:`Pool`:

``dataset`` (default)
    The rows of the ``data:`` dataset (all, the first ``limit``, or a seeded sample), with
    their labels when the oracle replays them.
``structures``
    User files (CIF, POSCAR/CONTCAR/``*.vasp``, extended XYZ) from folders, files or glob
    patterns; ids from the file names.
``generated``
    The generators and screens of :mod:`materials_ai.candidates`
    (:class:`~materials_ai.candidates.config.PoolConfig`), optionally followed by a
    pretrained surrogate's pre-screen (``pool.prescreen``,
    :mod:`materials_ai.campaign.pool_prescreen`).

Sources without labels are read (or generated) once and kept in the run directory::

    pool/candidates.json      rows (id, formula, ...) and a CIF per id, in pool order
    pool/meta.json            kind, campaign id and the content hash (the cache key)
    pool/screen_report.json   per-screen counts (``generated`` only)
    pool/prescreen.json       what a ``prescreen`` kept (``generated`` with one only)

A resumed run reads them back, so ids and order never change. A replayed oracle needs
labels, which only a dataset has: :func:`check_serves` says so when the workflow is read.

To add a source, write a class with :attr:`PoolSource.labelled` and :meth:`PoolSource.load`,
register it here (``POOL_SOURCES.add("name", MySource)``) and add its settings model to
the ``pool:`` union in :mod:`materials_ai.campaign.config`.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatch
from glob import glob
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from materials_ai.errors import ConfigError, DataError
from materials_ai.registry import Registry

if TYPE_CHECKING:
    from materials_ai.campaign.config import (
        GeneratedPoolConfig,
        StructuresPoolConfig,
        WorkflowConfig,
    )
    from materials_ai.campaign.oracle_plans import ValidationPlan
    from materials_ai.data.records import MaterialsDataset

__all__ = [
    "POOL_SOURCES",
    "Pool",
    "PoolSource",
    "check_serves",
    "load_pool",
    "structure_files",
]

POOL_DIR = "pool"
POOL_FILE = "candidates.json"
META_FILE = "meta.json"
#: File endings read from a folder (besides POSCAR/CONTCAR names).
STRUCTURE_SUFFIXES = (".cif", ".vasp", ".xyz", ".extxyz")


@dataclass(frozen=True)
class Pool:
    """A loaded pool, before the workflow's pool screens.

    Attributes:
        dataset: The pool's rows (labelled only by a dataset read for a replay).
        source_key: Identifies the pool's content for the feature cache.
        target_units: Unit of each workflow target.
    """

    dataset: MaterialsDataset
    source_key: str
    target_units: dict[str, str]


class PoolSource(Protocol):
    """One kind of pool.

    Attributes:
        labelled: Whether its rows can carry labels (a replayed oracle needs them).
    """

    labelled: bool

    def load(
        self, config: WorkflowConfig, run_dir: Path, plan: ValidationPlan, *, progress: bool
    ) -> Pool:
        """Load (or read back) the pool of ``config`` for a campaign in ``run_dir``.

        Args:
            config: The workflow.
            run_dir: The run directory.
            plan: The workflow's validation plan (whether labels are read; units).
            progress: Show loading progress.
        """
        ...


#: Pool sources by ``pool.kind``; entries are classes (or factories) of no argument.
POOL_SOURCES: Registry[Callable[[], PoolSource]] = Registry("pool source")


def check_serves(pool_kind: str, oracle_kind: str) -> None:
    """Check that a pool of ``pool_kind`` can be validated by an oracle of ``oracle_kind``.

    Raises:
        ConfigError: If the oracle replays labels the pool does not have, or a kind is
            unknown.
    """
    from materials_ai.campaign.oracle_plans import ORACLE_PLANS

    source = POOL_SOURCES.get(pool_kind)
    plan = ORACLE_PLANS.get(oracle_kind)
    if getattr(plan, "reads_labels", False) and not getattr(source, "labelled", False):
        raise ConfigError(
            f"oracle kind {oracle_kind!r} answers from a dataset's labels, but a "
            f"{pool_kind!r} pool has none: validate it by computation instead "
            "(oracle: {kind: chain, ...}, e.g. CHGNet then GPAW)"
        )


def load_pool(
    config: WorkflowConfig, run_dir: Path, plan: ValidationPlan, *, progress: bool = False
) -> Pool:
    """The pool of ``config`` from its source (see the module docstring).

    Raises:
        ConfigError: If the source cannot serve the workflow's oracle.
    """
    check_serves(config.pool.kind, config.oracle.kind)
    return POOL_SOURCES.get(config.pool.kind)().load(config, Path(run_dir), plan, progress=progress)


# -- dataset ---------------------------------------------------------------------------


class DatasetSource:
    """The rows of the ``data:`` dataset; the cache key and units are its card's."""

    labelled = True

    def load(
        self, config: WorkflowConfig, run_dir: Path, plan: ValidationPlan, *, progress: bool
    ) -> Pool:
        """Load the rows (labels only where the oracle reads them)."""
        from materials_ai.campaign.pool import load_pool_dataset
        from materials_ai.data.registry import get_card

        dataset = load_pool_dataset(
            config, run_dir, reads_labels=plan.reads_labels, progress=progress
        )
        card = get_card(dataset.name)
        units = plan.target_units({n: t.unit for n, t in card.targets.items()})
        return Pool(dataset, f"{card.name}:{card.sha256}", units)


# -- sources kept in the run directory ---------------------------------------------------


def _campaign_id(run_dir: Path) -> str | None:
    """The id of the campaign in ``run_dir`` (None before it has a state)."""
    try:
        from materials_ai.campaign.rundir import RunDirectory

        return RunDirectory(run_dir).read_state().campaign_id
    except Exception:  # no campaign yet (a pool loaded on its own)
        return None


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


class _StoredSource:
    """A source materialised once into ``run_dir/pool/`` and read back from there.

    Subclasses implement :meth:`build`; the kept pool belongs to the campaign that made it
    (``meta.json`` holds its id), so a new campaign in the same folder builds its own.
    """

    labelled = False
    kind = ""

    def build(self, config: WorkflowConfig, folder: Path) -> tuple[list[dict[str, Any]], str]:
        """Rows (each with ``id`` and ``cif``) in pool order, and the content hash."""
        raise NotImplementedError

    def load(
        self, config: WorkflowConfig, run_dir: Path, plan: ValidationPlan, *, progress: bool
    ) -> Pool:
        """Read the kept pool back, building it first if this campaign has none."""
        folder = run_dir / POOL_DIR
        campaign = _campaign_id(run_dir)
        meta_path = folder / META_FILE
        meta = json.loads(meta_path.read_text()) if meta_path.is_file() else None
        if meta is None or meta.get("campaign_id") != campaign or meta.get("kind") != self.kind:
            folder.mkdir(parents=True, exist_ok=True)
            rows, content = self.build(config, folder)
            cifs = {row["id"]: row.pop("cif") for row in rows}
            _write_atomic(folder / POOL_FILE, json.dumps({"rows": rows, "cifs": cifs}))
            meta = {"kind": self.kind, "campaign_id": campaign, "sha256": content}
            _write_atomic(meta_path, json.dumps(meta, indent=1))
        dataset = _read_kept_pool(folder / POOL_FILE, self.kind)
        return Pool(dataset, f"{self.kind}:{meta['sha256'][:16]}", plan.target_units({}))


def _read_kept_pool(path: Path, name: str) -> MaterialsDataset:
    from pymatgen.core import Structure

    from materials_ai.data.records import MaterialRecord, MaterialsDataset

    payload = json.loads(path.read_text())
    records = [
        MaterialRecord(row["id"], Structure.from_str(payload["cifs"][row["id"]], fmt="cif"), {}, i)
        for i, row in enumerate(payload["rows"])
    ]
    return MaterialsDataset(name=name, targets=(), records=records)


def _cif(structure: Any) -> str:
    from pymatgen.io.cif import CifWriter

    return str(CifWriter(structure))


# -- structures --------------------------------------------------------------------------


def _is_structure_file(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith(STRUCTURE_SUFFIXES) or any(
        fnmatch(name, p) for p in ("*poscar*", "*contcar*")
    )


def structure_files(paths: Sequence[str]) -> list[tuple[str, Path]]:
    """(id, file) of every structure file named by ``paths``, in a stable order.

    A folder contributes its structure files (recursively, sorted; ids are their paths
    relative to it without the ending), a file itself (id: its name without the ending),
    a glob pattern its matches.

    Raises:
        ConfigError: If a path matches nothing, no file is found, or two files get the
            same id.
    """
    found: list[tuple[str, Path]] = []
    for text in paths:
        path = Path(text).expanduser()
        if path.is_dir():
            files = sorted(f for f in path.rglob("*") if f.is_file() and _is_structure_file(f))
            found += [(f.relative_to(path).with_suffix("").as_posix(), f) for f in files]
        elif path.is_file():
            found.append((path.with_suffix("").name, path))
        else:
            matches = sorted(Path(m) for m in glob(str(path)) if Path(m).is_file())
            if not matches:
                raise ConfigError(f"pool.paths: {text!r} is no file, folder or matching pattern")
            found += [(m.with_suffix("").name, m) for m in matches]
    if not found:
        raise ConfigError(f"pool.paths {list(paths)} hold no CIF, POSCAR or extxyz file")
    seen: dict[str, Path] = {}
    for cid, file in found:
        if cid in seen:
            raise ConfigError(f"pool.paths: {seen[cid]} and {file} both give candidate id {cid!r}")
        seen[cid] = file
    return found


class StructuresSource(_StoredSource):
    """User structure files; the cache key hashes the files' contents."""

    kind = "structures"

    def build(self, config: WorkflowConfig, folder: Path) -> tuple[list[dict[str, Any]], str]:
        """Read every file (a file that cannot be read is a :class:`DataError`)."""
        from materials_ai.data.records import Molecule
        from materials_ai.surrogates.inputs import read_structure_file

        settings: StructuresPoolConfig = config.pool  # type: ignore[assignment]
        digest = hashlib.sha256()
        rows = []
        for cid, path in structure_files(settings.paths):
            structure = read_structure_file(path)
            if isinstance(structure, Molecule):
                raise DataError(
                    f"{path}: a molecule (no periodic cell); a crystal pool needs cells"
                )
            digest.update(cid.encode() + b"\0" + path.read_bytes() + b"\0")
            rows.append(
                {
                    "id": cid,
                    "formula": structure.composition.reduced_formula,
                    "file": str(path.resolve()),
                    "cif": _cif(structure),
                }
            )
        return rows, digest.hexdigest()


class GeneratedSource(_StoredSource):
    """Generated candidates; the cache key hashes the kept pool file."""

    kind = "generated"

    def build(self, config: WorkflowConfig, folder: Path) -> tuple[list[dict[str, Any]], str]:
        """Run the generators and screens; write the screen report next to the pool."""
        from materials_ai.candidates import generate_pool
        from materials_ai.candidates.config import PoolConfig

        settings: GeneratedPoolConfig = config.pool  # type: ignore[assignment]
        result = generate_pool(PoolConfig.model_validate(settings.generate))
        result.report.save(folder / "screen_report.json")
        extra: dict[str, list[float]] = {}
        if settings.prescreen is not None:
            from materials_ai.campaign.pool_prescreen import prescreen

            pool_config = PoolConfig.model_validate(settings.generate)
            kept = prescreen(result, settings.prescreen, pool_config.stability, folder)
            result, extra = kept.pool, kept.columns
            result.report.save(folder / "screen_report.json")  # with the stability screen
            if not result.generated:
                raise DataError(
                    f"pool.prescreen: no generated candidate meets the criteria "
                    f"({kept.summary['n_in']} predicted); widen them or the generators"
                )
        pairs = list(zip(result.rows(), result.generated, strict=True))
        rows = [
            {
                **_plain(row),
                **{name: values[i] for name, values in extra.items()},
                "cif": _cif(g.candidate.structure),
            }
            for i, (row, g) in enumerate(pairs)
        ]
        text = json.dumps(rows, sort_keys=True)
        return rows, hashlib.sha256(text.encode()).hexdigest()


def _plain(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row with JSON values only (numpy scalars as numbers, anything else as text)."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if hasattr(value, "item"):
            value = value.item()
        out[key] = value if isinstance(value, str | int | float | bool | None) else str(value)
    return out


POOL_SOURCES.add("dataset", DatasetSource)
POOL_SOURCES.add("structures", StructuresSource)
POOL_SOURCES.add("generated", GeneratedSource)
