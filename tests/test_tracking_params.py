"""What a tracked run records (issue 18): plain parameter values, only the settings that
apply, metric names with units."""

from __future__ import annotations

from pathlib import Path

import pytest

from materials_ai.campaign.config import load_workflow
from materials_ai.tracking import (
    InMemoryTracker,
    config_params,
    flatten_params,
    metric_with_unit,
    metrics_with_units,
)

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / "workflows" / "castelli_water_splitting_chgnet_gp.yaml"


def test_values_are_plain_text_not_python_reprs() -> None:
    flat = flatten_params(
        {
            "targets": ["band_gap", "vbm"],
            "flags": {"warm_start": True, "final_retrain": False, "cap": None},
            "criteria": [{"target": "band_gap", "min": 1.4}, {"target": "vbm", "max": None}],
            "rate": 1e-3,
            "name": "ws",
        }
    )
    assert flat == {
        "targets": '["band_gap", "vbm"]',
        "flags.warm_start": "true",
        "flags.final_retrain": "false",
        "flags.cap": "null",
        "criteria.0.target": "band_gap",
        "criteria.0.min": "1.4",
        "criteria.1.target": "vbm",
        "criteria.1.max": "null",
        "rate": "0.001",
        "name": "ws",
    }


def _logged(config: dict) -> dict[str, str]:  # type: ignore[type-arg]
    tracker = InMemoryTracker()
    tracker.start_run("x")
    tracker.log_params(config_params(config))
    return tracker.last_run.params


def test_shipped_workflow_logs_only_settings_that_apply() -> None:
    config = load_workflow(WORKFLOW)
    assert config.compute.kind == "serial"
    params = _logged(config.model_dump(mode="json"))
    # A serial run: no SLURM/PBS job, local-cluster or remote-scheduler settings.
    assert [k for k in params if k.startswith("compute.")] == ["compute.kind"]
    assert params["compute.kind"] == "serial"
    # No unset or empty settings, no tracking section, no description; no Python reprs.
    assert not [k for k in params if k.startswith(("tracking.", "description"))]
    assert "data.limit" not in params and "oracle.learn" not in params
    assert "None" not in params.values() and "True" not in params.values()
    assert not [v for v in params.values() if v.startswith(("['", "[{", "{'"))]
    assert params["targets"] == '["heat_of_formation", "band_gap", "vbm", "cbm", "semiconductor"]'
    assert params["objective.criteria.2.target"] == "band_gap"
    assert params["objective.criteria.2.min"] == "1.4"
    assert params["loop.warm_start"] == "true"
    assert params["acquisition.strategy"] == config.acquisition.strategy


@pytest.mark.parametrize(
    ("kind", "extra", "expected"),
    [
        ("local", {"n_workers": 2}, {"kind", "n_workers", "threads_per_worker", "processes"}),
        ("remote", {"scheduler_address": "tcp://h:8786"}, {"kind", "scheduler_address"}),
        ("slurm", {}, {"kind", "jobqueue.cores", "jobqueue.walltime", "dashboard_address"}),
    ],
)
def test_compute_settings_of_the_chosen_kind(kind: str, extra: dict, expected: set) -> None:  # type: ignore[type-arg]
    config = load_workflow(WORKFLOW).with_overrides(
        {"compute.kind": kind, **{f"compute.{k}": v for k, v in extra.items()}}
    )
    logged = {k.removeprefix("compute.") for k in _logged(config.model_dump(mode="json"))}
    compute = {k for k in logged if k in expected or k.split(".")[0] in ("jobqueue", "n_workers")}
    assert expected <= compute
    if kind != "slurm":
        assert not [k for k in logged if k.startswith("jobqueue.")]
    if kind == "slurm":
        assert "n_workers" not in logged and "scheduler_address" not in logged


def test_metric_names_carry_units() -> None:
    units = {"band_gap": "eV", "heat_of_formation": "eV/atom", "ratio": ""}
    renamed = metrics_with_units(
        {
            "val_mae_band_gap": 0.2,
            "val_mae_heat_of_formation": 0.05,
            "test_band_gap_rmse": 0.3,
            "test_band_gap_r2": 0.8,
            "val_mae_ratio": 0.1,
            "seconds_train": 12.5,
            "oracle_calls": 60.0,
            "targets_found": 3.0,
        },
        units,
    )
    assert renamed == {
        "val_mae_band_gap_eV": 0.2,
        "val_mae_heat_of_formation_eV_per_atom": 0.05,
        "test_band_gap_rmse_eV": 0.3,
        "test_band_gap_r2": 0.8,  # dimensionless
        "val_mae_ratio": 0.1,  # a target without a unit
        "time_train_s": 12.5,
        "oracle_calls": 60.0,
        "targets_found": 3.0,
    }
    # The longer target name wins (band_gap vs gap) and a unit is never added twice.
    assert metric_with_unit("val_mae_band_gap", {"gap": "meV", "band_gap": "eV"}) == (
        "val_mae_band_gap_eV"
    )
    assert metric_with_unit("val_mae_band_gap_eV", {"band_gap": "eV"}) == "val_mae_band_gap_eV"
