"""Properties of numerical_gradient, output_size and sgd_momentum.

Oracles: gradients derived by hand, the output sizes minialex's conv2d and max_pool2d
actually produce, AlexNet's published sizes (227 -> 55 -> 27 -> 13 -> 6), ``minialex.optim.SGD``
and two steps of the paper's update rule worked out by hand.
"""

from __future__ import annotations

import numbers
from typing import Any, NamedTuple

from hypothesis import strategies as st

import minialex.functional as F
from minialex.backend import np
from minialex.exercises.helpers import compare, random_arrays, returned_array, returned_tuple
from minialex.exercises.runner import Mismatch, Property
from minialex.nn import Parameter
from minialex.optim import SGD
from minialex.tensor import Tensor, no_grad

__all__ = ["GradientCase", "Layer", "SizeCase", "NetworkCase", "SgdCase", "PROPERTIES"]

_seeds = st.integers(0, 999)


# ---------------------------------------------------------------- numerical_gradient
class GradientCase(NamedTuple):
    shape: tuple[int, ...]
    seed: int = 0

    def __str__(self) -> str:
        return f"x of shape {self.shape}, seed={self.seed}"


gradient_cases = st.builds(GradientCase, st.lists(st.integers(1, 4), min_size=1, max_size=3)
                           .map(tuple), _seeds)
GRADIENT_EXAMPLES = (GradientCase((3, 4), seed=1), GradientCase((5,), seed=2),
                     GradientCase((2, 3, 2), seed=3))
STEP = 1e-4  # passed as h: central differences are off by ~h^2 = 1e-8, one-sided ones by ~h


def _learner_gradient(fns: Any, f: Any, x: Any, function: str = "numerical_gradient") -> Any:
    return returned_array(fns.numerical_gradient(f, x, STEP), function, x.shape)


def gradient_of_elementwise(fns: Any, case: GradientCase) -> float:
    # f(x) = sum(exp(x / 2) + x**3 / 3 + x): df/dx = exp(x / 2) / 2 + x**2 + 1 >= 1, so no
    # element of the gradient is near zero and the relative error is meaningful everywhere.
    (x,) = random_arrays(case.seed, case.shape)
    grad = _learner_gradient(fns, lambda a: float(np.sum(np.exp(a / 2) + a**3 / 3 + a)), x)
    return compare(grad, np.exp(x / 2) / 2 + x**2 + 1)


def gradient_of_log_sum_exp(fns: Any, case: GradientCase) -> float:
    # f(x) = log(sum(exp(x))) couples every element: df/dx = softmax(x).
    (x,) = random_arrays(case.seed, case.shape)
    grad = _learner_gradient(fns, lambda a: float(np.log(np.sum(np.exp(a)))), x)
    e = np.exp(x - x.max())
    return compare(grad, e / e.sum())


def gradient_restores_x(fns: Any, case: GradientCase) -> None:
    (x,) = random_arrays(case.seed, case.shape)
    before = x.copy()
    fns.raw("numerical_gradient")(lambda a: float(np.sum(a**2)), x, STEP)
    if not np.array_equal(x, before):
        changed = int((x != before).sum())
        raise Mismatch(f"x was changed by the call ({changed} of {x.size} elements differ "
                       "afterwards): put every element back after perturbing it")
    return None


# ---------------------------------------------------------------- output_size
class Layer(NamedTuple):
    kernel: int
    stride: int
    padding: int

    def __str__(self) -> str:
        return f"({self.kernel}, {self.stride}, {self.padding})"


class SizeCase(NamedTuple):
    n: int
    kernel: int
    stride: int
    padding: int

    def __str__(self) -> str:
        return f"n={self.n}, kernel={self.kernel}, stride={self.stride}, padding={self.padding}"


class NetworkCase(NamedTuple):
    n: int
    layers: tuple[Layer, ...]
    expected: tuple[int, ...] | None = None  # published sizes, when the case has them

    def __str__(self) -> str:
        return f"n={self.n}, layers=[{', '.join(str(layer) for layer in self.layers)}]"


def _measured_size(n: int, layer: Layer) -> int:
    """The height minialex's conv2d gives an n x 1 input (so the size is measured, not
    computed by a formula shared with the learner)."""
    with no_grad():
        out = F.conv2d(Tensor(np.zeros((1, 1, n, 1))), Tensor(np.zeros((1, 1, layer.kernel, 1))),
                       stride=(layer.stride, 1), padding=(layer.padding, 0))
    return out.shape[2]


@st.composite
def size_cases(draw: Any) -> SizeCase:
    kernel, stride, padding = (draw(st.integers(1, 11)), draw(st.integers(1, 5)),
                               draw(st.integers(0, 3)))
    return SizeCase(draw(st.integers(max(1, kernel - 2 * padding), 300)), kernel, stride,
                    padding)


