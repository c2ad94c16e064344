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
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from materials_ai.errors import ConfigError

T = TypeVar("T")


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
        """Every registered name, sorted."""
        return tuple(sorted({*self._entries, *self._lazy}))

    def __contains__(self, name: object) -> bool:
        return name in self._entries or name in self._lazy

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries) + len(self._lazy)
