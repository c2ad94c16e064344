"""The replay oracle: tickets, the label-leakage guard, idempotence, resumption."""

from __future__ import annotations

import json

import numpy as np
import pytest

from materials_ai.acquisition import Criterion, DesirabilityObjective, ObjectiveConfig
from materials_ai.data.records import Candidate, Observation
from materials_ai.errors import MaterialsAIError, OracleError
from materials_ai.oracles import Oracle, ReplayOracle, Ticket
from materials_ai.testing.datasets import gaas_zincblende, si_diamond, srtio3_cubic
from materials_ai.testing.models import labelled_dataset

LABELS = {
    "si": {"band_gap": 1.1, "e_form": 0.0},
    "gaas": {"band_gap": 1.4, "e_form": -0.3},
    "sto": {"band_gap": 3.2, "e_form": -3.5},
    "metal": {"band_gap": 0.0, "e_form": -0.1},
    "partial": {"band_gap": 2.0},  # no e_form
}


def _candidate(cid: str) -> Candidate:
    return Candidate(cid, si_diamond(), source="test")


@pytest.fixture
def oracle() -> ReplayOracle:
    return ReplayOracle(LABELS, name="lookup", provenance={"dataset": "hand-made"})


def test_is_an_oracle(oracle: ReplayOracle) -> None:
    assert isinstance(oracle, Oracle)
    assert len(oracle) == 5
    assert oracle.fidelity == "replay"


def test_submit_returns_one_ticket_per_candidate_in_order(oracle: ReplayOracle) -> None:
    ids = ["sto", "si", "gaas"]
    tickets = oracle.submit([_candidate(i) for i in ids])
    assert [t.candidate_id for t in tickets] == ids
    assert [t.oracle for t in tickets] == ["lookup"] * 3
    assert len({t.id for t in tickets}) == 3
    assert tickets[0] == Ticket("lookup:sto", "sto", "lookup")
    assert oracle.submit([]) == []


def test_collect_returns_values_of_the_submitted_tickets_only(oracle: ReplayOracle) -> None:
    tickets = oracle.submit([_candidate("gaas"), _candidate("si")])
    observations = oracle.collect(tickets)
    assert [o.candidate_id for o in observations] == ["gaas", "si"]
    assert observations[0].values == LABELS["gaas"]
    assert observations[1].values == LABELS["si"]
    assert all(o.ok and o.reason == "" for o in observations)
    assert all(o.fidelity == "replay" for o in observations)
    assert observations[0].provenance == {"dataset": "hand-made"}
    # Collecting a subset returns just that subset.
    assert [o.candidate_id for o in oracle.collect(tickets[1:])] == ["si"]
    assert oracle.collect([]) == []


def test_collecting_a_ticket_never_submitted_raises(oracle: ReplayOracle) -> None:
    """The label-leakage guard: a forged ticket for an unsubmitted candidate is refused."""
    oracle.submit([_candidate("si")])
    forged = Ticket("lookup:sto", "sto", "lookup")
    with pytest.raises(OracleError, match="'lookup:sto' was not issued by oracle 'lookup'"):
        oracle.collect([forged])
    # Refused as a whole, even next to a legitimate ticket: nothing leaks.
    with pytest.raises(OracleError):
        oracle.collect([Ticket("lookup:si", "si", "lookup"), forged])
    assert issubclass(OracleError, MaterialsAIError)


def test_ticket_of_another_oracle_is_refused(oracle: ReplayOracle) -> None:
    other = ReplayOracle(LABELS, name="other")
    ticket = other.submit([_candidate("si")])[0]
    with pytest.raises(OracleError, match="not issued by oracle 'lookup'"):
        oracle.collect([ticket])
    # Even when this oracle has seen the same candidate under its own name.
    oracle.submit([_candidate("si")])
    with pytest.raises(OracleError):
        oracle.collect([ticket])


def test_collect_is_idempotent(oracle: ReplayOracle) -> None:
    tickets = oracle.submit([_candidate("sto"), _candidate("metal")])
    first = oracle.collect(tickets)
    second = oracle.collect(tickets)
    assert first == second
    assert [o.to_dict() for o in first] == [o.to_dict() for o in second]


