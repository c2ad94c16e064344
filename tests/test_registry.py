"""The one registry style of every extension point."""

from __future__ import annotations

import pytest

from materials_ai.errors import ConfigError
from materials_ai.registry import Registry


def test_register_get_and_names() -> None:
    registry: Registry[int] = Registry("number")

    @registry.register("three")
    def three() -> int:
        return 3

    registry.add("four", lambda: 4)  # type: ignore[arg-type]
    assert registry.get("three") is three
    assert registry.names() == ("four", "three")
    assert "three" in registry and "five" not in registry
    assert len(registry) == 2


def test_unknown_name_lists_the_known_ones() -> None:
    registry: Registry[int] = Registry("number")
    registry.add("one", 1)
    with pytest.raises(ConfigError, match=r"unknown number 'two'; known: one"):
        registry.get("two")


def test_duplicate_is_refused_unless_replaced() -> None:
    registry: Registry[int] = Registry("number")
    registry.add("one", 1)
    with pytest.raises(ConfigError, match="already registered"):
        registry.add("one", 11)
    registry.add("one", 11, replace=True)
    assert registry.get("one") == 11


def test_lazy_entry_is_imported_on_first_use() -> None:
    registry: Registry[object] = Registry("thing")
    registry.register_lazy("sqrt", "math:sqrt")
    assert "sqrt" in registry
    import math

    assert registry.get("sqrt") is math.sqrt
    with pytest.raises(ConfigError, match="not 'module:attribute'"):
        registry.register_lazy("bad", "math.sqrt")
