"""The hand-made descriptor sets of :mod:`materials_ai.surrogates.descriptors` as featurizers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from materials_ai.surrogates.descriptors import (
    DescriptorKind,
    compute_descriptors,
    descriptor_names,
)

if TYPE_CHECKING:
    from pymatgen.core import Structure

#: Bump when a descriptor's definition changes.
DESCRIPTOR_VERSION = 1


@dataclass(frozen=True)
class DescriptorFeaturizer:
    """A fixed descriptor set (no learned part).

    Attributes:
        name: ``composition`` or ``perovskite``.
    """

    name: DescriptorKind

    def feature_names(self) -> tuple[str, ...]:
        """The descriptor names."""
        return descriptor_names(self.name)

    def fingerprint(self) -> str:
        """Descriptor set and version."""
        return f"{self.name}-v{DESCRIPTOR_VERSION}"

    def featurize(self, structures: Sequence[Structure]) -> np.ndarray:
        """`n x d` descriptors (NaN where a property is unknown)."""
        return compute_descriptors(structures, self.name)


def composition_featurizer() -> DescriptorFeaturizer:
    """Fraction-weighted element-property statistics (any structure)."""
    return DescriptorFeaturizer("composition")


def perovskite_featurizer() -> DescriptorFeaturizer:
    """The ABX3 site descriptor (5-atom cubic cells)."""
    return DescriptorFeaturizer("perovskite")
