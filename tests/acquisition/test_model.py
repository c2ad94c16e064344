"""The pool ensemble model and its member sampler."""

from __future__ import annotations

import pytest
import torch

from materials_ai.acquisition.model import EnsembleMemberSampler, PoolEnsembleModel

# 3 members, 4 candidates, 2 targets; member k, candidate i, target j = (k + 1) * (i + 1) * c_j.
SAMPLES = torch.tensor(
    [[[(k + 1) * (i + 1) * c for c in (1.0, -0.5)] for i in range(4)] for k in range(3)],
    dtype=torch.float64,
)


def test_forward_looks_candidates_up() -> None:
    model = PoolEnsembleModel(SAMPLES)
    assert model.ensemble_size == 3
    assert model.num_outputs == 2
    X = torch.tensor([[[2.0], [0.0]], [[3.0], [3.0]]])  # batch 2 x q 2 x 1
    out = model(X)
    assert out.shape == (2, 3, 2, 2)  # batch x s x q x t
    torch.testing.assert_close(out[0, :, 0], SAMPLES[:, 2])
    torch.testing.assert_close(out[0, :, 1], SAMPLES[:, 0])
    torch.testing.assert_close(out[1, :, 1], SAMPLES[:, 3])
    # Float indices are rounded.
    torch.testing.assert_close(model(torch.tensor([[[0.9999]]]))[0, :, 0], SAMPLES[:, 1])


def test_posterior_mean_and_variance_are_member_mean_and_unbiased_variance() -> None:
    model = PoolEnsembleModel(SAMPLES)
    posterior = model.posterior(torch.tensor([[[1.0], [3.0]]], dtype=torch.float64))
    # Candidate 1: members predict 2, 4, 6 (x c): mean 4 c, unbiased var 4 c^2.
    # Candidate 3: members predict 4, 8, 12: mean 8 c, unbiased var 16 c^2.
    expected_mean = torch.tensor([[[4.0, -2.0], [8.0, -4.0]]], dtype=torch.float64)
    expected_var = torch.tensor([[[4.0, 1.0], [16.0, 4.0]]], dtype=torch.float64)
    torch.testing.assert_close(posterior.mean, expected_mean)
    torch.testing.assert_close(posterior.variance, expected_var)
    idx = [1, 3]
    torch.testing.assert_close(posterior.mean[0], SAMPLES[:, idx].mean(dim=0))
    torch.testing.assert_close(posterior.variance[0], SAMPLES[:, idx].var(dim=0, unbiased=True))


def test_model_rejects_samples_that_are_not_s_x_n_x_t() -> None:
    with pytest.raises(ValueError, match=r"s x n x t; got shape \(3, 4\)"):
        PoolEnsembleModel(SAMPLES[..., 0])


def test_member_sampler_returns_the_members_exactly() -> None:
    model = PoolEnsembleModel(SAMPLES)
    sampler = EnsembleMemberSampler(3)
    X = torch.tensor([[[3.0], [1.0], [0.0]]], dtype=torch.float64)
    draws = sampler(model.posterior(X))
    assert draws.shape == (3, 1, 3, 2)  # s x batch x q x t
    torch.testing.assert_close(draws[:, 0], SAMPLES[:, [3, 1, 0]], rtol=0, atol=0)
    # Deterministic: drawing again gives the same members.
    torch.testing.assert_close(sampler(model.posterior(X)), draws, rtol=0, atol=0)


def test_member_sampler_rejects_another_ensemble_size() -> None:
    model = PoolEnsembleModel(SAMPLES)
    with pytest.raises(ValueError, match="posterior has 3 members, sampler expects 5"):
        EnsembleMemberSampler(5)(model.posterior(torch.tensor([[[0.0]]])))
