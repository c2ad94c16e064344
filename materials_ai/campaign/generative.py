"""Generative campaigns: propose materials that are in no dataset, screen, score and rank.

A replayed table can only rediscover what is known. A generative workflow
(``kind: generative``) builds its pool with :mod:`materials_ai.candidates` (prototype
decoration, data-mined substitutions, then the cheap screens), scores it with trained
surrogates (``models:``, e.g. the shipped MP-2018 ensemble), turns the predicted formation
energy into an energy above the MP-2018 convex hull with its uncertainty, and ranks the
survivors by the workflow's criteria, which may use the predicted targets, the derived
``e_above_hull`` (eV/atom) and the ``sustainability`` score.

Stages, each persisted so that an interrupted run resumes::

    GENERATE  pool + screen report           pool/candidates.json, screen_report.json
    RELAX     CHGNet relaxation, dedup       relaxed/candidates.json (``relax.enabled``)
    SCORE     every model predicts the pool  scores.npz
    RANK      hull, criteria, ranked list    final/ranked_candidates.{csv,json}, cifs/

RELAX (:mod:`materials_ai.candidates.relax_stage`) relaxes the best ``relax.max_candidates``
of the screened pool by a pre-score (the models on the generated geometries) with CHGNet
on the workflow's ``compute`` executor, drops failures, duplicates and candidates that
relax into a known structure; SCORE and RANK then see only the relaxed structures, and the
formation energy that feeds the hull combines the corrected CHGNet energy with the models'
prediction on the relaxed geometry (:mod:`materials_ai.candidates.relaxed_stability`).

Validation of the top candidates (ML potential, DFT) uses the oracles of the replay
campaign once they are configured for generated pools.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field

from materials_ai.acquisition.objective import DesirabilityObjective, ObjectiveConfig
from materials_ai.candidates.config import PoolConfig
from materials_ai.candidates.relax_stage import RelaxStageConfig
from materials_ai.compute import ComputeConfig
from materials_ai.config_errors import read_yaml_file, validate_config
from materials_ai.errors import CampaignError, ConfigError
from materials_ai.settings import PROJECT_ROOT
from materials_ai.tracking import TrackingConfig

logger = logging.getLogger(__name__)

#: Derived quantities a generative objective may use besides the models' targets.
DERIVED_TARGETS = ("e_above_hull", "sustainability")
STAGES = ("generate", "relax", "score", "rank")
#: Columns of the pool rows copied into the ranked list when present.
ROW_COLUMNS = (
    "prototype",
    "spacegroup",
    "source",
    "parent",
    "screens_passed",
    "sustainability",
    "hhi_production",
    "hhi_reserve",
    "relax_energy_per_atom",
    "relax_max_force",
    "relax_volume_change",
    "relax_steps",
    "relax_converged",
)


class RankingConfig(BaseModel):
    """Outputs of a generative campaign.

    Attributes:
        size: Rows of the ranked list.
        top_cifs: Top candidates written as CIF files.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    size: int = Field(200, ge=1)
    top_cifs: int = Field(20, ge=0)


