"""The feature cache: a hit returns the stored matrix; its key follows the featurizer."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from materials_ai.surrogates.featurizers.cache import feature_cache_key, load_or_compute_features
from materials_ai.testing.datasets import tiny_structures
from materials_ai.testing.extension_fakes import CountingFeaturizer


def test_second_call_reads_the_cache(tmp_path: Path) -> None:
    structures = tiny_structures(4)
    ids = [f"s{i}" for i in range(4)]
    featurizer = CountingFeaturizer()
    first = load_or_compute_features(featurizer, structures, ids, source="t", cache_root=tmp_path)
    second = load_or_compute_features(featurizer, structures, ids, source="t", cache_root=tmp_path)
    assert featurizer.calls == [4]
    np.testing.assert_array_equal(first, second)
    assert first.shape == (4, 2)


def test_no_source_means_no_cache(tmp_path: Path) -> None:
    structures = tiny_structures(2)
    featurizer = CountingFeaturizer()
    for _ in range(2):
        load_or_compute_features(
            featurizer, structures, ["a", "b"], source=None, cache_root=tmp_path
        )
    assert featurizer.calls == [2, 2]
    assert not (tmp_path / "features").exists()


def test_key_changes_with_fingerprint_source_and_ids() -> None:
    base = feature_cache_key(CountingFeaturizer("1"), "t", ["a", "b"])
    assert base == feature_cache_key(CountingFeaturizer("1"), "t", ["a", "b"])
    assert base != feature_cache_key(CountingFeaturizer("2"), "t", ["a", "b"])
    assert base != feature_cache_key(CountingFeaturizer("1"), "u", ["a", "b"])
    assert base != feature_cache_key(CountingFeaturizer("1"), "t", ["b", "a"])


def test_a_damaged_cache_file_is_recomputed(tmp_path: Path) -> None:
    structures = tiny_structures(3)
    ids = ["a", "b", "c"]
    featurizer = CountingFeaturizer()
    first = load_or_compute_features(featurizer, structures, ids, source="t", cache_root=tmp_path)
    (cached,) = (tmp_path / "features").glob("*.npz")
    cached.write_bytes(cached.read_bytes()[:40])  # truncated, e.g. by a full disk
    again = load_or_compute_features(featurizer, structures, ids, source="t", cache_root=tmp_path)
    assert featurizer.calls == [3, 3]
    np.testing.assert_array_equal(first, again)
