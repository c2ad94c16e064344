"""Campaigns validated by computation: the fidelity chain as the campaign's oracle.

With ``oracle: {kind: chain, ...}`` a campaign submits every batch (the seed labels too)
to an :class:`~materials_ai.oracles.chain.OracleChain`: e.g. a CHGNet relaxation of the
whole batch, then GPAW GLLB-SC for the best few. Observations come back with their
fidelity (``ml_potential``, ``dft_gllbsc``) and provenance (code, versions, settings, job
directory), and ``state.json`` keeps them as they are.

**What the surrogate learns.** ``oracle.learn`` maps every workflow target to one
fidelity-qualified observed value, e.g.::

    learn:
      band_gap: band_gap@dft_gllbsc          # eV, GPAW GLLB-SC quasiparticle gap
      e_above_hull: e_above_hull@ml_potential  # eV/atom, CHGNet vs the MP-2018 hull

so each output of the multi-task ensemble is one quantity at one level of theory; a
candidate that did not reach that fidelity has no label for it (masked in the loss), and a
cheaper number never stands in for a dearer one (:func:`learned_values`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from materials_ai.data.records import Observation
from materials_ai.errors import CampaignError
from materials_ai.oracles.fidelity import fidelity_table

if TYPE_CHECKING:
    from materials_ai.campaign.config import WorkflowConfig
    from materials_ai.compute import Executor
    from materials_ai.oracles.base import Ticket
    from materials_ai.oracles.chain import OracleChain

#: Units of the values the chain's codes report (for ranked lists and reports).
VALUE_UNITS: dict[str, str] = {
    "band_gap": "eV",
    "band_gap_ks": "eV",
    "delta_xc": "eV",
    "pbe_energy_per_atom": "eV/atom",
    "energy_per_atom": "eV/atom",
    "formation_energy": "eV/atom",
    "hull_energy": "eV/atom",
    "e_above_hull": "eV/atom",
    "volume_per_atom": "Å^3/atom",
}


def learned_values(
    observations: Iterable[Observation | Mapping[str, Any]], learn: Mapping[str, str]
) -> dict[str, dict[str, float]]:
    """Candidate id -> workflow target -> value, each from its mapped fidelity only.

    Args:
        observations: In recording order (stored dicts accepted); failed ones ignored.
        learn: Workflow target -> ``value@fidelity``.

    Returns:
        Only candidates with at least one mapped value.
    """
    qualified = fidelity_table(observations, list(dict.fromkeys(learn.values())))
    out: dict[str, dict[str, float]] = {}
    for candidate_id, values in qualified.items():
        row = {t: values[q] for t, q in learn.items() if q in values}
        if row:
            out[candidate_id] = row
    return out


def target_units(learn: Mapping[str, str], card_units: Mapping[str, str]) -> dict[str, str]:
    """Unit of each workflow target: of its observed value, else the dataset card's."""
    units = {}
    for target, source in learn.items():
        value = source.partition("@")[0]
        units[target] = VALUE_UNITS.get(value, card_units.get(target, ""))
    return units


def build_chain_oracle(
    config: WorkflowConfig, run_dir: Path, executor: Executor | None
) -> OracleChain:
    """The workflow's fidelity chain, its job store inside ``run_dir`` (unless absolute).

    Raises:
        CampaignError: If the workflow's oracle is not a chain.
    """
    chain = config.oracle.chain
    if config.oracle.kind != "chain" or chain is None:
        raise CampaignError("internal: the workflow's oracle is not a fidelity chain")
    return chain.build(run_dir, executor=executor)


def wait_for(
    oracle: OracleChain, tickets: list[Ticket], timeout_s: float | None, poll_s: float
) -> bool:
    """Wait (advancing the chain) until ``tickets`` are settled or ``timeout_s`` passed."""
    if not tickets:
        return True
    return oracle.wait(tickets, timeout_s=timeout_s, poll_s=poll_s)
