"""Workflow files: one YAML document defines a whole campaign.

Unknown keys are rejected with the key's dotted path, so a typo (``batchsize``) is an
error at load time rather than a silently ignored setting.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from materials_ai.acquisition.config import AcquisitionConfig
from materials_ai.acquisition.objective import ObjectiveConfig
from materials_ai.campaign.pool_prescreen import PrescreenConfig
from materials_ai.compute import ComputeConfig
from materials_ai.config_errors import load_yaml, read_yaml_file, validate_config
from materials_ai.errors import ConfigError
from materials_ai.oracles.config import FidelityChainConfig
from materials_ai.surrogates.config import EnsembleConfig, SurrogateConfig
from materials_ai.tracking import TrackingConfig


class DataConfig(BaseModel):
    """Where the candidate pool and its replayed labels come from.

    Attributes:
        dataset: Dataset name (a card in ``datasets/``).
        data_dir: Folder of the data files; default ``MATERIALS_AI_DATA_DIR``.
        limit: Use only the first ``limit`` rows (quick runs, tests).
        sample_size: Use a seeded random sample of this many rows (after ``limit``).
        sample_seed: Seed of that sample.
        screens: Pool screens applied before the loop, by name (see
            :mod:`materials_ai.campaign.pool_screens`), e.g. ``[pfas_free]``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    dataset: str
    data_dir: str | None = None
    limit: int | None = Field(None, ge=1)
    sample_size: int | None = Field(None, ge=1)
    sample_seed: int = 0
    screens: tuple[str, ...] = ()

    @field_validator("screens")
    @classmethod
    def _known_screens(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        from materials_ai.candidates.screening import SCREENS

        unknown = [n for n in value if n not in SCREENS]
        if unknown:
            raise ValueError(f"unknown pool screen(s) {unknown}; known: {list(SCREENS.names())}")
        return value


class DatasetPoolConfig(BaseModel):
    """A pool of dataset rows (the default): its settings are the ``data:`` section.

    Attributes:
        kind: ``dataset``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["dataset"] = "dataset"
    #: Its rows can carry the labels a replayed oracle answers from.
    labelled: ClassVar[bool] = True


class StructuresPoolConfig(BaseModel):
    """A pool of user structures: CIF, POSCAR/CONTCAR/``*.vasp`` or extended-XYZ files.

    The files are read once and kept in the run directory (``pool/``), so a resumed run
    sees the same pool even if the files changed or moved. They carry no labels, so only a
    computing oracle (``oracle: {kind: chain}``) can validate them.

    Attributes:
        kind: ``structures``.
        paths: Folders (searched recursively), files or glob patterns; relative paths
            are relative to the working directory. Candidate ids are the file names
            without their ending (relative to a given folder).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["structures"]
    labelled: ClassVar[bool] = False
    paths: list[str] = Field(min_length=1)


class GeneratedPoolConfig(BaseModel):
    """A generated pool: the generators and screens of :mod:`materials_ai.candidates`.

    Generated once when the campaign starts and kept in the run directory (``pool/``), so
    ids and order never change on resume.

    Attributes:
        kind: ``generated``.
        generate: A :class:`~materials_ai.candidates.config.PoolConfig` (``seed``,
            ``generators``, ``screens``, ``known_datasets``, ...), checked when the
            workflow is read.
        prescreen: Keep only candidates a pretrained surrogate predicts to meet some
            criteria (:mod:`materials_ai.campaign.pool_prescreen`); None: keep all.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["generated"]
    labelled: ClassVar[bool] = False
    generate: dict[str, Any] = Field(default_factory=dict)
    prescreen: PrescreenConfig | None = None

    @field_validator("generate")
    @classmethod
    def _valid_pool_config(cls, value: dict[str, Any]) -> dict[str, Any]:
        # Imported here: the generators pull in pymatgen, which reading a workflow
        # should not cost unless the workflow generates.
        from materials_ai.candidates.config import PoolConfig

        PoolConfig.model_validate(value)
        return value


#: The ``pool:`` section, by ``kind`` (see :mod:`materials_ai.campaign.pool_sources`).
PoolSourceConfig = Annotated[
    DatasetPoolConfig | StructuresPoolConfig | GeneratedPoolConfig, Field(discriminator="kind")
]


class LoopConfig(BaseModel):
    """The shape of the active-learning loop.

    Attributes:
        initial_labels: Random candidates validated before the first model (seed labels;
            they count as oracle calls).
        batch_size: Candidates selected per iteration (``q``).
        iterations: Selection rounds after the seed labels.
        max_oracle_calls: Stop when this many validations were requested (None: no cap).
        warm_start: Continue training from the previous iteration's weights.
        final_retrain: After the last batch returns, retrain on everything and rank.
        ranked_list_size: Rows of the ranked candidate list.
        ranked_one_per_composition: List each composition's best candidate before any
            second candidate of a composition (a generated pool's polymorphs and
            substitution children; ``materials_ai.candidates.ranking``).
        top_cifs: Top-ranked candidates written as CIF files.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    initial_labels: int = Field(100, ge=2)
    batch_size: int = Field(20, ge=1)
    iterations: int = Field(10, ge=0)
    max_oracle_calls: int | None = Field(None, ge=1)
    warm_start: bool = True
    final_retrain: bool = True
    ranked_list_size: int = Field(200, ge=1)
    ranked_one_per_composition: bool = False
    top_cifs: int = Field(20, ge=0)


class OracleConfig(BaseModel):
    """Which oracle validates the batches.

    Attributes:
        kind: ``replay`` answers from the dataset's own labels; ``chain`` validates by
            computation through a fidelity chain (e.g. a CHGNet relaxation of the whole
            batch, then GPAW GLLB-SC for the best few; see
            :class:`~materials_ai.oracles.config.FidelityChainConfig`). The dataset then
            only supplies the candidate pool: its labels are never read.
        chain: The chain (``kind: chain`` only).
        learn: ``kind: chain`` only: for every workflow target, the fidelity-qualified
            observed value the surrogate learns it from, ``value@fidelity`` (e.g.
            ``band_gap: band_gap@dft_gllbsc``, ``e_above_hull: e_above_hull@ml_potential``).
            A value of another fidelity never stands in for it; candidates without it
            are masked in the loss for that target.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["replay", "chain"] = "replay"
    chain: FidelityChainConfig | None = None
    learn: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _chain_settings(self) -> OracleConfig:
        if self.kind == "chain" and self.chain is None:
            raise ValueError("oracle kind 'chain' needs a `chain:` section")
        if self.kind == "replay" and (self.chain is not None or self.learn):
            raise ValueError("`chain` and `learn` apply to oracle kind 'chain' only")
        for target, source in self.learn.items():
            value, sep, fidelity = source.partition("@")
            if not (sep and value and fidelity):
                raise ValueError(
                    f"learn.{target}: {source!r} must be a fidelity-qualified value "
                    "'value@fidelity', e.g. 'band_gap@dft_gllbsc'"
                )
        return self


class WorkflowConfig(BaseModel):
    """A campaign definition.

    Attributes:
        name: Short name (used for the MLflow run and file names).
        description: What the campaign looks for, in a sentence or two.
        seed: Master seed; every random choice derives from it.
        data: The dataset pool (``pool.kind: dataset``, the default; absent otherwise).
        pool: Where the candidates come from, by ``kind``: ``dataset`` (the ``data:``
            rows), ``structures`` (user files) or ``generated`` (generators + screens).
        targets: Targets the surrogate learns (names from the dataset card).
        objective: Criteria that define a good material.
        surrogate: The surrogate, by ``kind``: ``graph_ensemble`` (default) or ``gp``.
        acquisition: Batch selection.
        loop: Budget and loop shape.
        oracle: Validation.
        tracking: Experiment tracking.
        compute: Execution (serial or Dask).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    seed: int = 0
    data: DataConfig | None = None
    pool: PoolSourceConfig = DatasetPoolConfig()
    targets: list[str] = Field(min_length=1)
    objective: ObjectiveConfig
    surrogate: SurrogateConfig = EnsembleConfig()
    acquisition: AcquisitionConfig = AcquisitionConfig()
    loop: LoopConfig = LoopConfig()
    oracle: OracleConfig = OracleConfig()
    tracking: TrackingConfig = TrackingConfig()
    compute: ComputeConfig = ComputeConfig()

    @model_validator(mode="after")
    def _criteria_use_targets(self) -> WorkflowConfig:
        unknown = [c.target for c in self.objective.criteria if c.target not in self.targets]
        if unknown:
            raise ValueError(
                f"objective criteria use target(s) {unknown} missing from targets {self.targets}"
            )
        if self.oracle.kind == "chain":
            unmapped = [t for t in self.targets if t not in self.oracle.learn]
            extra = [t for t in self.oracle.learn if t not in self.targets]
            if unmapped or extra:
                raise ValueError(
                    "oracle.learn must map every target to 'value@fidelity' "
                    f"(unmapped: {unmapped}; not a target: {extra})"
                )
        self._check_pool()
        return self

    def _check_pool(self) -> None:
        if self.pool.kind == "dataset" and self.data is None:
            raise ValueError("a dataset pool needs a `data:` section (or set `pool.kind`)")
        if self.pool.kind != "dataset" and self.data is not None:
            raise ValueError(f"`data:` applies to pool kind 'dataset' only, not {self.pool.kind!r}")
        conditional = getattr(self.surrogate, "conditional_on", None)
        if conditional:  # checked before a run directory is made
            from materials_ai.surrogates.gp_results import check_conditional_targets

            try:
                check_conditional_targets(conditional, self.targets)
            except ConfigError as error:
                raise ValueError(str(error)) from None
        blocks = getattr(self.surrogate, "features", None) or ()
        if self.data is not None and blocks:
            from materials_ai.surrogates.featurizers import label_leaks

            leaks = label_leaks([b.featurizer for b in blocks], self.data.dataset)
            if leaks:
                raise ValueError(
                    f"surrogate.features {leaks} were trained on the labels of "
                    f"{self.data.dataset!r}, the pool's own dataset: they would hand the "
                    "campaign its answers; use features pretrained elsewhere (e.g. chgnet)"
                )
        if self.oracle.kind == "replay" and not self.pool.labelled:
            raise ValueError(
                f"oracle kind 'replay' answers from a dataset's labels, but a "
                f"{self.pool.kind!r} pool has none: validate it by computation instead "
                "(oracle: {kind: chain, ...}, e.g. CHGNet then GPAW)"
            )

    @property
    def pool_label(self) -> str:
        """What the pool is, in a word: the dataset's name, else the pool kind."""
        return self.data.dataset if self.data is not None else self.pool.kind

    def fingerprint(self) -> str:
        """Stable hash of the settings that determine the campaign's results.

        Settings left at their defaults are not hashed, so a newer version of the platform
        that adds a setting (with a default) can still resume an older run.
        """
        payload = self.model_dump(
            mode="json", exclude={"tracking", "compute", "description"}, exclude_defaults=True
        )
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]

    def with_overrides(
        self, overrides: Mapping[str, Any] | None = None, /, **changes: Any
    ) -> WorkflowConfig:
        """Return a copy with settings replaced by dotted path.

        Example::

            config.with_overrides({"loop.iterations": 3, "surrogate.n_members": 2})

        Raises:
            ConfigError: If a path names no setting, or a new value is invalid.
        """
        data = self.model_dump(mode="json")
        for dotted, value in {**(overrides or {}), **changes}.items():
            node: Any = data
            *parents, leaf = dotted.split(".")
            for key in parents:
                if not isinstance(node, dict) or key not in node:
                    raise ConfigError(f"cannot override unknown setting {dotted!r}")
                node = node[key]
            if not isinstance(node, dict) or leaf not in node:
                raise ConfigError(f"cannot override unknown setting {dotted!r}")
            node[leaf] = value
        return parse_workflow(data, "overrides")


