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


#: Elements of the ``element_fractions`` block: atomic numbers 1..94 (H..Pu).
FRACTION_MAX_Z = 94


@dataclass(frozen=True)
class ElementFractionFeaturizer:
    """Atom fraction of each element H..Pu (94 columns summing to 1; any chemistry).

    The linear part of a formation energy is a sum of per-element references weighted by
    these fractions, so heads on pretrained energies need them beside the learned
    features (``docs/benchmarks.md``). Elements beyond Pu give a NaN row.

    Attributes:
        name: Registry name.
    """

    name: str = "element_fractions"

    def feature_names(self) -> tuple[str, ...]:
        """``frac_H`` .. ``frac_Pu``."""
        from pymatgen.core import Element

        return tuple(f"frac_{Element.from_Z(z).symbol}" for z in range(1, FRACTION_MAX_Z + 1))

    def fingerprint(self) -> str:
        """Block name and version."""
        return f"{self.name}-v1"

    def featurize(self, structures: Sequence[Structure]) -> np.ndarray:
        """`n x 94` atom fractions (rows of NaN for elements beyond Pu or dummy species)."""
        out = np.zeros((len(structures), FRACTION_MAX_Z))
        for row, structure in enumerate(structures):
            try:
                fractions = structure.composition.fractional_composition
                for element, fraction in fractions.items():
                    z = int(element.Z)
                    if not 1 <= z <= FRACTION_MAX_Z:
                        raise ValueError(z)
                    out[row, z - 1] += float(fraction)
            except (AttributeError, ValueError):
                out[row] = np.nan
        return out


def element_fraction_featurizer() -> ElementFractionFeaturizer:
    """Atom fractions of H..Pu."""
    return ElementFractionFeaturizer()
