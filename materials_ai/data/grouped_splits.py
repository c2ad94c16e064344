"""Groups of related materials, and the grouped splits shipped in ``datasets/splits/``.

A random split of the Castelli perovskites puts SrTiO3 in the training folds and SrTiO2N,
SrTiON2 or TiSrO3 in the test fold; a random MP split puts one polymorph of Ga-N in train
and another in test. Test errors then measure interpolation between near-duplicates. The
shipped grouped splits keep such materials together:

``castelli_perovskites/grouped_cation_pair_5fold_seed0``
    Five folds grouped by the unordered cation pair {A, B} of ABX3 (the anion set O3, O2N,
    ON2, N3, O2F, OF2, O2S, OFN is not part of the group); 1,378 groups of 14 or 7 rows.
``mp2018/grouped_chemsys_80_10_10_seed0``
    Train / val / test of about 80/10/10 % grouped by chemical system (the sorted element
    set, ``"Ga-N"``). Subsystems are separate groups: Ga-N and Ga-N-O may land in
    different parts.

Both are rebuilt byte-identically by ``benchmarks/make_grouped_splits.py`` from the tables'
ids and formula columns (or, for a table without one, the structures' compositions).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from materials_ai.data.cards import DatasetCard
from materials_ai.data.registry import get_card, verify_checksum
from materials_ai.data.splits import (
    grouped_folds,
    grouped_holdout,
    save_folds,
    save_holdout,
    split_dir,
)
from materials_ai.errors import DataError

__all__ = [
    "ANIONS",
    "GROUPED_SPLITS",
    "GroupedSplitRecipe",
    "cation_pair",
    "chemical_system",
    "dataset_groups",
    "element_symbols",
    "table_groups",
    "write_grouped_split",
]

#: Anion elements of the Castelli perovskites (X of ABX3); every other element is a cation.
ANIONS = frozenset({"O", "N", "F", "S"})

_ELEMENT = re.compile(r"[A-Z][a-z]?")


def element_symbols(formula: str | Iterable[str]) -> list[str]:
    """Element symbols of a formula (``"SrTiO2N"``, ``"Sr1 Ti1 O3"``) in order, or a list."""
    symbols = _ELEMENT.findall(formula) if isinstance(formula, str) else [str(e) for e in formula]
    if not symbols:
        raise DataError(f"no element symbols in formula {formula!r}")
    return symbols


def cation_pair(formula: str | Iterable[str]) -> str:
    """The unordered cation pair {A, B} of an ABX3 perovskite, as ``"Sr-Ti"``.

    The cations are the elements that are not anions (:data:`ANIONS`), so ``SrTiO3``,
    ``TiSrO2N`` and ``SrTiOFN`` all give ``"Sr-Ti"``; A = B (``InInO3``) gives ``"In"``.

    Args:
        formula: A formula or the element symbols of a composition.

    Raises:
        DataError: Not one or two cation elements.
    """
    cations = sorted(set(element_symbols(formula)) - ANIONS)
    if not 1 <= len(cations) <= 2:
        raise DataError(f"{formula!r}: expected one or two cations (A, B), got {cations}")
    return "-".join(cations)


def chemical_system(formula: str | Iterable[str]) -> str:
    """The sorted element set of a formula or composition, as ``"Ga-N"``."""
    return "-".join(sorted(set(element_symbols(formula))))


def _structure_elements(text: object, card: DatasetCard) -> list[str]:
    from materials_ai.data.loaders import parse_structure

    structure = parse_structure(text, card.structure_format)
    return [element.symbol for element in structure.composition]  # type: ignore[union-attr]


def table_groups(
    table: pd.DataFrame, card: DatasetCard, group_of: Callable[[str | list[str]], str]
) -> tuple[list[str], list[str]]:
    """Ids and groups of every row of a dataset table.

    The composition of a row comes from the card's ``formula_column``, else from a
    ``formula`` column, else from the parsed structure (slow: ~1 ms per row).

    Raises:
        DataError: A missing or repeated id, or a row ``group_of`` cannot group.
    """
    from materials_ai.data.loaders import clean_id

    if card.id_column is None:
        ids = [f"{card.name}-{row}" for row in range(len(table))]
    else:
        ids = [clean_id(raw, card) for raw in table[card.id_column]]
    if "" in ids or len(set(ids)) != len(ids):
        raise DataError(f"dataset {card.name!r}: ids are missing or repeated")
    column = card.formula_column or ("formula" if "formula" in table.columns else None)
    if column is not None:
        sources: Sequence[str | list[str]] = [str(f) for f in table[column]]
    else:
        sources = [_structure_elements(s, card) for s in table[card.structure_column]]
    return ids, [group_of(source) for source in sources]


def dataset_groups(
    name: str, group_of: Callable[[str | list[str]], str], data_dir: str | Path | None = None
) -> tuple[list[str], list[str]]:
    """Ids (as the loader gives them) and groups of every row of a dataset's table."""
    card = get_card(name)
    path = verify_checksum(card, data_dir)
    header = pd.read_csv(path, nrows=0, comment=card.comment).columns
    wanted = list(
        dict.fromkeys(c for c in (card.id_column, card.formula_column, "formula") if c in header)
    )
    if card.formula_column is None and "formula" not in header:
        wanted.append(card.structure_column)
    dtype = {card.id_column: str} if card.id_column else None
    table = pd.read_csv(path, usecols=wanted, dtype=dtype, comment=card.comment)
    return table_groups(table, card, group_of)


@dataclass(frozen=True)
class GroupedSplitRecipe:
    """How one shipped grouped split is made.

    Attributes:
        dataset: Dataset card name.
        name: Split folder name under ``datasets/splits/<dataset>/``.
        group_of: Formula (or element list) -> group label.
        k: Number of folds, or ``None`` for a train / val / test hold-out.
        fractions: Hold-out shares (train, val, test).
        seed: Seed of the grouping.
        description: One line for people.
    """

    dataset: str
    name: str
    group_of: Callable[[str | list[str]], str]
    k: int | None = None
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
    seed: int = 0
    description: str = ""


#: The grouped splits shipped in ``datasets/splits/``, by folder name.
GROUPED_SPLITS: dict[str, GroupedSplitRecipe] = {
    r.name: r
    for r in (
        GroupedSplitRecipe(
            "castelli_perovskites",
            "grouped_cation_pair_5fold_seed0",
            cation_pair,
            k=5,
            description="5 folds, grouped by the unordered cation pair {A, B} of ABX3",
        ),
        GroupedSplitRecipe(
            "mp2018",
            "grouped_chemsys_80_10_10_seed0",
            chemical_system,
            description="80/10/10 train/val/test, grouped by chemical system",
        ),
    )
}


def write_grouped_split(
    recipe: GroupedSplitRecipe,
    data_dir: str | Path | None = None,
    folder: str | Path | None = None,
) -> Path:
    """Build a grouped split from the real table and write it (default: its shipped folder)."""
    ids, groups = dataset_groups(recipe.dataset, recipe.group_of, data_dir)
    out = Path(folder) if folder is not None else split_dir(recipe.dataset, recipe.name)
    if recipe.k is None:
        save_holdout(grouped_holdout(ids, groups, recipe.fractions, recipe.seed), out)
    else:
        save_folds(grouped_folds(ids, groups, recipe.k, recipe.seed), out)
    return out
