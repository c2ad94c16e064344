"""Fixtures: the tiny molecular dataset registered through the environment."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from materials_ai.settings import DATA_DIR_ENV
from materials_ai.testing.molecules import TinyMolecules, write_tiny_molecules


@pytest.fixture
def tiny_mol(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TinyMolecules:
    """40 SMILES rows (row 17 unparsable), registered as dataset ``tiny_mol``."""
    tiny = write_tiny_molecules(tmp_path / "tiny_mol")
    monkeypatch.setenv("MATERIALS_AI_CARDS_DIR", str(tiny.cards_dir))
    monkeypatch.setenv("MATERIALS_AI_DATA_DIR", str(tiny.data_dir))
    monkeypatch.setenv("MATERIALS_AI_CACHE_DIR", str(tmp_path / "cache"))
    return tiny


@pytest.fixture
def real_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The real dataset mirror (skips when MATERIALS_AI_DATA_DIR is unset); fresh cache."""
    value = os.environ.get(DATA_DIR_ENV)
    if not value or not Path(value).expanduser().is_dir():
        pytest.skip(f"{DATA_DIR_ENV} is not set; integration tests need the real datasets")
    monkeypatch.setenv("MATERIALS_AI_CACHE_DIR", str(tmp_path / "cache"))
    return Path(value).expanduser().resolve()
