"""CHGNet featurizer: shapes, physics sanity, intensivity, NaN rows, fingerprint, cache.

``chgnet`` is a core dependency (the default crystal surrogate's features), so these run
everywhere.
"""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from materials_ai.surrogates.featurizers import Featurizer, build_featurizer
from materials_ai.surrogates.featurizers.cache import load_or_compute_features
from materials_ai.surrogates.featurizers.chgnet import PROVENANCE, ChgnetFeaturizer
from materials_ai.testing.datasets import gaas_zincblende, si_diamond, srtio3_cubic

SI, GAAS, STO, ISOLATED, AMERICIUM, SI_SUPERCELL = range(6)


def _structures() -> list:  # type: ignore[type-arg]
    from pymatgen.core import Lattice, Structure

    isolated = Structure(Lattice.cubic(15.0), ["Si"], [[0, 0, 0]])  # no neighbour in 6 Å
    americium = Structure(Lattice.cubic(3.5), ["Am"], [[0, 0, 0]])  # Z = 95: no embedding
    return [
        si_diamond(),
        gaas_zincblende(),
        srtio3_cubic(),
        isolated,
        americium,
        si_diamond() * (2, 1, 1),
    ]


@pytest.fixture(scope="module")
def featurized() -> tuple[np.ndarray, list[warnings.WarningMessage]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        values = ChgnetFeaturizer(batch_size=4).featurize(_structures())
    return values, [w for w in caught if issubclass(w.category, RuntimeWarning)]


def test_feature_names_and_provenance() -> None:
    names = ChgnetFeaturizer().feature_names()
    assert len(names) == 129 == len(set(names))
    assert names[0] == "chgnet_crystal_000"
    assert names[64] == "chgnet_atom_mean_000"
    assert names[-1] == "chgnet_energy_per_atom"
    assert PROVENANCE.model == "CHGNet 0.3.0 (chgnet 0.4.2)"
    assert "castelli_perovskites" not in PROVENANCE.overlaps
    assert {"mp2018", "mp_abx3_perovskites"} <= set(PROVENANCE.overlaps)


def test_importing_the_module_loads_neither_torch_nor_chgnet() -> None:
    code = (
        "import sys, materials_ai.surrogates.featurizers.chgnet as m; "
        "m.ChgnetFeaturizer().feature_names(); "
        "print('chgnet' in sys.modules, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_registry_and_fingerprint_are_stable() -> None:
    featurizer = build_featurizer("chgnet")
    assert isinstance(featurizer, Featurizer)
    assert featurizer.name == "chgnet"
    fingerprint = featurizer.fingerprint()
    assert fingerprint == featurizer.fingerprint() == ChgnetFeaturizer(batch_size=7).fingerprint()
    assert fingerprint.startswith("chgnet0.4.2-m0.3.0-w")
    assert fingerprint.endswith("-v1")


def test_shape_and_finite_rows(featurized: tuple[np.ndarray, list]) -> None:  # type: ignore[type-arg]
    values, _ = featurized
    assert values.shape == (6, len(ChgnetFeaturizer().feature_names()))
    assert values.dtype == np.float64
    for row in (SI, GAAS, STO, SI_SUPERCELL):
        assert np.isfinite(values[row]).all()


def test_energies_per_atom(featurized: tuple[np.ndarray, list]) -> None:  # type: ignore[type-arg]
    energy = featurized[0][:, -1]
    assert energy[SI] == pytest.approx(-5.31, abs=0.05)  # CHGNet 0.3.0, bulk Si
    assert -8.8 < energy[STO] < -8.0  # MP2020 scale
    assert -5.0 < energy[GAAS] < -3.5


def test_supercell_gives_the_same_intensive_features(
    featurized: tuple[np.ndarray, list],  # type: ignore[type-arg]
) -> None:
    values, _ = featurized
    np.testing.assert_allclose(values[SI_SUPERCELL], values[SI], atol=1e-4, rtol=1e-4)
    assert np.abs(values[SI] - values[GAAS]).max() > 0.1


def test_bad_structures_give_nan_rows_and_named_warnings(
    featurized: tuple[np.ndarray, list],  # type: ignore[type-arg]
) -> None:
    values, caught = featurized
    assert np.isnan(values[ISOLATED]).all()
    assert np.isnan(values[AMERICIUM]).all()
    messages = [str(w.message) for w in caught]
    assert any("structure 3 (Si)" in m and "cutoff" in m for m in messages), messages
    assert any("structure 4 (Am)" in m and "Am" in m for m in messages), messages
    assert len(messages) == 2


def test_deterministic_and_batch_independent(
    featurized: tuple[np.ndarray, list],  # type: ignore[type-arg]
) -> None:
    structures = [_structures()[i] for i in (SI, GAAS, STO)]
    once = ChgnetFeaturizer(batch_size=4).featurize(structures)
    again = ChgnetFeaturizer(batch_size=4).featurize(structures)
    np.testing.assert_array_equal(once, again)
    one_by_one = ChgnetFeaturizer(batch_size=1).featurize(structures)
    np.testing.assert_allclose(one_by_one, featurized[0][[SI, GAAS, STO]], atol=1e-5)
    assert ChgnetFeaturizer().featurize([]).shape == (0, 129)


def test_features_are_cached_by_fingerprint(tmp_path: Path) -> None:
    featurizer = ChgnetFeaturizer()
    structures = [si_diamond(), gaas_zincblende()]
    first = load_or_compute_features(
        featurizer, structures, ["si", "gaas"], source="t:1", cache_root=tmp_path
    )
    assert len(list((tmp_path / "features").glob("chgnet-*.npz"))) == 1

    class Exploding(ChgnetFeaturizer):
        def featurize(self, structures):  # type: ignore[no-untyped-def]
            raise AssertionError("should have been read from the cache")

    again = load_or_compute_features(
        Exploding(), structures, ["si", "gaas"], source="t:1", cache_root=tmp_path
    )
    np.testing.assert_array_equal(first, again)
