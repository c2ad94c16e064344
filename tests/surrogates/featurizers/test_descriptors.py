"""The fixed descriptor featurizers."""

from __future__ import annotations

import pytest

from materials_ai.surrogates.featurizers import build_featurizer
from materials_ai.testing.datasets import srtio3_cubic


def test_element_fractions_sum_to_one_and_name_their_element() -> None:
    featurizer = build_featurizer("element_fractions")
    values = featurizer.featurize([srtio3_cubic()])
    names = featurizer.feature_names()
    assert values.shape == (1, len(names)) == (1, 94)
    assert values.sum() == pytest.approx(1.0)
    assert values[0, names.index("frac_O")] == pytest.approx(0.6)
    assert values[0, names.index("frac_Sr")] == pytest.approx(0.2)
