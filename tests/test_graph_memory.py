"""held_by_graph: the bytes a graph keeps until backward, checked against hand counts."""

from __future__ import annotations

import minialex.functional as F
from minialex import Tensor
from minialex.backend import np
from minialex.graph_memory import held_by_graph, total_bytes


def _conv_relu_pool():
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((2, 3, 4, 4)), requires_grad=True)
    w = Tensor(rng.standard_normal((4, 3, 3, 3)), requires_grad=True)
    return F.max_pool2d(F.relu(F.conv2d(x, w, None, stride=1, padding=1)), 2, 2)


def test_counts_by_hand_for_conv_relu_pool():
    held = held_by_graph(_conv_relu_pool())
    # float64 outputs: conv and relu (2, 4, 4, 4) = 128 values, the pool (2, 4, 2, 2) = 32.
    assert held["max_pool2d"] == {"outputs": 32 * 8, "saved": 0}
    # relu's backward reads its own output: nothing beyond the node.
    assert held["relu"] == {"outputs": 128 * 8, "saved": 0}
    # conv2d keeps the padded batch-last input (3, 6, 6, 2) = 216 values, and not its im2col
    # buffer (27 x 4*4*2 values here): backward takes a new one.
    assert held["conv2d"] == {"outputs": 128 * 8, "saved": 216 * 8}
    assert total_bytes(held) == (32 + 128 + 128 + 216) * 8


def test_views_and_leaves_are_not_counted_again():
    x = Tensor(np.ones((4, 6)), requires_grad=True)
    y = x * 2.0  # 24 float64 values
    z = y.reshape(6, 4).transpose()  # views of y's array
    held = held_by_graph(z.sum())
    assert total_bytes(held) == 24 * 8 + 8  # y once, and the 0-d sum; x is a leaf
