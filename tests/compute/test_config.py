"""Compute configs: shipped files load, bad keys and values are named, ``make_executor``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from materials_ai.compute import (
    COMPUTE_CONFIG_DIR,
    ComputeConfig,
    SerialExecutor,
    load_compute_config,
    make_executor,
)
from materials_ai.errors import ConfigError


@pytest.mark.parametrize("name", ["serial", "local", "remote", "slurm", "pbs"])
def test_shipped_configs_load(name: str) -> None:
    config = load_compute_config(COMPUTE_CONFIG_DIR / f"{name}.yaml")
    assert config.kind == name


def test_shipped_local_config_is_two_single_thread_processes() -> None:
    config = load_compute_config(COMPUTE_CONFIG_DIR / "local.yaml")
    assert (config.n_workers, config.threads_per_worker, config.processes) == (2, 1, True)


def test_unknown_key_is_a_config_error_naming_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "compute.yaml"
    path.write_text("kind: local\nn_wokers: 4\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_compute_config(path)
    message = str(info.value)
    assert str(path) in message
    assert "'n_wokers'" in message
    assert "did you mean 'n_workers'" in message


def test_unknown_nested_key_is_named_with_its_path(tmp_path: Path) -> None:
    path = tmp_path / "slurm.yaml"
    path.write_text("kind: slurm\njobqueue:\n  cores: 4\n  walltim: '01:00:00'\n")
    with pytest.raises(ConfigError, match=r"unknown key 'jobqueue\.walltim'"):
        load_compute_config(path)


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("kind: cloud\n", r"'kind'"),
        ("kind: remote\n", r"scheduler_address"),
        ("- local\n", r"must be a mapping"),
        ("kind: [local\n", r"not valid YAML"),
        (
            "kind: slurm\njobqueue:\n  walltime: '00:30:00'\n",
            r"--lifetime.*shorter than walltime",
        ),
        (
            "kind: pbs\njobqueue:\n  adaptive: {minimum_jobs: 5, maximum_jobs: 2}\n",
            r"minimum_jobs \(5\) exceeds maximum_jobs \(2\)",
        ),
    ],
)
def test_invalid_configs_are_config_errors(tmp_path: Path, text: str, pattern: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=pattern):
        load_compute_config(path)


def test_missing_config_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing\.yaml"):
        load_compute_config(tmp_path / "missing.yaml")


def test_make_executor_serial() -> None:
    assert isinstance(make_executor(None), SerialExecutor)
    assert isinstance(make_executor(ComputeConfig(kind="serial")), SerialExecutor)


def test_import_does_not_load_dask() -> None:
    code = (
        "import sys, materials_ai.compute\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in "
        "('dask', 'distributed', 'dask_jobqueue', 'yaml', 'rich')]\n"
        "print(heavy)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
