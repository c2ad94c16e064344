"""Datasets: typed records, dataset cards, the registry of local data files, and loaders.

Typical use::

    from materials_ai.data import load_dataset

    ds = load_dataset("castelli_perovskites", targets=["band_gap"], limit=200)
    ids, y = ds.ids, ds.target_matrix()        # y: `n x 1`, eV

Importing this package is light (numpy, pandas, pydantic, PyYAML); pymatgen is imported
when structures are parsed, and torch never.
"""

from __future__ import annotations

from materials_ai.data.cards import (
    DatasetCard,
    TargetCard,
    UpstreamSource,
    card_from_mapping,
    dump_card,
    load_card,
)
from materials_ai.data.loaders import load_dataset, parse_structure, structure_cache_path
from materials_ai.data.records import (
    Candidate,
    MaterialRecord,
    MaterialsDataset,
    Molecule,
    Observation,
    SkippedRow,
    TargetSpec,
    structure_kind,
)
from materials_ai.data.registry import (
    dataset_path,
    get_card,
    list_cards,
    sha256_file,
    verify_checksum,
)

__all__ = [
    "Candidate",
    "DatasetCard",
    "MaterialRecord",
    "MaterialsDataset",
    "Molecule",
    "Observation",
    "SkippedRow",
    "TargetCard",
    "TargetSpec",
    "UpstreamSource",
    "card_from_mapping",
    "dataset_path",
    "dump_card",
    "get_card",
    "list_cards",
    "load_card",
    "load_dataset",
    "parse_structure",
    "sha256_file",
    "structure_cache_path",
    "structure_kind",
    "verify_checksum",
]
