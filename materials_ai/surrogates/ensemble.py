"""Deep ensembles of graph networks: the platform's default surrogate."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from materials_ai import __version__
from materials_ai.errors import SurrogateError
from materials_ai.graphs.builder import build_graphs
from materials_ai.graphs.features import MAX_Z
from materials_ai.graphs.packed import PackedGraphs
from materials_ai.surrogates.calibration import (
    apply_std_scales,
    fit_error_distributions,
    fit_std_scales,
    recalibrated,
)
from materials_ai.surrogates.config import EnsembleConfig
from materials_ai.surrogates.error_distribution import StandardizedErrors
from materials_ai.surrogates.graph_domain import GraphDomain
from materials_ai.surrogates.inputs import element_symbols, labelled, model_inputs
from materials_ai.surrogates.kinds import SurrogateKind, load_weights
from materials_ai.surrogates.member_task import train_member_task as _train_member_task
from materials_ai.surrogates.prediction import Prediction
from materials_ai.surrogates.training import (
    INFERENCE_BATCH_SIZE,
    MemberReport,
    StateDict,
    build_model,
    member_states,
    predict_standardised,
)

if TYPE_CHECKING:
    from materials_ai.compute import Executor
    from materials_ai.data.records import Candidate, MaterialsDataset
    from materials_ai.surrogates.cgcnn import CGCNN

logger = logging.getLogger(__name__)

#: Version of the on-disk format written by :meth:`GraphEnsembleSurrogate.save`.
FORMAT_VERSION = 1
CONFIG_FILE = "surrogate.json"
WEIGHTS_FILE = "weights.pt"


@dataclass
class FitReport:
    """Summary of an ensemble fit.

    Attributes:
        n_train: Labelled structures used.
        val_mae: Target -> validation MAE averaged over members (target units).
        members: One report per member.
        seconds: Wall time of the whole fit.
        warm_start: Whether members continued from earlier weights.
    """

    n_train: int
    val_mae: dict[str, float]
    members: list[MemberReport] = field(default_factory=list)
    seconds: float = 0.0
    warm_start: bool = False


class GraphEnsembleSurrogate:
    """`s` graph networks trained from different seeds; spread = epistemic uncertainty.

    Deep ensembles (Lakshminarayanan et al., NeurIPS 2017) give a predictive mean and a
    spread, and their members are natural posterior samples for Monte-Carlo acquisition
    functions and Thompson sampling.

    Args:
        config: Ensemble, architecture, graph and training settings.
        target_names: Names of the `t` targets, in output order.
        target_units: Unit of each target (for reports and model cards).
    """

    def __init__(
        self,
        config: EnsembleConfig,
        target_names: Sequence[str],
        target_units: Sequence[str] | None = None,
    ) -> None:
        if not target_names:
            raise SurrogateError("a surrogate needs at least one target")
        loss = config.training.loss
        if not isinstance(loss, str) and len(loss) != len(target_names):
            raise SurrogateError(
                f"training.loss lists {len(loss)} losses for {len(target_names)} targets "
                f"({', '.join(target_names)}): give one per target, in that order"
            )
        self.config = config
        self.target_names = tuple(target_names)
        self.target_units = tuple(target_units) if target_units else ("",) * len(target_names)
        self._states: list[StateDict] = []
        self._models: list[CGCNN] | None = None
        self.last_fit: FitReport | None = None
        #: The ``fit`` record of the folder this surrogate was loaded from (kept on save).
        self._loaded_fit: dict[str, Any] | None = None
        #: Target -> factor applied to the std (and member spread) by ``predict*``; fitted
        #: on held-out data by :meth:`recalibrate`. Empty: no recalibration.
        self.std_scales: dict[str, float] = {}
        #: Target -> distribution of the standardized error after the std scales, fitted
        #: with them by :meth:`recalibrate` (``error_distribution.py``). Empty: Gaussian.
        self.error_distributions: dict[str, StandardizedErrors] = {}
        #: Elements of the structures trained on (None: not known, e.g. an old folder).
        self.training_elements: tuple[str, ...] | None = None
        #: Distance-to-training in the first member's embedding (``graph_domain.py``).
        self.domain: GraphDomain | None = None

    #: Largest atomic number the members embed.
    max_atomic_number = MAX_Z

    @property
    def input_kind(self) -> str:
        """What the members read: ``molecule`` (``mol_gnn``) or ``crystal``."""
        return "molecule" if self.config.model.kind == "mol_gnn" else "crystal"

    @property
    def is_fitted(self) -> bool:
        """Whether the members have weights."""
        return bool(self._states)

    @property
    def member_states(self) -> tuple[StateDict, ...]:
        """The `s` members' weights (read-only; e.g. to scatter them to workers)."""
        return tuple(self._states)

    # -- training ---------------------------------------------------------------------

    def fit_graphs(
        self,
        graphs: PackedGraphs,
        y: np.ndarray,
        *,
        warm_start: bool = False,
        executor: Executor | None = None,
        seed_offset: int = 0,
        val_indices: np.ndarray | None = None,
        checkpoint_dir: Path | None = None,
    ) -> FitReport:
        """Train every member on precomputed graphs.

        Args:
            graphs: `n` training graphs.
            y: `n x t` labels (target units); NaN = missing, masked out of the loss.
            warm_start: Continue from the current weights (if any) instead of a fresh
                initialisation; uses ``training.warm_start_epochs``.
            executor: Trains members in parallel when given.
            seed_offset: Added to every member seed (e.g. the campaign iteration), so
                that successive fits draw different splits while staying reproducible.
            val_indices: Rows of ``graphs`` forming a fixed validation split for early
                stopping (default: each member draws its own random split).
            checkpoint_dir: Members checkpoint every epoch to ``member_<i>.pt`` here and
                resume from it; a finished member is stored as ``member_<i>.done.pt`` and
                not retrained.

        Returns:
            The fit report (also kept as :attr:`last_fit`).
        """
        start = time.perf_counter()
        use_warm = warm_start and self.is_fitted
        pretrained = self._pretrained_states() if not use_warm else []
        tasks = [
            {
                "graphs": graphs,
                "y": np.asarray(y, dtype=np.float64),
                "model_config": self.config.model,
                "graph_config": self.config.graph,
                "training": self.config.training,
                "target_names": self.target_names,
                "seed": self.config.seed + 1000 * seed_offset + i,
                "init_state": self._states[i] if use_warm else None,
                "pretrained_state": None
                if use_warm or not pretrained
                else pretrained[i % len(pretrained)],
                "val_indices": val_indices,
                "checkpoint_path": None
                if checkpoint_dir is None
                else Path(checkpoint_dir) / f"member_{i}.pt",
            }
            for i in range(self.config.n_members)
        ]
        if executor is None:
            results = [_train_member_task(t) for t in tasks]
        else:
            results = executor.map(_train_member_task, tasks, desc="training ensemble")
        self.std_scales, self.error_distributions = {}, {}
        self._states = [state for state, _ in results]
        self._models = None
        self.training_elements = element_symbols(graphs.z)
        self.fit_domain(graphs)
        reports = [report for _, report in results]
        val_mae = {
            name: float(np.nanmean([r.val_mae.get(name, np.nan) for r in reports]))
            if any(r.val_mae for r in reports)
            else float("nan")
            for name in self.target_names
        }
        self.last_fit = FitReport(
            n_train=len(graphs),
            val_mae=val_mae,
            members=reports,
            seconds=time.perf_counter() - start,
            warm_start=use_warm,
        )
        return self.last_fit

    def _pretrained_states(self) -> list[StateDict]:
        """Member weights of ``config.init_from`` (empty without one)."""
        if not self.config.init_from:
            return []
        from materials_ai.settings import PROJECT_ROOT

        path = Path(self.config.init_from)
        path = path if path.is_absolute() else PROJECT_ROOT / path
        source = GraphEnsembleSurrogate.load(path)
        if source.config.graph != self.config.graph or source.config.model != self.config.model:
            raise SurrogateError(
                f"pretrained model {path} uses other graph or architecture settings; "
                "transfer needs the same ones"
            )
        return list(source._states)

    def fit(self, dataset: MaterialsDataset, *, executor: Executor | None = None) -> FitReport:
        """Build graphs for a labelled dataset and train on its targets."""
        missing = [t for t in self.target_names if t not in dataset.target_names]
        if missing:
            raise SurrogateError(
                f"dataset {dataset.name!r} lacks target(s) {missing}; "
                f"it has {list(dataset.target_names)}"
            )
        if not any(self.target_units):  # units from the dataset card
            units = {t.name: t.unit for t in dataset.targets}
            self.target_units = tuple(units[t] for t in self.target_names)
        graphs = build_graphs(
            [r.structure for r in dataset.records],
            dataset.ids,
            self.config.graph,
            executor=executor,
        )
        return self.fit_graphs(graphs, dataset.target_matrix(self.target_names), executor=executor)

    # -- inference --------------------------------------------------------------------

    def _member_models(self) -> list[CGCNN]:
        if not self._states:
            raise SurrogateError("the surrogate is not fitted; call fit() or load() first")
        if self._models is None:
            models = []
            for state in self._states:
                model = build_model(self.config.model, self.config.graph, len(self.target_names))
                model.load_state_dict(state)
                model.eval()
                models.append(model)
            self._models = models
        return self._models

    def predict_graphs(
        self,
        graphs: PackedGraphs,
        batch_size: int = INFERENCE_BATCH_SIZE,
        *,
        executor: Executor | None = None,
        partition_size: int | None = None,
    ) -> Prediction:
        """Predict `n` graphs with every member.

        Args:
            graphs: `n` graphs.
            batch_size: Graphs per mini-batch.
            executor: Score partitions of the pool in parallel on it (weights scattered
                once; same result, see :func:`materials_ai.surrogates.scoring.score_pool`).
            partition_size: Graphs per task with an executor (default: about four tasks
                per worker thread).

        Returns:
            Mean and std over members (`n x t`) and the members' predictions as samples
            (`s x n x t`), in target units.
        """
        if executor is not None:
            from materials_ai.surrogates.scoring import score_pool

            scored = score_pool(
                self,
                graphs,
                executor=executor,
                partition_size=partition_size,
                batch_size=batch_size,
            )
            return self._with_domain(scored, graphs)
        models = self._member_models()
        indices = np.arange(len(graphs))
        samples = np.empty((len(models), len(graphs), len(self.target_names)), np.float64)
        for k, model in enumerate(models):
            pred = predict_standardised(model, graphs, indices, batch_size=batch_size)
            samples[k] = (pred * model.y_std + model.y_mean).numpy()
        prediction = Prediction.from_samples(samples, self.target_names)
        prediction = recalibrated(prediction, self.std_scales, self.error_distributions)
        return self._with_domain(prediction, graphs)

    def fit_domain(self, graphs: PackedGraphs) -> None:
        """Fit the applicability domain on (a seeded sample of) the training graphs."""
        self.domain = GraphDomain.fit(self._member_models()[0], graphs, seed=self.config.seed)

    def _with_domain(self, prediction: Prediction, graphs: PackedGraphs) -> Prediction:
        """``prediction`` with the graphs' distance-to-training scores (if fitted)."""
        if self.domain is None:
            return prediction
        score = self.domain.score(self._member_models()[0], graphs)
        return dataclasses.replace(prediction, domain=score)

    def recalibrate(self, graphs: PackedGraphs, y: np.ndarray) -> dict[str, float]:
        """Fit one std scale and then one error distribution per target on held-out graphs.

        See ``calibration.py`` and ``error_distribution.py``.

        Args:
            graphs: `n` held-out graphs (never trained on).
            y: `n x t` labels.

        Returns:
            The scales, also kept in :attr:`std_scales` and saved with the model.
        """
        self.std_scales, self.error_distributions = {}, {}
        raw = self.predict_graphs(graphs)
        labels = np.asarray(y, np.float64)
        self.std_scales = fit_std_scales(labels, raw)
        scaled = apply_std_scales(raw, self.std_scales)
        self.error_distributions = fit_error_distributions(labels, scaled)
        return dict(self.std_scales)

    def predict(self, candidates: Sequence[Candidate] | Any) -> Prediction:
        """Build graphs and predict: candidates, pymatgen ``Structure``/``Molecule``, ASE
        ``Atoms`` or structure files, one or many (:func:`~materials_ai.surrogates.inputs.
        as_candidates`); the prediction carries their ids and the target units.

        Raises:
            SurrogateError: Naming each input the members cannot take (a molecule for a
                crystal model, an element beyond the embedding, a dummy species).
        """
        inputs = model_inputs(self, candidates)
        graphs = build_graphs(
            [c.structure for c in inputs], [c.id for c in inputs], self.config.graph
        )
        return labelled(self, self.predict_graphs(graphs), inputs)

    # -- the campaign's contract (PoolSurrogate) ---------------------------------------

    def featurize_pool(
        self,
        candidates: Sequence[Candidate],
        *,
        source: str | None,
        executor: Executor | None = None,
    ) -> PackedGraphs:
        """The pool's graphs, from the disk cache under ``source`` when given."""
        structures = [c.structure for c in candidates]
        ids = [c.id for c in candidates]
        if source is None:
            return build_graphs(structures, ids, self.config.graph, executor=executor)
        from materials_ai.graphs.cache import load_or_build_graphs

        return load_or_build_graphs(structures, ids, self.config.graph, source=source)

    def fit_pool(
        self,
        features: PackedGraphs,
        y: np.ndarray,
        *,
        warm_start: bool = False,
        executor: Executor | None = None,
        seed_offset: int = 0,
    ) -> FitReport:
        """:meth:`fit_graphs` on the labelled rows of a featurized pool."""
        return self.fit_graphs(
            features, y, warm_start=warm_start, executor=executor, seed_offset=seed_offset
        )

    def predict_pool(
        self, features: PackedGraphs, *, executor: Executor | None = None
    ) -> Prediction:
        """:meth:`predict_graphs` on a featurized pool."""
        return self.predict_graphs(features, executor=executor)

    # -- persistence ------------------------------------------------------------------

    def save(self, path: str | Path) -> None:
        """Write ``surrogate.json`` (config, targets, version) and ``weights.pt``.

        The weights file holds only tensors, so :meth:`load` reads it with
        ``torch.load(weights_only=True)``.
        """
        if not self._states:
            raise SurrogateError("cannot save an unfitted surrogate")
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        meta = {
            "format_version": FORMAT_VERSION,
            "class": type(self).__name__,
            "materials_ai_version": __version__,
            "target_names": list(self.target_names),
            "target_units": list(self.target_units),
            "config": self.config.model_dump(mode="json"),
            "std_scales": dict(self.std_scales),
            "error_quantiles": {k: v.to_list() for k, v in self.error_distributions.items()},
            "training_elements": self.training_elements,
            "fit": self._loaded_fit
            if self.last_fit is None
            else {
                "n_train": self.last_fit.n_train,
                "val_mae": self.last_fit.val_mae,
                "seconds": self.last_fit.seconds,
            },
        }
        weights = {f"member{i}.{k}": v for i, s in enumerate(self._states) for k, v in s.items()}
        tmp = path / (WEIGHTS_FILE + ".tmp")
        torch.save(weights, tmp)
        os.replace(tmp, path / WEIGHTS_FILE)
        tmp_meta = path / (CONFIG_FILE + ".tmp")
        tmp_meta.write_text(json.dumps(meta, indent=2, default=float))
        os.replace(tmp_meta, path / CONFIG_FILE)
        if self.domain is not None:
            self.domain.save(path)

    @classmethod
    def load(cls, path: str | Path) -> GraphEnsembleSurrogate:
        """Read a surrogate written by :meth:`save`."""
        path = Path(path)
        meta_path = path / CONFIG_FILE
        if not meta_path.exists():
            raise SurrogateError(f"{meta_path} not found: not a saved surrogate folder")
        meta = json.loads(meta_path.read_text())
        if meta.get("format_version") != FORMAT_VERSION:
            raise SurrogateError(
                f"{meta_path}: format version {meta.get('format_version')} is not {FORMAT_VERSION}"
            )
        surrogate = cls(
            EnsembleConfig.model_validate(meta["config"]),
            meta["target_names"],
            meta.get("target_units"),
        )
        weights: Mapping[str, torch.Tensor] = load_weights(path / WEIGHTS_FILE)
        surrogate._states = member_states(
            weights,
            surrogate.config.model,
            surrogate.config.graph,
            n_members=surrogate.config.n_members,
            n_targets=len(surrogate.target_names),
            source=path / WEIGHTS_FILE,
        )
        surrogate._loaded_fit = meta.get("fit")
        surrogate.domain = GraphDomain.load(path)
        if meta.get("training_elements") is not None:
            surrogate.training_elements = tuple(meta["training_elements"])
        surrogate.std_scales = {k: float(v) for k, v in meta.get("std_scales", {}).items()}
        for target, values in meta.get("error_quantiles", {}).items():
            try:
                surrogate.error_distributions[target] = StandardizedErrors.from_list(values)
            except (TypeError, ValueError) as error:
                raise SurrogateError(
                    f"{meta_path}: error_quantiles of {target!r} are invalid: {error}"
                ) from None
        return surrogate


def _create(
    config: Any, target_names: Sequence[str], target_units: Sequence[str]
) -> GraphEnsembleSurrogate:
    return GraphEnsembleSurrogate(config, target_names, target_units)


#: The ``graph_ensemble`` entry of the surrogate-kind registry (``surrogates/kinds.py``).
SURROGATE_KIND = SurrogateKind(create=_create, load=GraphEnsembleSurrogate.load)
