"""Settings of batch selection."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: The built-in strategies (names in :data:`materials_ai.acquisition.strategies.STRATEGIES`):
#:
#: ``random``       uniform over the unlabelled pool (ignores the surrogate)
#: ``greedy``       highest posterior-mean desirability (BoTorch ``qSimpleRegret``)
#: ``qucb``         BoTorch ``qUpperConfidenceBound`` on the desirability
#: ``qlogei``       BoTorch ``qLogExpectedImprovement`` on the desirability
#: ``thompson``     Thompson sampling over ensemble members (BoTorch ``MaxPosteriorSampling``)
#: ``constrained``  probability that every criterion holds (BoTorch
#:                  ``LogProbabilityOfFeasibility`` on the Gaussian predictive marginals)
#: ``qnehvi``       BoTorch ``qLogNoisyExpectedHypervolumeImprovement`` over ``objectives``
#:
#: More are added by registering them (see :mod:`materials_ai.acquisition.strategies`).
Strategy = str


class ParetoObjective(BaseModel):
    """One objective of a multi-objective (``qnehvi``) problem, always maximised.

    Attributes:
        target: Target name.
        goal: ``maximize`` (value = y), ``minimize`` (value = -y) or ``target``
            (value = -|y - value|: closeness to a value).
        value: The aimed-at value for ``goal: target`` (target unit).
        reference: Worst acceptable objective value (the hypervolume reference point's
            coordinate), in objective units: e.g. ``-1.0`` with ``goal: target`` means
            "within 1 unit of the value".
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    target: str
    goal: Literal["maximize", "minimize", "target"]
    value: float | None = None
    reference: float

    @model_validator(mode="after")
    def _value_for_target(self) -> ParetoObjective:
        if self.goal == "target" and self.value is None:
            raise ValueError(f"objective on {self.target!r} with goal 'target' needs a value")
        return self


class AcquisitionConfig(BaseModel):
    """How a batch is chosen from the unlabelled pool.

    Attributes:
        strategy: A registered strategy name (:data:`Strategy`).
        beta: Exploration weight of ``qucb`` (BoTorch's ``beta``).
        best_f: Reference of ``qlogei``: ``"threshold"`` measures improvement over
            desirability 0 (the edge of "satisfies every criterion"), so that each new
            material inside the screen keeps counting after the first one is found;
            ``"incumbent"`` uses the best desirability observed so far (classical EI).
        max_per_chemsys: Batch diversity: at most this many picks of one batch may share
            a chemical system (the same set of elements), so a batch is not 20 variants
            of one compound. None: no limit.
        objectives: The trade-off for ``qnehvi`` (two or more).
        qnehvi_shortlist: ``qnehvi`` evaluates only this many candidates: the first
            non-dominated fronts of the posterior-mean objectives.
        max_batch_size: Pool candidates evaluated per acquisition call (memory bound).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    strategy: Strategy = "qucb"
    beta: float = Field(2.0, ge=0.0)
    best_f: Literal["threshold", "incumbent"] = "threshold"
    max_per_chemsys: int | None = Field(None, ge=1)
    objectives: list[ParetoObjective] = Field(default_factory=list)
    qnehvi_shortlist: int = Field(500, ge=1)
    max_batch_size: int = Field(4096, ge=1)

    @field_validator("strategy")
    @classmethod
    def _registered_strategy(cls, value: str) -> str:
        from materials_ai.acquisition.strategies import STRATEGIES

        if value not in STRATEGIES:
            raise ValueError(
                f"unknown acquisition strategy {value!r}; known: {', '.join(STRATEGIES.names())}"
            )
        return value

    @model_validator(mode="after")
    def _objectives_for_qnehvi(self) -> AcquisitionConfig:
        if self.strategy == "qnehvi" and len(self.objectives) < 2:
            raise ValueError("strategy 'qnehvi' needs at least two objectives")
        return self
