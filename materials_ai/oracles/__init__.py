"""Oracles validate candidates: replayed tables, ML-potential relaxations, DFT, labs.

Every oracle is asynchronous by contract: ``submit`` returns durable tickets at once,
``collect`` returns the observations of the tickets that have finished.

* :class:`ReplayOracle` answers from a known table (retrospective campaigns).
* :class:`~materials_ai.oracles.job_oracle.JobOracle` runs a task (CHGNet relaxation,
  GPAW GLLB-SC gap) as durable job directories in worker processes
  (:mod:`materials_ai.oracles.jobs`, :mod:`materials_ai.oracles.worker`).
* :class:`~materials_ai.oracles.chain.OracleChain` chains job oracles of rising fidelity
  (configured by :class:`~materials_ai.oracles.config.FidelityChainConfig`).

Heavy modules (CHGNet, GPAW, pymatgen) are imported only where used.
"""

from __future__ import annotations

from materials_ai.oracles.base import Oracle, Ticket
from materials_ai.oracles.replay import ReplayOracle

__all__ = ["Oracle", "ReplayOracle", "Ticket"]
