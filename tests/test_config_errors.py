"""Configuration error messages."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from materials_ai.config_errors import allowed_keys, config_error


class Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    batch_size: int = 2
    rate: float = 1.0


class Outer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    loop: Inner = Inner()
    maybe: Inner | None = None
    many: list[Inner] = []


def _error(data: dict) -> str:
    with pytest.raises(ValidationError) as info:
        Outer.model_validate(data)
    return str(config_error(info.value, Outer, "wf.yaml"))


def test_unknown_nested_key_with_suggestion() -> None:
    message = _error({"name": "x", "loop": {"batchsize": 3}})
    assert message.startswith("wf.yaml:")
    assert "unknown key 'loop.batchsize' (did you mean 'batch_size'?)" in message


def test_unknown_key_without_close_match_lists_allowed_keys() -> None:
    assert "allowed keys there: batch_size, rate" in _error({"name": "x", "loop": {"zz": 1}})


def test_missing_and_bad_values_are_named() -> None:
    message = _error({"loop": {"rate": "fast"}})
    assert "missing key 'name'" in message
    assert "'loop.rate':" in message


def test_allowed_keys_follow_optional_and_list_fields() -> None:
    assert allowed_keys(Outer, ["maybe"]) == ["batch_size", "rate"]
    assert allowed_keys(Outer, ["many", "0"]) == ["batch_size", "rate"]
    assert allowed_keys(Outer, ["name"]) == []
