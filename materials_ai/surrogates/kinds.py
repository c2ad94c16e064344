"""The surrogate-kind registry: config ``kind`` -> how to build and how to load.

The campaign never names a surrogate class: it calls :func:`build_surrogate` with the
workflow's ``surrogate:`` section and :func:`load_surrogate` with a saved folder, and gets
a :class:`~materials_ai.surrogates.base.PoolSurrogate`.

Add a surrogate: write the class (honouring ``PoolSurrogate``), give its config a
``kind`` literal in :data:`materials_ai.surrogates.config.SurrogateConfig`, and register a
:class:`SurrogateKind` here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from materials_ai.errors import SurrogateError
from materials_ai.registry import Registry
from materials_ai.surrogates.base import PoolSurrogate

CONFIG_FILE = "surrogate.json"


@dataclass(frozen=True)
class SurrogateKind:
    """How one kind of surrogate is made.

    Attributes:
        create: ``(config, target_names, target_units) -> surrogate`` (unfitted).
        load: ``(folder) -> surrogate`` (fitted, as saved).
    """

    create: Callable[[Any, Sequence[str], Sequence[str]], PoolSurrogate[Any]]
    load: Callable[[Path], PoolSurrogate[Any]]


SURROGATES: Registry[SurrogateKind] = Registry("surrogate kind")
SURROGATES.register_lazy("graph_ensemble", "materials_ai.surrogates.ensemble:SURROGATE_KIND")
SURROGATES.register_lazy("gp", "materials_ai.surrogates.gp:SURROGATE_KIND")
SURROGATES.register_lazy(
    "feature_ensemble", "materials_ai.surrogates.feature_ensemble:SURROGATE_KIND"
)


def build_surrogate(
    config: Any, target_names: Sequence[str], target_units: Sequence[str]
) -> PoolSurrogate[Any]:
    """An unfitted surrogate of the kind ``config.kind``.

    Raises:
        ConfigError: If no surrogate kind has that name.
    """
    return SURROGATES.get(config.kind).create(config, target_names, target_units)


def saved_kind(path: str | Path) -> str:
    """The kind of the surrogate saved in ``path`` (folders from before the registry hold
    a graph ensemble).

    Raises:
        SurrogateError: If the folder holds no readable ``surrogate.json``.
    """
    meta_path = Path(path) / CONFIG_FILE
    try:
        meta = json.loads(meta_path.read_text())
    except FileNotFoundError:
        raise SurrogateError(f"{meta_path} not found: not a saved surrogate folder") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise SurrogateError(f"{meta_path} is not valid JSON: {error}") from None
    if not isinstance(meta, dict):
        raise SurrogateError(f"{meta_path} is not a JSON object")
    config = meta.get("config")
    kind = meta.get("kind") or (config.get("kind") if isinstance(config, dict) else None)
    return str(kind or "graph_ensemble")


def load_surrogate(path: str | Path) -> PoolSurrogate[Any]:
    """Load a saved surrogate of any registered kind."""
    return SURROGATES.get(saved_kind(path)).load(Path(path))