def _whole(value: Any, function: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise Mismatch(f"{function} returned {value!r} ({type(value).__name__}); sizes are "
                       "whole numbers of pixels: floor with // ")
    return int(value)


def size_matches_conv2d(fns: Any, case: SizeCase) -> float:
    got = _whole(fns.conv_output_size(case.n, case.kernel, case.stride, case.padding),
                 "conv_output_size")
    expected = _measured_size(case.n, Layer(case.kernel, case.stride, case.padding))
    if got != expected:
        raise Mismatch(f"conv_output_size gave {got}, minialex's conv2d gives {expected}",
                       compare(got, expected))
    return 0.0


@st.composite
def network_cases(draw: Any) -> NetworkCase:
    """Layer lists that fit: each layer's padded input holds its kernel."""
    n = size = draw(st.integers(5, 80))
    layers = []
    for _ in range(draw(st.integers(1, 5))):
        padding = draw(st.integers(0, 2))
        kernel = draw(st.integers(1, min(11, size + 2 * padding)))
        layer = Layer(kernel, draw(st.integers(1, 4)), padding)
        layers.append(layer)
        size = _measured_size(size, layer)
    return NetworkCase(n, tuple(layers))


def _learner_sizes(fns: Any, case: NetworkCase) -> list[int]:
    sizes = fns.network_output_sizes(case.n, [tuple(layer) for layer in case.layers])
    if not isinstance(sizes, (list, tuple)) or len(sizes) != len(case.layers) + 1:
        raise Mismatch(f"network_output_sizes should return {len(case.layers) + 1} sizes (the "
                       f"input's, then one per layer), got {sizes!r}")
    return [_whole(s, "network_output_sizes") for s in sizes]


def network_sizes_match(fns: Any, case: NetworkCase) -> float:
    got = _learner_sizes(fns, case)
    expected = [case.n]
    for layer in case.layers:
        expected.append(_measured_size(expected[-1], layer))
    if case.expected is not None and tuple(expected) != case.expected:  # the oracle itself
        raise AssertionError(f"minialex's layers give {expected}, published {case.expected}")
    if got != expected:
        raise Mismatch(f"network_output_sizes gave {got}, expected {expected}",
                       compare(got, expected))
    return 0.0


def network_rejects_misfit(fns: Any, case: NetworkCase) -> None:
    try:
        sizes = fns.network_output_sizes(case.n, [tuple(layer) for layer in case.layers])
    except Exception as exc:  # the guarded call wraps the learner's exception
        if isinstance(exc.__cause__, ValueError):
            return None
        raise
    raise Mismatch(f"network_output_sizes returned {sizes!r}, but the last layer's kernel "
                   "does not fit in its padded input: raise ValueError naming the layer")


# AlexNet (Krizhevsky et al. 2012, the layer sizes of its architecture figure, with the
# 227-pixel input that makes them integers): conv1 11/4, pool 3/2, conv2 5/1 pad 2, pool 3/2,
# conv3-5 3/1 pad 1, pool 3/2. With 224 conv1 gives floor(53.25) + 1 = 54 and all else shifts.
ALEXNET = (Layer(11, 4, 0), Layer(3, 2, 0), Layer(5, 1, 2), Layer(3, 2, 0), Layer(3, 1, 1),
           Layer(3, 1, 1), Layer(3, 1, 1), Layer(3, 2, 0))
NETWORK_EXAMPLES = (
    NetworkCase(227, ALEXNET, expected=(227, 55, 27, 27, 13, 13, 13, 13, 6)),
    NetworkCase(224, ALEXNET, expected=(224, 54, 26, 26, 12, 12, 12, 12, 5)),
)
# Dutta's Keras AlexNet as its code is written (conv2 11x11 valid, 3x3/2 pooling) on 224:
# 224 -> 54 -> 26 -> 16 -> 7 -> 5 -> 3 -> 1, and pool5's 3x3 window meets a 1x1 map.
KERAS_BN_3X3 = NetworkCase(224, (Layer(11, 4, 0), Layer(3, 2, 0), Layer(11, 1, 0), Layer(3, 2, 0),
                                 Layer(3, 1, 0), Layer(3, 1, 0), Layer(3, 1, 0), Layer(3, 2, 0)))
SIZE_EXAMPLES = (SizeCase(227, 11, 4, 0), SizeCase(224, 11, 4, 0), SizeCase(13, 3, 2, 0),
                 SizeCase(27, 5, 1, 2))


@st.composite
def misfit_cases(draw: Any) -> NetworkCase:
    fitting = draw(network_cases())
    size = fitting.n
    for layer in fitting.layers:
        size = _measured_size(size, layer)
    padding = draw(st.integers(0, 2))
    too_big = Layer(size + 2 * padding + draw(st.integers(1, 3)), 1, padding)
    return NetworkCase(fitting.n, fitting.layers + (too_big,))


# ---------------------------------------------------------------- sgd_momentum
class SgdCase(NamedTuple):
    shape: tuple[int, ...]
    steps: int
    lr: float
    momentum: float
    weight_decay: float
    seed: int = 0

    def __str__(self) -> str:
        return (f"w of shape {self.shape}, {self.steps} step(s), lr={self.lr:g}, "
                f"momentum={self.momentum:g}, weight_decay={self.weight_decay:g}, "
                f"seed={self.seed}")


sgd_cases = st.builds(
    SgdCase, st.lists(st.integers(1, 4), min_size=1, max_size=2).map(tuple),
    st.integers(1, 4), st.sampled_from((0.01, 0.1, 0.001)), st.sampled_from((0.9, 0.0, 0.5)),
    st.sampled_from((0.0005, 0.0, 0.01, 0.1)), _seeds)
SGD_EXAMPLES = (SgdCase((3, 4), 3, 0.01, 0.9, 0.0005, seed=1),  # the paper's hyper-parameters
                SgdCase((5,), 2, 0.1, 0.5, 0.1, seed=2))


def sgd_matches_minialex(fns: Any, case: SgdCase) -> float:
    rng = np.random.default_rng(case.seed)
    w = rng.standard_normal(case.shape)
    grads = rng.standard_normal((case.steps, *case.shape))
    param = Parameter(w.copy())
    opt = SGD([param], lr=case.lr, momentum=case.momentum, weight_decay=case.weight_decay)
    ours, v = w.copy(), np.zeros(case.shape)
    for step, g in enumerate(grads, 1):
        param.grad = g.copy()
        opt.step()
        ours, v = returned_tuple(fns.sgd_momentum_step(ours, g, v, case.lr, case.momentum,
                                                       case.weight_decay),
                                 "sgd_momentum_step", ("w", "v"))
        ours = returned_array(ours, "sgd_momentum_step's w", case.shape)
        v = returned_array(v, "sgd_momentum_step's v", case.shape)
        err = compare(ours, param.data)
        if err > 1e-10:
            raise Mismatch(f"w after step {step}: rel_error {err:.2e} against minialex.optim.SGD",
                           err)
    return compare(ours, param.data)


def sgd_by_hand(fns: Any, case: Any) -> float:
    # w = 1, dL/dw = 0.5, lr 0.01, momentum 0.9, weight decay 0.0005, v = 0:
    #   v1 = -0.0005 * 0.01 * 1 - 0.01 * 0.5 = -0.005005,  w1 = 0.994995
    #   v2 = 0.9 * v1 - 0.0005 * 0.01 * 0.994995 - 0.005 = -0.009509474975
    #   w2 = 0.994995 - 0.009509474975 = 0.985485525025
    w, v, g = np.ones(1), np.zeros(1), np.full(1, 0.5)
    expected = ((0.994995, -0.005005), (0.985485525025, -0.009509474975))
    for step, (w_hand, v_hand) in enumerate(expected, 1):
        w, v = returned_tuple(fns.sgd_momentum_step(w, g, v, 0.01, 0.9, 0.0005),
                              "sgd_momentum_step", ("w", "v"))
        w, v = returned_array(w, "w", (1,)), returned_array(v, "v", (1,))
        err = max(compare(w, w_hand), compare(v, v_hand))
        if err > 1e-12:
            raise Mismatch(f"step {step}: w = {float(w[0]):.12g}, v = {float(v[0]):.12g}; by "
                           f"hand w = {w_hand:.12g}, v = {v_hand:.12g}", err)
    return 0.0


class _HandCase(NamedTuple):
    def __str__(self) -> str:
        return ("w = 1, dL/dw = 0.5, v = 0, lr = 0.01, momentum = 0.9, weight_decay = 0.0005, "
                "two steps")


PROPERTIES: dict[str, tuple[Property, ...]] = {
    "numerical_gradient": (
        Property("matches the hand-derived gradient of sum(exp(x/2) + x**3/3 + x)",
                 gradient_of_elementwise, GRADIENT_EXAMPLES, gradient_cases, tolerance=1e-6),
        Property("matches softmax(x), the gradient of log(sum(exp(x)))",
                 gradient_of_log_sum_exp, GRADIENT_EXAMPLES, gradient_cases, tolerance=1e-6),
        Property("leaves x as it found it", gradient_restores_x, GRADIENT_EXAMPLES,
                 gradient_cases, max_examples=10),
    ),
    "output_size": (
        Property("conv_output_size is the size minialex.functional.conv2d produces",
                 size_matches_conv2d, SIZE_EXAMPLES, size_cases(), max_examples=40),
        Property("network_output_sizes gives AlexNet's 227 -> 55 -> 27 -> 13 -> 6 (and 224's)",
                 network_sizes_match, NETWORK_EXAMPLES),
        Property("network_output_sizes matches minialex's layers on drawn networks",
                 network_sizes_match, NETWORK_EXAMPLES[:1], network_cases()),
        Property("network_output_sizes raises ValueError when a kernel does not fit",
                 network_rejects_misfit,
                 (NetworkCase(5, (Layer(3, 1, 0), Layer(5, 1, 0))), KERAS_BN_3X3),
                 misfit_cases(), max_examples=10),
    ),
    "sgd_momentum": (
        Property("two steps of the paper's rule, worked out by hand", sgd_by_hand,
                 (_HandCase(),)),
        Property("matches minialex.optim.SGD step after step", sgd_matches_minialex,
                 SGD_EXAMPLES, sgd_cases, tolerance=1e-10),
    ),
}
