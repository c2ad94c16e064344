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


def test_remove_forgets_an_entry() -> None:
    registry: Registry[int] = Registry("number")
    registry.add("one", 1)
    registry.remove("one")
    registry.remove("never-registered")
    assert "one" not in registry
    registry.add("one", 11)  # free again
    assert registry.get("one") == 11


def test_molecular_parts_are_registered_by_the_plugin_not_the_core() -> None:
    """The core's registries name no molecular module; the molecular plugin fills them in
    when a name is first missed (lint-imports checks the imports themselves)."""
    import inspect

    from materials_ai.candidates.screening import SCREENS
    from materials_ai.graphs import builder
    from materials_ai.oracles import tasks
    from materials_ai.surrogates import networks
    from materials_ai.surrogates.networks import NETWORKS

    for module in (tasks, networks, builder):  # no import, no "module:attribute" string
        source = inspect.getsource(module)
        assert "import materials_ai.molecules" not in source, module.__name__
        assert "from materials_ai.molecules" not in source, module.__name__
        assert '"materials_ai.molecules' not in source, module.__name__
    assert "pfas_free" in SCREENS.names()
    assert "mol_gnn" in NETWORKS and "cgcnn" in NETWORKS
    assert {"xtb", "pyscf", "chgnet", "gpaw", "sleep"} <= set(tasks.TASKS.names())
    assert "molecule" in builder.GRAPH_FEATURIZERS


def test_every_extension_point_is_a_registry() -> None:
    from materials_ai.acquisition.strategies import STRATEGIES
    from materials_ai.campaign.oracle_plans import ORACLE_PLANS
    from materials_ai.campaign.pool_sources import POOL_SOURCES
    from materials_ai.candidates.screening import SCREENS
    from materials_ai.graphs.builder import GRAPH_FEATURIZERS
    from materials_ai.oracles.tasks import TASKS
    from materials_ai.surrogates.featurizers import FEATURIZERS
    from materials_ai.surrogates.kinds import SURROGATES
    from materials_ai.surrogates.networks import NETWORKS

    registries = (
        STRATEGIES,
        ORACLE_PLANS,
        POOL_SOURCES,
        SCREENS,
        GRAPH_FEATURIZERS,
        TASKS,
        FEATURIZERS,
        SURROGATES,
        NETWORKS,
    )
    assert all(isinstance(r, Registry) for r in registries)
    assert set(STRATEGIES.names()) >= {"random", "greedy", "qucb", "qlogei", "qnehvi"}


def test_a_registered_acquisition_strategy_is_accepted_by_the_config() -> None:
    from materials_ai.acquisition.config import AcquisitionConfig
    from materials_ai.acquisition.strategies import STRATEGIES, AcquisitionStrategy

    with pytest.raises(ValueError, match="unknown acquisition strategy 'mine'; known: "):
        AcquisitionConfig(strategy="mine")
    STRATEGIES.add("mine", AcquisitionStrategy(None, "random"))
    try:
        assert AcquisitionConfig(strategy="mine").strategy == "mine"
    finally:
        STRATEGIES.remove("mine")
