"""Workflow files: validation and error messages."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from materials_ai.campaign.config import dump_workflow, load_workflow, parse_workflow
from materials_ai.errors import ConfigError
from materials_ai.settings import PROJECT_ROOT
from materials_ai.testing.campaigns import tiny_workflow

SHIPPED = sorted(
    p
    for p in (PROJECT_ROOT / "workflows").glob("*.yaml")
    if yaml.safe_load(p.read_text()).get("kind", "replay") != "generative"
)


def _as_dict() -> dict:
    return tiny_workflow().model_dump(mode="json")


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_shipped_workflows_load(path: Path) -> None:
    config = load_workflow(path)
    assert config.objective.criteria
    assert set(c.target for c in config.objective.criteria) <= set(config.targets)


def test_castelli_workflow_states_the_published_screen() -> None:
    config = load_workflow(PROJECT_ROOT / "workflows" / "castelli_water_splitting.yaml")
    bounds = {c.target: (c.min, c.max) for c in config.objective.criteria}
    assert bounds == {
        "heat_of_formation": (None, 0.2),
        "band_gap": (1.4, 3.1),
        "cbm": (None, 4.5),
        "vbm": (5.73, None),
    }
    assert config.loop.initial_labels == 100
    assert config.loop.batch_size == 20


def test_unknown_top_level_key_is_named() -> None:
    data = _as_dict() | {"batchsize": 3}
    with pytest.raises(ConfigError, match="unknown key 'batchsize'"):
        parse_workflow(data, "wf.yaml")


def test_unknown_nested_key_is_named_with_its_path(tmp_path: Path) -> None:
    data = _as_dict()
    data["loop"]["batchsize"] = 3
    path = tmp_path / "wf.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as info:
        load_workflow(path)
    message = str(info.value)
    assert "loop.batchsize" in message
    assert str(path) in message


def test_missing_key_is_named() -> None:
    data = _as_dict()
    del data["objective"]
    with pytest.raises(ConfigError, match="missing key 'objective'"):
        parse_workflow(data)


def test_criterion_on_unlearned_target_is_rejected() -> None:
    data = _as_dict()
    data["objective"]["criteria"].append({"target": "vbm", "min": 5.0})
    with pytest.raises(ConfigError, match="vbm"):
        parse_workflow(data)


def test_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_workflow(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_workflow(bad)
    listy = tmp_path / "list.yaml"
    listy.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_workflow(listy)


def test_overrides_replace_leaves_and_reject_unknown_paths() -> None:
    config = tiny_workflow(**{"loop.iterations": 9, "surrogate.n_members": 3})
    assert config.loop.iterations == 9
    assert config.surrogate.n_members == 3
    with pytest.raises(ConfigError, match=r"loop\.iteration"):
        config.with_overrides(**{"loop.iteration": 1})


def test_fingerprint_ignores_tracking_but_not_seed() -> None:
    base = tiny_workflow()
    assert base.fingerprint() == base.with_overrides(**{"tracking.experiment": "x"}).fingerprint()
    assert base.fingerprint() != base.with_overrides(seed=99).fingerprint()


def test_dump_and_load_round_trip(tmp_path: Path) -> None:
    config = tiny_workflow()
    dump_workflow(config, tmp_path / "wf.yaml")
    assert load_workflow(tmp_path / "wf.yaml") == config


def test_parse_overrides_reads_yaml_values() -> None:
    from materials_ai.campaign.config import parse_overrides

    assert parse_overrides(["loop.batch_size=10", "surrogate.features=[chgnet, composition]"]) == {
        "loop.batch_size": 10,
        "surrogate.features": ["chgnet", "composition"],
    }
    with pytest.raises(ConfigError, match="not KEY=VALUE"):
        parse_overrides(["loop.batch_size"])


@pytest.mark.parametrize("features", [["mp2018_chgnet_head"], ["chgnet", "mp2018_embedding"]])
def test_features_trained_on_the_pools_labels_are_rejected(features: list[str]) -> None:
    config = load_workflow(PROJECT_ROOT / "workflows" / "mp_wide_gap_stable.yaml")
    with pytest.raises(ConfigError, match=r"trained on the labels of 'mp2018'"):
        config.with_overrides(**{"surrogate.features": features})
    # The same features are fine on a pool from another table.
    castelli = load_workflow(PROJECT_ROOT / "workflows" / "castelli_water_splitting_chgnet_gp.yaml")
    assert castelli.with_overrides(**{"surrogate.features": features}).surrogate.features


def test_conditional_targets_must_be_workflow_targets() -> None:
    config = load_workflow(PROJECT_ROOT / "workflows" / "castelli_water_splitting_chgnet_gp.yaml")
    with pytest.raises(ConfigError, match=r"band_gap -> metal"):
        config.with_overrides(**{"surrogate.conditional_on": {"band_gap": "metal"}})
