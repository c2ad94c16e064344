"""The featurizer contract: crystal structures to fixed-length vectors.

A featurizer turns `n` structures into an `n x d` float64 matrix (NaN where a feature is
undefined for a structure). Featurizers are what a Bayesian head (a Gaussian process)
reads instead of graphs: hand-made descriptors (composition statistics), the learned
embedding of a trained graph network, or the learned features of a pretrained foundation
potential (CHGNet). Each has a :meth:`Featurizer.fingerprint` that changes whenever its
output would (weights, version, options), which keys the disk cache
(:mod:`materials_ai.surrogates.featurizers.cache`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from pymatgen.core import Structure


@runtime_checkable
class Featurizer(Protocol):
    """Maps structures to `n x d` feature matrices.

    Attributes:
        name: Registry name.
    """

    name: str

    def feature_names(self) -> tuple[str, ...]:
        """The `d` column names."""
        ...

    def fingerprint(self) -> str:
        """A short string that changes whenever the features of a structure would change."""
        ...

    def featurize(self, structures: Sequence[Structure]) -> np.ndarray:
        """Features of `n` structures: `n x d` float64, NaN where undefined."""
        ...


#: Builds a featurizer; registered in :data:`materials_ai.surrogates.featurizers.FEATURIZERS`.
FeaturizerFactory = Callable[[], Featurizer]


@dataclass(frozen=True)
class FeatureProvenance:
    """What a featurizer's pretrained part was trained on, for model cards.

    Attributes:
        model: The pretrained model (name, version).
        pretraining_data: Datasets it was trained on.
        overlaps: Project datasets whose structures occur in that pretraining data.
        licence: The weights' licence.
        label_datasets: Project datasets whose labels the model was trained on: its
            features would carry the answers of a campaign replayed on them, so a
            workflow that pairs them is rejected.
    """

    model: str
    pretraining_data: str
    overlaps: tuple[str, ...] = field(default_factory=tuple)
    licence: str = ""
    label_datasets: tuple[str, ...] = field(default_factory=tuple)


def model_fingerprint(
    model_dir: Path, prefix: str, suffixes: Sequence[str], skip: Sequence[str] = ()
) -> str:
    """16 hex digits of sha256 over ``prefix`` and the name and bytes of each file of a
    saved model (sorted; those with one of ``suffixes``, except the names in ``skip``):
    the fingerprint of a featurizer built on that model."""
    digest = hashlib.sha256(prefix.encode())
    for path in sorted(model_dir.iterdir()):
        if path.suffix in suffixes and path.name not in skip:
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]
