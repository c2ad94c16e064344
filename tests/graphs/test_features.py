"""Physical element descriptors used as atom features."""

from __future__ import annotations

import numpy as np

from materials_ai.graphs.features import FEATURE_NAMES, MAX_Z, element_feature_table


def test_table_shape_dtype_and_zero_row() -> None:
    table = element_feature_table()
    assert table.shape == (MAX_Z + 1, len(FEATURE_NAMES)) == (101, 11)
    assert table.dtype == np.float32
    assert np.all(table[0] == 0)
    assert np.isfinite(table).all()


def test_continuous_columns_are_standardised() -> None:
    cont = element_feature_table()[1:, :7].astype(np.float64)
    # Missing values are set to the mean (0), which keeps the mean at 0 and shrinks the std.
    np.testing.assert_allclose(cont.mean(axis=0), 0.0, atol=1e-5)
    std = cont.std(axis=0)
    assert np.all(std <= 1.0 + 1e-5)
    assert np.all(std > 0.5)


def test_block_columns_are_one_hot() -> None:
    table = element_feature_table()
    blocks = table[1:, 7:]
    assert set(np.unique(blocks).tolist()) == {0.0, 1.0}
    np.testing.assert_array_equal(blocks.sum(axis=1), 1.0)
    s, p, d, f = (FEATURE_NAMES.index(f"block_{b}") for b in "spdf")
    assert table[1, s] == 1  # H
    assert table[14, p] == 1  # Si
    assert table[26, d] == 1  # Fe
    assert table[64, f] == 1  # Gd


def test_descriptors_order_elements_physically() -> None:
    table = element_feature_table()
    x = FEATURE_NAMES.index("electronegativity_pauling")
    row = FEATURE_NAMES.index("row")
    mass = FEATURE_NAMES.index("atomic_mass_amu")
    assert table[9, x] > table[8, x] > table[6, x] > table[3, x] > table[55, x]  # F>O>C>Li>Cs
    assert table[14, row] > table[6, row]  # Si below C
    assert table[82, row] > table[50, row] > table[32, row]  # Pb, Sn, Ge
    assert np.corrcoef(table[1:, mass], np.arange(1, MAX_Z + 1))[0, 1] > 0.99
    # Different elements get different descriptor vectors.
    assert len({tuple(r) for r in table[1:].round(5).tolist()}) == MAX_Z
