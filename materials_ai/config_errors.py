"""One way to report a bad configuration: the file, every bad key, and a hint.

Every YAML config of the platform (workflows, training jobs, compute, dataset cards) is a
pydantic model with ``extra="forbid"``; :func:`config_error` turns pydantic's error list into
a :class:`~materials_ai.errors.ConfigError` such as::

    workflows/x.yaml: unknown key 'loop.batchsize' (did you mean 'batch_size'?);
    'acquisition.beta': Input should be greater than or equal to 0
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar, get_args

from pydantic import BaseModel, ValidationError

from materials_ai.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


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


def config_error(
    error: ValidationError, model: type[BaseModel], source: str, what: str = "configuration"
) -> ConfigError:
    """Turn a pydantic validation error into a ConfigError naming the source and keys.

    Args:
        error: The validation error.
        model: The top-level config model (for "did you mean" hints).
        source: The file (or other origin) of the config.
        what: What the file holds, for the message (``invalid <what>``).
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
            problems.append(f"{key!r}: {_one_line(item['msg'])}{_got(item.get('input'))}")
        else:
            problems.append(_one_line(item["msg"]))
    return ConfigError(f"{source}: invalid {what}: " + "; ".join(problems))


def _got(value: object) -> str:
    """`` (got -2)`` for a short scalar input, else nothing."""
    if isinstance(value, bool | int | float) or (isinstance(value, str) and len(value) <= 60):
        return f" (got {value!r})"
    return ""


def _one_line(message: object) -> str:
    return " ".join(str(message).removeprefix("Value error, ").split())


# -- strict scalar types ------------------------------------------------------------------


def _expected(value: object) -> str | None:
    """What a validated scalar field holds (None: not a strictly typed scalar)."""
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    return None


def _given(raw: object) -> str:
    if isinstance(raw, bool):
        return f"{str(raw).lower()} (a boolean)"
    if isinstance(raw, str):
        return f"{raw!r} (text; write numbers and booleans without quotes)"
    return f"{raw!r}"


def _audit(value: Any, raw: Any, path: list[str], problems: list[str]) -> None:
    """Compare validated ``value`` with the ``raw`` input it came from, recursively."""
    if isinstance(value, BaseModel):
        if isinstance(raw, Mapping):
            for name, field in type(value).model_fields.items():
                key = field.alias if field.alias in raw else name
                if key in raw:
                    _audit(getattr(value, name), raw[key], [*path, str(key)], problems)
        return
    expected = _expected(value)
    if expected is not None:
        if isinstance(value, bool):
            wrong = not isinstance(raw, bool)
        elif isinstance(value, int):
            wrong = isinstance(raw, bool | str | float)
        else:
            wrong = isinstance(raw, bool | str)
        if wrong:
            problems.append(f"{'.'.join(path)!r}: expected {expected}, got {_given(raw)}")
        return
    if isinstance(value, list | tuple) and isinstance(raw, list | tuple):
        if len(value) == len(raw):
            for i, (v, r) in enumerate(zip(value, raw, strict=True)):
                _audit(v, r, [*path, str(i)], problems)
    elif isinstance(value, Mapping) and isinstance(raw, Mapping):
        for key, r in raw.items():
            if key in value:
                _audit(value[key], r, [*path, str(key)], problems)


def scalar_type_problems(config: BaseModel, raw: Any) -> list[str]:
    """Strict scalar types: where ``raw`` gave a boolean for a number, a number for a
    boolean, or text for either, though pydantic's lax mode accepted it into ``config``.

    ``batch_size: true`` would otherwise run as 1 and ``rate: "0.5"`` pass silently.
    Only the file's own values are checked (defaults are not), and the check follows the
    validated model, so discriminated unions need no special handling.

    Returns:
        One ``'dotted.key': expected ..., got ...`` line per problem.
    """
    problems: list[str] = []
    _audit(config, raw, [], problems)
    return problems


def validate_config(model: type[M], data: Any, source: str, what: str = "configuration") -> M:
    """Validate ``data`` as ``model`` with strict scalar types (see
    :func:`scalar_type_problems`).

    Raises:
        ConfigError: Naming ``source`` and every bad key.
    """
    try:
        config = model.model_validate(data)
    except ValidationError as error:
        raise config_error(error, model, source, what) from None
    problems = scalar_type_problems(config, data)
    if problems:
        raise ConfigError(f"{source}: invalid {what}: " + "; ".join(problems))
    return config


# -- reading YAML files ---------------------------------------------------------------------


def _yaml_loader() -> type:
    """PyYAML's safe loader, reading ``1e-3`` and ``2E5`` as numbers (YAML 1.2) rather
    than as text (PyYAML's YAML 1.1 wants ``1.0e-3``)."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
        list("-+0123456789."),
    )
    return Loader


def load_yaml(text: str, source: str = "<yaml>") -> Any:
    """Parse YAML text (see :func:`_yaml_loader`).

    Raises:
        ConfigError: One line naming ``source``, the line and column, and the problem.
    """
    import yaml

    try:
        return yaml.load(text, Loader=_yaml_loader())  # a SafeLoader subclass
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError(f"{source}{where}: not valid YAML: {_one_line(problem)}") from None


def read_yaml_file(path: str | Path, what: str = "configuration") -> Any:
    """Read a YAML file written by a person.

    Raises:
        ConfigError: One line: the file is missing, a folder, unreadable, not UTF-8 text
            (with the offending byte's offset) or not YAML.
    """
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{what} file {path} not found")
    if path.is_dir():
        raise ConfigError(f"{path} is a folder; give the {what} file")
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the {what} file: {error.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte 0x{raw[error.start]:02x} at offset {error.start}); "
            "save the file as UTF-8"
        ) from None
    return load_yaml(text, str(path))
