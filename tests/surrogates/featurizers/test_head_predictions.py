"""The shipped MP-2018 CHGNet-feature head's predictions as features."""

from __future__ import annotations

import numpy as np
from pymatgen.core import Lattice, Structure

from materials_ai.surrogates.featurizers import build_featurizer, feature_provenance
from materials_ai.surrogates.featurizers.head_predictions import HeadPredictionFeaturizer
from materials_ai.testing.datasets import gaas_zincblende, si_diamond, srtio3_cubic


def test_columns_equal_the_heads_mean_prediction() -> None:
    featurizer = build_featurizer("mp2018_chgnet_head")
    assert isinstance(featurizer, HeadPredictionFeaturizer)
    structures = [si_diamond(), gaas_zincblende(), srtio3_cubic()]
    x = featurizer.featurize(structures)
    assert featurizer.feature_names() == (
        "mp2018_chgnet_head_formation_energy",
        "mp2018_chgnet_head_band_gap",
    )
    assert x.shape == (3, 2)
    np.testing.assert_allclose(x, featurizer.model.predict(structures).mean, atol=1e-6)
    # What PBE knows: SrTiO3 is strongly bound and gapped, Si is not bound at all.
    assert x[2, 0] < -2.5 < x[0, 0] + 2.5
    assert x[2, 1] > 1.0


def test_unusable_structure_is_a_nan_row_and_the_rest_is_kept() -> None:
    # Element 95 (Am) is outside CHGNet's and the element-fraction block's range.
    americium = Structure(Lattice.cubic(3.5), ["Am"], [[0, 0, 0]])
    featurizer = build_featurizer("mp2018_chgnet_head")
    x = featurizer.featurize([si_diamond(), americium])
    assert np.isfinite(x[0]).all()
    assert np.isnan(x[1]).all()


def test_provenance_names_the_label_overlap() -> None:
    provenance = feature_provenance(["mp2018_chgnet_head"])["mp2018_chgnet_head"]
    assert "MP-2018" in provenance["pretraining_data"]
    assert any(o.startswith("mp2018") for o in provenance["overlaps"])
