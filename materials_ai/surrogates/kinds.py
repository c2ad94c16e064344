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

from pydantic import BaseModel, ValidationError

from materials_ai.config_errors import config_error
from materials_ai.errors import MaterialsAIError, SurrogateError
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
    path = Path(path)
    meta_path = path / CONFIG_FILE
    if path.exists() and not path.is_dir():
        raise SurrogateError(f"{path} is a file; give the model folder (with {CONFIG_FILE})")
    try:
        meta = json.loads(meta_path.read_text())
    except FileNotFoundError:
        raise SurrogateError(
            f"{meta_path} not found: not a saved surrogate folder{_campaign_hint(path)}"
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise SurrogateError(f"{meta_path} is not valid JSON: {error}") from None
    if not isinstance(meta, dict):
        raise SurrogateError(f"{meta_path} is not a JSON object")
    config = meta.get("config")
    kind = meta.get("kind") or (config.get("kind") if isinstance(config, dict) else None)
    return str(kind or "graph_ensemble")


def _campaign_hint(path: Path) -> str:
    """Where the models of a campaign run directory are, when ``path`` is one."""
    for folder in (path, path / "models"):
        saved = sorted(p for p in folder.glob("iter_*") if (p / CONFIG_FILE).is_file())
        if saved:
            return f"; it holds a campaign's models, the latest in {saved[-1]}"
    return ""


def _first_sentence(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text.split(". ")[0][:160]


def load_weights(path: Path) -> Any:
    """Read a weights file written with ``torch.save`` (tensors only, CPU).

    Raises:
        SurrogateError: One line: the file is missing, truncated or not PyTorch's.
    """
    import pickle

    import torch

    if not path.is_file():
        raise SurrogateError(f"{path} is missing: copy the whole model folder")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, EOFError, KeyError, ValueError) as error:
        reason = _first_sentence(error)
        raise SurrogateError(
            f"{path} is truncated or not a PyTorch weights file ({type(error).__name__}: {reason})"
        ) from None


def load_surrogate(path: str | Path) -> PoolSurrogate[Any]:
    """Load a saved surrogate of any registered kind.

    Raises:
        SurrogateError: One line naming the folder: no ``surrogate.json``, a missing or
            damaged weights file, or files that do not belong together (weights of
            another model).
    """
    path = Path(path)
    kind = saved_kind(path)
    try:
        return SURROGATES.get(kind).load(path)
    except MaterialsAIError:
        raise
    except ValidationError as error:  # the settings in surrogate.json
        message = config_error(error, BaseModel, str(path / CONFIG_FILE), "model settings")
        raise SurrogateError(str(message)) from None
    except (KeyError, IndexError, TypeError, ValueError, RuntimeError, AttributeError) as error:
        reason = f"no entry {error}" if isinstance(error, KeyError) else _first_sentence(error)
        raise SurrogateError(
            f"{path}: not a complete saved {kind} surrogate ({reason}); "
            f"are {CONFIG_FILE} and the weights from the same model?"
        ) from None
