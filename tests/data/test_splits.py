"""Stored splits."""

from __future__ import annotations

from pathlib import Path

import pytest

from materials_ai.data.splits import (
    HoldoutSplit,
    load_folds,
    load_holdout,
    random_folds,
    random_holdout,
    save_folds,
    save_holdout,
    split_dir,
)
from materials_ai.errors import DataError

IDS = [f"m-{i}" for i in range(103)]


def test_holdout_partitions_and_round_trips(tmp_path: Path) -> None:
    split = random_holdout(IDS, (0.8, 0.1, 0.1), seed=3)
    assert len(split.train) + len(split.val) + len(split.test) == 103
    assert set(split.train) | set(split.val) | set(split.test) == set(IDS)
    assert not set(split.train) & set(split.test)
    assert random_holdout(IDS, seed=3) == split
    assert random_holdout(IDS, seed=4) != split
    save_holdout(split, tmp_path / "s")
    assert load_holdout(tmp_path / "s") == split


def test_folds_partition_and_round_trip(tmp_path: Path) -> None:
    folds = random_folds(IDS, 5, seed=0)
    assert sorted(len(f) for f in folds) == [20, 20, 21, 21, 21]
    assert sorted(i for f in folds for i in f) == sorted(IDS)
    save_folds(folds, tmp_path / "f")
    assert load_folds(tmp_path / "f") == folds


def test_bad_splits_are_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="sum to 1"):
        random_holdout(IDS, (0.5, 0.1, 0.1))
    with pytest.raises(DataError, match="k >= 2"):
        random_folds(IDS, 1)
    save_holdout(HoldoutSplit(("a", "b"), ("c",), ("a",)), tmp_path / "leaky")
    with pytest.raises(DataError, match="in test and another part"):
        load_holdout(tmp_path / "leaky")
    with pytest.raises(DataError, match="not found"):
        load_holdout(tmp_path / "absent")


def test_shipped_splits_match_the_published_recipes() -> None:
    mp = load_holdout(split_dir("mp2018", "random_80_10_10_seed0"))
    assert (len(mp.train), len(mp.val), len(mp.test)) == (29390, 3674, 3674)
    folds = load_folds(split_dir("castelli_perovskites", "random_5fold_seed0"))
    assert len(folds) == 5 and sum(len(f) for f in folds) == 18928
    assert folds[0][0].startswith("perov_")
