"""The shipped MP-2018 CGCNN ensemble's embedding and predictions as features."""

from __future__ import annotations

import numpy as np

from materials_ai.surrogates.featurizers import build_featurizer
from materials_ai.surrogates.featurizers.embedding import mp2018_embedding
from materials_ai.testing.datasets import gaas_zincblende, si_diamond, srtio3_cubic


def test_embedding_shape_names_and_supercell_invariance() -> None:
    featurizer = mp2018_embedding()
    si = si_diamond()
    structures = [si, gaas_zincblende(), srtio3_cubic(), si * (2, 1, 1)]
    x = featurizer.featurize(structures)
    assert x.shape == (4, len(featurizer.feature_names())) == (4, 64)
    assert np.isfinite(x).all()
    np.testing.assert_allclose(x[3], x[0], atol=1e-5)  # mean pooling: intensive
    assert np.abs(x[0] - x[1]).max() > 1e-2  # Si and GaAs differ


def test_predictions_equal_the_ensemble_mean() -> None:
    featurizer = build_featurizer("mp2018_predictions")
    structures = [si_diamond(), gaas_zincblende(), srtio3_cubic()]
    x = featurizer.featurize(structures)
    ensemble = featurizer.ensemble  # type: ignore[attr-defined]
    from materials_ai.data.records import Candidate

    mean = ensemble.predict([Candidate(id=str(i), structure=s) for i, s in enumerate(structures)])
    assert featurizer.feature_names() == (
        "mp2018_predictions_formation_energy",
        "mp2018_predictions_band_gap",
    )
    np.testing.assert_allclose(x, mean.mean, atol=1e-5)


def test_fingerprint_depends_on_the_part() -> None:
    assert mp2018_embedding().fingerprint() != build_featurizer("mp2018_predictions").fingerprint()
    assert mp2018_embedding().fingerprint() == mp2018_embedding().fingerprint()
