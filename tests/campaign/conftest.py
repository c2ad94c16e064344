"""Fixtures: a synthetic dataset registered through the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from materials_ai.testing.datasets import TinyDataset, write_tiny_dataset


@pytest.fixture
def tiny_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TinyDataset:
    """40 synthetic rows (row 5 has a corrupted CIF, row 7 no band gap), registered as
    dataset ``tiny`` via MATERIALS_AI_CARDS_DIR / MATERIALS_AI_DATA_DIR."""
    tiny = write_tiny_dataset(
        tmp_path / "tiny", n_rows=40, corrupt_rows=[5], missing_label_rows=[7]
    )
    monkeypatch.setenv("MATERIALS_AI_CARDS_DIR", str(tiny.cards_dir))
    monkeypatch.setenv("MATERIALS_AI_DATA_DIR", str(tiny.data_dir))
    monkeypatch.setenv("MATERIALS_AI_CACHE_DIR", str(tmp_path / "cache"))
    return tiny
