"""What a run logs: parameters as plain text, only the settings that apply, metric names
with units.

* :func:`flatten_params` turns a nested config into dotted keys with plain-text values
  (``true``, ``null``, ``["band_gap", "vbm"]``), never Python reprs (``True``, ``None``,
  ``['band_gap', 'vbm']``);
* :func:`config_params` keeps the settings of a workflow or training config that apply to
  the run: no unset (``null``) or empty settings, no ``tracking`` section, and only the
  ``compute`` settings of the chosen ``compute.kind`` (no SLURM job settings on a serial run);
* :func:`metrics_with_units` appends units to metric names that have one
  (``val_mae_band_gap`` -> ``val_mae_band_gap_eV``, ``seconds_train`` -> ``time_train_s``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "COMPUTE_SETTINGS_BY_KIND",
    "config_params",
    "flatten_params",
    "metric_with_unit",
    "metrics_with_units",
    "plain_value",
    "unit_slug",
]

#: ``compute`` settings that apply to some kinds only: setting -> the kinds it applies to
#: (see :class:`materials_ai.compute.ComputeConfig`). A setting not listed here is logged
#: for every kind.
COMPUTE_SETTINGS_BY_KIND: Mapping[str, frozenset[str]] = {
    "n_workers": frozenset({"local"}),
    "threads_per_worker": frozenset({"local"}),
    "processes": frozenset({"local"}),
    "memory_limit": frozenset({"local"}),
    "scheduler_address": frozenset({"remote"}),
    "connect_timeout_s": frozenset({"remote"}),
    "dashboard_address": frozenset({"local", "slurm", "pbs"}),
    "jobqueue": frozenset({"slurm", "pbs"}),
}

#: Config sections that say where a run is recorded, not how it runs.
_NOT_PARAMS = ("tracking",)

#: Metric-name tokens of quantities in the target's unit (errors and spreads; also
#: ``max_error``).
_UNIT_TOKENS = frozenset({"mae", "rmse", "bias", "std"})


def plain_value(value: Any) -> str:
    """A parameter value as plain text, the way a YAML/JSON config would spell it.

    Strings stay as they are; ``True``/``False``/``None`` become ``true``/``false``/``null``;
    numbers their shortest text; sequences and mappings compact JSON
    (``["band_gap", "vbm"]``). Anything else (a path) its ``str()``.
    """
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, bool | int | float):
        return json.dumps(value)
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, default=str, ensure_ascii=False)
    return str(value)


def flatten_params(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Flatten nested mappings into dotted keys with plain-text values.

    Lists of mappings (e.g. objective criteria) are flattened with their index
    (``objective.criteria.0.target``); other lists become one JSON value. Pydantic models
    are not expanded: pass ``model.model_dump(mode="json")``.

    Args:
        params: Parameters, possibly nested (``{"gnn": {"layers": 3}}``).
        prefix: Key prefix of this level (used by the recursion).

    Returns:
        ``{"gnn.layers": "3"}``; see :func:`plain_value` for the values. An empty mapping
        becomes ``"{}"``, so the key is not lost.
    """
    flat: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten_params(value, prefix=f"{name}."))
        elif (
            isinstance(value, list | tuple)
            and value
            and all(isinstance(item, Mapping) for item in value)
        ):
            flat.update(flatten_params({str(i): v for i, v in enumerate(value)}, f"{name}."))
        else:
            flat[name] = plain_value(value)
    return flat


def _prune(value: Any) -> Any:
    """``value`` without ``None`` and empty entries (recursively); ``None`` if nothing is left."""
    if isinstance(value, Mapping):
        kept = {k: _prune(v) for k, v in value.items()}
        kept = {k: v for k, v in kept.items() if v is not None}
        return kept or None
    if isinstance(value, list | tuple):
        items = [_prune(v) for v in value]
        return [v for v in items if v is not None] or None
    return value


def config_params(config: Mapping[str, Any]) -> dict[str, Any]:
    """The settings of a config dump that apply to the run, ready for ``log_params``.

    Drops unset (``None``) and empty settings, the ``tracking`` section and the
    ``description`` (log it as the run's description instead), and keeps only the
    ``compute`` settings of the chosen ``compute.kind`` (see
    :data:`COMPUTE_SETTINGS_BY_KIND`).

    Args:
        config: ``WorkflowConfig.model_dump(mode="json")`` or a training job's dump.

    Returns:
        A nested mapping (pass it to :meth:`Tracker.log_params`).
    """
    data = {k: v for k, v in config.items() if k not in (*_NOT_PARAMS, "description")}
    compute = data.get("compute")
    if isinstance(compute, Mapping) and "kind" in compute:
        kind = compute["kind"]
        data["compute"] = {
            key: value
            for key, value in compute.items()
            if key not in COMPUTE_SETTINGS_BY_KIND or kind in COMPUTE_SETTINGS_BY_KIND[key]
        }
    return _prune(data) or {}


def unit_slug(unit: str) -> str:
    """A unit as metric-name text: ``eV`` -> ``eV``, ``eV/atom`` -> ``eV_per_atom``."""
    text = unit.strip().replace("/", "_per_").replace("%", "pct").replace("Å", "A")
    return re.sub(r"[^A-Za-z0-9_]+", "_", text).strip("_")


def metric_with_unit(name: str, units: Mapping[str, str]) -> str:
    """``name`` with its unit appended, when it has one.

    * ``seconds_<stage>`` -> ``time_<stage>_s``;
    * a metric that names a target (``val_mae_band_gap``, ``test_band_gap_rmse``) and an
      error or spread token (mae, rmse, bias, std, max_error) gets the target's unit
      (``val_mae_band_gap_eV``); counts, ratios and scores (``oracle_calls``,
      ``test_band_gap_r2``, ``coverage``) stay as they are.

    Args:
        name: Metric name.
        units: Target name -> unit (``""`` for a dimensionless target).
    """
    if name.startswith("seconds_"):
        return f"time_{name.removeprefix('seconds_')}_s"
    for target in sorted(units, key=len, reverse=True):  # longest first: gap vs band_gap
        match = re.search(rf"(?:^|_){re.escape(target)}(?:_|$)", name)
        if match is None:
            continue
        slug = unit_slug(units[target])
        rest = f"{name[: match.start()]}_{name[match.end() :]}"
        quantity = {t for t in rest.split("_") if t} & _UNIT_TOKENS or "max_error" in rest
        if slug and quantity and not name.endswith(f"_{slug}"):
            return f"{name}_{slug}"
        return name
    return name


def metrics_with_units(
    metrics: Mapping[str, float], units: Mapping[str, str] | Sequence[tuple[str, str]]
) -> dict[str, float]:
    """The metrics under names with units (see :func:`metric_with_unit`), values unchanged."""
    unit_map = dict(units)
    return {metric_with_unit(name, unit_map): value for name, value in metrics.items()}
