"""Strict scalar types and one-line file errors for every YAML config (issue 20)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel, ConfigDict

from materials_ai.config_errors import (
    load_yaml,
    read_yaml_file,
    scalar_type_problems,
    validate_config,
)
from materials_ai.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


class Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    batch_size: int = 2
    rate: float = 1.0
    on: bool = True
    window: tuple[float, float] = (0.0, 1.0)


class Outer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = "x"
    loop: Inner = Inner()
    many: list[Inner] = []
    weights: dict[str, float] = {}
    label: int | str = 0


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"loop": {"batch_size": True}}, "'loop.batch_size': expected an integer, got true"),
        ({"loop": {"batch_size": 3.0}}, "'loop.batch_size': expected an integer, got 3.0"),
        ({"loop": {"rate": "0.5"}}, "'loop.rate': expected a number, got '0.5' (text"),
        ({"loop": {"rate": False}}, "'loop.rate': expected a number, got false"),
        ({"loop": {"on": 1}}, "'loop.on': expected true or false, got 1"),
        ({"loop": {"on": "yes"}}, "'loop.on': expected true or false, got 'yes'"),
        ({"loop": {"window": [0, "2"]}}, "'loop.window.1': expected a number, got '2'"),
        ({"many": [{}, {"batch_size": False}]}, "'many.1.batch_size': expected an integer"),
        ({"weights": {"a": "1"}}, "'weights.a': expected a number, got '1'"),
    ],
)
def test_lax_conversions_are_errors(data: dict, problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        validate_config(Outer, data, "wf.yaml")
    message = str(info.value)
    assert message.startswith("wf.yaml: invalid configuration: ") and problem in message
    assert "\n" not in message


def test_correct_types_and_deliberate_unions_pass() -> None:
    data = {
        "loop": {"batch_size": 3, "rate": 2, "on": False, "window": [0, 0.5]},
        "weights": {"a": 1},
        "label": "3",  # int | str: text is allowed there
    }
    assert scalar_type_problems(Outer.model_validate(data), data) == []
    assert validate_config(Outer, data, "wf.yaml").loop.rate == 2.0


def test_yaml_exponents_without_a_dot_are_numbers() -> None:
    data = load_yaml("a: 1e-3\nb: 2E5\nc: '1e-3'\nd: 1.5e3\ne: 3\nf: .5\n")
    assert data == {"a": 1e-3, "b": 2e5, "c": "1e-3", "d": 1500.0, "e": 3, "f": 0.5}
    assert validate_config(Outer, load_yaml("loop: {rate: 1e-3}"), "x").loop.rate == 1e-3


def test_yaml_errors_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"x\.yaml, line 2, column 1: not valid YAML") as info:
        load_yaml("a: [1,\n", "x.yaml")
    assert "\n" not in str(info.value)
    with pytest.raises(ConfigError, match=r"workflow file .* not found"):
        read_yaml_file(tmp_path / "nope.yaml", "workflow")
    with pytest.raises(ConfigError, match="is a folder; give the workflow file"):
        read_yaml_file(tmp_path, "workflow")
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes("name: ni\xf1o\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=r"not UTF-8 text \(byte 0xf1 at offset 8\)"):
        read_yaml_file(bad)
    bom = tmp_path / "bom.yaml"
    bom.write_bytes(b"\xef\xbb\xbfname: x\n")
    assert read_yaml_file(bom) == {"name": "x"}


SHIPPED = sorted(ROOT.glob("workflows/*.yaml")) + sorted(ROOT.glob("configs/*/*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_shipped_configs_load_with_strict_types(path: Path) -> None:
    from materials_ai.campaign.config import load_workflow
    from materials_ai.compute import ComputeConfig
    from materials_ai.surrogates.jobs import load_train_config

    data = read_yaml_file(path)
    assert data == yaml.safe_load(path.read_text())  # the YAML 1.2 floats change nothing
    if path.parent.name == "workflows":
        load_workflow(path)
    elif path.parent.name == "surrogate":
        load_train_config(path)
    else:
        validate_config(ComputeConfig, data, str(path))
