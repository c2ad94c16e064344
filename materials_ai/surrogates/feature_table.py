"""Feature tables for Gaussian-process heads: featurizer blocks, optional PCA, unit cube.

A GP surrogate reads a pool as one `n x d` table built from featurizer blocks (see
:mod:`materials_ai.surrogates.featurizers`). Each block may be compressed by PCA (on
standardised columns; a 64-wide learned embedding carries far fewer independent
directions than it has columns, and an ARD kernel fits each direction's lengthscale), and
the concatenation is min-max scaled to the unit cube, the input scaling BoTorch's priors
assume. The transform is fitted on the pool itself (no labels), kept with the surrogate
and applied unchanged to structures predicted later.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from materials_ai.errors import SurrogateError
from materials_ai.surrogates.config import FeatureBlockConfig
from materials_ai.surrogates.descriptors import (
    DescriptorTable,
    scale_unit_cube,
    unit_cube_bounds,
)

if TYPE_CHECKING:
    from pymatgen.core import Structure

    from materials_ai.data.records import Molecule


@dataclass
class BlockTransform:
    """The fitted transform of one block.

    Attributes:
        mean: `d` column means (NaN-free; unknown values are imputed with them).
        scale: `d` column standard deviations (1 where constant).
        components: `k x d` principal axes, or None for no PCA.
    """

    mean: np.ndarray
    scale: np.ndarray
    components: np.ndarray | None

    @classmethod
    def fit(cls, raw: np.ndarray, pca: int | None) -> BlockTransform:
        """Fit on `n x d` raw values of a pool."""
        raw = np.asarray(raw, np.float64)
        finite = np.isfinite(raw)
        counts = finite.sum(axis=0)
        mean = np.where(
            counts > 0, np.where(finite, raw, 0.0).sum(axis=0) / np.maximum(counts, 1), 0.0
        )
        if pca is None:
            return cls(mean=mean, scale=np.ones_like(mean), components=None)
        filled = np.where(finite, raw, mean)
        std = filled.std(axis=0)
        scale = np.where(std > 0, std, 1.0)
        z = (filled - mean) / scale
        _, singular, vt = np.linalg.svd(z, full_matrices=False)
        k = min(pca, vt.shape[0])
        # A deterministic sign: the largest loading of each axis is positive.
        signs = np.sign(vt[np.arange(k), np.abs(vt[:k]).argmax(axis=1)])
        components = vt[:k] * signs[:, None]
        # Axes beyond the pool's rank carry only rounding noise, which the unit-cube
        # scaling would blow up to [0, 1] differently on every CPU: they become constant.
        tolerance = singular.max(initial=0.0) * max(z.shape) * np.finfo(np.float64).eps
        components[singular[:k] <= tolerance] = 0.0
        return cls(mean=mean, scale=scale, components=components)

    def apply(self, raw: np.ndarray) -> np.ndarray:
        """`n x d` raw values -> `n x k` (PCA) or the raw values (NaN kept for the cube)."""
        raw = np.asarray(raw, np.float64)
        if self.components is None:
            return raw
        filled = np.where(np.isfinite(raw), raw, self.mean)
        return ((filled - self.mean) / self.scale) @ self.components.T

    def to_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        """Arrays for saving (``prefix`` keeps blocks apart)."""
        out = {f"{prefix}.mean": self.mean, f"{prefix}.scale": self.scale}
        if self.components is not None:
            out[f"{prefix}.components"] = self.components
        return out

    @classmethod
    def from_arrays(cls, arrays: dict[str, Any], prefix: str) -> BlockTransform:
        """Inverse of :meth:`to_arrays`."""
        components = arrays.get(f"{prefix}.components")
        return cls(
            mean=np.asarray(arrays[f"{prefix}.mean"], np.float64),
            scale=np.asarray(arrays[f"{prefix}.scale"], np.float64),
            components=None if components is None else np.asarray(components, np.float64),
        )


@dataclass
class FeaturePipeline:
    """Featurizer blocks -> one unit-cube table, with its fitted transform.

    Args:
        blocks: The blocks, in column order.
    """

    blocks: tuple[FeatureBlockConfig, ...]
    transforms: list[BlockTransform] | None = None
    bounds: tuple[np.ndarray, np.ndarray] | None = None

    def raw(
        self,
        structures: Sequence[Structure | Molecule],
        ids: Sequence[str],
        source: str | None,
    ) -> list[np.ndarray]:
        """Each block's raw `n x d_b` features (from the disk cache under ``source``)."""
        from materials_ai.surrogates.featurizers import build_featurizer
        from materials_ai.surrogates.featurizers.cache import load_or_compute_features

        return [
            load_or_compute_features(
                build_featurizer(block.featurizer), structures, ids, source=source
            )
            for block in self.blocks
        ]

    def unusable_rows(self, structures: Sequence[Structure | Molecule]) -> dict[int, str]:
        """Index -> reason for structures that a block featurized as a row of NaN (e.g. an
        element CHGNet does not know): no prediction can be trusted for them."""
        ids = [str(i) for i in range(len(structures))]
        out: dict[int, str] = {}
        for block, raw in zip(self.blocks, self.raw(structures, ids, None), strict=True):
            for i in np.flatnonzero(~np.isfinite(raw).any(axis=1)):
                out.setdefault(int(i), f"featurizer {block.featurizer!r} cannot featurize it")
        return out

    def names(self) -> tuple[str, ...]:
        """Column names of the table."""
        from materials_ai.surrogates.featurizers import build_featurizer

        names: list[str] = []
        for block in self.blocks:
            if block.pca is not None:
                names += [f"{block.featurizer}_pc{i:02d}" for i in range(block.pca)]
            else:
                names += build_featurizer(block.featurizer).feature_names()
        return tuple(names)

    def fit_table(
        self, structures: Sequence[Structure | Molecule], ids: Sequence[str], source: str | None
    ) -> DescriptorTable:
        """Fit the transform on a pool and return its table (values in [0, 1])."""
        raws = self.raw(structures, ids, source)
        self.transforms = [
            BlockTransform.fit(raw, block.pca) for raw, block in zip(raws, self.blocks, strict=True)
        ]
        joined = self._join(raws)
        self.bounds = unit_cube_bounds(joined)
        return DescriptorTable(
            ids=tuple(ids), values=scale_unit_cube(joined, self.bounds), names=self.names()
        )

    def table(
        self,
        structures: Sequence[Structure | Molecule],
        ids: Sequence[str],
        source: str | None = None,
    ) -> DescriptorTable:
        """Apply the fitted transform to new structures."""
        return self.transform(self.raw(structures, ids, source), ids)

    def transform(self, raws: list[np.ndarray], ids: Sequence[str]) -> DescriptorTable:
        """Apply the fitted transform to each block's raw features (from :meth:`raw`)."""
        if self.transforms is None or self.bounds is None:
            raise SurrogateError("the feature transform is not fitted (fit_table first)")
        joined = self._join(raws)
        return DescriptorTable(
            ids=tuple(ids), values=scale_unit_cube(joined, self.bounds), names=self.names()
        )

    def _join(self, raws: list[np.ndarray]) -> np.ndarray:
        assert self.transforms is not None
        return np.concatenate(
            [t.apply(raw) for t, raw in zip(self.transforms, raws, strict=True)], axis=1
        )

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The fitted transform as arrays (saved with the surrogate)."""
        if self.transforms is None or self.bounds is None:
            return {}
        out: dict[str, np.ndarray] = {"bounds.low": self.bounds[0], "bounds.span": self.bounds[1]}
        for i, transform in enumerate(self.transforms):
            out.update(transform.to_arrays(f"block{i}"))
        return out

    def load_arrays(self, arrays: dict[str, Any]) -> None:
        """Restore a transform saved by :meth:`to_arrays`."""
        if "bounds.low" not in arrays:
            return
        self.bounds = (
            np.asarray(arrays["bounds.low"], np.float64),
            np.asarray(arrays["bounds.span"], np.float64),
        )
        self.transforms = [
            BlockTransform.from_arrays(arrays, f"block{i}") for i in range(len(self.blocks))
        ]
