"""Structure -> neighbour arrays: distances, truncation, edge direction, isolated atoms."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError
from pymatgen.core import Lattice, Structure

from materials_ai.compute import SerialExecutor
from materials_ai.errors import GraphConstructionError, MaterialsAIError
from materials_ai.graphs import GraphConfig, build_graphs, structure_to_arrays
from materials_ai.testing.datasets import (
    gaas_zincblende,
    si_diamond,
    srtio3_cubic,
    tiny_structures,
)

SI_A = 5.431
SI_BOND = SI_A * np.sqrt(3) / 4  # 2.3517 Å
SI_SECOND = SI_A / np.sqrt(2)  # 3.8403 Å


def _dimer_and_far_atom(far_angstrom: float, box_angstrom: float = 30.0) -> Structure:
    """A Si dimer (2.35 Å) at the origin and a third Si ``far_angstrom`` away along y."""
    return Structure(
        Lattice.cubic(box_angstrom),
        ["Si", "Si", "Si"],
        [[0.0, 0.0, 0.0], [2.35 / box_angstrom, 0.0, 0.0], [0.0, far_angstrom / box_angstrom, 0.0]],
    )


def _lonely_atom() -> Structure:
    """A dimer plus an atom at the box centre, ~24.7 Å from everything else."""
    return Structure(
        Lattice.cubic(30.0),
        ["Si", "Si", "Si"],
        [[0.0, 0.0, 0.0], [2.35 / 30.0, 0.0, 0.0], [0.5, 0.5, 0.5]],
    )


# -- distances and neighbour counts ---------------------------------------------------


def test_si_diamond_has_four_bonds_of_a_sqrt3_over_4_per_atom() -> None:
    z, edge_index, dist = structure_to_arrays(
        si_diamond(SI_A), GraphConfig(cutoff_angstrom=3.0, max_neighbors=12)
    )
    assert z.tolist() == [14, 14]
    assert edge_index.shape == (2, 8)
    assert np.bincount(edge_index[1], minlength=2).tolist() == [4, 4]
    np.testing.assert_allclose(dist, SI_BOND, rtol=1e-6)
    # Each Si is bonded to the other sublattice only.
    assert np.all(edge_index[0] != edge_index[1])


def test_si_diamond_default_config_keeps_bonds_first_then_second_shell() -> None:
    _, edge_index, dist = structure_to_arrays(si_diamond(SI_A))  # cutoff 6 Å, 12 neighbours
    assert edge_index.shape == (2, 24)
    for atom in (0, 1):
        mine = np.sort(dist[edge_index[1] == atom])
        assert mine.size == 12
        np.testing.assert_allclose(mine[:4], SI_BOND, rtol=1e-6)
        np.testing.assert_allclose(mine[4:], SI_SECOND, rtol=1e-6)
        # The four bonds come from the other atom, the second shell from the own sublattice.
        sources = edge_index[0][edge_index[1] == atom][np.argsort(dist[edge_index[1] == atom])]
        assert set(sources[:4].tolist()) == {1 - atom}
        assert set(sources[4:].tolist()) == {atom}


def test_distances_scale_with_the_lattice_constant() -> None:
    _, _, d1 = structure_to_arrays(si_diamond(5.0), GraphConfig(cutoff_angstrom=3.0))
    _, _, d2 = structure_to_arrays(si_diamond(5.5), GraphConfig(cutoff_angstrom=3.0))
    np.testing.assert_allclose(d1, 5.0 * np.sqrt(3) / 4, rtol=1e-6)
    np.testing.assert_allclose(d2, 5.5 * np.sqrt(3) / 4, rtol=1e-6)


def test_output_dtypes() -> None:
    z, edge_index, dist = structure_to_arrays(gaas_zincblende())
    assert z.dtype == np.int64
    assert edge_index.dtype == np.int64
    assert dist.dtype == np.float32
    assert z.tolist() == [31, 33]
    assert dist.max() <= 6.0 + 1e-5
    assert dist.min() > 0


# -- truncation and edge direction ------------------------------------------------------


def test_edge_direction_is_neighbour_to_centre() -> None:
    """Row 0 is the source (neighbour), row 1 the target (centre atom).

    In SrTiO3 with two neighbours per atom, every atom is the *target* of exactly two
    edges; Ti (index 1) is the nearest neighbour of all three O, so with the reversed
    convention it would be the target of six edges.
    """
    a = 3.905
    _, edge_index, dist = structure_to_arrays(srtio3_cubic(a), GraphConfig(max_neighbors=2))
    assert np.bincount(edge_index[1], minlength=5).tolist() == [2, 2, 2, 2, 2]
    assert np.bincount(edge_index[0], minlength=5).tolist() != [2, 2, 2, 2, 2]
    ti_in = edge_index[1] == 1
    np.testing.assert_allclose(dist[ti_in], a / 2, rtol=1e-6)  # Ti-O
    sr_in = edge_index[1] == 0
    np.testing.assert_allclose(dist[sr_in], a / np.sqrt(2), rtol=1e-6)  # Sr-O
    for o in (2, 3, 4):  # each O's two nearest neighbours are the Ti images at a/2
        assert edge_index[0][edge_index[1] == o].tolist() == [1, 1]
        np.testing.assert_allclose(dist[edge_index[1] == o], a / 2, rtol=1e-6)


def test_truncation_breaks_distance_ties_by_neighbour_index() -> None:
    # Ti has six O at a/2 (three O sites, two images each); keeping two keeps O index 2.
    _, edge_index, _ = structure_to_arrays(srtio3_cubic(), GraphConfig(max_neighbors=2))
    assert edge_index[0][edge_index[1] == 1].tolist() == [2, 2]
    _, edge_index, _ = structure_to_arrays(srtio3_cubic(), GraphConfig(max_neighbors=4))
    assert edge_index[0][edge_index[1] == 1].tolist() == [2, 2, 3, 3]


def test_truncation_keeps_at_most_max_neighbors_sorted_by_distance() -> None:
    config = GraphConfig(cutoff_angstrom=8.0, max_neighbors=5)
    _, edge_index, dist = structure_to_arrays(srtio3_cubic(), config)
    counts = np.bincount(edge_index[1], minlength=5)
    assert counts.tolist() == [5] * 5
    # The kept ones are the nearest: compare with an untruncated build.
    _, full_index, full_dist = structure_to_arrays(
        srtio3_cubic(), GraphConfig(cutoff_angstrom=8.0, max_neighbors=128)
    )
    for atom in range(5):
        kept = np.sort(dist[edge_index[1] == atom])
        nearest = np.sort(full_dist[full_index[1] == atom])[:5]
        np.testing.assert_allclose(kept, nearest, rtol=1e-6)


def test_truncation_is_deterministic() -> None:
    config = GraphConfig(cutoff_angstrom=7.0, max_neighbors=7)
    first = structure_to_arrays(srtio3_cubic(), config)
    for _ in range(3):
        again = structure_to_arrays(srtio3_cubic(), config)
        for a, b in zip(first, again, strict=True):
            np.testing.assert_array_equal(a, b)


# -- isolated atoms ----------------------------------------------------------------------


def test_isolated_atom_raises_under_error_policy_and_names_the_structure() -> None:
    config = GraphConfig(cutoff_angstrom=6.0, isolated_atom_policy="error")
    with pytest.raises(GraphConstructionError, match="far-8") as info:
        structure_to_arrays(_dimer_and_far_atom(8.0), config, structure_id="far-8")
    message = str(info.value)
    assert "atom(s) 2 (Si)" in message
    assert "'error'" in message
    assert isinstance(info.value, MaterialsAIError)


def test_cutoff_smaller_than_any_distance_raises_under_error_policy() -> None:
    config = GraphConfig(cutoff_angstrom=2.0, isolated_atom_policy="error")
    with pytest.raises(GraphConstructionError, match="si-x"):
        structure_to_arrays(si_diamond(), config, structure_id="si-x")


def test_expand_policy_grows_the_cutoff_until_every_atom_has_a_neighbour() -> None:
    config = GraphConfig(cutoff_angstrom=6.0, expansion_factor=1.5, max_cutoff_angstrom=12.0)
    z, edge_index, dist = structure_to_arrays(_dimer_and_far_atom(8.0), config, "far-8")
    assert z.tolist() == [14, 14, 14]
    counts = np.bincount(edge_index[1], minlength=3)
    assert (counts > 0).all()
    # The far atom's nearest neighbour is the origin atom at 8 Å (found with cutoff 9 Å).
    far_in = edge_index[1] == 2
    assert dist[far_in].min() == pytest.approx(8.0, rel=1e-6)
    assert dist.max() <= 9.0 + 1e-5


def test_expand_policy_uses_the_expanded_cutoff_only_when_needed() -> None:
    config = GraphConfig(cutoff_angstrom=3.0, max_neighbors=12)
    _, _, dist = structure_to_arrays(si_diamond(), config)
    np.testing.assert_allclose(dist, SI_BOND, rtol=1e-6)  # nothing beyond the 3 Å cutoff


def test_expand_policy_raises_when_even_max_cutoff_is_too_small() -> None:
    config = GraphConfig(cutoff_angstrom=6.0, max_cutoff_angstrom=12.0)
    with pytest.raises(GraphConstructionError, match="lonely") as info:
        structure_to_arrays(_lonely_atom(), config, structure_id="lonely")
    assert "'expand'" in str(info.value)
    assert "atom(s) 2 (Si)" in str(info.value)


def test_expand_policy_tries_max_cutoff_itself() -> None:
    # Nearest neighbour of atom 2 at 10 Å: within max_cutoff 12 Å, beyond 6 * 1.5 = 9 Å.
    config = GraphConfig(cutoff_angstrom=6.0, expansion_factor=1.5, max_cutoff_angstrom=12.0)
    _, edge_index, dist = structure_to_arrays(_dimer_and_far_atom(10.0), config, "far-10")
    assert dist[edge_index[1] == 2].min() == pytest.approx(10.0, rel=1e-6)


def test_build_graphs_reports_the_failing_structure_id() -> None:
    structures = [si_diamond(), _lonely_atom(), gaas_zincblende()]
    with pytest.raises(GraphConstructionError, match="'bad-one'"):
        build_graphs(structures, ["si", "bad-one", "gaas"], GraphConfig())


# -- invalid structures ------------------------------------------------------------------


def test_disordered_structure_raises() -> None:
    disordered = Structure(
        Lattice.cubic(5.43),
        [{"Si": 0.5, "Ge": 0.5}, "Si"],
        [[0.0, 0.0, 0.0], [0.25, 0.25, 0.25]],
    )
    with pytest.raises(GraphConstructionError, match=r"'sige'.*disordered"):
        structure_to_arrays(disordered, structure_id="sige")


def test_empty_structure_raises() -> None:
    empty = Structure(Lattice.cubic(4.0), [], [])
    with pytest.raises(GraphConstructionError, match="no sites"):
        structure_to_arrays(empty, structure_id="empty")


# -- whole pools -----------------------------------------------------------------------


def test_build_graphs_matches_per_structure_arrays_in_order() -> None:
    structures = tiny_structures(5)
    ids = [f"s{i}" for i in range(5)]
    graphs = build_graphs(structures, ids, GraphConfig(), chunk_size=2)
    assert graphs.ids == tuple(ids)
    assert graphs.num_atoms.tolist() == [2, 5, 2, 2, 5]
    for i, structure in enumerate(structures):
        z, edge_index, dist = structure_to_arrays(structure)
        sub = graphs.select([i])
        np.testing.assert_array_equal(sub.z, z)
        np.testing.assert_array_equal(sub.edge_index, edge_index)
        np.testing.assert_array_equal(sub.edge_dist, dist)


def test_build_graphs_with_executor_and_chunks_equals_serial() -> None:
    structures = tiny_structures(7)
    ids = [f"s{i}" for i in range(7)]
    serial = build_graphs(structures, ids)
    chunked = build_graphs(structures, ids, executor=SerialExecutor(progress=False), chunk_size=3)
    assert chunked.ids == serial.ids
    for name in ("z", "edge_index", "edge_dist", "node_ptr", "edge_ptr"):
        np.testing.assert_array_equal(getattr(chunked, name), getattr(serial, name))


def test_build_graphs_of_nothing_is_empty() -> None:
    graphs = build_graphs([], [])
    assert len(graphs) == 0
    assert graphs.node_ptr.tolist() == [0]


def test_build_graphs_rejects_mismatched_ids() -> None:
    with pytest.raises(ValueError, match="2 structures but 1 ids"):
        build_graphs([si_diamond(), gaas_zincblende()], ["only-one"])


# -- config ------------------------------------------------------------------------------


def test_config_rejects_unknown_keys_and_inconsistent_cutoffs() -> None:
    with pytest.raises(ValidationError, match="cutof"):
        GraphConfig(cutof=5.0)  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="max_cutoff_angstrom must be >= cutoff"):
        GraphConfig(cutoff_angstrom=8.0, max_cutoff_angstrom=7.0)
    with pytest.raises(ValidationError):
        GraphConfig(isolated_atom_policy="ignore")  # type: ignore[arg-type]


def test_config_fingerprint_is_stable_and_setting_sensitive() -> None:
    assert GraphConfig().fingerprint() == GraphConfig().fingerprint()
    assert len(GraphConfig().fingerprint()) == 12
    assert GraphConfig(cutoff_angstrom=5.0).fingerprint() != GraphConfig().fingerprint()
    assert GraphConfig(max_neighbors=8).fingerprint() != GraphConfig().fingerprint()


def test_fingerprint_without_edge_vectors_is_the_one_caches_were_keyed_by() -> None:
    # Written before ``edge_vectors`` existed: existing graph caches stay valid.
    assert GraphConfig().fingerprint() == "6d83fa42ae2f"
    assert GraphConfig(edge_vectors=True).fingerprint() != GraphConfig().fingerprint()


# -- edge vectors ----------------------------------------------------------------------


def test_edge_vectors_point_from_centre_to_neighbour_image() -> None:
    from materials_ai.graphs.builder import structure_to_graph

    structure = srtio3_cubic()
    (z, edge_index, dist), vectors = structure_to_graph(
        structure, GraphConfig(edge_vectors=True, max_neighbors=12)
    )
    assert vectors is not None and vectors.shape == (edge_index.shape[1], 3)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), dist, rtol=1e-5)
    # Ti (site 1, body centre) has its six O at ±a/2 along each axis.
    ti_edges = edge_index[1] == 1
    oxygen = z[edge_index[0]] == 8
    sel = vectors[ti_edges & oxygen]
    assert len(sel) == 6
    expected = 3.905 / 2 * np.vstack([np.eye(3), -np.eye(3)])

    def _sorted(v: np.ndarray) -> np.ndarray:
        v = np.round(v, 2) + 0.0  # no -0.0
        return v[np.lexsort(v.T[::-1])]

    np.testing.assert_allclose(_sorted(sel), _sorted(expected), atol=0.011)
    # centre + vector lands on a periodic image of the neighbour
    frac = structure.lattice.get_fractional_coords(structure.cart_coords[edge_index[1]] + vectors)
    delta = frac - structure.frac_coords[edge_index[0]]
    np.testing.assert_allclose(delta, np.round(delta), atol=1e-5)


def test_edge_vectors_rotate_with_the_structure_and_keep_the_arrays() -> None:
    from pymatgen.core.operations import SymmOp

    from materials_ai.graphs.builder import structure_to_graph

    # Two complete shells (4 + 12 neighbours): no truncation tie to break.
    config = GraphConfig(edge_vectors=True, cutoff_angstrom=4.3, max_neighbors=32)
    structure = gaas_zincblende()
    rotation = SymmOp.from_axis_angle_and_translation([1, 2, 3], 37.0)
    rotated = structure.copy()
    rotated.apply_operation(rotation)
    (z0, e0, _d0), v0 = structure_to_graph(structure, config)
    (z1, e1, _d1), v1 = structure_to_graph(rotated, config)
    assert v0 is not None and v1 is not None
    assert e0.shape == e1.shape == (2, 2 * 16)
    np.testing.assert_array_equal(z0, z1)
    expected = v0 @ rotation.rotation_matrix.T
    for k in range(e1.shape[1]):  # every rotated edge is a rotated original edge
        same_pair = (e0[0] == e1[0, k]) & (e0[1] == e1[1, k])
        gap = np.linalg.norm(expected[same_pair] - v1[k], axis=1).min()
        assert gap < 1e-4


def test_build_graphs_carries_edge_vectors_only_when_asked() -> None:
    structures = tiny_structures(3)
    ids = ["a", "b", "c"]
    plain = build_graphs(structures, ids, GraphConfig())
    with_vectors = build_graphs(structures, ids, GraphConfig(edge_vectors=True))
    assert plain.edge_vec is None
    assert with_vectors.edge_vec is not None
    assert with_vectors.edge_vec.shape == (with_vectors.edge_index.shape[1], 3)
    np.testing.assert_array_equal(plain.edge_index, with_vectors.edge_index)
    np.testing.assert_allclose(
        np.linalg.norm(with_vectors.edge_vec, axis=1), with_vectors.edge_dist, rtol=1e-5
    )


def test_crystal_graphs_can_skip_and_report_failures() -> None:
    from materials_ai.graphs.builder import crystal_graphs

    structures = [si_diamond(), _lonely_atom(), gaas_zincblende()]
    config = GraphConfig(isolated_atom_policy="error")
    failures: list[tuple[int, str, str]] = []
    graphs = crystal_graphs(structures, ["si", "lonely", "gaas"], config, failures=failures)
    assert graphs.ids == ("si", "gaas")
    assert [(row, sid) for row, sid, _ in failures] == [(1, "lonely")]
    assert "lonely" in failures[0][2]
    with pytest.raises(GraphConstructionError, match="lonely"):
        crystal_graphs(structures, ["si", "lonely", "gaas"], config)
