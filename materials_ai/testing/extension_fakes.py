"""Fakes of the protocols a pool is built from: featurizer, candidate generator, screen.

Each honours its protocol (:class:`~materials_ai.surrogates.featurizers.base.Featurizer`,
:class:`~materials_ai.candidates.base.CandidateGenerator`,
:class:`~materials_ai.candidates.screening.Screen`), runs in milliseconds on the tiny
structures of :func:`materials_ai.testing.datasets.tiny_structures`, and records what it
was asked, so that a test can check the caller (a cache, the screen runner, a pool source)
rather than the part.

* :class:`CountingFeaturizer`: mean atomic number and volume per atom (Å³); records the
  number of structures of every call.
* :class:`FixedGenerator`: proposes the structures it was given, as they are, with the
  first charge-neutral oxidation states pymatgen guesses; honours ``exclude``.
* :class:`RejectingScreen`: removes the candidates whose id or reduced formula it was
  told to reject, with a reason, and scores every candidate it sees.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from materials_ai.candidates.base import ExclusionSet, GeneratedCandidate
from materials_ai.candidates.chemistry import formula_key
from materials_ai.candidates.screening import ScreenOutcome
from materials_ai.data.records import Candidate

if TYPE_CHECKING:
    from pymatgen.core import Structure

__all__ = ["CountingFeaturizer", "FixedGenerator", "RejectingScreen"]


@dataclass
class CountingFeaturizer:
    """Two cheap columns per structure; counts its calls.

    Attributes:
        version: Its fingerprint: change it to change the cache key.
        name: Registry name.
        calls: Number of structures in each :meth:`featurize` call, in order.
    """

    version: str = "1"
    name: str = "counting"
    calls: list[int] = field(default_factory=list)

    def feature_names(self) -> tuple[str, ...]:
        """``mean_z`` and ``volume_per_atom`` (Å³)."""
        return ("mean_z", "volume_per_atom")

    def fingerprint(self) -> str:
        """The :attr:`version`."""
        return self.version

    def featurize(self, structures: Sequence[Structure]) -> np.ndarray:
        """Features of `n` structures: `n x 2` float64."""
        self.calls.append(len(structures))
        rows = [[np.mean([site.specie.Z for site in s]), s.volume / len(s)] for s in structures]
        return np.asarray(rows, dtype=np.float64).reshape(len(structures), 2)


@dataclass
class FixedGenerator:
    """Proposes given structures unchanged, as a generator would its own.

    Attributes:
        structures: Candidate id -> structure, proposed in this order.
        name: Generator name (each candidate's ``source``).
        calls: The ``seed`` of every :meth:`generate` call.
    """

    structures: dict[str, Structure]
    name: str = "fixed"
    calls: list[int] = field(default_factory=list)

    def generate(
        self, *, seed: int = 0, exclude: ExclusionSet | None = None
    ) -> list[GeneratedCandidate]:
        """The given structures minus the excluded ones (the same list for every seed).

        Raises:
            ValueError: If a structure has no charge-neutral oxidation states.
        """
        self.calls.append(seed)
        out = []
        for cid, structure in self.structures.items():
            key = formula_key(structure.composition.get_el_amt_dict())
            spacegroup = int(structure.get_space_group_info()[1])
            if exclude is not None and exclude.excludes(key, spacegroup):
                continue
            guesses = structure.composition.oxi_state_guesses(max_sites=-1)
            if not guesses:
                raise ValueError(f"{cid}: no charge-neutral oxidation states for {key}")
            states = tuple(sorted((el, round(v)) for el, v in guesses[0].items()))
            out.append(
                GeneratedCandidate(
                    candidate=Candidate(id=cid, structure=structure, source=self.name),
                    prototype="fixed",
                    spacegroup=spacegroup,
                    oxidation_states=states,
                    formula_key=key,
                )
            )
        return out


@dataclass
class RejectingScreen:
    """Removes chosen candidates, by id or reduced formula, and says why.

    Attributes:
        reject: Candidate ids and reduced formulas (``"SrTiO3"``) to remove.
        name: Screen name (the report's step).
        seen: The ids of every candidate each :meth:`apply` call was given.
    """

    reject: Collection[str] = ()
    name: str = "rejecting"
    seen: list[list[str]] = field(default_factory=list)

    def apply(self, candidates: Sequence[GeneratedCandidate]) -> ScreenOutcome:
        """Remove the rejected candidates; score column ``<name>_position``: input index."""
        self.seen.append([c.id for c in candidates])
        removals = {
            i: ("rejected by test", f"{c.id} ({c.formula}) is on the reject list")
            for i, c in enumerate(candidates)
            if c.id in self.reject or c.formula in self.reject
        }
        scores = {f"{self.name}_position": np.arange(len(candidates), dtype=np.float64)}
        return ScreenOutcome(removals=removals, scores=scores)