class GenerativeWorkflowConfig(BaseModel):
    """A generative campaign definition.

    Attributes:
        kind: ``generative``.
        name: Short name.
        description: What the campaign looks for.
        seed: Seeds the generators.
        pool: Generators and screens (:class:`~materials_ai.candidates.config.PoolConfig`).
        models: Model folders (``surrogate.json`` + ``weights.pt``), relative to the
            repository or absolute; their targets are merged (first model wins).
        formation_energy_target: The predicted target that feeds the hull (eV/atom, on
            the reference dataset's scale — the model must be trained on it).
        objective: Criteria on predicted targets and on ``e_above_hull`` /
            ``sustainability``.
        relax: The RELAX stage (CHGNet relaxation and deduplication before scoring).
        compute: Where relaxations run (serial or Dask).
        ranking: Output sizes.
        tracking: MLflow settings.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["generative"]
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    seed: int = 0
    pool: PoolConfig = PoolConfig()
    models: list[str] = Field(min_length=1)
    formation_energy_target: str = "formation_energy"
    objective: ObjectiveConfig
    relax: RelaxStageConfig = RelaxStageConfig()
    compute: ComputeConfig = ComputeConfig()
    ranking: RankingConfig = RankingConfig()
    tracking: TrackingConfig = TrackingConfig()


def load_generative_workflow(
    path: str | Path, data: dict[str, Any] | None = None
) -> GenerativeWorkflowConfig:
    """Validate a generative workflow (``kind: generative``)."""
    path = Path(path)
    if data is None:
        data = read_yaml_file(path, "workflow")
    return validate_config(GenerativeWorkflowConfig, data, str(path))


def _model_path(text: str) -> Path:
    path = Path(text)
    return path if path.is_absolute() else PROJECT_ROOT / path


@dataclass(frozen=True)
class GenerativeSummary:
    """Where a generative campaign stands."""

    name: str
    run_dir: Path
    done: bool
    n_generated: int
    n_screened: int
    n_meeting_all: int
    ranked_csv: Path | None
    ranked_json: Path | None
    cif_dir: Path | None
    screen_report: Path | None


class GenerativeCampaign:
    """Run a generative workflow in a run directory (resumable by stage)."""

    def __init__(
        self, config: GenerativeWorkflowConfig, run_dir: str | Path, progress: bool = False
    ) -> None:
        self.config = config
        self.run_dir = Path(run_dir)
        self.progress = progress
        self.state_path = self.run_dir / "generative_state.json"

    @classmethod
    def start(
        cls, config: GenerativeWorkflowConfig, run_dir: str | Path, progress: bool = False
    ) -> GenerativeCampaign:
        run_dir = Path(run_dir)
        if (run_dir / "generative_state.json").exists():
            raise CampaignError(f"{run_dir} already holds a campaign; resume it instead")
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "workflow.yaml").write_text(
            yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
        )
        campaign = cls(config, run_dir, progress)
        campaign._save_state({"completed": [], "seconds": {}})
        return campaign

    @classmethod
    def resume(cls, run_dir: str | Path, progress: bool = False) -> GenerativeCampaign:
        run_dir = Path(run_dir)
        if not (run_dir / "generative_state.json").exists():
            raise CampaignError(f"{run_dir} holds no generative campaign")
        config = load_generative_workflow(run_dir / "workflow.yaml")
        return cls(config, run_dir, progress)

    # -- state ----------------------------------------------------------------------

    def _load_state(self) -> dict[str, Any]:
        return json.loads(self.state_path.read_text())

    def _save_state(self, state: dict[str, Any]) -> None:
        tmp = self.state_path.with_name(self.state_path.name + ".tmp")
        tmp.write_text(json.dumps(state, indent=1))
        os.replace(tmp, self.state_path)

    # -- stages ---------------------------------------------------------------------

    def run(self) -> GenerativeSummary:
        """Run the remaining stages (owning the run directory) and return the summary.

        Raises:
            RunDirectoryLockedError: Another process runs this campaign.
        """
        from materials_ai.campaign.rundir import RunDirectory

        with RunDirectory(self.run_dir).lock("run"):
            self._run_stages()
        return self.summary()

    def _run_stages(self) -> None:
        state = self._load_state()
        for stage in STAGES:
            if stage in state["completed"]:
                continue
            if stage == "relax" and "score" in state["completed"]:
                state["completed"].insert(1, stage)  # a run from before the RELAX stage
                continue
            started = time.perf_counter()
            getattr(self, f"_stage_{stage}")()
            state["seconds"][stage] = time.perf_counter() - started
            state["completed"].append(stage)
            self._save_state(state)
            if self.progress:
                from rich.console import Console

                Console(stderr=True).print(
                    f"[bold]{stage}[/] done in {state['seconds'][stage]:.1f} s"
                )

    def _pool(self):  # type: ignore[no-untyped-def]
        from materials_ai.candidates import generate_pool

        config = self.config.pool.model_copy(update={"seed": self.config.seed})
        return generate_pool(config)

    def _stage_generate(self) -> None:
        from pymatgen.io.cif import CifWriter

        pool = self._pool()
        folder = self.run_dir / "pool"
        folder.mkdir(exist_ok=True)
        rows = pool.rows()
        structures = {g.id: str(CifWriter(g.candidate.structure)) for g in pool.generated}
        payload = {"rows": rows, "cifs": structures}
        (folder / "candidates.json").write_text(json.dumps(payload, default=_jsonable))
        pool.report.save(self.run_dir / "screen_report.json")

    def _read_pool(self, relaxed: bool = True) -> tuple[list[dict[str, Any]], list[Any]]:
        from pymatgen.core import Structure

        from materials_ai.data.records import Candidate

        path = self.run_dir / "relaxed" / "candidates.json"
        if not (relaxed and path.exists()):
            path = self.run_dir / "pool" / "candidates.json"
        payload = json.loads(path.read_text())
        rows = payload["rows"]
        candidates = [
            Candidate(
                id=row["id"],
                structure=Structure.from_str(payload["cifs"][row["id"]], fmt="cif"),
                source=str(row.get("source", "generated")),
            )
            for row in rows
        ]
        return rows, candidates

    def _stage_relax(self) -> None:
        from materials_ai.candidates import KnownMaterials
        from materials_ai.candidates.relax_stage import relax_pool
        from materials_ai.compute import make_executor

        cfg = self.config.relax
        if not cfg.enabled:
            return
        rows, candidates = self._read_pool(relaxed=False)
        order = None
        if cfg.max_candidates is not None and len(candidates) > cfg.max_candidates:
            ranked = self._ranked(rows, candidates, self._predict(candidates), len(candidates))
            order = ranked.table["_structure_index"].to_numpy()
        known = None
        if cfg.dedup.enabled and cfg.dedup.against_known:
            known = KnownMaterials.from_datasets(self.config.pool.known_datasets)
        with make_executor(self.config.compute, progress=self.progress) as executor:
            relaxed = relax_pool(
                rows,
                [c.structure for c in candidates],
                cfg,
                order=order,
                executor=executor,
                known=known,
            )
        relaxed.save(self.run_dir / "relaxed" / "candidates.json")

    def _stage_score(self) -> None:
        _, candidates = self._read_pool()
        if not candidates:
            raise CampaignError("every generated candidate was screened out; relax the pool")
        np.savez(self.run_dir / "scores.npz", **self._predict(candidates))  # type: ignore[arg-type]

    def _predict(self, candidates: list[Any]) -> dict[str, np.ndarray]:
        """Member samples (`s x n`) of every target the models predict."""
        from materials_ai.graphs.builder import build_graphs
        from materials_ai.surrogates.ensemble import GraphEnsembleSurrogate

        arrays: dict[str, np.ndarray] = {}
        for folder in self.config.models:
            surrogate = GraphEnsembleSurrogate.load(_model_path(folder))
            graphs = build_graphs(
                [c.structure for c in candidates],
                [c.id for c in candidates],
                surrogate.config.graph,
            )
            prediction = surrogate.predict_graphs(graphs)
            assert prediction.samples is not None
            for j, target in enumerate(prediction.target_names):
                if target not in arrays:
                    arrays[target] = prediction.samples[:, :, j]
        needed = {c.target for c in self.config.objective.criteria} - set(DERIVED_TARGETS)
        missing = sorted((needed | {self.config.formation_energy_target}) - set(arrays))
        if missing:
            raise ConfigError(f"no model predicts {missing}; the models give {sorted(arrays)}")
        return arrays

    def _stage_rank(self) -> None:
        from materials_ai.candidates.naming import prototype_name
        from materials_ai.report.ranked import write_ranked_list

        rows, candidates = self._read_pool()
        with np.load(self.run_dir / "scores.npz") as data:
            arrays = {k: data[k] for k in data.files}
        ranked = self._ranked(rows, candidates, arrays, self.config.ranking.size)
        table = ranked.table
        top = table.index < self.config.ranking.top_cifs
        table["structure_type"] = [
            prototype_name(candidates[int(i)].structure) if t else None
            for i, t in zip(table["_structure_index"], top, strict=True)
        ]
        write_ranked_list(
            ranked, candidates, self.run_dir / "final", top_cifs=self.config.ranking.top_cifs
        )

    def _ranked(
        self, rows: list[dict[str, Any]], candidates: list[Any], arrays: dict[str, Any], size: int
    ) -> Any:
        """The ranked list (``RankedList``) of ``candidates`` from the models' samples."""
        from materials_ai.candidates.stability import HullReference
        from materials_ai.report.ranked import build_ranked_list
        from materials_ai.surrogates.prediction import Prediction

        arrays = dict(arrays)
        stability = self.config.pool.stability
        hull = HullReference.from_card(stability.reference_dataset, stability.target)
        compositions = [c.structure.composition for c in candidates]
        hull_energy = hull.hull_energies(compositions)
        e_form = arrays[self.config.formation_energy_target]
        combined, source = None, "surrogate"
        relaxed = bool(rows) and "relax_energy_per_atom" in rows[0]
        if self.config.relax.enabled and relaxed:
            from materials_ai.candidates.relax_stage import resolve_combination
            from materials_ai.candidates.relaxed_stability import relaxed_formation_energies

            rule, correction = resolve_combination(self.config.relax, stability.reference_dataset)
            if correction is not None:
                e_form, combined = relaxed_formation_energies(
                    [c.get_el_amt_dict() for c in compositions],
                    [float(r.get("relax_energy_per_atom", np.nan)) for r in rows],
                    e_form,
                    correction,
                    rule,
                    surrogate_std_scale=stability.std_scale,
                    surrogate_std_floor=stability.std_floor_ev_per_atom,
                    polymorphs=self.config.relax.anchor_polymorphs,
                )
                arrays[self.config.formation_energy_target] = e_form
                source = {"inverse_variance": "chgnet+surrogate"}.get(rule, rule)
        arrays["e_above_hull"] = e_form - hull_energy[None, :]
        sustainability = np.array([float(r.get("sustainability", np.nan)) for r in rows])
        arrays["sustainability"] = np.repeat(sustainability[None, :], e_form.shape[0], axis=0)
        names = tuple(arrays)
        samples = np.stack([arrays[n] for n in names], axis=-1)
        prediction = Prediction.from_samples(samples, names)
        objective = DesirabilityObjective(self.config.objective, names)
        ranked = build_ranked_list(
            candidates,
            prediction,
            objective,
            observed={},
            size=size,
            metadata={
                "campaign": self.config.name,
                "kind": "generative",
                "n_screened": len(candidates),
                "relaxed": relaxed,
                "formation_energy_from": source,
            },
            target_units={
                n: "eV/atom" if n in ("e_above_hull", self.config.formation_energy_target) else ""
                for n in names
            },
        )
        extra = {r["id"]: r for r in rows}
        table = ranked.table
        for column in ROW_COLUMNS:
            values = [extra.get(i, {}).get(column) for i in table["id"]]
            if any(v is not None for v in values):
                table[column] = values
        if combined is not None:
            for column, combined_values in combined.columns().items():
                index = table["_structure_index"].to_numpy()
                table[column] = np.asarray(combined_values)[index]
        threshold = stability.threshold_ev_per_atom
        mean_e, std_e = prediction.column("e_above_hull")
        from scipy import stats

        p_stable = stats.norm.cdf((threshold - mean_e) / np.maximum(std_e, 1e-6))
        table["p_within_hull_threshold"] = p_stable[table["_structure_index"].to_numpy()]
        return ranked

    def summary(self) -> GenerativeSummary:
        """Where the campaign stands."""
        state = self._load_state()
        done = state["completed"] == list(STAGES)
        final = self.run_dir / "final"
        n_screened = 0
        n_generated = 0
        report_path = self.run_dir / "screen_report.json"
        if report_path.exists():
            report = json.loads(report_path.read_text())
            n_generated = int(sum(report.get("generated", {}).values()))
        if (self.run_dir / "pool" / "candidates.json").exists():
            n_screened = len(
                json.loads((self.run_dir / "pool" / "candidates.json").read_text())["rows"]
            )
        meeting = 0
        if done:
            import pandas as pd

            table = pd.read_csv(final / "ranked_candidates.csv")
            meeting = int((table["predicted_desirability"] >= 0).sum())
        return GenerativeSummary(
            name=self.config.name,
            run_dir=self.run_dir,
            done=done,
            n_generated=n_generated,
            n_screened=n_screened,
            n_meeting_all=meeting,
            ranked_csv=final / "ranked_candidates.csv" if done else None,
            ranked_json=final / "ranked_candidates.json" if done else None,
            cif_dir=final / "cifs" if done else None,
            screen_report=report_path if report_path.exists() else None,
        )


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)
