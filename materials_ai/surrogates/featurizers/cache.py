"""Disk cache of feature matrices, keyed by the featurizer's fingerprint and the structures.

Features of a pool are computed once (CHGNet on 18,928 perovskites takes minutes) and
read back in milliseconds by every later campaign, benchmark seed and iteration.
"""

from __future__ import annotations

import hashlib
import logging
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from materials_ai.settings import cache_dir

if TYPE_CHECKING:
    from pymatgen.core import Structure

    from materials_ai.data.records import Molecule
    from materials_ai.surrogates.featurizers.base import Featurizer

logger = logging.getLogger(__name__)

#: Bump when the cache layout changes.
FEATURE_CACHE_VERSION = 1


def feature_cache_key(featurizer: Featurizer, source: str, ids: Sequence[str]) -> str:
    """The cache key of ``featurizer``'s features of ``ids`` from ``source``.

    Args:
        featurizer: The featurizer (its name and fingerprint enter the key).
        source: Identifies the structures' origin, e.g. a dataset name and checksum.
        ids: `n` structure ids, in order.
    """
    digest = hashlib.sha256(
        f"v{FEATURE_CACHE_VERSION}|{featurizer.name}|{featurizer.fingerprint()}|{source}|".encode()
    )
    for i in ids:
        digest.update(i.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:20]


def load_or_compute_features(
    featurizer: Featurizer,
    structures: Sequence[Structure | Molecule],
    ids: Sequence[str],
    *,
    source: str | None,
    cache_root: str | Path | None = None,
) -> np.ndarray:
    """Features of ``structures``, from the disk cache when present.

    Args:
        featurizer: What computes them.
        structures: `n` structures.
        ids: `n` ids (part of the key; must be unique within ``source``).
        source: Origin of the structures (include a checksum); None disables the cache
            (structures with no stable origin, e.g. a user's files).
        cache_root: Cache folder; default ``settings.cache_dir()``.

    Returns:
        `n x d` float64.
    """
    if source is None:
        return featurizer.featurize(structures)  # type: ignore[arg-type]
    key = feature_cache_key(featurizer, source, ids)
    path = cache_dir(cache_root) / "features" / f"{featurizer.name}-{key}.npz"
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as data:
                cached_ids, values = tuple(data["ids"].tolist()), data["values"]
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
            logger.warning("feature cache %s is unreadable (%s); recomputing", path, error)
        else:
            if cached_ids == tuple(ids):
                logger.info(
                    "loaded %s features of %d structures from %s", featurizer.name, len(ids), path
                )
                return np.asarray(values, dtype=np.float64)
            logger.warning("feature cache %s does not match the requested ids; recomputing", path)
    # A featurizer built on other featurizers (a pretrained head on CHGNet features) may
    # read their cached features through ``featurize_cached(structures, ids, source=...)``.
    # Descriptor featurizers also take molecules (their composition).
    featurize_cached = getattr(featurizer, "featurize_cached", None)
    if featurize_cached is not None:
        values = np.asarray(featurize_cached(structures, ids, source=source), dtype=np.float64)
    else:
        values = np.asarray(featurizer.featurize(structures), dtype=np.float64)  # type: ignore[arg-type]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.npz")
    np.savez(tmp, ids=np.asarray(ids, dtype=str), values=values)
    tmp.replace(path)
    logger.info("cached %s features of %d structures in %s", featurizer.name, len(ids), path)
    return values
