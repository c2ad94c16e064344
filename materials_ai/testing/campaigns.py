"""Tiny campaign settings for tests and examples: seconds, not minutes."""

from __future__ import annotations

from typing import Any

from materials_ai.campaign.config import WorkflowConfig, parse_workflow


def tiny_workflow(dataset: str = "tiny", **overrides: Any) -> WorkflowConfig:
    """A fast workflow over the synthetic dataset of ``write_tiny_dataset``.

    Targets ``band_gap`` (eV) and ``formation_energy`` (eV/atom); the objective asks for a
    gap in 5–8 eV and a formation energy ≤ -2 eV/atom. Models are tiny (2 members, one
    8-wide convolution, a few epochs) and tracking is off.

    Args:
        dataset: Dataset name (card) of the pool.
        **overrides: Dotted-path overrides, e.g. ``{"loop.iterations": 1}`` given as
            ``**{"loop.iterations": 1}``.
    """
    data: dict[str, Any] = {
        "name": "tiny_campaign",
        "seed": 7,
        "data": {"dataset": dataset},
        "targets": ["band_gap", "formation_energy"],
        "objective": {
            "criteria": [
                {"target": "band_gap", "min": 5.0, "max": 8.0, "scale": 1.0},
                {"target": "formation_energy", "max": -2.0, "scale": 0.5},
            ]
        },
        "surrogate": {
            "n_members": 2,
            "seed": 3,
            "model": {"embedding_dim": 8, "n_conv": 1, "n_gaussians": 8, "hidden_dim": 8},
            "training": {
                "max_epochs": 6,
                "warm_start_epochs": 3,
                "batch_size": 8,
                "patience": 3,
                "min_val_size": 2,
            },
        },
        "acquisition": {"strategy": "qucb", "beta": 1.0},
        "loop": {
            "initial_labels": 10,
            "batch_size": 5,
            "iterations": 2,
            "ranked_list_size": 20,
            "top_cifs": 3,
        },
        "tracking": {"backend": "none"},
    }
    config = parse_workflow(data, "<tiny_workflow>")
    return config.with_overrides(**overrides) if overrides else config


def tiny_chain_oracle(
    *,
    seconds: float = 0.0,
    fail_ids: tuple[str, ...] = (),
    select_top: int = 3,
    max_parallel: int = 2,
    batch_size: int = 10,
    poll_s: float = 0.2,
) -> dict[str, Any]:
    """An ``oracle:`` section: a two-stage chain of sleep tasks standing for two fidelities.

    Stage ``screen`` (fidelity ``screen``, like an ML relaxation) takes the whole batch and
    fails the reduced formulas in ``fail_ids``; stage ``dft`` (fidelity ``dft_test``) takes
    the first ``select_top`` candidates that passed. Both report ``volume_per_atom``
    (Å³/atom) and ``n_sites``; ``band_gap`` is learned from the ``dft_test`` volume and
    ``formation_energy`` from the ``screen`` volume (numbers that differ per structure, so
    a test can check which fidelity fed which target).
    """
    return {
        "kind": "chain",
        "learn": {
            "band_gap": "volume_per_atom@dft_test",
            "formation_energy": "volume_per_atom@screen",
        },
        "chain": {
            "job_dir": "oracle_jobs",
            "launcher": "processes",
            "max_parallel": max_parallel,
            "poll_s": poll_s,
            "stages": [
                {
                    "name": "screen",
                    "oracle": {
                        "kind": "sleep",
                        "seconds": seconds,
                        "fail_ids": list(fail_ids),
                        "fidelity": "screen",
                    },
                    "batch_size": batch_size,
                },
                {
                    "name": "dft",
                    "oracle": {"kind": "sleep", "seconds": seconds, "fidelity": "dft_test"},
                    "select_top": select_top,
                },
            ],
        },
    }
