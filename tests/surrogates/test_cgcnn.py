"""The CGCNN network: distance expansion, the factorised gated convolution, readout."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_geometric.nn import CGConv

from materials_ai.graphs import GraphConfig, build_graphs
from materials_ai.graphs.features import element_feature_table
from materials_ai.surrogates.cgcnn import CGCNN, GatedConv, GaussianDistanceExpansion
from materials_ai.testing.datasets import tiny_structures
from materials_ai.testing.models import TINY_CGCNN

DIM, EDGE_DIM = 6, 5


def test_gaussian_expansion_closed_form() -> None:
    expansion = GaussianDistanceExpansion(cutoff_angstrom=4.0, n_gaussians=5)  # mu 0..4, w 1
    np.testing.assert_allclose(expansion.centers.numpy(), [0, 1, 2, 3, 4])
    assert expansion.width == pytest.approx(1.0)
    out = expansion(torch.tensor([1.0, 2.5]))
    assert out.shape == (2, 5)
    expected = np.exp(-((np.array([[1.0], [2.5]]) - np.arange(5.0)[None]) ** 2))
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6)
    assert out[0].argmax() == 1


def _random_graph(n_nodes: int = 7, n_edges: int = 20, seed: int = 0):  # type: ignore[no-untyped-def]
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n_nodes, DIM, generator=g, dtype=torch.float64)
    edge_index = torch.randint(0, n_nodes, (2, n_edges), generator=g)
    edge_index[1, :n_nodes] = torch.arange(n_nodes)  # every node receives a message
    edge_attr = torch.rand(n_edges, EDGE_DIM, generator=g, dtype=torch.float64)
    return x, edge_index, edge_attr


def _copy_cgconv_into_gated(ref: CGConv, conv: GatedConv) -> None:
    """Map CGConv's ``lin_f``/``lin_s`` on ``[x_i, x_j, e_ij]`` to the factorised blocks.

    CGConv (flow source -> target) concatenates the target's features ``x_i`` (columns
    ``:dim``), the source's ``x_j`` (``dim:2 dim``) and the edge's (``2 dim:``); GatedConv
    splits its output into the gate (first ``dim`` rows, CGConv's ``lin_f``) and the core
    (last ``dim`` rows, ``lin_s``).
    """
    wf, ws = ref.lin_f.weight, ref.lin_s.weight
    with torch.no_grad():
        conv.target_linear.weight.copy_(torch.cat([wf[:, :DIM], ws[:, :DIM]]))
        conv.source_linear.weight.copy_(torch.cat([wf[:, DIM : 2 * DIM], ws[:, DIM : 2 * DIM]]))
        conv.edge_linear.weight.copy_(torch.cat([wf[:, 2 * DIM :], ws[:, 2 * DIM :]]))
        conv.edge_linear.bias.copy_(torch.cat([ref.lin_f.bias, ref.lin_s.bias]))
        conv.norm.load_state_dict(ref.bn.state_dict())


@pytest.mark.parametrize("train_mode", [False, True])
def test_gated_conv_equals_torch_geometric_cgconv(train_mode: bool) -> None:
    torch.manual_seed(1)
    ref = CGConv(DIM, dim=EDGE_DIM, aggr="mean", batch_norm=True).double()
    conv = GatedConv(DIM, EDGE_DIM).double()
    with torch.no_grad():  # non-trivial BN statistics and affine parameters
        ref.bn.running_mean.uniform_(-1.0, 1.0)
        ref.bn.running_var.uniform_(0.5, 2.0)
        ref.bn.weight.uniform_(0.5, 1.5)
        ref.bn.bias.uniform_(-0.5, 0.5)
    _copy_cgconv_into_gated(ref, conv)
    ref.train(train_mode)
    conv.train(train_mode)
    x, edge_index, edge_attr = _random_graph()
    expected = ref(x, edge_index, edge_attr)
    got = conv(x, edge_index, edge_attr)
    assert got.shape == (7, DIM)
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-10)
    # And the output really depends on the messages (not only the residual).
    assert not torch.allclose(got, x)


def test_gated_conv_with_swapped_blocks_differs_from_cgconv() -> None:
    """Guards the mapping above: mixing up target and source blocks is detected."""
    torch.manual_seed(2)
    ref = CGConv(DIM, dim=EDGE_DIM, aggr="mean", batch_norm=True).double().eval()
    conv = GatedConv(DIM, EDGE_DIM).double().eval()
    _copy_cgconv_into_gated(ref, conv)
    with torch.no_grad():
        w_target = conv.target_linear.weight.clone()
        conv.target_linear.weight.copy_(conv.source_linear.weight)
        conv.source_linear.weight.copy_(w_target)
    x, edge_index, edge_attr = _random_graph(seed=3)
    assert not torch.allclose(conv(x, edge_index, edge_attr), ref(x, edge_index, edge_attr))


def test_gated_conv_gives_a_node_without_messages_only_its_residual_and_bn_shift() -> None:
    conv = GatedConv(DIM, EDGE_DIM).double().eval()
    x, _, _ = _random_graph()
    edge_index = torch.tensor([[0, 1], [1, 0]])
    edge_attr = torch.rand(2, EDGE_DIM, dtype=torch.float64)
    out = conv(x, edge_index, edge_attr)
    # Nodes 2.. get mean aggregation 0; eval BN of 0 with default stats is 0.
    torch.testing.assert_close(out[2:], x[2:])
    assert not torch.allclose(out[:2], x[:2])


@pytest.fixture(scope="module")
def graphs():  # type: ignore[no-untyped-def]
    return build_graphs(tiny_structures(5), [f"s{i}" for i in range(5)], GraphConfig())


def test_cgcnn_output_shape_and_batch_independence(graphs) -> None:  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    model = CGCNN(TINY_CGCNN, n_targets=3, cutoff_angstrom=6.0).eval()
    with torch.no_grad():
        together = model(graphs.to_batch([0, 1, 2, 3, 4]))
        alone = torch.cat([model(graphs.to_batch([i])) for i in range(5)])
        reordered = model(graphs.to_batch([4, 2, 0]))
    assert together.shape == (5, 3)
    torch.testing.assert_close(together, alone, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(reordered, together[[4, 2, 0]], rtol=1e-5, atol=1e-6)
    # Si, SrTiO3 and GaAs are different materials: different outputs.
    assert not torch.allclose(together[0], together[1])
    assert not torch.allclose(together[0], together[2])


def test_cgcnn_predict_applies_the_target_standardisation(graphs) -> None:  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    model = CGCNN(TINY_CGCNN, n_targets=2, cutoff_angstrom=6.0).eval()
    model.y_mean.copy_(torch.tensor([1.0, -2.0]))
    model.y_std.copy_(torch.tensor([3.0, 0.5]))
    batch = graphs.to_batch([0, 1])
    with torch.no_grad():
        torch.testing.assert_close(
            model.predict(batch), model(batch) * torch.tensor([3.0, 0.5]) + torch.tensor([1, -2.0])
        )


def test_cgcnn_rejects_atomic_numbers_above_the_table(graphs) -> None:  # type: ignore[no-untyped-def]
    model = CGCNN(TINY_CGCNN, n_targets=1, cutoff_angstrom=6.0)
    batch = graphs.to_batch([0])
    batch.z = torch.tensor([14, 101])
    with pytest.raises(ValueError, match="atomic number 101"):
        model(batch)


def test_cgcnn_uses_the_element_descriptors() -> None:
    model = CGCNN(TINY_CGCNN, n_targets=1, cutoff_angstrom=6.0)
    np.testing.assert_array_equal(model.element_features.numpy(), element_feature_table())
    assert model.embedding.num_embeddings == 101
    assert model.descriptor_projection.in_features == 11


def test_loading_a_state_does_not_change_the_shared_element_table() -> None:
    before = element_feature_table().copy()
    model = CGCNN(TINY_CGCNN, n_targets=1, cutoff_angstrom=6.0)
    other = CGCNN(TINY_CGCNN, n_targets=1, cutoff_angstrom=6.0)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    state["element_features"] = state["element_features"] + 1.0
    model.load_state_dict(state)
    np.testing.assert_array_equal(element_feature_table(), before)
    np.testing.assert_array_equal(other.element_features.numpy(), before)
    assert not element_feature_table().flags.writeable
