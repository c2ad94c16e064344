"""Featurizers: structures to fixed-length vectors for Bayesian heads (GPs).

Registered names (each entry is imported only when asked for):

========================  ==================================================================
``composition``           fraction-weighted element-property statistics (any chemistry)
``element_fractions``     atom fraction of each element H..Pu (any chemistry)
``perovskite``            A/B-site properties, anions, oxidation states, tolerance factor
                          (5-atom ABX3 cells only)
``mp2018_embedding``      the pooled crystal embedding of the shipped MP-2018 CGCNN
                          ensemble (the layer before the readout), averaged over members
``mp2018_predictions``    that ensemble's mean formation energy (eV/atom) and PBE gap (eV)
``chgnet``                CHGNet 0.3.0's crystal feature vector and energy per atom
                          (pretrained on MPtrj; weights ship in the ``chgnet`` wheel)
``mp2018_chgnet_head``    the shipped MP-2018 CHGNet-feature head's PBE formation energy
                          (eV/atom) and PBE gap (eV): never on an MP-2018 pool (leakage)
========================  ==================================================================

Add one with ``FEATURIZERS.register("name")`` on a zero-argument factory that returns a
:class:`~materials_ai.surrogates.featurizers.base.Featurizer`.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Sequence
from typing import Any

from materials_ai.registry import Registry
from materials_ai.surrogates.featurizers.base import (
    FeatureProvenance,
    Featurizer,
    FeaturizerFactory,
)

FEATURIZERS: Registry[FeaturizerFactory] = Registry("featurizer")
FEATURIZERS.register_lazy(
    "composition", "materials_ai.surrogates.featurizers.descriptors:composition_featurizer"
)
FEATURIZERS.register_lazy(
    "element_fractions",
    "materials_ai.surrogates.featurizers.descriptors:element_fraction_featurizer",
)
FEATURIZERS.register_lazy(
    "perovskite", "materials_ai.surrogates.featurizers.descriptors:perovskite_featurizer"
)
FEATURIZERS.register_lazy(
    "mp2018_embedding", "materials_ai.surrogates.featurizers.embedding:mp2018_embedding"
)
FEATURIZERS.register_lazy(
    "mp2018_predictions", "materials_ai.surrogates.featurizers.embedding:mp2018_predictions"
)
FEATURIZERS.register_lazy("chgnet", "materials_ai.surrogates.featurizers.chgnet:chgnet_featurizer")
FEATURIZERS.register_lazy(
    "mp2018_chgnet_head",
    "materials_ai.surrogates.featurizers.head_predictions:mp2018_chgnet_head",
)


def feature_provenance(names: Sequence[str]) -> dict[str, dict[str, Any]]:
    """What each named featurizer's pretrained model was trained on (none: omitted).

    Read from the featurizer module's ``PROVENANCE`` constant, for model cards and saved
    surrogates: a figure measured on a test set that overlaps the pretraining data must
    say so.
    """
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        module = importlib.import_module(FEATURIZERS.get(name).__module__)
        provenance = getattr(module, "PROVENANCE", None)
        if provenance is not None:
            out[name] = dataclasses.asdict(provenance)
    return out


def label_leaks(names: Sequence[str], dataset: str) -> list[str]:
    """The featurizers among ``names`` whose pretrained model learned ``dataset``'s labels
    (its ``PROVENANCE.label_datasets``): on a pool from that dataset they hold the answers."""
    leaks = []
    for name in names:
        module = importlib.import_module(FEATURIZERS.get(name).__module__)
        provenance = getattr(module, "PROVENANCE", None)
        if provenance is not None and dataset in provenance.label_datasets:
            leaks.append(name)
    return leaks


def build_featurizer(name: str) -> Featurizer:
    """The featurizer registered as ``name``.

    Raises:
        ConfigError: If no featurizer has that name.
    """
    return FEATURIZERS.get(name)()


__all__ = [
    "FEATURIZERS",
    "FeatureProvenance",
    "Featurizer",
    "FeaturizerFactory",
    "build_featurizer",
    "feature_provenance",
    "label_leaks",
]
