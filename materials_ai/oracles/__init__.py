"""Oracles validate candidates: replayed tables now; ML potentials, DFT and labs later.

Every oracle is asynchronous by contract: ``submit`` returns durable tickets at once,
``collect`` returns the observations of the tickets that have finished.
"""

from __future__ import annotations

from materials_ai.oracles.base import Oracle, Ticket
from materials_ai.oracles.replay import ReplayOracle

__all__ = ["Oracle", "ReplayOracle", "Ticket"]
