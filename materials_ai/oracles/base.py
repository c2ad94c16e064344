"""The oracle contract and its durable tickets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from materials_ai.data.records import Candidate, Observation


@dataclass(frozen=True, slots=True)
class Ticket:
    """A durable handle on one submitted validation.

    Attributes:
        id: Unique, stable id (survives the process; stored in campaign state).
        candidate_id: The candidate being validated.
        oracle: Name of the oracle that accepted it.
    """

    id: str
    candidate_id: str
    oracle: str

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict."""
        return {"id": self.id, "candidate_id": self.candidate_id, "oracle": self.oracle}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Ticket:
        """Inverse of :meth:`to_dict`."""
        return cls(
            id=str(data["id"]), candidate_id=str(data["candidate_id"]), oracle=str(data["oracle"])
        )


@runtime_checkable
class Oracle(Protocol):
    """Something that measures candidates, possibly slowly.

    ``submit`` must not block on the measurement; ``collect`` returns observations for
    the finished tickets only, and calling it twice for the same ticket returns the
    same observation (idempotent), so a resumed campaign can safely collect again.
    ``resubmit`` re-registers the tickets an earlier process issued, so a resumed
    campaign can collect them (and a computing oracle can adopt or re-launch their jobs).
    """

    name: str

    def submit(self, candidates: Sequence[Candidate]) -> list[Ticket]:
        """Start validating ``candidates``; return one ticket each, in order."""
        ...

    def collect(self, tickets: Sequence[Ticket]) -> list[Observation]:
        """Return observations of the finished tickets among ``tickets``."""
        ...

    def resubmit(self, tickets: Sequence[Ticket]) -> None:
        """Re-register ``tickets`` issued by an earlier process (a resumed campaign)."""
        ...
