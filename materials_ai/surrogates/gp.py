"""Exact Gaussian-process surrogate on fixed-length descriptors (BoTorch ``SingleTaskGP``).

With a few hundred labels a graph network is data-starved; an exact GP on pretrained
features (:mod:`materials_ai.surrogates.featurizers`) is the small-data model BoTorch is
built around. Each target gets its own ``SingleTaskGP``
(ARD kernel with BoTorch's dimension-scaled lengthscale prior on inputs in the unit cube,
``Standardize`` outcome transform, learned Gaussian noise), fitted with
``fit_gpytorch_mll`` on the candidates where that target was observed (``conditional_on``:
only those whose indicator target is 1, a hurdle model for zero-inflated targets).

The campaign consumes a :class:`~materials_ai.surrogates.prediction.Prediction` with
``s x n x t`` samples. The GP hands over **moment-matched posterior draws**: standard
normal draws, standardised per candidate and target to sample mean 0 and sample std 1,
scaled by the posterior marginal std and shifted by its mean. The samples' mean and std
(ddof = 1) are then exactly the GP's, so mean-based strategies (greedy, the constrained
probability of feasibility, the ranked list) are exact, and MC strategies (qUCB, qLogEI,
Thompson) integrate over ``s`` draws of the marginals.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from materials_ai.errors import SurrogateError
from materials_ai.surrogates import gp_results as results
from materials_ai.surrogates.config import GPConfig
from materials_ai.surrogates.descriptors import DescriptorTable
from materials_ai.surrogates.domain import ApplicabilityDomain
from materials_ai.surrogates.feature_table import BlockTransform, FeaturePipeline
from materials_ai.surrogates.featurizers import feature_provenance
from materials_ai.surrogates.gp_results import (
    GPFitReport,
    GPTargetReport,
    _seed,
    copy_hyperparameters,
    moment_matched_samples,
    target_report,
)
from materials_ai.surrogates.inputs import labelled, model_inputs, training_elements_of
from materials_ai.surrogates.kinds import SurrogateKind, load_weights
from materials_ai.surrogates.prediction import Prediction

if TYPE_CHECKING:
    from botorch.models import SingleTaskGP

    from materials_ai.compute import Executor
    from materials_ai.data.records import Candidate, MaterialsDataset

__all__ = [
    "SURROGATE_KIND",
    "GPFitReport",
    "GPSurrogate",
    "GPTargetReport",
    "moment_matched_samples",
]

CONFIG_FILE = "surrogate.json"
WEIGHTS_FILE = "gp.pt"
FORMAT_VERSION = 1
#: Keys of the fitted feature transform and the applicability domain in the weights file
#: (never target names).
FEATURES_KEY = "__features__"

DOMAIN_KEY = "__domain__"


class GPSurrogate:
    """One exact GP per target on unit-cube descriptors.

    In a campaign it takes the place of the graph ensemble: ``fit_graphs`` and
    ``predict_graphs`` take a :class:`DescriptorTable` (the pool representation the
    campaign keeps for this surrogate) where the ensemble takes ``PackedGraphs``.

    Args:
        config: GP settings.
        target_names: `t` target names.
        target_units: Their units (for saved metadata).
    """

    def __init__(
        self,
        config: GPConfig,
        target_names: Sequence[str],
        target_units: Sequence[str] | None = None,
    ) -> None:
        self.config = config
        self.target_names = tuple(target_names)
        self.target_units = tuple(target_units or [""] * len(self.target_names))
        self.models: list[SingleTaskGP] = []
        self.draw_seed = _seed(config.seed, 0)
        #: Featurizer blocks -> unit-cube table; fitted on a pool (or a dataset's rows).
        self.pipeline = FeaturePipeline(config.feature_blocks())
        self._train: list[tuple[torch.Tensor, torch.Tensor]] = []
        #: Per-target leave-one-out std factors (applied with ``config.calibrate_std``).
        self.std_factors: list[float] = []
        #: Distance-to-training scores of predictions (fitted on the labelled rows).
        self.domain: ApplicabilityDomain | None = None
        #: Elements of the structures fitted on (None: not known).
        self.training_elements: tuple[str, ...] | None = None
        self._pool: dict[str, Any] = {}  # id -> structure of the featurized pool
        results.check_conditional_targets(config.conditional_on, self.target_names)

    @property
    def is_fitted(self) -> bool:
        """Whether every target has a fitted GP."""
        return len(self.models) == len(self.target_names)

    # -- model construction -----------------------------------------------------------

    def _build(self, x: torch.Tensor, y: torch.Tensor) -> SingleTaskGP:
        from botorch.models import SingleTaskGP
        from botorch.models.transforms.outcome import Standardize
        from botorch.models.utils.gpytorch_modules import get_covar_module_with_dim_scaled_prior

        covar = get_covar_module_with_dim_scaled_prior(
            ard_num_dims=x.shape[-1], use_rbf_kernel=self.config.kernel == "rbf"
        )
        return SingleTaskGP(x, y, covar_module=covar, outcome_transform=Standardize(m=1))

    # -- fitting ----------------------------------------------------------------------

    def fit_descriptors(
        self, x: np.ndarray, y: np.ndarray, *, seed_offset: int = 0, warm_start: bool = False
    ) -> GPFitReport:
        """Fit one GP per target (on ``config.threads`` torch threads; see :meth:`_fit`)."""
        with results.torch_threads(self.config.threads):
            return self._fit(x, y, seed_offset=seed_offset, warm_start=warm_start)

    def _fit(
        self, x: np.ndarray, y: np.ndarray, *, seed_offset: int = 0, warm_start: bool = False
    ) -> GPFitReport:
        """Fit one GP per target.

        Args:
            x: `m x d` descriptors scaled to the unit cube.
            y: `m x t` labels in target units (NaN where a target was not observed).
            seed_offset: Mixed into the seed of the posterior draws and of any optimiser
                restart (the campaign passes its iteration).
            warm_start: Start the optimiser from the current fit's hyperparameters
                (lengthscales, noise, constant mean) instead of the priors' defaults:
                far fewer L-BFGS steps when a few labels were added.

        Returns:
            The fit report.

        Raises:
            SurrogateError: If shapes disagree or a target has no observation.
        """
        from botorch.fit import fit_gpytorch_mll
        from botorch.optim.fit import fit_gpytorch_mll_scipy
        from gpytorch.mlls import ExactMarginalLogLikelihood

        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
        if x.ndim != 2 or len(x) != len(y) or y.shape[1] != len(self.target_names):
            raise SurrogateError(
                f"need m x d descriptors and m x {len(self.target_names)} labels; got "
                f"{x.shape} and {y.shape}"
            )
        started = time.perf_counter()
        was_fitted = self.is_fitted
        seed = _seed(self.config.seed, seed_offset)
        models: list[SingleTaskGP] = []
        train: list[tuple[torch.Tensor, torch.Tensor]] = []
        reports: list[GPTargetReport] = []
        for j, target in enumerate(self.target_names):
            finite = results.training_rows(self.config, self.target_names, target, y)
            if not finite.any():  # one label is enough: the prior's std around its value
                raise SurrogateError(f"target {target!r} has no observation yet; a GP needs one")
            tx = torch.as_tensor(x[finite], dtype=torch.float64)
            ty = torch.as_tensor(y[finite, j : j + 1], dtype=torch.float64)
            model = self._build(tx, ty)
            # Hyperparameters from at most `hyper_subsample` rows (seeded); the posterior
            # below conditions on every row with them.
            tuned = model
            cap = self.config.hyper_subsample
            if cap is not None and len(tx) > cap:
                rng = np.random.default_rng(_seed(seed, j, 1))
                rows = torch.as_tensor(np.sort(rng.choice(len(tx), size=cap, replace=False)))
                tuned = self._build(tx[rows], ty[rows])
            if warm_start and self.is_fitted:
                copy_hyperparameters(self.models[j], tuned)
            mll = ExactMarginalLogLikelihood(tuned.likelihood, tuned)
            steps: list[int] = []

            def optimizer(mll: Any, _steps: list[int] = steps, **kwargs: Any) -> Any:
                result = fit_gpytorch_mll_scipy(mll, **kwargs)
                _steps.append(int(result.step))
                return result

            with torch.random.fork_rng(), warnings.catch_warnings():
                torch.manual_seed(_seed(seed, j))
                warnings.simplefilter("ignore")
                fit_gpytorch_mll(
                    mll,
                    optimizer=optimizer,
                    optimizer_kwargs={"options": {"maxiter": self.config.max_iter}},
                )
            if tuned is not model:
                copy_hyperparameters(tuned, model)
            model.eval()
            models.append(model)
            train.append((tx, ty))
            reports.append(target_report(model, target, tx, ty, sum(steps)))
        self.models = models
        self._train = train
        self.std_factors = [r.loo_std_factor for r in reports]
        self.domain = ApplicabilityDomain.fit(x)
        self.draw_seed = seed
        return GPFitReport(
            n_train=len(x),
            val_mae={r.target: r.loo_mae for r in reports},
            members=reports,
            seconds=time.perf_counter() - started,
            warm_start=warm_start and was_fitted,
        )

    def fit_graphs(
        self,
        table: DescriptorTable,
        y: np.ndarray,
        *,
        warm_start: bool = False,
        executor: Any = None,
        seed_offset: int = 0,
    ) -> GPFitReport:
        """Fit on a campaign's labelled rows (the ensemble's ``fit_graphs`` signature).

        Args:
            table: `m` labelled candidates' descriptors.
            y: `m x t` labels (NaN where unobserved).
            warm_start: Start from the previous hyperparameters (with
                ``config.warm_start``); see :meth:`fit_descriptors`.
            executor: Ignored (one process; the fit takes seconds).
            seed_offset: See :meth:`fit_descriptors`.
        """
        del executor
        known = all(i in self._pool for i in table.ids)
        self.training_elements = (
            training_elements_of(self._pool[i] for i in table.ids) if known else None
        )
        return self.fit_descriptors(
            table.values,
            y,
            seed_offset=seed_offset,
            warm_start=warm_start and self.config.warm_start,
        )

    def fit(self, dataset: MaterialsDataset) -> GPFitReport:
        """Fit on a labelled dataset (the feature transform is fitted on its rows, kept;
        target units from the dataset card unless given)."""
        if not any(self.target_units):
            units = {t.name: t.unit for t in dataset.targets}
            self.target_units = tuple(units[t] for t in self.target_names)
        self.training_elements = training_elements_of(r.structure for r in dataset.records)
        table = self.pipeline.fit_table(
            [r.structure for r in dataset.records], [r.id for r in dataset.records], None
        )
        y = np.array(
            [[r.targets.get(t, np.nan) for t in self.target_names] for r in dataset.records],
            dtype=np.float64,
        ).reshape(len(dataset.records), len(self.target_names))
        return self.fit_descriptors(table.values, y)

    # -- the campaign's contract (PoolSurrogate) ---------------------------------------

    def featurize_pool(
        self,
        candidates: Sequence[Candidate],
        *,
        source: str | None,
        executor: Executor | None = None,
    ) -> DescriptorTable:
        """The pool's feature table (transform fitted on the pool itself, no labels)."""
        del executor
        self._pool = {c.id: c.structure for c in candidates}
        return self.pipeline.fit_table(
            [c.structure for c in candidates], [c.id for c in candidates], source
        )

    def fit_pool(
        self,
        features: DescriptorTable,
        y: np.ndarray,
        *,
        warm_start: bool = False,
        executor: Executor | None = None,
        seed_offset: int = 0,
    ) -> GPFitReport:
        """:meth:`fit_graphs` under the campaign's name."""
        return self.fit_graphs(
            features, y, warm_start=warm_start, executor=executor, seed_offset=seed_offset
        )

    def predict_pool(
        self, features: DescriptorTable, *, executor: Executor | None = None
    ) -> Prediction:
        """Posterior of every row of a featurized pool."""
        del executor
        return self.predict_descriptors(features.values)

    # -- prediction -------------------------------------------------------------------

    def predict_marginals(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and std of each target, `n x t` each (see :meth:`_marginals`)."""
        with results.torch_threads(self.config.threads):
            return self._marginals(x)

    def _marginals(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and std of each target (latent function, no observation noise).

        Computes only the diagonal of the posterior covariance (``k(x, x) - v^T v`` with
        ``v = L^-1 k(X, x)``), which for a pool is ~10x cheaper than BoTorch's
        ``posterior(X).variance`` (that forms each chunk's full covariance); the numbers
        are the same (tested).

        Args:
            x: `n x d` unit-cube descriptors.

        Returns:
            ``(mean, std)``, each `n x t` in target units.

        Raises:
            SurrogateError: If the surrogate is not fitted.
        """
        if not self.is_fitted:
            raise SurrogateError("the GP surrogate is not fitted")
        x_t = torch.as_tensor(np.asarray(x, dtype=np.float64))
        n, t = len(x_t), len(self.target_names)
        mean = np.empty((n, t))
        std = np.empty((n, t))
        chunk = self.config.predict_chunk
        with torch.no_grad():
            for j, (model, (train_x, _)) in enumerate(zip(self.models, self._train, strict=True)):
                cholesky, alpha, constant, shift, scale = results.posterior_solve(model, train_x)
                for start in range(0, n, chunk):
                    xc = x_t[start : start + chunk]
                    cross = model.covar_module(xc, train_x).to_dense()  # c x m
                    prior_var = model.covar_module(xc, diag=True)
                    v = torch.linalg.solve_triangular(cholesky, cross.T, upper=False)
                    variance = (prior_var - (v * v).sum(dim=0)).clamp_min(0.0)
                    mu = constant + cross @ alpha
                    mean[start : start + chunk, j] = (mu * scale + shift).numpy()
                    if self.config.calibrate_std:  # predictive std x leave-one-out factor
                        noise = model.likelihood.noise.reshape(-1)[0]
                        variance = (variance + noise) * self.std_factors[j] ** 2
                    std[start : start + chunk, j] = (variance.sqrt() * scale).numpy()
        return mean, std

    def predict_descriptors(self, x: np.ndarray, *, seed: int | None = None) -> Prediction:
        """Predict with moment-matched posterior draws as ``samples``.

        Args:
            x: `n x d` unit-cube descriptors.
            seed: Seed of the draws (default: the one derived at fit time).

        Returns:
            A prediction whose ``samples`` are `s x n x t` (``s = config.n_samples``).
        """
        mean, std = self.predict_marginals(x)
        samples = moment_matched_samples(
            mean, std, self.config.n_samples, self.draw_seed if seed is None else seed
        )
        return Prediction(
            mean=mean,
            std=std,
            samples=samples,
            target_names=self.target_names,
            domain=None if self.domain is None else self.domain.score(x),
        )

    def predict_graphs(self, table: DescriptorTable, *, executor: Any = None) -> Prediction:
        """Score a campaign's pool (the ensemble's ``predict_graphs`` signature)."""
        del executor
        return self.predict_descriptors(table.values)

    def predict(self, candidates: Sequence[Candidate] | Any) -> Prediction:
        """Predict candidates, pymatgen/ASE structures or structure files (see
        :func:`~materials_ai.surrogates.inputs.as_candidates`), featurized with the
        transform fitted by ``fit`` or on the campaign's pool."""
        if self.pipeline.bounds is None:
            raise SurrogateError(
                "predict(candidates) needs a fitted feature transform: fit(dataset), or a "
                "surrogate saved by a campaign"
            )
        inputs = model_inputs(self, candidates)
        table = self.pipeline.table([c.structure for c in inputs], [c.id for c in inputs])
        return labelled(self, self.predict_descriptors(table.values), inputs)

    def unusable_structures(self, structures: Sequence[Any]) -> dict[int, str]:
        """Index -> reason for structures a featurizer block cannot featurize at all."""
        return self.pipeline.unusable_rows(structures)

    # -- persistence ------------------------------------------------------------------

    def save(self, path: str | Path) -> None:
        """Write ``surrogate.json`` (config, targets, draw seed) and ``gp.pt`` (training
        data and fitted hyperparameters, tensors only: ``weights_only=True`` loads it)."""
        if not self.is_fitted:
            raise SurrogateError("cannot save an unfitted GP surrogate")
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        meta = {
            "kind": "gp",
            "format_version": FORMAT_VERSION,
            "config": self.config.model_dump(mode="json"),
            "target_names": list(self.target_names),
            "target_units": list(self.target_units),
            "draw_seed": self.draw_seed,
            "feature_names": list(self.pipeline.names()),
            "std_factors": list(self.std_factors),
            "training_elements": self.training_elements,
            "feature_provenance": feature_provenance(
                [b.featurizer for b in self.config.feature_blocks()]
            ),
        }
        payload: dict[str, Any] = {
            target: {"x": x, "y": y, "state": model.state_dict()}
            for target, model, (x, y) in zip(
                self.target_names, self.models, self._train, strict=True
            )
        }
        if self.domain is not None:
            payload[DOMAIN_KEY] = {
                "train": torch.as_tensor(self.domain.train),
                "threshold": torch.tensor(self.domain.threshold, dtype=torch.float64),
                "k": torch.tensor(self.domain.k),
            }
        payload[FEATURES_KEY] = {
            k: torch.as_tensor(v) for k, v in self.pipeline.to_arrays().items()
        }
        torch.save(payload, path / WEIGHTS_FILE)
        (path / CONFIG_FILE).write_text(json.dumps(meta, indent=1))

    @classmethod
    def load(cls, path: str | Path) -> GPSurrogate:
        """Read a surrogate written by :meth:`save` (predictions identical to the saved one).

        Raises:
            SurrogateError: If the folder holds no GP surrogate.
        """
        path = Path(path)
        try:
            meta = json.loads((path / CONFIG_FILE).read_text())
        except FileNotFoundError:
            raise SurrogateError(f"{path} holds no saved surrogate") from None
        if meta.get("kind") != "gp":
            raise SurrogateError(f"{path} holds a {meta.get('kind', 'graph ensemble')} surrogate")
        surrogate = cls(
            GPConfig.model_validate(meta["config"]), meta["target_names"], meta["target_units"]
        )
        surrogate.draw_seed = int(meta["draw_seed"])
        if meta.get("training_elements") is not None:
            surrogate.training_elements = tuple(meta["training_elements"])
        surrogate.std_factors = [float(v) for v in meta.get("std_factors", [])] or [1.0] * len(
            surrogate.target_names
        )
        payload = load_weights(path / WEIGHTS_FILE)
        if DOMAIN_KEY in payload:
            entry = payload[DOMAIN_KEY]
            surrogate.domain = ApplicabilityDomain(
                train=entry["train"].numpy(),
                threshold=float(entry["threshold"]),
                k=int(entry["k"]),
            )
        if payload.get(FEATURES_KEY):
            surrogate.pipeline.load_arrays({k: v.numpy() for k, v in payload[FEATURES_KEY].items()})
        elif meta.get("input_bounds") is not None:  # folders written before the pipeline
            low, span = (np.asarray(b, dtype=np.float64) for b in meta["input_bounds"])
            surrogate.pipeline.bounds = (low, span)
            surrogate.pipeline.transforms = [
                BlockTransform(mean=np.zeros_like(low), scale=np.ones_like(low), components=None)
            ]
        for target in surrogate.target_names:
            entry = payload[target]
            model = surrogate._build(entry["x"], entry["y"])
            model.load_state_dict(entry["state"])
            model.eval()
            surrogate.models.append(model)
            surrogate._train.append((entry["x"], entry["y"]))
        return surrogate


def _create(config: Any, target_names: Sequence[str], target_units: Sequence[str]) -> GPSurrogate:
    return GPSurrogate(config, target_names, target_units)


#: The ``gp`` entry of the surrogate-kind registry (``surrogates/kinds.py``).
SURROGATE_KIND = SurrogateKind(create=_create, load=GPSurrogate.load)
