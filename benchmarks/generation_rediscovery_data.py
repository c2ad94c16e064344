"""What every seed of the rediscovery benchmark shares (``generation_rediscovery.py``).

Split out of ``generation_rediscovery.py``, whose module docstring gives the protocol:
:class:`Shared` loads MP-2018, the held-out family, the hull and known set without it, the
surrogate, the cross-fitted fold heads of step 5, the static CHGNet energies and their
per-element correction, and each known composition's DFT ground state.
"""

from __future__ import annotations

import generation_common as common
import numpy as np

from materials_ai.candidates import HullReference, KnownMaterials
from materials_ai.candidates.energy_correction import (
    EnergyCorrection,
    fit_energy_correction,
    read_split_ids,
)
from materials_ai.candidates.known import parse_formula_key
from materials_ai.settings import PROJECT_ROOT

SPLIT = "datasets/splits/mp2018/random_80_10_10_seed0"


class Shared:
    """Everything the seeds share: data, hull, known set, model, correction."""

    def __init__(self, family_name: str, model_kind: str = "cgcnn") -> None:
        self.ds = common.load_mp2018()
        self.keys = common.keys_of(self.ds)
        comps = [parse_formula_key(k) for k in self.keys]
        records = self.ds.records
        hull_all = HullReference(
            ((c, r.targets["formation_energy"]) for c, r in zip(comps, records, strict=True)),
            name="mp2018",
        )
        families = {
            "abo3": common.heldout_family(self.ds, self.keys, hull_all),
            "double_perovskite": common.heldout_double_perovskites(self.ds, self.keys, hull_all),
        }
        self.family_data = families[family_name]
        self.family = set(self.family_data)
        both = set(families["abo3"]) | set(families["double_perovskite"])
        self.hull = HullReference(
            (
                (c, r.targets["formation_energy"])
                for c, r, k in zip(comps, records, self.keys, strict=True)
                if k not in self.family
            ),
            name="mp2018 without held-out",
        )
        self.known = KnownMaterials.from_datasets(spacegroups=0.1).without(formula_keys=self.family)
        self.surrogate = common.BenchmarkModel(model_kind)
        self.chgnet = common.cached_chgnet_energies()
        heldout_ids = {r.id for r, k in zip(records, self.keys, strict=True) if k in both}
        rows = [r for r in records if r.id in self.chgnet]
        self.correction: EnergyCorrection = fit_energy_correction(
            [r.id for r in rows],
            [r.structure.composition.get_el_amt_dict() for r in rows],
            np.array([self.chgnet[r.id] for r in rows]),
            np.array([r.targets["formation_energy"] for r in rows]),
            train_ids=read_split_ids(PROJECT_ROOT / SPLIT / "train.txt") - heldout_ids,
            test_ids=read_split_ids(PROJECT_ROOT / SPLIT / "test.txt") - heldout_ids,
            split=f"{SPLIT}/train.txt minus both held-out families",
        )
        self.dft_min: dict[str, float] = {}
        for k, r in zip(self.keys, records, strict=True):
            if k not in self.family:
                e = r.targets["formation_energy"]
                self.dft_min[k] = min(e, self.dft_min.get(k, e))
        # step 5's relaxed-stage calibration: known compositions outside both families,
        # predicted by the fold heads that did not train on them (chgnet_head only)
        self.calibration_keys = set(self.dft_min) - both
        self.cross_fit = (
            common.CrossFittedHeads(common.CROSS_FIT_FOLDS) if model_kind == "chgnet_head" else None
        )
        self.gs_index: dict[str, int] = {}
        for i, (k, r) in enumerate(zip(self.keys, records, strict=True)):
            if k in self.dft_min and r.targets["formation_energy"] == self.dft_min[k]:
                self.gs_index.setdefault(k, i)
