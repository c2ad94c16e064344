"""The fakes of the pool-building protocols honour those protocols and plug into callers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from materials_ai.candidates.base import CandidateGenerator, ExclusionSet
from materials_ai.candidates.screening import Screen, run_screens
from materials_ai.surrogates.featurizers.base import Featurizer
from materials_ai.surrogates.featurizers.cache import load_or_compute_features
from materials_ai.testing.datasets import tiny_structures
from materials_ai.testing.extension_fakes import (
    CountingFeaturizer,
    FixedGenerator,
    RejectingScreen,
)


def _generator() -> FixedGenerator:
    return FixedGenerator({f"c{i}": s for i, s in enumerate(tiny_structures(6))})


def test_fakes_satisfy_their_protocols() -> None:
    assert isinstance(CountingFeaturizer(), Featurizer)
    assert isinstance(_generator(), CandidateGenerator)
    assert isinstance(RejectingScreen(), Screen)


def test_counting_featurizer_values_and_cache_hit(tmp_path: Path) -> None:
    structures = tiny_structures(3)  # Si, SrTiO3, GaAs
    featurizer = CountingFeaturizer()
    ids = ["a", "b", "c"]
    first = load_or_compute_features(featurizer, structures, ids, source="t", cache_root=tmp_path)
    again = load_or_compute_features(featurizer, structures, ids, source="t", cache_root=tmp_path)
    assert featurizer.calls == [3]
    np.testing.assert_array_equal(first, again)
    assert first.shape == (3, 2)
    np.testing.assert_allclose(first[:, 0], [14.0, (38 + 22 + 3 * 8) / 5, (31 + 33) / 2])
    np.testing.assert_allclose(first[1, 1], 3.905**3 / 5)


def test_fixed_generator_honours_exclusions_and_oxidation_states() -> None:
    generator = _generator()
    every = generator.generate(seed=3)
    assert [c.id for c in every] == [f"c{i}" for i in range(6)]
    srtio3 = every[1]
    assert srtio3.formula == "SrTiO3" and srtio3.spacegroup == 221
    assert dict(srtio3.oxidation_states) == {"O": -2, "Sr": 2, "Ti": 4}
    kept = generator.generate(exclude=ExclusionSet.of(formulas=["GaAs"]))
    assert [c.formula for c in kept] == ["Si", "SrTiO3", "Si", "SrTiO3"]
    only_cubic = generator.generate(exclude=ExclusionSet.of(prehashes=[("SrTiO3", 221)]))
    assert "SrTiO3" not in {c.formula for c in only_cubic}
    assert generator.calls == [3, 0, 0]


def test_rejecting_screen_through_the_screen_runner() -> None:
    candidates = _generator().generate()
    first = RejectingScreen(reject={"c0", "GaAs"}, name="first")
    second = RejectingScreen(reject={"c4"}, name="second")
    survivors, report = run_screens(candidates, [first, second])
    assert [c.id for c in survivors] == ["c1", "c3"]
    assert second.seen == [["c1", "c3", "c4"]]  # only what passed the first screen
    assert report.step("first").reasons == {"rejected by test": 3}
    assert "GaAs" in report.removed["c2"].detail
    assert report.removed["c4"].screen == "second"
    assert report.scores["c3"] == pytest.approx({"first_position": 3.0, "second_position": 1.0})
