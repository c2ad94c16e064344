"""Shared fixtures for the dataset-layer tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from materials_ai.settings import DATA_DIR_ENV
from materials_ai.testing.datasets import TinyDataset, write_tiny_dataset


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point MATERIALS_AI_CACHE_DIR at a fresh folder so no test sees another's cache."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("MATERIALS_AI_CACHE_DIR", str(cache))
    return cache


@pytest.fixture
def tiny(tmp_path: Path) -> TinyDataset:
    """Six clean rows: Si, SrTiO3, GaAs, then the same with 1 % larger cells."""
    return write_tiny_dataset(tmp_path / "tiny")


@pytest.fixture
def real_data_dir() -> Path:
    """The real dataset mirror; skips the test when MATERIALS_AI_DATA_DIR is unset."""
    value = os.environ.get(DATA_DIR_ENV)
    if not value:
        pytest.skip(f"{DATA_DIR_ENV} is not set; integration tests need the real datasets")
    path = Path(value).expanduser().resolve()
    if not path.is_dir():
        pytest.skip(f"{DATA_DIR_ENV}={value} is not a folder")
    return path
