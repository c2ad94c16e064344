"""A deep ensemble of small MLP heads on pretrained features (for large label sets).

The GP head (:mod:`materials_ai.surrogates.gp`) is the model of a campaign's 100-1,000
labels; an exact GP cannot condition on the ~30,000 rows of a whole training split. This
head can: each of ``members`` multilayer perceptrons (different initialisation and
mini-batch order) reads the same featurizer blocks (e.g. CHGNet features and element
fractions) and predicts every target at once, with a masked L1 loss so rows may miss
targets. Per target, an optional ridge-regression **linear baseline** on the same inputs
is fitted first and the networks learn its residual: for a formation energy the baseline
is essentially CHGNet's energy minus fitted elemental reference energies, the part a
small network learns slowly (``docs/benchmarks.md``).

Uncertainty is the spread of the members, multiplied per target by a factor fitted on a
held-out slice of the training rows (``calibration_fraction``) so that central 90 %
intervals cover 90 % there. ``samples`` are the members' predictions with their
deviations from the mean scaled by that factor, so ensemble-based acquisition works as
for the graph ensemble.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from materials_ai.errors import SurrogateError
from materials_ai.surrogates.config import FeatureEnsembleConfig
from materials_ai.surrogates.descriptors import DescriptorTable
from materials_ai.surrogates.domain import ApplicabilityDomain
from materials_ai.surrogates.feature_table import FeaturePipeline
from materials_ai.surrogates.featurizers import feature_provenance
from materials_ai.surrogates.gp_results import torch_threads
from materials_ai.surrogates.inputs import labelled, model_inputs
from materials_ai.surrogates.kinds import SurrogateKind
from materials_ai.surrogates.prediction import Prediction

if TYPE_CHECKING:
    from materials_ai.compute import Executor
    from materials_ai.data.records import Candidate, MaterialsDataset

__all__ = ["SURROGATE_KIND", "FeatureEnsembleFitReport", "FeatureEnsembleSurrogate"]

KIND = "feature_ensemble"
CONFIG_FILE = "surrogate.json"
WEIGHTS_FILE = "feature_ensemble.pt"
FORMAT_VERSION = 1
Z90 = 1.6448536269514722
#: Training rows kept for the applicability domain (its k-NN search is quadratic).
DOMAIN_ROWS = 5000


@dataclass(frozen=True)
class MemberReport:
    """One network's training.

    Attributes:
        epochs: Epochs run.
        final_loss: Mean masked L1 loss of the last epoch (standardised targets).
    """

    epochs: int
    final_loss: float


@dataclass(frozen=True)
class FeatureEnsembleFitReport:
    """What a fit did (the campaign's ``PoolFitReport``).

    Attributes:
        n_train: Labelled rows given (calibration rows included).
        val_mae: Target -> MAE on the calibration rows (target unit; NaN without them).
        members: Per network.
        seconds: Wall time.
        warm_start: Always False (every fit starts afresh).
        std_factors: Target -> calibration factor of the members' std.
    """

    n_train: int
    val_mae: dict[str, float]
    members: list[MemberReport]
    seconds: float
    warm_start: bool
    std_factors: dict[str, float]


def _network(d_in: int, hidden: Sequence[int], d_out: int) -> torch.nn.Sequential:
    layers: list[torch.nn.Module] = []
    width = d_in
    for h in hidden:
        layers += [torch.nn.Linear(width, h), torch.nn.SiLU()]
        width = h
    layers.append(torch.nn.Linear(width, d_out))
    return torch.nn.Sequential(*layers)


class FeatureEnsembleSurrogate:
    """Deep ensemble of MLPs on featurizer blocks, with linear baselines per target.

    Args:
        config: Head settings.
        target_names: `t` target names.
        target_units: Their units (saved metadata).
    """

    def __init__(
        self,
        config: FeatureEnsembleConfig,
        target_names: Sequence[str],
        target_units: Sequence[str] | None = None,
    ) -> None:
        self.config = config
        self.target_names = tuple(target_names)
        self.target_units = tuple(target_units or [""] * len(self.target_names))
        self.pipeline = FeaturePipeline(config.features)
        self.networks: list[torch.nn.Sequential] = []
        #: Input standardisation (`d`), baseline weights (`d+1 x t`), residual scale (`t`).
        self.x_mean = np.zeros(0)
        self.x_std = np.ones(0)
        self.baseline = np.zeros((0, len(self.target_names)))
        self.y_scale = np.ones(len(self.target_names))
        self.std_factors = np.ones(len(self.target_names))
        self.domain: ApplicabilityDomain | None = None

    @property
    def is_fitted(self) -> bool:
        """Whether the networks are trained."""
        return len(self.networks) == self.config.members

    # -- fitting ----------------------------------------------------------------------

    def fit_features(self, x: np.ndarray, y: np.ndarray, *, seed_offset: int = 0) -> Any:
        """Train on `m x d` feature rows and `m x t` labels (NaN where unobserved).

        Args:
            x: Rows of the feature table (unit cube, as :class:`FeaturePipeline` makes).
            y: Labels in target units.
            seed_offset: Mixed into the seeds of the split and the networks.

        Returns:
            A :class:`FeatureEnsembleFitReport`.

        Raises:
            SurrogateError: If shapes disagree or a target has no labels.
        """
        with torch_threads(self.config.threads):
            return self._fit(np.asarray(x, np.float64), np.asarray(y, np.float64), seed_offset)

    def _fit(self, x: np.ndarray, y: np.ndarray, seed_offset: int) -> FeatureEnsembleFitReport:
        cfg = self.config
        y = y.reshape(len(y), -1)
        if x.ndim != 2 or len(x) != len(y) or y.shape[1] != len(self.target_names):
            raise SurrogateError(
                f"need m x d features and m x {len(self.target_names)} labels; got "
                f"{x.shape} and {y.shape}"
            )
        for j, target in enumerate(self.target_names):
            if np.isfinite(y[:, j]).sum() < 2:
                raise SurrogateError(f"target {target!r} has fewer than 2 labels")
        started = time.perf_counter()
        rng = np.random.default_rng(cfg.seed + 7919 * seed_offset)
        order = rng.permutation(len(x))
        n_cal = round(cfg.calibration_fraction * len(x)) if len(x) >= 20 else 0
        cal, train = order[:n_cal], order[n_cal:]

        self.x_mean = x[train].mean(axis=0)
        self.x_std = x[train].std(axis=0) + 1e-6
        z = (x - self.x_mean) / self.x_std
        self.baseline = self._fit_baseline(z[train], y[train])
        residual = y - self._baseline(z)
        self.y_scale = np.array([np.nanstd(residual[train, j]) or 1.0 for j in range(y.shape[1])])
        self.networks, members = [], []
        for member in range(cfg.members):
            torch.manual_seed(cfg.seed + 1000 * member + 7919 * seed_offset)
            network, report = self._train_member(z[train], residual[train] / self.y_scale, rng)
            self.networks.append(network)
            members.append(report)

        val_mae = {t: float("nan") for t in self.target_names}
        self.std_factors = np.ones(len(self.target_names))
        if n_cal:
            mean, spread = self._moments(z[cal])
            for j, target in enumerate(self.target_names):
                seen = np.isfinite(y[cal, j])
                if seen.sum() >= 2:
                    error = np.abs(y[cal, j][seen] - mean[seen, j])
                    val_mae[target] = float(error.mean())
                    ratio = error / np.maximum(spread[seen, j], 1e-12)
                    self.std_factors[j] = float(np.quantile(ratio, 0.9) / Z90)
        sample = rng.choice(len(z), size=min(len(z), DOMAIN_ROWS), replace=False)
        self.domain = ApplicabilityDomain.fit(x[np.sort(sample)])
        return FeatureEnsembleFitReport(
            n_train=len(x),
            val_mae=val_mae,
            members=members,
            seconds=time.perf_counter() - started,
            warm_start=False,
            std_factors=dict(zip(self.target_names, self.std_factors.tolist(), strict=True)),
        )

    def _fit_baseline(self, z: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Ridge weights (`d+1 x t`, intercept last) per target; zeros when switched off."""
        weights = np.zeros((z.shape[1] + 1, y.shape[1]))
        if not self.config.linear_baseline:
            return weights
        design = np.hstack([z, np.ones((len(z), 1))])
        unpenalised_intercept = np.eye(design.shape[1])
        unpenalised_intercept[-1, -1] = 0.0
        for j in range(y.shape[1]):
            seen = np.isfinite(y[:, j])
            a, b = design[seen], y[seen, j]
            penalty = self.config.baseline_ridge * len(a) * unpenalised_intercept
            weights[:, j] = np.linalg.solve(a.T @ a + penalty, a.T @ b)
        return weights

    def _baseline(self, z: np.ndarray) -> np.ndarray:
        return np.asarray(z @ self.baseline[:-1] + self.baseline[-1])

    def _train_member(
        self, z: np.ndarray, y: np.ndarray, rng: np.random.Generator
    ) -> tuple[torch.nn.Sequential, MemberReport]:
        cfg = self.config
        xt = torch.as_tensor(z, dtype=torch.float32)
        yt = torch.as_tensor(np.nan_to_num(y), dtype=torch.float32)
        mask = torch.as_tensor(np.isfinite(y), dtype=torch.float32)
        network = _network(z.shape[1], cfg.hidden, y.shape[1])
        optimizer = torch.optim.AdamW(
            network.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay
        )
        steps = cfg.epochs * max(1, -(-len(z) // cfg.batch_size))
        schedule = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=2 * cfg.learning_rate, total_steps=steps
        )
        loss_value = float("nan")
        for _ in range(cfg.epochs):
            order = torch.as_tensor(rng.permutation(len(z)))
            total = 0.0
            for start in range(0, len(z), cfg.batch_size):
                batch = order[start : start + cfg.batch_size]
                error = (network(xt[batch]) - yt[batch]).abs() * mask[batch]
                loss = error.sum() / mask[batch].sum().clamp_min(1.0)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                schedule.step()
                total += loss.item() * len(batch)
            loss_value = total / len(z)
        network.eval()
        return network, MemberReport(epochs=cfg.epochs, final_loss=loss_value)

    # -- prediction -------------------------------------------------------------------

    def _members(self, z: np.ndarray) -> np.ndarray:
        """`members x n x t` predictions in target units."""
        with torch.no_grad():
            xt = torch.as_tensor(z, dtype=torch.float32)
            out = np.stack([network(xt).numpy().astype(np.float64) for network in self.networks])
        return out * self.y_scale + self._baseline(z)[None]

    def _moments(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        members = self._members(z)
        return members.mean(axis=0), members.std(axis=0, ddof=1)

    def predict_features(self, x: np.ndarray) -> Prediction:
        """Predict `n x d` feature rows: mean, calibrated std and scaled member samples."""
        if not self.is_fitted:
            raise SurrogateError("the feature-ensemble surrogate is not fitted")
        with torch_threads(self.config.threads):
            z = (np.asarray(x, np.float64) - self.x_mean) / self.x_std
            members = self._members(z)
        mean = members.mean(axis=0)
        samples = mean[None] + (members - mean[None]) * self.std_factors
        return Prediction(
            mean=mean,
            std=members.std(axis=0, ddof=1) * self.std_factors,
            samples=samples,
            target_names=self.target_names,
            domain=None if self.domain is None else self.domain.score(x),
        )

    # -- the campaign's and the notebook's contracts ----------------------------------

    def featurize_pool(
        self,
        candidates: Sequence[Candidate],
        *,
        source: str | None,
        executor: Executor | None = None,
    ) -> DescriptorTable:
        """The pool's feature table (transform fitted on the pool itself, no labels)."""
        del executor
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
    ) -> FeatureEnsembleFitReport:
        """Train on the labelled rows of a featurized pool (``warm_start`` is ignored)."""
        del warm_start, executor
        report: FeatureEnsembleFitReport = self.fit_features(
            features.values, y, seed_offset=seed_offset
        )
        return report

    def predict_pool(
        self, features: DescriptorTable, *, executor: Executor | None = None
    ) -> Prediction:
        """Predict every row of a featurized pool."""
        del executor
        return self.predict_features(features.values)

    def fit(self, dataset: MaterialsDataset, source: str | None = None) -> Any:
        """Train on a labelled dataset (the feature transform is fitted on its rows)."""
        table = self.pipeline.fit_table(
            [r.structure for r in dataset.records], [r.id for r in dataset.records], source
        )
        y = np.array(
            [[r.targets.get(t, np.nan) for t in self.target_names] for r in dataset.records],
            dtype=np.float64,
        ).reshape(len(dataset.records), len(self.target_names))
        return self.fit_features(table.values, y)

    def predict(self, candidates: Sequence[Candidate] | Any) -> Prediction:
        """Predict candidates, pymatgen/ASE structures or structure files (see
        :func:`~materials_ai.surrogates.inputs.as_candidates`) with the fitted transform."""
        if self.pipeline.bounds is None:
            raise SurrogateError("predict(candidates) needs a fitted surrogate")
        inputs = model_inputs(self, candidates)
        table = self.pipeline.table([c.structure for c in inputs], [c.id for c in inputs])
        return labelled(self, self.predict_features(table.values), inputs)

    def unusable_structures(self, structures: Sequence[Any]) -> dict[int, str]:
        """Index -> reason for structures a featurizer block cannot featurize at all."""
        return self.pipeline.unusable_rows(structures)

    # -- persistence ------------------------------------------------------------------

    def save(self, path: str | Path) -> None:
        """Write ``surrogate.json`` and ``feature_ensemble.pt`` (tensors only)."""
        if not self.is_fitted:
            raise SurrogateError("cannot save an unfitted feature-ensemble surrogate")
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        arrays = {
            "x_mean": self.x_mean,
            "x_std": self.x_std,
            "baseline": self.baseline,
            "y_scale": self.y_scale,
            "std_factors": self.std_factors,
            **{f"pipeline.{k}": v for k, v in self.pipeline.to_arrays().items()},
        }
        if self.domain is not None:
            # float32 halves the file; k-NN distances need no more precision.
            arrays["domain.train"] = self.domain.train.astype(np.float32)
            arrays["domain.threshold"] = np.array(self.domain.threshold)
            arrays["domain.k"] = np.array(self.domain.k)
        payload = {
            "arrays": {k: torch.as_tensor(np.asarray(v)) for k, v in arrays.items()},
            "networks": [network.state_dict() for network in self.networks],
        }
        torch.save(payload, path / WEIGHTS_FILE)
        meta = {
            "kind": KIND,
            "format_version": FORMAT_VERSION,
            "config": self.config.model_dump(mode="json"),
            "target_names": list(self.target_names),
            "target_units": list(self.target_units),
            "feature_names": list(self.pipeline.names()),
            "feature_provenance": feature_provenance([b.featurizer for b in self.config.features]),
        }
        (path / CONFIG_FILE).write_text(json.dumps(meta, indent=1))

    @classmethod
    def load(cls, path: str | Path) -> FeatureEnsembleSurrogate:
        """Read a surrogate written by :meth:`save` (identical predictions).

        Raises:
            SurrogateError: If the folder holds no feature-ensemble surrogate.
        """
        path = Path(path)
        try:
            meta = json.loads((path / CONFIG_FILE).read_text())
            payload = torch.load(path / WEIGHTS_FILE, map_location="cpu", weights_only=True)
        except (OSError, ValueError, RuntimeError) as error:
            raise SurrogateError(
                f"{path}: no readable feature-ensemble surrogate ({error})"
            ) from None
        if meta.get("kind") != KIND:
            raise SurrogateError(f"{path} holds a {meta.get('kind')!r} surrogate, not {KIND!r}")
        surrogate = cls(
            FeatureEnsembleConfig.model_validate(meta["config"]),
            meta["target_names"],
            meta["target_units"],
        )
        arrays = {k: v.numpy().astype(np.float64) for k, v in payload["arrays"].items()}
        surrogate.x_mean, surrogate.x_std = arrays["x_mean"], arrays["x_std"]
        surrogate.baseline, surrogate.y_scale = arrays["baseline"], arrays["y_scale"]
        surrogate.std_factors = arrays["std_factors"]
        surrogate.pipeline.load_arrays(
            {k.removeprefix("pipeline."): v for k, v in arrays.items() if k.startswith("pipeline.")}
        )
        if "domain.train" in arrays:
            surrogate.domain = ApplicabilityDomain(
                train=arrays["domain.train"],
                threshold=float(arrays["domain.threshold"]),
                k=int(arrays["domain.k"]),
            )
        d_in, d_out = len(surrogate.x_mean), len(surrogate.target_names)
        for state in payload["networks"]:
            network = _network(d_in, surrogate.config.hidden, d_out)
            network.load_state_dict(state)
            network.eval()
            surrogate.networks.append(network)
        return surrogate


def _create(
    config: Any, target_names: Sequence[str], target_units: Sequence[str]
) -> FeatureEnsembleSurrogate:
    return FeatureEnsembleSurrogate(config, target_names, target_units)


#: The ``feature_ensemble`` entry of the surrogate-kind registry.
SURROGATE_KIND = SurrogateKind(create=_create, load=FeatureEnsembleSurrogate.load)
