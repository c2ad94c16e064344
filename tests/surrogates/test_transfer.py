"""Transfer learning: an ensemble initialised from another task's ensemble."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from materials_ai.errors import SurrogateError
from materials_ai.graphs.builder import build_graphs
from materials_ai.surrogates.ensemble import GraphEnsembleSurrogate
from materials_ai.testing.datasets import tiny_structures
from materials_ai.testing.models import tiny_ensemble_config


def _graphs(config):  # type: ignore[no-untyped-def]
    structures = tiny_structures(12)
    return build_graphs(structures, [str(i) for i in range(12)], config.graph)


def test_members_start_from_the_pretrained_backbone(tmp_path: Path) -> None:
    source_config = tiny_ensemble_config(n_members=2)
    graphs = _graphs(source_config)
    source = GraphEnsembleSurrogate(source_config, ["a", "b"])
    source.fit_graphs(graphs, np.random.default_rng(0).normal(size=(12, 2)))
    source.save(tmp_path / "pre")

    # A new single-target task; a learning rate of ~0 keeps the initial weights.
    training = source_config.training.model_copy(update={"learning_rate": 1e-12, "max_epochs": 1})
    config = source_config.model_copy(
        update={"init_from": str(tmp_path / "pre"), "training": training}
    )
    target = GraphEnsembleSurrogate(config, ["c"])
    target.fit_graphs(graphs, np.arange(12, dtype=float)[:, None])
    for i in range(2):
        new, old = target.member_states[i], source.member_states[i]
        torch.testing.assert_close(new["embedding.weight"], old["embedding.weight"])
        conv_keys = [k for k in old if k.startswith("convs.") and "norm" not in k]
        assert conv_keys
        for key in conv_keys:
            torch.testing.assert_close(new[key], old[key])
        # The output layer differs in shape (1 target instead of 2) and is new.
        out_key = max(k for k in new if k.startswith("readout.") and k.endswith("weight"))
        assert new[out_key].shape[0] == 1 and old[out_key].shape[0] == 2

    scratch = GraphEnsembleSurrogate(source_config.model_copy(update={"training": training}), ["c"])
    scratch.fit_graphs(graphs, np.arange(12, dtype=float)[:, None])
    assert not torch.equal(
        scratch.member_states[0]["embedding.weight"], source.member_states[0]["embedding.weight"]
    )


def test_pretrained_model_must_share_the_architecture(tmp_path: Path) -> None:
    config = tiny_ensemble_config(n_members=1)
    graphs = _graphs(config)
    source = GraphEnsembleSurrogate(config, ["a"])
    source.fit_graphs(graphs, np.arange(12, dtype=float)[:, None])
    source.save(tmp_path / "pre")
    wider = config.model_copy(
        update={
            "model": config.model.model_copy(update={"embedding_dim": 16}),
            "init_from": str(tmp_path / "pre"),
        }
    )
    with pytest.raises(SurrogateError, match="architecture"):
        GraphEnsembleSurrogate(wider, ["a"]).fit_graphs(graphs, np.zeros((12, 1)))
