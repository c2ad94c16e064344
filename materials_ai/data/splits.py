"""Fixed, stored data splits so anyone reproduces a reported figure.

A split is a folder of text files with one id per line: ``train.txt``, ``val.txt`` and
``test.txt`` for a hold-out split, or ``fold_0.txt`` … ``fold_{k-1}.txt`` for k-fold
cross-validation. Shipped splits live in ``datasets/splits/<dataset>/<name>/``; the
files say nothing else, so :func:`split_kind` tells the two layouts apart.

Random splits (:func:`random_holdout`, :func:`random_folds`) put near-duplicates (the same
compound with another anion, another polymorph of one chemical system) on both sides of a
cut. Grouped splits (:func:`grouped_holdout`, :func:`grouped_folds`) keep every member of a
group in one part, which is the split a claim about generalization needs; the groups of the
shipped datasets are defined in :mod:`materials_ai.data.grouped_splits`.
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from materials_ai.errors import DataError
from materials_ai.settings import cards_dir


@dataclass(frozen=True)
class HoldoutSplit:
    """Train / validation / test ids.

    Attributes:
        train: Ids to fit on.
        val: Ids for early stopping and recalibration.
        test: Ids reported on, never used for any choice.
    """

    train: tuple[str, ...]
    val: tuple[str, ...]
    test: tuple[str, ...]

    def part(self, name: str) -> tuple[str, ...]:
        """Return ``train``, ``val`` or ``test``."""
        if name not in ("train", "val", "test"):
            raise DataError(f"unknown split part {name!r}; use train, val or test")
        return getattr(self, name)


def split_dir(dataset: str, name: str) -> Path:
    """Folder of the shipped split ``name`` of ``dataset``."""
    return cards_dir() / "splits" / dataset / name


def random_holdout(
    ids: Sequence[str], fractions: tuple[float, float, float] = (0.8, 0.1, 0.1), seed: int = 0
) -> HoldoutSplit:
    """Shuffle ids with ``seed`` and cut them by ``fractions`` (train, val, test)."""
    if abs(sum(fractions) - 1.0) > 1e-9 or min(fractions) < 0:
        raise DataError(f"split fractions must be non-negative and sum to 1; got {fractions}")
    order = np.random.default_rng(seed).permutation(len(ids))
    n_train = round(fractions[0] * len(ids))
    n_val = round(fractions[1] * len(ids))
    shuffled = [ids[i] for i in order]
    return HoldoutSplit(
        tuple(shuffled[:n_train]),
        tuple(shuffled[n_train : n_train + n_val]),
        tuple(shuffled[n_train + n_val :]),
    )


def random_folds(ids: Sequence[str], k: int = 5, seed: int = 0) -> list[tuple[str, ...]]:
    """Shuffle ids with ``seed`` and deal them into ``k`` folds of (nearly) equal size."""
    if k < 2:
        raise DataError(f"k-fold cross-validation needs k >= 2; got {k}")
    order = np.random.default_rng(seed).permutation(len(ids))
    return [tuple(ids[i] for i in order[f::k]) for f in range(k)]


def _assign_groups(
    groups: Sequence[Hashable], targets: Sequence[float], seed: int
) -> list[list[int]]:
    """Row indices per part; each group goes whole to one part.

    Groups are shuffled with ``seed``, then taken largest first (a stable sort, so groups
    of equal size keep their shuffled order) and each is given to the part that, with it,
    is least full relative to its target size (the first such part on ties). Large groups
    are so spread over the parts in proportion to their targets, and every part ends within
    one group size of its target.
    """
    members: dict[Hashable, list[int]] = {}
    for row, group in enumerate(groups):
        members.setdefault(group, []).append(row)
    keys = sorted(members, key=repr)
    shuffled = np.random.default_rng(seed).permutation(len(keys))
    order = sorted(shuffled.tolist(), key=lambda g: -len(members[keys[g]]))
    wanted = np.asarray(targets, dtype=float)
    sizes = np.zeros(len(wanted))
    parts: list[list[int]] = [[] for _ in wanted]
    for g in order:
        rows = members[keys[g]]
        fill = np.divide(
            sizes + len(rows), wanted, out=np.full(len(wanted), np.inf), where=wanted > 0
        )
        p = int(np.argmin(fill))
        parts[p].extend(rows)
        sizes[p] += len(rows)
    return parts


def _check_groups(ids: Sequence[str], groups: Sequence[Hashable]) -> None:
    if len(ids) != len(groups):
        raise DataError(f"{len(ids)} ids but {len(groups)} group labels; give one per id")
    if len(set(ids)) != len(ids):
        raise DataError("split ids must be unique")


def _shuffled(ids: Sequence[str], rows: list[int], rng: np.random.Generator) -> tuple[str, ...]:
    return tuple(ids[rows[i]] for i in rng.permutation(len(rows)))


def grouped_holdout(
    ids: Sequence[str],
    groups: Sequence[Hashable],
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    seed: int = 0,
) -> HoldoutSplit:
    """Train / val / test of about ``fractions`` of the ids, no group in two parts.

    Args:
        ids: Unique ids.
        groups: The group of each id (``groups[i]`` for ``ids[i]``), e.g. a chemical system.
        fractions: Target shares of train, val and test (by ids, not groups).
        seed: Seeds the order of groups and the order of ids within each part.
    """
    if abs(sum(fractions) - 1.0) > 1e-9 or min(fractions) < 0:
        raise DataError(f"split fractions must be non-negative and sum to 1; got {fractions}")
    _check_groups(ids, groups)
    parts = _assign_groups(groups, [f * len(ids) for f in fractions], seed)
    rng = np.random.default_rng(seed + 1)
    return HoldoutSplit(*(_shuffled(ids, rows, rng) for rows in parts))


def grouped_folds(
    ids: Sequence[str], groups: Sequence[Hashable], k: int = 5, seed: int = 0
) -> list[tuple[str, ...]]:
    """``k`` folds of nearly equal size (within one group size), no group in two folds."""
    if k < 2:
        raise DataError(f"k-fold cross-validation needs k >= 2; got {k}")
    _check_groups(ids, groups)
    if len(set(groups)) < k:
        raise DataError(f"{len(set(groups))} groups cannot fill {k} folds")
    parts = _assign_groups(groups, [len(ids) / k] * k, seed)
    rng = np.random.default_rng(seed + 1)
    return [_shuffled(ids, rows, rng) for rows in parts]


def split_kind(folder: str | Path) -> Literal["holdout", "kfold"]:
    """``kfold`` for a folder of ``fold_*.txt`` files, ``holdout`` for ``train.txt``...."""
    folder = Path(folder)
    if (folder / "fold_0.txt").exists():
        return "kfold"
    if (folder / "train.txt").exists():
        return "holdout"
    stored = (
        sorted(p.name for p in folder.parent.iterdir() if p.is_dir())
        if folder.parent.is_dir()
        else []
    )
    raise DataError(
        f"{folder} holds no split (neither fold_0.txt nor train.txt); "
        f"splits stored beside it: {stored}"
    )


def _write_ids(path: Path, ids: Sequence[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(f"{i}\n" for i in ids))
    os.replace(tmp, path)


def _read_ids(path: Path) -> tuple[str, ...]:
    if not path.exists():
        raise DataError(f"split file {path} not found")
    return tuple(line.strip() for line in path.read_text().splitlines() if line.strip())


def save_holdout(split: HoldoutSplit, folder: str | Path) -> None:
    """Write ``train.txt``, ``val.txt``, ``test.txt`` into ``folder``."""
    folder = Path(folder)
    for part in ("train", "val", "test"):
        _write_ids(folder / f"{part}.txt", split.part(part))


def load_holdout(folder: str | Path) -> HoldoutSplit:
    """Read a hold-out split written by :func:`save_holdout`."""
    folder = Path(folder)
    split = HoldoutSplit(*(_read_ids(folder / f"{p}.txt") for p in ("train", "val", "test")))
    overlap = (set(split.train) & set(split.test)) | (set(split.val) & set(split.test))
    if overlap:
        raise DataError(f"split {folder}: {len(overlap)} ids are in test and another part")
    return split


def save_folds(folds: Sequence[Sequence[str]], folder: str | Path) -> None:
    """Write ``fold_0.txt`` … into ``folder``."""
    for f, ids in enumerate(folds):
        _write_ids(Path(folder) / f"fold_{f}.txt", ids)


def load_folds(folder: str | Path) -> list[tuple[str, ...]]:
    """Read folds written by :func:`save_folds`."""
    paths = sorted(Path(folder).glob("fold_*.txt"), key=lambda p: int(p.stem.split("_")[1]))
    if not paths:
        raise DataError(f"no fold_*.txt files in {folder}")
    return [_read_ids(p) for p in paths]
