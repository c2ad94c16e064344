"""Shared fixtures for the candidate-generation tests: small ion lists, in-code structures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from materials_ai.candidates import KnownMaterials, PrototypeGeneratorConfig
from materials_ai.settings import DATA_DIR_ENV
from materials_ai.testing.datasets import gaas_zincblende, srtio3_cubic


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point MATERIALS_AI_CACHE_DIR at a fresh folder so no test sees another's cache."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("MATERIALS_AI_CACHE_DIR", str(cache))
    return cache


@pytest.fixture
def small_proto_config() -> PrototypeGeneratorConfig:
    """Every prototype on a handful of ions (fast; includes a toxic and a radioactive one)."""
    return PrototypeGeneratorConfig(
        cations=["Li", "Na", "K", "Mg", "Ca", "Sr", "Ba", "Zn", "Ga", "Ti", "Zr", "Sn", "Nb",
                 "Ta", "Al", "La", "Pb", "U", "In"],
        anions=["O", "S", "Se", "N", "F", "Cl"],
    )  # fmt: skip


@pytest.fixture
def tiny_known() -> KnownMaterials:
    """Known set built in code: cubic SrTiO3 (a = 3.905 Å) and zinc-blende GaAs."""
    return KnownMaterials.from_structures(
        [("tiny", "srtio3", srtio3_cubic()), ("tiny", "gaas", gaas_zincblende())]
    )


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
