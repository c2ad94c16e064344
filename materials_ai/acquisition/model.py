"""A BoTorch model over a discrete pool whose posterior is an ensemble's predictions.

Scoring a crystal with a graph network is far costlier than anything BoTorch does, so
the pool is scored once per iteration and BoTorch sees a model whose input is simply a
candidate's index in the pool: ``X`` is `batch x q x 1` (float indices) and the output
is the members' predictions for those candidates. BoTorch's ``EnsemblePosterior`` then
gives every MC acquisition function exact expectations over the members.
"""

from __future__ import annotations

import torch
from botorch.models.ensemble import EnsembleModel
from botorch.posteriors import Posterior
from botorch.posteriors.ensemble import EnsemblePosterior
from botorch.sampling.base import MCSampler
from torch import Tensor


class PoolEnsembleModel(EnsembleModel):
    """Ensemble predictions for a fixed pool, exposed through BoTorch's model API.

    Args:
        samples: `s x n x t` member predictions for the `n` pool candidates.
    """

    def __init__(self, samples: Tensor) -> None:
        super().__init__()
        if samples.ndim != 3:
            raise ValueError(f"samples must be s x n x t; got shape {tuple(samples.shape)}")
        self.samples = samples
        self._num_outputs = int(samples.shape[-1])

    @property
    def ensemble_size(self) -> int:
        """Number of members ``s``."""
        return int(self.samples.shape[0])

    def forward(self, X: Tensor) -> Tensor:
        """Look candidates up.

        Args:
            X: `batch x q x 1` pool indices (as floats).

        Returns:
            `batch x s x q x t` member predictions.
        """
        index = X[..., 0].round().long()
        values = self.samples[:, index]  # s x batch x q x t
        return values.movedim(0, -3)


class EnsembleMemberSampler(MCSampler):
    """Use each ensemble member once as an MC sample (exact expectation, no noise).

    Args:
        ensemble_size: Number of members ``s`` (the sample shape).
    """

    def __init__(self, ensemble_size: int) -> None:
        super().__init__(sample_shape=torch.Size([ensemble_size]))

    def forward(self, posterior: EnsemblePosterior) -> Tensor:  # type: ignore[override]
        """Return the members as samples, `s x batch x q x t`."""
        values = posterior.values
        if values.shape[-3] != self.sample_shape[0]:
            raise ValueError(
                f"posterior has {values.shape[-3]} members, sampler expects {self.sample_shape[0]}"
            )
        return values.movedim(-3, 0)

    def _update_base_samples(self, posterior: Posterior, base_sampler: MCSampler) -> None:
        """Nothing to update: the samples are the members themselves."""
