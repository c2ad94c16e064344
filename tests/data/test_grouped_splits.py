"""Groups of related materials and the shipped grouped splits."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from materials_ai.data.grouped_splits import (
    GROUPED_SPLITS,
    cation_pair,
    chemical_system,
    dataset_groups,
    table_groups,
    write_grouped_split,
)
from materials_ai.data.splits import grouped_folds, load_folds, load_holdout, split_dir
from materials_ai.errors import DataError
from materials_ai.settings import CARDS_DIR_ENV
from materials_ai.surrogates.jobs import SplitSpec, resolve_split
from materials_ai.testing.datasets import TinyDataset

CASTELLI = "grouped_cation_pair_5fold_seed0"
MP = "grouped_chemsys_80_10_10_seed0"


def test_cation_pair_ignores_anions_and_site_order() -> None:
    for formula in ("SrTiO3", "SrTiO2N", "TiSrO3", "SrTiOFN", "TiSrO2S", "Sr1 Ti1 N3"):
        assert cation_pair(formula) == "Sr-Ti"
    assert cation_pair("InInO3") == "In"
    assert cation_pair(["Ti", "O", "Sr", "O", "O"]) == "Sr-Ti"
    with pytest.raises(DataError, match="one or two cations"):
        cation_pair("BaSrTiO3")
    with pytest.raises(DataError, match="one or two cations"):
        cation_pair("O3")


def test_chemical_system_is_the_sorted_element_set() -> None:
    assert chemical_system("Ga2 N2") == "Ga-N"
    assert chemical_system("NGa") == "Ga-N"
    assert chemical_system("Li2 Mn1 O3") == "Li-Mn-O"
    assert chemical_system(["Cs"]) == "Cs"
    with pytest.raises(DataError, match="no element symbols"):
        chemical_system("123")


def _perovskites(seed: int = 0) -> pd.DataFrame:
    """A Castelli-like table: ABX3 rows for random cation pairs and anion sets, both orders."""
    rng = np.random.default_rng(seed)
    cations = ["Sr", "Ti", "Ba", "La", "Ta", "Zr", "Nb", "Ca", "Y", "Hf"]
    anions = ["O3", "O2N", "ON2", "N3", "O2F", "OF2", "O2S", "OFN"]
    formulas = []
    for i, a in enumerate(cations):
        for b in cations[i:]:
            for x in rng.choice(anions, rng.integers(1, 5), replace=False):
                first, second = (a, b) if rng.random() < 0.5 else (b, a)
                formulas.append(f"{first}{second}{x}")
    order = rng.permutation(len(formulas))
    return pd.DataFrame(
        {"cmr_row_id": [f"perov_{i}.cif" for i in range(len(order))], "formula": formulas}
    ).iloc[order]


def test_castelli_like_folds_never_split_a_cation_pair(tiny: TinyDataset) -> None:
    table = _perovskites()
    card = tiny.card.model_copy(update={"id_column": "cmr_row_id", "id_strip_suffix": ".cif"})
    ids, groups = table_groups(table, card, cation_pair)
    assert ids[0].startswith("perov_") and not ids[0].endswith(".cif")
    assert len(set(groups)) == 55  # 10 choose 2 + 10 pairs A = B
    folds = grouped_folds(ids, groups, 5, seed=0)
    group = dict(zip(ids, groups, strict=True))
    pair_in_fold = {(group[i], f) for f, fold in enumerate(folds) for i in fold}
    assert max(Counter(pair for pair, _ in pair_in_fold).values()) == 1
    sizes = [len(f) for f in folds]
    assert max(sizes) - min(sizes) <= max(Counter(groups).values())
    assert grouped_folds(ids, groups, 5, seed=0) == folds


def test_groups_from_structures_match_groups_from_formulas(tiny: TinyDataset) -> None:
    table = pd.read_csv(tiny.path)
    ids, by_formula = table_groups(table, tiny.card, chemical_system)
    _, by_structure = table_groups(table.drop(columns="formula"), tiny.card, chemical_system)
    assert ids == list(tiny.ids)
    assert by_structure == by_formula
    assert "O-Sr-Ti" in by_formula


def test_dataset_groups_reads_the_carded_table(
    tiny: TinyDataset, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(CARDS_DIR_ENV, str(tiny.cards_dir))
    ids, groups = dataset_groups("tiny", chemical_system, tiny.data_dir)
    assert ids == list(tiny.ids) and len(groups) == len(ids)
    with pytest.raises(DataError, match="repeated"):
        table_groups(pd.concat([pd.read_csv(tiny.path)] * 2), tiny.card, chemical_system)


# --------------------------------------------------------------------------- real data


def _real_groups(name: str, data_dir: Path) -> dict[str, str]:
    recipe = GROUPED_SPLITS[name]
    ids, groups = dataset_groups(recipe.dataset, recipe.group_of, data_dir)
    return dict(zip(ids, groups, strict=True))


@pytest.mark.integration
def test_castelli_grouped_folds_keep_cation_pairs_apart(real_data_dir: Path) -> None:
    group = _real_groups(CASTELLI, real_data_dir)
    folds = load_folds(split_dir("castelli_perovskites", CASTELLI))
    every = [i for f in folds for i in f]
    assert len(every) == len(set(every)) == len(group) == 18928
    assert set(every) == set(group)
    assert set(every) == {
        i for f in load_folds(split_dir("castelli_perovskites", "random_5fold_seed0")) for i in f
    }
    pairs = [{group[i] for i in f} for f in folds]
    assert sum(len(p) for p in pairs) == len(set().union(*pairs)) == 1378
    sizes = [len(f) for f in folds]
    assert max(sizes) - min(sizes) <= 14
    # The pair of a row is the same from its CIF's composition as from its formula.
    from pymatgen.core import Structure

    table = pd.read_csv(real_data_dir / "inorganic/castelli_cubic_perovskites_18928.csv.gz")
    for raw, cif in zip(table.cmr_row_id[::400], table.cif[::400], strict=True):
        elements = [e.symbol for e in Structure.from_str(cif, fmt="cif").composition]
        assert cation_pair(elements) == group[raw.removesuffix(".cif")]


@pytest.mark.integration
def test_mp_grouped_holdout_keeps_chemical_systems_apart(real_data_dir: Path) -> None:
    group = _real_groups(MP, real_data_dir)
    split = load_holdout(split_dir("mp2018", MP))
    parts = [split.train, split.val, split.test]
    every = [i for p in parts for i in p]
    assert len(every) == len(set(every)) == len(group) == 36738
    assert set(every) == set(group)
    systems = [{group[i] for i in p} for p in parts]
    assert not (systems[0] & systems[1] or systems[0] & systems[2] or systems[1] & systems[2])
    for part, fraction in zip(parts, (0.8, 0.1, 0.1), strict=True):
        assert abs(len(part) - fraction * 36738) <= 167  # the largest system, O-Si


@pytest.mark.integration
@pytest.mark.parametrize("name", sorted(GROUPED_SPLITS))
def test_stored_grouped_splits_are_rebuilt_byte_identically(
    name: str, real_data_dir: Path, tmp_path: Path
) -> None:
    recipe = GROUPED_SPLITS[name]
    fresh = write_grouped_split(recipe, real_data_dir, tmp_path / name)
    stored = split_dir(recipe.dataset, name)
    files = sorted(p.name for p in stored.glob("*.txt"))
    assert files == sorted(p.name for p in fresh.glob("*.txt"))
    for file in files:
        assert (fresh / file).read_bytes() == (stored / file).read_bytes(), file


def test_grouped_splits_load_through_resolve_split() -> None:
    castelli = resolve_split("castelli_perovskites", SplitSpec(name=CASTELLI, kind="kfold", fold=4))
    folds = load_folds(split_dir("castelli_perovskites", CASTELLI))
    assert castelli.test == folds[4] and castelli.val == folds[0]
    assert len(castelli.train) + len(castelli.val) + len(castelli.test) == 18928
    mp = resolve_split("mp2018", SplitSpec(name=MP), max_train=1000)
    assert len(mp.train) == 1000 and len(mp.val) + len(mp.test) > 7000
