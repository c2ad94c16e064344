"""Stored splits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from materials_ai.data.splits import (
    HoldoutSplit,
    grouped_folds,
    grouped_holdout,
    load_folds,
    load_holdout,
    random_folds,
    random_holdout,
    save_folds,
    save_holdout,
    split_dir,
    split_kind,
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


# --------------------------------------------------------------------------- grouped


def _grouped_table(n_groups: int = 40, seed: int = 0) -> tuple[list[str], list[str]]:
    """Ids with groups of 1-9 members, ids of one group not contiguous."""
    sizes = np.random.default_rng(seed).integers(1, 10, n_groups)
    rows = [(f"g{g}", m) for g, size in enumerate(sizes) for m in range(size)]
    rows = [rows[i] for i in np.random.default_rng(seed + 1).permutation(len(rows))]
    return [f"id-{g}-{m}" for g, m in rows], [g for g, _ in rows]


def _group_to_part(parts: list[tuple[str, ...]], group: dict[str, str]) -> dict[str, set[int]]:
    seen: dict[str, set[int]] = {}
    for p, ids in enumerate(parts):
        for i in ids:
            seen.setdefault(group[i], set()).add(p)
    return seen


def test_grouped_folds_keep_groups_whole_and_balanced(tmp_path: Path) -> None:
    ids, groups = _grouped_table()
    group = dict(zip(ids, groups, strict=True))
    folds = grouped_folds(ids, groups, 5, seed=0)
    assert sorted(i for f in folds for i in f) == sorted(ids)
    assert all(len(p) == 1 for p in _group_to_part(folds, group).values())
    sizes = [len(f) for f in folds]
    assert max(sizes) - min(sizes) <= 9  # within one (largest) group
    assert grouped_folds(ids, groups, 5, seed=0) == folds
    assert grouped_folds(ids, groups, 5, seed=1) != folds
    save_folds(folds, tmp_path / "g")
    assert load_folds(tmp_path / "g") == folds
    assert split_kind(tmp_path / "g") == "kfold"


def test_grouped_holdout_keeps_groups_whole_near_fractions(tmp_path: Path) -> None:
    ids, groups = _grouped_table(120, seed=2)
    group = dict(zip(ids, groups, strict=True))
    split = grouped_holdout(ids, groups, (0.8, 0.1, 0.1), seed=0)
    parts = [split.train, split.val, split.test]
    assert sorted(i for p in parts for i in p) == sorted(ids)
    assert all(len(p) == 1 for p in _group_to_part(parts, group).values())
    for part, fraction in zip(parts, (0.8, 0.1, 0.1), strict=True):
        assert abs(len(part) - fraction * len(ids)) <= 9
    assert grouped_holdout(ids, groups, seed=0) == split
    assert grouped_holdout(ids, groups, seed=5) != split
    save_holdout(split, tmp_path / "h")
    assert load_holdout(tmp_path / "h") == split
    assert split_kind(tmp_path / "h") == "holdout"


def test_singleton_groups_reproduce_exact_sizes() -> None:
    split = grouped_holdout(IDS, IDS, (0.8, 0.1, 0.1), seed=0)
    sizes = (len(split.train), len(split.val), len(split.test))
    assert sum(sizes) == 103
    assert all(abs(n - f * 103) < 1 for n, f in zip(sizes, (0.8, 0.1, 0.1), strict=True))
    assert sorted(len(f) for f in grouped_folds(IDS, IDS, 5)) == [20, 20, 21, 21, 21]


def test_bad_grouped_splits_are_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="group labels"):
        grouped_folds(IDS, ["a"] * 3)
    with pytest.raises(DataError, match="cannot fill 5 folds"):
        grouped_folds(IDS, ["a", "b"] * 51 + ["c"])
    with pytest.raises(DataError, match="unique"):
        grouped_holdout(["a", "a"], ["x", "y"])
    with pytest.raises(DataError, match="sum to 1"):
        grouped_holdout(IDS, IDS, (0.5, 0.1, 0.1))
    with pytest.raises(DataError, match="holds no split"):
        split_kind(tmp_path)


def test_shipped_splits_are_told_apart_by_kind() -> None:
    assert split_kind(split_dir("mp2018", "random_80_10_10_seed0")) == "holdout"
    assert split_kind(split_dir("castelli_perovskites", "random_5fold_seed0")) == "kfold"
    assert split_kind(split_dir("mp2018", "grouped_chemsys_80_10_10_seed0")) == "holdout"
    assert split_kind(split_dir("castelli_perovskites", "grouped_cation_pair_5fold_seed0")) == (
        "kfold"
    )
