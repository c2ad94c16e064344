"""One way to report a bad configuration: the file, every bad key, and a hint.

Every YAML config of the platform (workflows, training jobs, compute, dataset cards) is a
pydantic model with ``extra="forbid"``; :func:`config_error` turns pydantic's error list into
a :class:`~materials_ai.errors.ConfigError` such as::

    workflows/x.yaml: unknown key 'loop.batchsize' (did you mean 'batch_size'?);
    'acquisition.beta': Input should be greater than or equal to 0
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from materials_ai.errors import ConfigError


def _submodels(annotation: Any) -> list[type[BaseModel]]:
    """Pydantic models inside an annotation (``A``, ``A | None``, ``list[A]``, unions)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in get_args(annotation):
        found.extend(_submodels(arg))
    return found


def allowed_keys(model: type[BaseModel], path: Sequence[str]) -> list[str]:
    """Field names reachable at ``path`` (list indices skipped) inside ``model``."""
    current: list[type[BaseModel]] = [model]
    for part in path:
        if part.isdigit():
            continue
        nxt: list[type[BaseModel]] = []
        for m in current:
            field = m.model_fields.get(part)
            if field is not None:
                nxt.extend(_submodels(field.annotation))
        if not nxt:
            return []
        current = nxt
    return sorted({name for m in current for name in m.model_fields})


def _union_tags(models: Sequence[type[BaseModel]]) -> dict[str, type[BaseModel]]:
    """Tag -> model for union members told apart by a literal ``kind`` field."""
    tags: dict[str, type[BaseModel]] = {}
    for m in models:
        field = m.model_fields.get("kind")
        if field is not None:
            for value in get_args(field.annotation):
                if isinstance(value, str):
                    tags[value] = m
    return tags


def _strip_union_tags(model: type[BaseModel], loc: Sequence[str]) -> list[str]:
    """Drop the tags pydantic inserts into locations inside discriminated unions
    (``surrogate.gp.kernl`` -> ``surrogate.kernl``), so keys read as written in the file."""
    out: list[str] = []
    current: list[type[BaseModel]] = [model]
    for part in loc:
        if part.isdigit():
            out.append(part)
            continue
        fields = [m.model_fields[part] for m in current if part in m.model_fields]
        if fields:
            out.append(part)
            current = [sub for f in fields for sub in _submodels(f.annotation)]
            continue
        tagged = _union_tags(current)
        if part in tagged and len(current) > 1:
            current = [tagged[part]]
            continue
        out.append(part)
        current = []
    return out


def config_error(error: ValidationError, model: type[BaseModel], source: str) -> ConfigError:
    """Turn a pydantic validation error into a ConfigError naming the source and keys.

    Args:
        error: The validation error.
        model: The top-level config model (for "did you mean" hints).
        source: The file (or other origin) of the config.
    """
    problems: list[str] = []
    for item in error.errors():
        loc = _strip_union_tags(model, [str(part) for part in item["loc"]])
        key = ".".join(loc)
        if item["type"] == "extra_forbidden":
            allowed = allowed_keys(model, loc[:-1])
            close = difflib.get_close_matches(loc[-1], allowed, n=1)
            hint = (
                f" (did you mean {close[0]!r}?)"
                if close
                else f" (allowed keys there: {', '.join(allowed)})"
                if allowed
                else ""
            )
            problems.append(f"unknown key {key!r}{hint}")
        elif item["type"] == "missing":
            problems.append(f"missing key {key!r}")
        elif key:
            problems.append(f"{key!r}: {item['msg']}")
        else:
            problems.append(str(item["msg"]).removeprefix("Value error, "))
    return ConfigError(f"{source}: invalid configuration: " + "; ".join(problems))
