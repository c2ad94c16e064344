"""Dataset cards: what a dataset file is, where it came from, and how to read it.

A card is a small YAML file in ``datasets/`` (see ``datasets/README.md``). It names the
data file relative to the data directory, pins its sha256 and row count, records the
upstream source, licence and level of theory, and maps the platform's target names
(``band_gap``, ``formation_energy``...) to the table's columns and units.

Example::

    card = load_card("datasets/castelli_perovskites.yaml")
    specs = card.target_specs(["band_gap", "cbm"])
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from materials_ai.config_errors import config_error, read_yaml_file
from materials_ai.data.records import TargetSpec
from materials_ai.errors import ConfigError

__all__ = [
    "DatasetCard",
    "StructureFormat",
    "TargetCard",
    "UpstreamSource",
    "card_from_mapping",
    "dump_card",
    "load_card",
]

#: How the structure column is encoded: CIF text, ``Structure.as_dict()`` written as a
#: Python literal (read with :func:`ast.literal_eval`), or a SMILES string (the row is a
#: molecule, :class:`~materials_ai.data.records.Molecule`).
StructureFormat = Literal["cif", "pymatgen_dict_literal", "smiles"]

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_]*$")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UpstreamSource(_Frozen):
    """Where a dataset file comes from.

    Attributes:
        source: One or two sentences on the origin of the table and its structures.
        urls: Where a user obtains the data (repository, database page, package).
        commit: Upstream commit the file was taken from, if known.
        licence: The licence as stated upstream, or ``"not stated upstream"``.
        citation: The reference(s) to cite when using the data.
    """

    source: str = Field(min_length=1)
    urls: tuple[str, ...] = Field(min_length=1)
    commit: str | None = None
    licence: str = Field(min_length=1)
    citation: str = Field(min_length=1)


class TargetCard(_Frozen):
    """One learnable property on a card.

    Attributes:
        column: Column of the table holding the values.
        unit: Unit of the values the platform uses (``eV``, ``eV/atom``).
        description: What the value is, at which level of theory.
        valid_range: Optional inclusive ``(min, max)`` in ``unit``; the loader skips rows
            outside it (the card's stated outlier rule).
        source_unit: Unit of the numbers in the file when it differs from ``unit``
            (e.g. ``Hartree``); then ``scale`` converts them.
        scale: Factor from the file's numbers to ``unit`` (value = raw x scale), e.g.
            27.211386245988 eV per Hartree (CODATA 2018). 1 when the file is in ``unit``.
        indicator_above: Make the target a 0/1 indicator: 1.0 where the column's value
            (after ``scale``) is above this threshold, else 0.0, e.g. ``semiconductor``
            from a band-gap column with threshold 0 eV. None: the value itself.
    """

    column: str = Field(min_length=1)
    unit: str = Field(min_length=1)
    description: str = Field(min_length=1)
    valid_range: tuple[float, float] | None = None
    source_unit: str | None = Field(default=None, min_length=1)
    scale: float = Field(default=1.0, gt=0.0, allow_inf_nan=False)
    indicator_above: float | None = Field(default=None, allow_inf_nan=False)

    @field_validator("valid_range")
    @classmethod
    def _check_range(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None:
            low, high = value
            if not (math.isfinite(low) and math.isfinite(high)) or low > high:
                raise ValueError(
                    f"must be two finite numbers [min, max] with min <= max, got {value}"
                )
        return value

    def contains(self, value: float) -> bool:
        """Return True if ``value`` lies inside :attr:`valid_range` (always, when unset)."""
        if self.valid_range is None:
            return True
        low, high = self.valid_range
        return low <= value <= high


class DatasetCard(_Frozen):
    """Everything the platform needs to know about one dataset file.

    Attributes:
        name: Short unique name (lower case, digits, underscores), e.g. ``mp2018``.
        title: One-line human title.
        file: Path of the data file relative to the data directory (POSIX separators).
        sha256: Lower-case hex sha256 of the data file.
        rows: Number of data rows the file holds.
        upstream: Source, URLs, commit, licence and citation.
        level_of_theory: Code, functional and corrections behind the labels.
        id_column: Column holding the material identifiers; ``None`` for a table without
            one, whose ids are then ``<name>-<row>`` (0-based row; stable because the file
            is pinned by its sha256).
        id_strip_suffix: Suffix removed from ids that end with it (``.cif``).
        structure_column: Column holding the structures.
        structure_format: Encoding of :attr:`structure_column`.
        formula_column: Optional column with each row's composition (e.g. ``Sr1 Ti1 O3``):
            consumers that need compositions only (convex hulls) read it instead of
            parsing every structure.
        comment: Comment character of the CSV (lines starting with it are skipped), if any.
        targets: Target name -> column, unit and description, in a stable order.
        notes: Caveats a user must know (outliers, reference energies...).
    """

    name: str
    title: str = Field(min_length=1)
    file: str
    sha256: str
    rows: int = Field(ge=0)
    upstream: UpstreamSource
    level_of_theory: str = Field(min_length=1)
    id_column: str | None = Field(min_length=1)
    id_strip_suffix: str | None = None
    structure_column: str = Field(min_length=1)
    structure_format: StructureFormat
    formula_column: str | None = Field(default=None, min_length=1)
    comment: str | None = Field(default=None, min_length=1, max_length=1)
    targets: dict[str, TargetCard] = Field(min_length=1)
    notes: tuple[str, ...] = ()

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not _NAME_RE.match(value):
            raise ValueError(f"must match {_NAME_RE.pattern} (lower case, digits, underscores)")
        return value

    @field_validator("sha256")
    @classmethod
    def _check_sha(cls, value: str) -> str:
        if not _SHA256_RE.match(value):
            raise ValueError("must be 64 lower-case hexadecimal characters")
        return value

    @field_validator("file")
    @classmethod
    def _check_file(cls, value: str) -> str:
        path = PurePosixPath(value)
        if not value or path.is_absolute() or ".." in path.parts or "\\" in value:
            raise ValueError(
                f"must be a relative POSIX path inside the data directory, got {value!r}"
            )
        return value

    @field_validator("targets")
    @classmethod
    def _check_target_names(cls, value: dict[str, TargetCard]) -> dict[str, TargetCard]:
        for name in value:
            if not _NAME_RE.match(name):
                raise ValueError(f"target name {name!r} must match {_NAME_RE.pattern}")
        return value

    @model_validator(mode="after")
    def _check_columns(self) -> DatasetCard:
        special = {self.id_column, self.structure_column} - {None}
        if self.id_column == self.structure_column:
            raise ValueError("id_column and structure_column must differ")
        for name, target in self.targets.items():
            if target.column in special:
                raise ValueError(f"target {name!r} uses the id or structure column")
        return self

    @property
    def target_names(self) -> tuple[str, ...]:
        """Names of the card's targets, in card order."""
        return tuple(self.targets)

    def target_specs(self, names: Sequence[str] | None = None) -> tuple[TargetSpec, ...]:
        """Return the :class:`TargetSpec` of the requested targets.

        Args:
            names: Target names, in the order wanted; ``None`` for all of the card's
                targets in card order. A bare string is taken as one name.

        Raises:
            ConfigError: If a name is not on the card (the message lists the valid
                names) or a name is repeated.
        """
        if names is None:
            names = self.target_names
        elif isinstance(names, str):
            names = (names,)
        seen: set[str] = set()
        specs: list[TargetSpec] = []
        for name in names:
            if name not in self.targets:
                raise ConfigError(
                    f"Dataset {self.name!r} has no target {name!r}; valid targets: "
                    f"{', '.join(self.target_names)}."
                )
            if name in seen:
                raise ConfigError(f"Target {name!r} requested twice for dataset {self.name!r}.")
            seen.add(name)
            target = self.targets[name]
            specs.append(
                TargetSpec(
                    name=name,
                    column=target.column,
                    unit=target.unit,
                    description=target.description,
                )
            )
        return tuple(specs)

    def source_summary(self) -> str:
        """One line naming the upstream source and its first URL (for error messages)."""
        return f"{self.upstream.source} ({self.upstream.urls[0]})"


def card_from_mapping(data: Mapping[str, Any], where: str = "<mapping>") -> DatasetCard:
    """Validate a mapping as a :class:`DatasetCard`.

    Args:
        data: The card's content (as read from YAML).
        where: How to name the source in error messages (usually the file path).

    Raises:
        ConfigError: Naming ``where`` and each unknown, missing or invalid key.
    """
    if not isinstance(data, Mapping):
        raise ConfigError(
            f"{where}: invalid dataset card: expected a mapping of keys, got {type(data).__name__}"
        )
    try:
        return DatasetCard.model_validate(dict(data))
    except ValidationError as exc:
        raise config_error(exc, DatasetCard, where, "dataset card") from None


def load_card(path: str | Path) -> DatasetCard:
    """Read and validate one dataset card.

    Args:
        path: A ``.yaml`` card file.

    Raises:
        ConfigError: If the file is missing or not YAML, or a key is unknown, missing or
            invalid; the message names the file and the key.
    """
    path = Path(path)
    data = read_yaml_file(path, "dataset card")
    return card_from_mapping(data if data is not None else {}, where=str(path))


def dump_card(card: DatasetCard, path: str | Path) -> Path:
    """Write ``card`` as YAML to ``path`` (keys in field order) and return the path."""
    path = Path(path)
    data = card.model_dump(mode="json", exclude_none=True)
    path.write_text(
        yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100), encoding="utf-8"
    )
    return path
