"""Settings of batch selection."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

#: Strategies the selector knows. ``random`` ignores the surrogate; ``greedy`` takes the
#: highest posterior-mean desirability (BoTorch ``qSimpleRegret``); ``qucb`` and
#: ``qlogei`` are BoTorch's ``qUpperConfidenceBound`` and ``qLogExpectedImprovement``.
Strategy = Literal["random", "greedy", "qucb", "qlogei"]


class AcquisitionConfig(BaseModel):
    """How a batch is chosen from the unlabelled pool.

    Attributes:
        strategy: One of :data:`Strategy`.
        beta: Exploration weight of ``qucb`` (BoTorch's ``beta``).
        best_f: Reference of ``qlogei``: ``"threshold"`` measures improvement over
            desirability 0 (the edge of "satisfies every criterion"), so that each new
            material inside the screen keeps counting after the first one is found;
            ``"incumbent"`` uses the best desirability observed so far (classical EI).
        max_batch_size: Pool candidates evaluated per acquisition call (memory bound).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    strategy: Strategy = "qucb"
    beta: float = Field(2.0, ge=0.0)
    best_f: Literal["threshold", "incumbent"] = "threshold"
    max_batch_size: int = Field(4096, ge=1)
