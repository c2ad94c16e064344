"""Predictions of a saved pretrained head as features (transfer from one level of theory).

``mp2018_chgnet_head`` returns, for each structure, the mean prediction of the shipped
``models/mp2018_chgnet_head`` (an MLP ensemble on CHGNet 0.3.0 features and element
fractions, trained on the MP-2018 training split): the PBE formation energy (eV/atom) and
the PBE band gap (eV, not clipped at 0). Two columns that carry what a large PBE table
taught about stability and gaps into a campaign whose own labels are few and of another
level of theory (e.g. GLLB-SC gaps of the Castelli perovskites). A GP reads them beside the
CHGNet features; on its own labels it learns how far to trust them.

**Leakage:** the head learned MP-2018's PBE gaps and formation energies. Never use these
features on a pool drawn from MP-2018 (``workflows/mp_wide_gap_stable.yaml``): the features
would hold the answers. On other tables, compositions that also occur in MP-2018 (in any
structure) carry their PBE values into the features; ``docs/benchmarks.md`` measures the
Castelli screen with a head trained without any Castelli composition as well.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from materials_ai.settings import PROJECT_ROOT
from materials_ai.surrogates.featurizers.base import FeatureProvenance, model_fingerprint

if TYPE_CHECKING:
    from pymatgen.core import Structure

__all__ = ["PROVENANCE", "HeadPredictionFeaturizer", "mp2018_chgnet_head"]

#: Bump when the definition of the columns changes.
HEAD_FEATURES_VERSION = 1

#: The shipped MP-2018 head (relative to the checkout).
MP2018_HEAD = Path("models") / "mp2018_chgnet_head"

PROVENANCE = FeatureProvenance(
    model="materials-ai feature-ensemble head models/mp2018_chgnet_head on CHGNet 0.3.0 features",
    pretraining_data="CHGNet: MPtrj (Materials Project relaxation trajectories); head: MP-2018 "
    "training split (PBE formation energies and band gaps; "
    "datasets/splits/mp2018/random_80_10_10_seed0)",
    overlaps=("mp2018 (labels: do not use on an MP-2018 pool)", "mp_abx3_perovskites"),
    licence="MIT (head, this project); BSD-3-Clause (CHGNet weights)",
    label_datasets=("mp2018",),
)


@dataclass
class HeadPredictionFeaturizer:
    """Mean predictions of a saved surrogate, one column per target.

    Args:
        model_dir: Folder of a saved surrogate (``surrogate.json`` inside) whose
            ``predict`` takes structures.
        name: Registry name (column prefix).
    """

    model_dir: Path
    name: str = "mp2018_chgnet_head"

    @cached_property
    def model(self) -> Any:
        """The loaded surrogate."""
        from materials_ai.surrogates.kinds import load_surrogate

        return load_surrogate(self.model_dir)

    def feature_names(self) -> tuple[str, ...]:
        """``<name>_<target>`` for each target of the saved model."""
        return tuple(f"{self.name}_{t}" for t in self.model.target_names)

    def fingerprint(self) -> str:
        """Featurizer version and the sha256 of the saved model's files."""
        return model_fingerprint(
            self.model_dir, f"v{HEAD_FEATURES_VERSION}", (".pt", ".json", ".npz")
        )

    def featurize(self, structures: Sequence[Structure]) -> np.ndarray:
        """`n x t` mean predictions in the model's target units; NaN rows for structures
        the model cannot take (e.g. an element CHGNet does not know)."""
        return self.featurize_cached(structures, [str(i) for i in range(len(structures))])

    def featurize_cached(
        self, structures: Sequence[Structure], ids: Sequence[str], *, source: str | None = None
    ) -> np.ndarray:
        """As :meth:`featurize`, reading the model's own input features (CHGNet, element
        fractions) from the feature cache under ``source`` (None: computed)."""
        n_targets = len(self.model.target_names)
        out = np.full((len(structures), n_targets), np.nan)
        if not len(structures):
            return out
        pipeline = self.model.pipeline
        raws = pipeline.raw(list(structures), list(ids), source)
        usable = np.logical_and.reduce([np.isfinite(raw).any(axis=1) for raw in raws])
        table = pipeline.transform(raws, list(ids))
        if usable.any():
            prediction = self.model.predict_features(table.values[usable])
            out[usable] = np.asarray(prediction.mean, dtype=np.float64)
        return out


def mp2018_chgnet_head() -> HeadPredictionFeaturizer:
    """The shipped MP-2018 head's formation energy (eV/atom) and PBE gap (eV)."""
    return HeadPredictionFeaturizer(PROJECT_ROOT / MP2018_HEAD)
