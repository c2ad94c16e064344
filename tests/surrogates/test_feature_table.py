"""Feature tables for GP heads: PCA blocks, unit-cube scaling, saved and restored transforms."""

from __future__ import annotations

import numpy as np
import pytest

from materials_ai.errors import SurrogateError
from materials_ai.surrogates.config import FeatureBlockConfig, GPConfig
from materials_ai.surrogates.descriptors import compute_descriptors, scale_unit_cube
from materials_ai.surrogates.feature_table import BlockTransform, FeaturePipeline
from materials_ai.testing.datasets import tiny_structures


def test_single_descriptor_block_is_the_old_unit_cube_table() -> None:
    structures = tiny_structures(9)
    pipeline = FeaturePipeline(GPConfig(kind="gp", descriptor="composition").feature_blocks())
    table = pipeline.fit_table(structures, [str(i) for i in range(9)], None)
    expected = scale_unit_cube(compute_descriptors(structures, "composition"))
    np.testing.assert_array_equal(table.values, expected)
    assert len(table.names) == table.values.shape[1]


def test_pca_block_is_deterministic_and_reapplied_unchanged() -> None:
    rng = np.random.default_rng(0)
    raw = rng.normal(size=(50, 6)) @ rng.normal(size=(6, 6))
    first = BlockTransform.fit(raw, pca=3)
    second = BlockTransform.fit(raw.copy(), pca=3)
    np.testing.assert_array_equal(first.apply(raw), second.apply(raw))
    z = first.apply(raw)
    assert z.shape == (50, 3)
    # Principal components are uncorrelated and sorted by variance.
    cov = np.cov(z.T)
    assert np.abs(cov - np.diag(np.diag(cov))).max() < 1e-8
    assert np.all(np.diff(np.diag(cov)) <= 0)
    restored = BlockTransform.from_arrays(first.to_arrays("b"), "b")
    np.testing.assert_array_equal(restored.apply(raw[:5]), z[:5])


def test_unknown_values_are_imputed_with_the_pool_mean() -> None:
    raw = np.array([[1.0, 2.0], [3.0, np.nan], [5.0, 6.0]])
    transform = BlockTransform.fit(raw, pca=2)
    assert np.isfinite(transform.apply(raw)).all()
    np.testing.assert_allclose(transform.mean, [3.0, 4.0])


def test_pipeline_round_trip_and_unfitted_error() -> None:
    structures = tiny_structures(12)
    ids = [str(i) for i in range(12)]
    blocks = (FeatureBlockConfig(featurizer="composition", pca=4),)
    pipeline = FeaturePipeline(blocks)
    with pytest.raises(SurrogateError, match="not fitted"):
        pipeline.table(structures, ids)
    table = pipeline.fit_table(structures, ids, None)
    assert table.values.shape == (12, 4) and table.names[0] == "composition_pc00"
    assert table.values.min() >= 0.0 and table.values.max() <= 1.0
    copy = FeaturePipeline(blocks)
    copy.load_arrays(pipeline.to_arrays())
    np.testing.assert_allclose(copy.table(structures[:3], ids[:3]).values, table.values[:3])


def test_axes_beyond_the_pools_rank_are_constant() -> None:
    # 12 structures of 3 compositions: composition features span 2 directions, not 4.
    structures = tiny_structures(12)
    ids = [str(i) for i in range(12)]
    pipeline = FeaturePipeline((FeatureBlockConfig(featurizer="composition", pca=4),))
    values = pipeline.fit_table(structures, ids, None).values
    assert np.ptp(values[:, :2], axis=0).min() == pytest.approx(1.0)
    np.testing.assert_array_equal(values[:, 2:], 0.5)
