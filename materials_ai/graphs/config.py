"""Settings of the structure -> graph conversion."""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class GraphConfig(BaseModel):
    """How a crystal becomes a graph.

    Attributes:
        cutoff_angstrom: Radius (Å) within which periodic images are neighbours.
        max_neighbors: Keep at most this many nearest neighbours per atom (ties broken by
            neighbour index, so the result is deterministic).
        isolated_atom_policy: What to do with an atom that has no neighbour within the
            cutoff. ``"expand"`` (default) retries that structure with the cutoff
            multiplied by ``expansion_factor`` until every atom has a neighbour or
            ``max_cutoff_angstrom`` is passed, then raises; ``"error"`` raises at once.
            Either way no graph ever carries an atom with an undefined neighbourhood.
        expansion_factor: Growth of the cutoff per retry under ``"expand"``.
        max_cutoff_angstrom: Largest cutoff tried under ``"expand"`` (Å).
        site_features: Extra per-atom features to compute: ``"oxidation"`` adds the
            guessed oxidation state, the valence electrons left and a charge-balance flag
            (:mod:`materials_ai.graphs.oxidation`).
        edge_vectors: Also store each edge's vector (centre to neighbour image, Å): the
            directions that angular and equivariant models (``mace``) need.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    cutoff_angstrom: float = Field(6.0, gt=0.5, le=20.0)
    max_neighbors: int = Field(12, ge=1, le=128)
    isolated_atom_policy: Literal["expand", "error"] = "expand"
    expansion_factor: float = Field(1.5, gt=1.0)
    max_cutoff_angstrom: float = Field(12.0, gt=0.5, le=30.0)
    site_features: tuple[Literal["oxidation"], ...] = ()
    edge_vectors: bool = False

    @model_validator(mode="after")
    def _check_cutoffs(self) -> GraphConfig:
        if self.max_cutoff_angstrom < self.cutoff_angstrom:
            raise ValueError("max_cutoff_angstrom must be >= cutoff_angstrom")
        return self

    @property
    def n_site_features(self) -> int:
        """Width of the extra atom features these settings produce."""
        from materials_ai.graphs.oxidation import SITE_FEATURE_NAMES

        return len(SITE_FEATURE_NAMES) * ("oxidation" in self.site_features)

    def fingerprint(self) -> str:
        """Return a short stable hash of the settings (used in cache keys)."""
        settings = self.model_dump()
        if not self.edge_vectors:  # keeps the keys of caches written before the field
            del settings["edge_vectors"]
        payload = json.dumps(settings, sort_keys=True).encode()
        return hashlib.sha256(payload).hexdigest()[:12]
