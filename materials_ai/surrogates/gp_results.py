"""What a Gaussian-process fit reports, the posterior draws it hands to acquisition, the
copy of hyperparameters between GPs (warm starts, subsampled fits), and which labelled rows
each target's GP learns from (``conditional_on``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from materials_ai.errors import ConfigError

#: Standard normal quantile of a central 90 % interval.
Z90 = 1.6448536269514722

if TYPE_CHECKING:
    import torch
    from botorch.models import SingleTaskGP

    from materials_ai.surrogates.config import GPConfig


def _seed(*parts: int) -> int:
    """A 63-bit seed from integers (stable across processes)."""
    return int(np.random.SeedSequence(list(parts)).generate_state(1, dtype=np.uint64)[0] >> 1)


@dataclass
class GPTargetReport:
    """The fit of one target's GP.

    Attributes:
        target: Target name.
        n_train: Observations used (finite values of this target).
        epochs: Optimiser iterations (L-BFGS-B steps; named like the ensemble's reports).
        noise_std: Learned noise standard deviation, target unit.
        lengthscales: `d` ARD lengthscales, in unit-cube descriptor units.
        loo_mae: Leave-one-out mean absolute error, target unit (closed form).
        loo_std_factor: The factor that makes the leave-one-out predictive std cover 90 %
            of the leave-one-out residuals (``q90(|r / sigma|) / 1.645``; 1: calibrated).
    """

    target: str
    n_train: int
    epochs: int
    noise_std: float
    lengthscales: list[float]
    loo_mae: float
    loo_std_factor: float = 1.0


@dataclass
class GPFitReport:
    """Summary of a GP fit (the fields the campaign records, like ``FitReport``).

    Attributes:
        n_train: Labelled candidates given.
        val_mae: Target -> leave-one-out MAE (target unit).
        members: One report per target.
        seconds: Wall time of the fit.
        warm_start: Whether the optimiser started from the previous hyperparameters.
    """

    n_train: int
    val_mae: dict[str, float]
    members: list[GPTargetReport] = field(default_factory=list)
    seconds: float = 0.0
    warm_start: bool = False


def moment_matched_samples(
    mean: np.ndarray, std: np.ndarray, n_samples: int, seed: int
) -> np.ndarray:
    """Draws whose per-entry sample mean and std (ddof = 1) equal ``mean`` and ``std``.

    Args:
        mean: `n x t`.
        std: `n x t` (≥ 0).
        n_samples: ``s`` ≥ 2.
        seed: Seeds the standard normal draws.

    Returns:
        `s x n x t` float64.
    """
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n_samples, *mean.shape))
    z -= z.mean(axis=0, keepdims=True)
    z /= z.std(axis=0, ddof=1, keepdims=True)
    return mean[None] + std[None] * z


def copy_hyperparameters(source: SingleTaskGP, target: SingleTaskGP) -> None:
    """Copy hyperparameters (not training data or outcome buffers) between same-shape GPs."""
    import torch

    previous = dict(source.named_parameters())
    with torch.no_grad():
        for name, parameter in target.named_parameters():
            if name in previous and previous[name].shape == parameter.shape:
                parameter.copy_(previous[name])


def target_report(
    model: SingleTaskGP, target: str, x: torch.Tensor, y: torch.Tensor, steps: int
) -> GPTargetReport:
    """Hyperparameters and the closed-form leave-one-out MAE (Rasmussen & Williams 5.12)."""
    import torch

    transform = model.outcome_transform
    scale = float(transform.stdvs.reshape(-1)[0])  # type: ignore[union-attr, operator]
    with torch.no_grad():
        z = model.train_targets.reshape(-1, 1)  # standardised
        kernel = model.covar_module(x).to_dense()
        noise = model.likelihood.noise.reshape(-1)[0]
        k = kernel + noise * torch.eye(len(x), dtype=x.dtype)
        k_inv = torch.cholesky_inverse(torch.linalg.cholesky(k))
        mean = model.mean_module(x).reshape(-1, 1)
        alpha = k_inv @ (z - mean)
        loo_residual = alpha[:, 0] / torch.diagonal(k_inv)
        # LOO predictive variance (noise included) is 1 / [K^-1]_ii (R&W 5.12).
        loo_z = alpha[:, 0] / torch.diagonal(k_inv).sqrt()
        loo_factor = float(torch.quantile(loo_z.abs(), 0.9)) / Z90
        # Every lengthscale of the kernel (one kernel, or one per feature block).
        lengthscale = torch.cat(
            [
                kernel_part.lengthscale.detach().reshape(-1)
                for kernel_part in model.covar_module.modules()
                if getattr(kernel_part, "has_lengthscale", False)
            ]
        )
    return GPTargetReport(
        target=target,
        n_train=len(x),
        epochs=steps,
        noise_std=float(noise.detach().sqrt()) * scale,
        lengthscales=[float(v) for v in lengthscale],
        loo_mae=float(loo_residual.abs().mean()) * scale,
        loo_std_factor=loo_factor,
    )


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block on ``n`` torch intra-op threads, then restore the previous count.

    GP fits are thousands of small matrix operations; with two threads on a machine where
    another process holds a core, each one waits for the slower thread (measured: a
    280-label fit of 4 GPs on 129 features took 178 s on 2 threads, 10.5 s on 1).
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def posterior_solve(
    model: SingleTaskGP, train_x: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, float, float]:
    """Cholesky factor of ``K + noise I``, ``alpha = K^-1 (z - c)`` (standardised) and
    the outcome transform's shift and scale, for a GP's posterior marginals."""
    import torch

    z = model.train_targets.reshape(-1)
    kernel = model.covar_module(train_x).to_dense()
    noise = model.likelihood.noise.reshape(-1)[0]
    k = kernel + noise * torch.eye(len(train_x), dtype=train_x.dtype)
    cholesky = torch.linalg.cholesky(k)
    constant = model.mean_module.constant.reshape(())
    alpha = torch.cholesky_solve((z - constant).unsqueeze(-1), cholesky)[:, 0]
    transform = model.outcome_transform
    shift = float(transform.means.reshape(-1)[0])  # type: ignore[union-attr, operator]
    scale = float(transform.stdvs.reshape(-1)[0])  # type: ignore[union-attr, operator]
    return cholesky, alpha, constant, shift, scale


def check_conditional_targets(conditional_on: Mapping[str, str], targets: Sequence[str]) -> None:
    """Reject a ``conditional_on`` mapping whose sides are not distinct targets.

    Raises:
        ConfigError: Naming the bad pairs and the targets there are.
    """
    bad = sorted(
        f"{t} -> {i}"
        for t, i in conditional_on.items()
        if t not in targets or i not in targets or t == i
    )
    if bad:
        raise ConfigError(
            f"surrogate.conditional_on {bad}: both sides must be distinct targets of the "
            f"workflow {list(targets)}"
        )


def training_rows(
    config: GPConfig, targets: Sequence[str], target: str, y: np.ndarray
) -> np.ndarray:
    """Labelled rows `(m,)` bool that ``target``'s GP learns from.

    All rows with a label, or (``config.conditional_on``) those whose indicator target is
    1 once at least ``config.min_conditional_labels`` of them are labelled.

    Args:
        config: The GP settings.
        targets: The `t` target names (columns of ``y``).
        target: The target being fitted.
        y: `m x t` labels, NaN where not observed.
    """
    rows = np.isfinite(y[:, targets.index(target)])
    indicator = config.conditional_on.get(target)
    if indicator is not None:
        on = rows & (y[:, targets.index(indicator)] == 1.0)
        if on.sum() >= config.min_conditional_labels:
            rows = on
    return np.asarray(rows)
