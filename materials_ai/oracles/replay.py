"""Replay a labelled table as if each lookup were an experiment.

Retrospective campaigns ("would the loop have found the known good materials, and how
fast?") need an oracle that answers from a published table. The replay oracle holds the
table privately and reveals a row only for a candidate that was submitted: the campaign
and its surrogate never see an unlabelled row's values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from materials_ai.acquisition.objective import DesirabilityObjective
from materials_ai.data.records import Candidate, MaterialsDataset, Observation
from materials_ai.errors import OracleError
from materials_ai.oracles.base import Ticket


class ReplayOracle:
    """Answer submissions from a table of known values.

    Args:
        labels: Candidate id -> target name -> value.
        name: Oracle name (prefix of its ticket ids).
        provenance: Where the values come from (dataset, level of theory).
    """

    fidelity = "replay"

    def __init__(
        self,
        labels: Mapping[str, Mapping[str, float]],
        *,
        name: str = "replay",
        provenance: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self._labels = {k: dict(v) for k, v in labels.items()}
        self._submitted: set[str] = set()
        self.provenance = dict(provenance or {})

    @classmethod
    def from_dataset(cls, dataset: MaterialsDataset, *, name: str = "replay") -> ReplayOracle:
        """Replay a loaded dataset's targets."""
        return cls(
            {r.id: dict(r.targets) for r in dataset.records},
            name=name,
            provenance={"dataset": dataset.name},
        )

    def __len__(self) -> int:
        return len(self._labels)

    def submit(self, candidates: Sequence[Candidate]) -> list[Ticket]:
        """Accept candidates; a replay finishes instantly, so every ticket is ready."""
        tickets = []
        for candidate in candidates:
            self._submitted.add(candidate.id)
            tickets.append(Ticket(f"{self.name}:{candidate.id}", candidate.id, self.name))
        return tickets

    def collect(self, tickets: Sequence[Ticket]) -> list[Observation]:
        """Return the table's values for submitted tickets.

        A candidate absent from the table gives a failed observation (with the reason),
        never an exception, so one bad id does not stop a campaign.

        Raises:
            OracleError: If a ticket was not issued by this oracle (it would leak a label
                that was never asked for).
        """
        observations = []
        for ticket in tickets:
            if ticket.oracle != self.name or ticket.candidate_id not in self._submitted:
                raise OracleError(
                    f"ticket {ticket.id!r} was not issued by oracle {self.name!r}; "
                    "a replay oracle only answers what was submitted to it"
                )
            values = self._labels.get(ticket.candidate_id)
            if values is None:
                observations.append(
                    Observation(
                        ticket.candidate_id,
                        {},
                        self.fidelity,
                        self.provenance,
                        ok=False,
                        reason="candidate not in the replayed table",
                    )
                )
            else:
                observations.append(
                    Observation(ticket.candidate_id, dict(values), self.fidelity, self.provenance)
                )
        return observations

    def resubmit(self, tickets: Sequence[Ticket]) -> None:
        """Re-register tickets of an earlier process (used when a campaign resumes)."""
        for ticket in tickets:
            if ticket.oracle == self.name:
                self._submitted.add(ticket.candidate_id)

    def count_satisfying(self, objective: DesirabilityObjective) -> int:
        """Ground truth for benchmarks: how many rows of the table meet ``objective``.

        Only retrospective analysis uses this (to report "found k of K"); the selection
        path never calls it.
        """
        names = objective.target_names
        values = np.array(
            [[row.get(n, np.nan) for n in names] for row in self._labels.values()],
            dtype=np.float64,
        ).reshape(len(self._labels), len(names))
        return int(objective.satisfied(values).sum())