def test_unknown_candidate_gives_a_failed_observation(oracle: ReplayOracle) -> None:
    tickets = oracle.submit([_candidate("si"), _candidate("mp-unknown")])
    observations = oracle.collect(tickets)
    assert observations[0].ok
    failed = observations[1]
    assert failed.candidate_id == "mp-unknown"
    assert not failed.ok
    assert failed.values == {}
    assert "not in the replayed table" in failed.reason


def test_returned_values_do_not_alias_the_table(oracle: ReplayOracle) -> None:
    tickets = oracle.submit([_candidate("si")])
    observation = oracle.collect(tickets)[0]
    observation.values["band_gap"] = 99.0  # type: ignore[index]
    assert oracle.collect(tickets)[0].values["band_gap"] == pytest.approx(1.1)


def test_ticket_round_trips_through_json() -> None:
    ticket = Ticket("lookup:mp-1", "mp-1", "lookup")
    data = json.loads(json.dumps(ticket.to_dict()))
    assert data == {"id": "lookup:mp-1", "candidate_id": "mp-1", "oracle": "lookup"}
    assert Ticket.from_dict(data) == ticket


def test_resubmit_restores_tickets_after_a_restart(oracle: ReplayOracle) -> None:
    tickets = oracle.submit([_candidate("gaas"), _candidate("sto")])
    saved = json.dumps([t.to_dict() for t in tickets])
    expected = oracle.collect(tickets)

    restarted = ReplayOracle(LABELS, name="lookup", provenance={"dataset": "hand-made"})
    restored = [Ticket.from_dict(d) for d in json.loads(saved)]
    with pytest.raises(OracleError):  # a fresh process knows nothing yet
        restarted.collect(restored)
    restarted.resubmit(restored)
    assert restarted.collect(restored) == expected
    # Resubmitting does not unlock anything else.
    with pytest.raises(OracleError):
        restarted.collect([Ticket("lookup:si", "si", "lookup")])


def test_resubmit_ignores_tickets_of_other_oracles(oracle: ReplayOracle) -> None:
    foreign = Ticket("other:si", "si", "other")
    oracle.resubmit([foreign])
    with pytest.raises(OracleError):
        oracle.collect([Ticket("lookup:si", "si", "lookup")])


def test_count_satisfying_counts_rows_meeting_the_objective(oracle: ReplayOracle) -> None:
    names = ("band_gap", "e_form")
    window = DesirabilityObjective(
        ObjectiveConfig(criteria=[Criterion(target="band_gap", min=1.0, max=3.0)]), names
    )
    # si 1.1, gaas 1.4, partial 2.0 are inside; sto 3.2 and metal 0.0 are not.
    assert oracle.count_satisfying(window) == 3
    stable_window = DesirabilityObjective(
        ObjectiveConfig(
            criteria=[
                Criterion(target="band_gap", min=1.0, max=3.0),
                Criterion(target="e_form", max=-0.2),
            ]
        ),
        names,
    )
    # Only gaas; "partial" lacks e_form, which counts as not satisfied.
    assert oracle.count_satisfying(stable_window) == 1
    # Counting reveals nothing to the selection path: no ticket was unlocked.
    with pytest.raises(OracleError):
        oracle.collect([Ticket("lookup:gaas", "gaas", "lookup")])


def test_count_satisfying_on_an_empty_table() -> None:
    objective = DesirabilityObjective(
        ObjectiveConfig(criteria=[Criterion(target="band_gap", min=1.0)]), ["band_gap"]
    )
    assert ReplayOracle({}).count_satisfying(objective) == 0


def test_from_dataset_replays_its_targets() -> None:
    structures = [si_diamond(), gaas_zincblende(), srtio3_cubic()]
    dataset = labelled_dataset(structures, np.array([[1.1], [1.4], [3.2]]), ["band_gap"])
    oracle = ReplayOracle.from_dataset(dataset, name="tiny")
    assert len(oracle) == 3
    tickets = oracle.submit([r.as_candidate() for r in dataset.records[1:]])
    observations = oracle.collect(tickets)
    assert [o.values for o in observations] == [{"band_gap": 1.4}, {"band_gap": 3.2}]
    assert observations[0].provenance == {"dataset": "toy"}
    assert tickets[0].id == "tiny:toy-1"


def test_observations_round_trip_through_json(oracle: ReplayOracle) -> None:
    tickets = oracle.submit([_candidate("gaas"), _candidate("nope")])
    for observation in oracle.collect(tickets):
        again = Observation.from_dict(json.loads(json.dumps(observation.to_dict())))
        assert again == observation
