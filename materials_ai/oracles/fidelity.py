"""Fidelity-aware targets: learn from observations of several oracles without mixing them.

Every :class:`~materials_ai.data.records.Observation` carries its ``fidelity``
(``replay``, ``ml_potential``, ``dft_gllbsc``, ``experiment``...) and provenance. The
surrogate sees fidelities through **target names**:

* a *qualified* target ``name@fidelity`` (``band_gap@dft_gllbsc``,
  ``e_above_hull@ml_potential``) takes values from that fidelity only. A multi-target
  surrogate with a masked loss (the platform's ensemble) then learns one output per
  fidelity on a shared representation: multi-fidelity learning as multi-task learning,
  with no value of one fidelity ever standing in for another;
* a *plain* target ``name`` takes, per candidate, the value of the highest-ranked fidelity
  that observed it (:data:`DEFAULT_FIDELITY_RANK`; later observations win ties), for
  objectives that should use the best available number.

:func:`fidelity_table` builds the candidate -> target -> value table a campaign trains on;
:func:`fidelity_counts` summarises what was observed at which fidelity.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from materials_ai.data.records import Observation

SEPARATOR = "@"

#: Higher is more trusted. A replayed GLLB-SC table and a fresh GPAW GLLB-SC run are the
#: same level of theory; an experiment outranks both; an ML potential ranks lowest.
DEFAULT_FIDELITY_RANK: dict[str, int] = {
    "test": 0,
    "ml_potential": 10,
    "dft_pbe": 20,
    "replay": 30,
    "dft_gllbsc": 30,
    "experiment": 40,
}


def qualify(target: str, fidelity: str) -> str:
    """``band_gap``, ``dft_gllbsc`` -> ``band_gap@dft_gllbsc``."""
    return f"{target}{SEPARATOR}{fidelity}"


def split_target(name: str) -> tuple[str, str | None]:
    """``band_gap@dft_gllbsc`` -> (``band_gap``, ``dft_gllbsc``); plain names -> (name, None)."""
    target, sep, fidelity = name.partition(SEPARATOR)
    return (target, fidelity) if sep and fidelity else (name, None)


def _as_observation(obs: Observation | Mapping[str, Any]) -> Observation:
    return obs if isinstance(obs, Observation) else Observation.from_dict(obs)


def fidelity_table(
    observations: Iterable[Observation | Mapping[str, Any]],
    targets: Sequence[str],
    *,
    rank: Mapping[str, int] | None = None,
) -> dict[str, dict[str, float]]:
    """Candidate id -> target name -> value, resolving fidelities as the module describes.

    Args:
        observations: In the order they were recorded (dicts as stored in campaign state
            are accepted); failed ones are ignored.
        targets: Target names, plain or qualified.
        rank: Fidelity -> rank for plain targets (default :data:`DEFAULT_FIDELITY_RANK`;
            unknown fidelities rank 0).

    Returns:
        Only candidates with at least one of ``targets`` observed; only targets observed.
    """
    rank = DEFAULT_FIDELITY_RANK if rank is None else rank
    wanted = [(name, *split_target(name)) for name in targets]
    table: dict[str, dict[str, float]] = {}
    best_rank: dict[tuple[str, str], int] = {}
    for raw in observations:
        obs = _as_observation(raw)
        if not obs.ok:
            continue
        level = rank.get(obs.fidelity, 0)
        for name, target, fidelity in wanted:
            if target not in obs.values:
                continue
            if fidelity is not None:
                if obs.fidelity != fidelity:
                    continue
            else:
                key = (obs.candidate_id, name)
                if level < best_rank.get(key, -(10**9)):
                    continue
                best_rank[key] = level
            table.setdefault(obs.candidate_id, {})[name] = float(obs.values[target])
    return table


def fidelity_counts(observations: Iterable[Observation | Mapping[str, Any]]) -> dict[str, int]:
    """Fidelity -> number of successful observations (failed ones under ``<f>:failed``)."""
    counts: dict[str, int] = {}
    for raw in observations:
        obs = _as_observation(raw)
        key = obs.fidelity if obs.ok else f"{obs.fidelity}:failed"
        counts[key] = counts.get(key, 0) + 1
    return counts
