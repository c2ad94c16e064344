"""Fixed, stored data splits so anyone reproduces a reported figure.

A split is a folder of text files with one id per line: ``train.txt``, ``val.txt`` and
``test.txt`` for a hold-out split, or ``fold_0.txt`` … ``fold_{k-1}.txt`` for k-fold
cross-validation. Shipped splits live in ``datasets/splits/<dataset>/<name>/``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

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
