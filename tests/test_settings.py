"""Environment settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from materials_ai import settings
from materials_ai.errors import DataError, MaterialsAIError


def test_data_dir_from_environment_and_override(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(settings.DATA_DIR_ENV, str(tmp_path))
    assert settings.data_dir() == tmp_path.resolve()
    assert settings.data_dir(tmp_path / "x") == (tmp_path / "x").resolve()


def test_missing_data_dir_says_which_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(settings.DATA_DIR_ENV, raising=False)
    with pytest.raises(DataError, match="MATERIALS_AI_DATA_DIR") as info:
        settings.data_dir()
    assert isinstance(info.value, MaterialsAIError)


def test_cache_dir_is_created(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(settings.CACHE_DIR_ENV, str(tmp_path / "c" / "d"))
    assert settings.cache_dir() == (tmp_path / "c" / "d").resolve()
    assert (tmp_path / "c" / "d").is_dir()


def test_cards_dir_defaults_to_the_checkout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(settings.CARDS_DIR_ENV, raising=False)
    assert settings.cards_dir() == settings.PROJECT_ROOT / "datasets"
    assert (settings.cards_dir() / "castelli_perovskites.yaml").exists()
