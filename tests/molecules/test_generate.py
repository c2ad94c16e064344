"""Molecule generation by edits: validity, uniqueness, novelty, determinism."""

from __future__ import annotations

import pytest

from materials_ai.candidates.screens import run_screens
from materials_ai.data import Molecule
from materials_ai.molecules.generate import MoleculeEditGenerator, canonical_key
from materials_ai.molecules.pfas import PFASScreen, is_pfas

SEEDS = ["c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "c1ccsc1-c1cccs1", "OCC(O)CO", "c1ccncc1"]


def _generator(**kwargs) -> MoleculeEditGenerator:  # type: ignore[no-untyped-def]
    return MoleculeEditGenerator([Molecule.from_smiles(s) for s in SEEDS], **kwargs)


def test_generation_is_valid_unique_and_deterministic() -> None:
    gen = _generator()
    out = gen.generate(300, seed=1)
    assert len(out) == 300
    smiles = [c.candidate.structure.smiles for c in out]
    assert all(Molecule.from_smiles(s).smiles == s for s in smiles)  # canonical and valid
    keys = {canonical_key(s) for s in smiles}
    assert len(keys) == 300 and not keys & {canonical_key(s) for s in SEEDS}
    stats = gen.stats
    assert stats.validity >= 0.95
    assert stats.unique >= 300 and 0 < stats.uniqueness <= 1
    again = [c.candidate.structure.smiles for c in _generator().generate(300, seed=1)]
    assert again == smiles
    assert {c.prototype.removeprefix("edit:") for c in out} >= {"atom_swap", "selfies_insert"}


def test_known_molecules_are_not_novel() -> None:
    first = _generator().generate(100, seed=2)
    known = {canonical_key(c.candidate.structure.smiles) for c in first[:50]}
    gen = _generator(known=known)
    out = gen.generate(100, seed=2)
    assert not {canonical_key(c.candidate.structure.smiles) for c in out} & known
    assert gen.stats.novel < gen.stats.unique


def test_generated_pool_goes_through_the_pfas_screen() -> None:
    gen = MoleculeEditGenerator(
        [Molecule.from_smiles("FC(F)(F)c1ccccc1"), Molecule.from_smiles("c1ccccc1")]
    )
    out = gen.generate(100, seed=0)
    survivors, report = run_screens(out, [PFASScreen()])
    assert report.step("pfas").n_removed > 0
    assert not any(is_pfas(c.candidate.structure) for c in survivors)
    assert all("x CF" in report.removed[c.id].detail for c in out if c.id in report.removed)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="operators"):
        _generator(operators=["teleport"])
    with pytest.raises(ValueError, match="seed"):
        MoleculeEditGenerator([])
