"""Tests of materials_ai.data.registry."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pandas as pd
import pytest

from materials_ai.data.registry import (
    dataset_path,
    get_card,
    list_cards,
    sha256_file,
    verify_checksum,
)
from materials_ai.errors import ChecksumMismatchError, ConfigError, DatasetNotFoundError
from materials_ai.settings import DATA_DIR_ENV
from materials_ai.testing.datasets import TinyDataset, write_tiny_dataset


def test_list_and_get_cards(tmp_path: Path) -> None:
    first = write_tiny_dataset(tmp_path / "a", name="alpha", n_rows=2)
    second = write_tiny_dataset(tmp_path / "b", name="beta", n_rows=2)
    shutil.copy(second.card_path, first.cards_dir / "beta.yaml")
    (first.cards_dir / "README.md").write_text("not a card")
    cards = list_cards(first.cards_dir)
    assert [c.name for c in cards] == ["alpha", "beta"]
    assert get_card("beta", first.cards_dir) == second.card


def test_get_card_reads_cards_dir_setting(
    tiny: TinyDataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MATERIALS_AI_CARDS_DIR", str(tiny.cards_dir))
    assert get_card("tiny") == tiny.card


def test_unknown_name_lists_known_names(tiny: TinyDataset) -> None:
    with pytest.raises(DatasetNotFoundError) as info:
        get_card("castelli", tiny.cards_dir)
    assert "'castelli'" in str(info.value)
    assert "known datasets: tiny" in str(info.value)


def test_duplicate_names_are_rejected(tiny: TinyDataset) -> None:
    shutil.copy(tiny.card_path, tiny.cards_dir / "again.yaml")
    with pytest.raises(ConfigError, match="used by two cards"):
        list_cards(tiny.cards_dir)


def test_missing_cards_dir(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match="MATERIALS_AI_CARDS_DIR"):
        list_cards(tmp_path / "nowhere")


def test_shipped_cards_have_unique_names() -> None:
    names = [card.name for card in list_cards()]
    assert names == sorted(set(names))
    assert {"castelli_perovskites", "mp2018"} <= set(names)


def test_dataset_path_resolves_under_data_dir(tiny: TinyDataset) -> None:
    assert dataset_path(tiny.card, tiny.data_dir) == tiny.path.resolve()


def test_missing_file_names_path_setting_and_source(
    tiny: TinyDataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty-mirror"
    empty.mkdir()
    monkeypatch.setenv(DATA_DIR_ENV, str(empty))
    with pytest.raises(DatasetNotFoundError) as info:
        dataset_path(tiny.card)
    message = str(info.value)
    assert str(empty / "inorganic" / "tiny.csv") in message
    assert f"{DATA_DIR_ENV}={empty}" in message
    assert tiny.card.upstream.source in message
    assert tiny.card.upstream.urls[0] in message
    assert dataset_path(tiny.card, must_exist=False) == empty / "inorganic" / "tiny.csv"


def test_unset_data_dir_names_setting_and_source(
    tiny: TinyDataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    with pytest.raises(DatasetNotFoundError) as info:
        dataset_path(tiny.card)
    assert DATA_DIR_ENV in str(info.value)
    assert tiny.card.upstream.source in str(info.value)


def test_sha256_file_matches_hashlib(tiny: TinyDataset) -> None:
    assert sha256_file(tiny.path) == hashlib.sha256(tiny.path.read_bytes()).hexdigest()


def test_verify_checksum_accepts_intact_file(tiny: TinyDataset) -> None:
    assert verify_checksum(tiny.card, tiny.data_dir) == tiny.path.resolve()


def test_verify_checksum_reports_file_expected_and_actual(tiny: TinyDataset) -> None:
    with tiny.path.open("a") as handle:
        handle.write("tiny-9.cif,Si,1.0,-1.0,\n")
    actual = hashlib.sha256(tiny.path.read_bytes()).hexdigest()
    with pytest.raises(ChecksumMismatchError) as info:
        verify_checksum(tiny.card, tiny.data_dir)
    message = str(info.value)
    assert str(tiny.path.resolve()) in message
    assert tiny.card.sha256 in message
    assert actual in message


@pytest.mark.integration
def test_every_card_matches_its_real_file(real_data_dir: Path) -> None:
    cards = list_cards()
    assert len(cards) >= 5
    for card in cards:
        path = verify_checksum(card, real_data_dir)
        table = pd.read_csv(
            path, usecols=[card.id_column or card.structure_column], comment=card.comment
        )
        assert len(table) == card.rows, card.name
        header = pd.read_csv(path, nrows=0, comment=card.comment).columns
        wanted = {card.id_column, card.structure_column, card.formula_column} - {None}
        wanted |= {t.column for t in card.targets.values()}
        assert wanted <= set(header), (card.name, wanted - set(header))
