"""One registry style for every extension point.

An extension point (surrogate kinds, network architectures, featurizers, acquisition
strategies, oracle tasks, screens, pool sources) is a :class:`Registry`: a name -> object
table that is filled either eagerly with :meth:`Registry.register` (a decorator) or
lazily with :meth:`Registry.register_lazy` (``"module:attribute"``, imported on first
use, so that an entry that needs torch or CHGNet costs nothing until it is asked for).

Example::

    FEATURIZERS: Registry[FeaturizerFactory] = Registry("featurizer")

    @FEATURIZERS.register("composition")
    def composition_featurizer(**options): ...

    FEATURIZERS.register_lazy("chgnet", "materials_ai.surrogates.featurizers.chgnet:build")
    factory = FEATURIZERS.get("chgnet")      # imports the module now

An unknown name is a :class:`~materials_ai.errors.ConfigError` that lists the known ones.

Plugins: a branch that builds on the core (the molecular branch) registers its parts
itself, in a plugin module that the core names only as a string (:data:`BUILTIN_PLUGINS`;
the core never imports the branch, checked by ``lint-imports``). Other packages add
plugin modules through the ``materials_ai.plugins`` entry-point group. Plugin modules are
imported once, the first time a registry is asked for a name it does not hold or for its
list of names (:func:`load_plugins`), so they should register lazily and import little.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from materials_ai.errors import ConfigError

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Plugin modules of the branches shipped with the package (imported by name).
BUILTIN_PLUGINS: tuple[str, ...] = ("materials_ai.molecules.registration",)

#: Entry-point group of third-party plugin modules (``module`` or ``module:function``).
PLUGIN_GROUP = "materials_ai.plugins"

_plugins_loaded = False


def load_plugins() -> None:
    """Import every plugin module once (:data:`BUILTIN_PLUGINS`, then entry points).

    A plugin that fails to import (a missing optional dependency) is skipped with a
    warning: the names it would have registered stay unknown.
    """
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    targets = list(BUILTIN_PLUGINS)
    try:
        from importlib.metadata import entry_points

        targets += [ep.value for ep in entry_points(group=PLUGIN_GROUP)]
    except Exception as exc:  # broken distribution metadata must not break the core
        logger.warning("cannot read %s entry points: %s", PLUGIN_GROUP, exc)
    for target in targets:
        module_name, _, function = target.partition(":")
        try:
            module = importlib.import_module(module_name)
            if function:
                getattr(module, function)()
        except ImportError as exc:
            logger.warning("plugin %s not loaded: %s", target, exc)


class Registry(Generic[T]):
    """A named table of extensions of one kind.

    Args:
        kind: What the entries are, for error messages (e.g. ``"featurizer"``).
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}
        self._lazy: dict[str, str] = {}

    def register(self, name: str, *, replace: bool = False) -> Callable[[T], T]:
        """Decorator that registers its argument under ``name`` and returns it unchanged.

        Raises:
            ConfigError: If ``name`` is taken and ``replace`` is false.
        """

        def add(entry: T) -> T:
            self.add(name, entry, replace=replace)
            return entry

        return add

    def add(self, name: str, entry: T, *, replace: bool = False) -> None:
        """Register ``entry`` under ``name`` (the non-decorator form)."""
        if not replace and (name in self._entries or name in self._lazy):
            raise ConfigError(f"{self.kind} {name!r} is already registered")
        self._lazy.pop(name, None)
        self._entries[name] = entry

    def remove(self, name: str) -> None:
        """Forget ``name`` (e.g. an entry a test registered); no error when absent."""
        self._entries.pop(name, None)
        self._lazy.pop(name, None)

    def register_lazy(self, name: str, target: str, *, replace: bool = False) -> None:
        """Register ``"package.module:attribute"``, imported when ``name`` is first used."""
        if ":" not in target:
            raise ConfigError(f"lazy {self.kind} {name!r}: {target!r} is not 'module:attribute'")
        if not replace and (name in self._entries or name in self._lazy):
            raise ConfigError(f"{self.kind} {name!r} is already registered")
        self._lazy[name] = target

    def get(self, name: str) -> T:
        """The entry registered as ``name``.

        Raises:
            ConfigError: If no entry has that name (the message lists the known names).
        """
        if name not in self._entries and name not in self._lazy:
            load_plugins()
        if name in self._entries:
            return self._entries[name]
        if name in self._lazy:
            module_name, _, attribute = self._lazy[name].partition(":")
            entry: T = getattr(importlib.import_module(module_name), attribute)
            self._entries[name] = entry
            del self._lazy[name]
            return entry
        raise ConfigError(f"unknown {self.kind} {name!r}; known: {', '.join(self.names())}")

    def names(self) -> tuple[str, ...]:
        """Every registered name (plugins included), sorted."""
        load_plugins()
        return tuple(sorted({*self._entries, *self._lazy}))

    def __contains__(self, name: object) -> bool:
        if name in self._entries or name in self._lazy:
            return True
        load_plugins()
        return name in self._entries or name in self._lazy

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())