def parse_workflow(data: Any, source: str = "<workflow>") -> WorkflowConfig:
    """Validate a workflow given as a mapping.

    Scalars are strictly typed: a boolean or text where a number belongs (``batch_size:
    true``, ``beta: "2"``) is an error, not silently converted.

    Raises:
        ConfigError: Naming ``source`` and each bad key (unknown keys by dotted path).
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: a workflow must be a YAML mapping, got {type(data).__name__}")
    return validate_config(WorkflowConfig, data, source)


def load_workflow(path: str | Path) -> WorkflowConfig:
    """Read and validate a workflow YAML file.

    Raises:
        ConfigError: If the file is missing, is not UTF-8 text or not YAML, or has bad keys.
    """
    return parse_workflow(read_yaml_file(path, "workflow"), str(path))


def dump_workflow(config: WorkflowConfig, path: str | Path) -> None:
    """Write a workflow as YAML (the run directory keeps the exact settings it ran)."""
    Path(path).write_text(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))


def parse_overrides(items: Sequence[str]) -> dict[str, Any]:
    """``["a.b=1", "c=[x, y]"]`` -> ``{"a.b": 1, "c": ["x", "y"]}`` (values read as YAML).

    Raises:
        ConfigError: If an item has no ``=`` or its value is not YAML.
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override {item!r} is not KEY=VALUE (e.g. loop.batch_size=10)")
        out[key.strip()] = load_yaml(text, f"override {item!r}")
    return out
