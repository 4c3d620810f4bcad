"""Edge cases of the functional API and the autograd engine: empty and zero-sized inputs,
hostile hyper-parameters (floats and strings where ints belong, infinities, 2**63), odd dtypes.

The contract: every call either computes the result PyTorch computes (for an empty batch:
the empty result) or raises ValueError/TypeError naming the layer; never an internal
exception (ZeroDivisionError, IndexError, OverflowError, AttributeError, NumPy's own errors).
"""

from __future__ import annotations

import random

import pytest
from helpers import import_torch
from hypothesis import example, given
from hypothesis import strategies as st

import minialex.functional as F
from minialex import Tensor, backend

np = backend.np

# ---------------------------------------------------------------- hostile values
HUGE_INTS = st.sampled_from([2**62, 2**63, -(2**63) - 1, 10**30])
ODD_SCALARS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=2), st.booleans(),
    st.none(), HUGE_INTS, st.just(np.float64(2.0)), st.just([1, 2, 3]))


def window_values(low: int = -1, high: int = 4):
    """An int, a pair, or something that is neither (floats in tuples, strings, huge ints)."""
    small = st.integers(low, high)
    element = st.one_of(small, small, ODD_SCALARS)
    return st.one_of(small, st.tuples(small, small), st.tuples(element, element),
                     ODD_SCALARS)


def small_shapes(ndim: int, max_side: int = 4):
    return st.tuples(*[st.integers(0, max_side) for _ in range(ndim)])


def data_tensor(shape, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return Tensor(rng.standard_normal(shape).astype(dtype), requires_grad=True)


def run_or_clean_error(layer: str, fn):
    """fn()'s output, after checking that backward gives finite gradients of the right
    shapes; or None when fn raised ValueError/TypeError naming ``layer``. Any other exception
    fails the test."""
    try:
        out = fn()
    except (ValueError, TypeError) as exc:
        assert layer in str(exc), f"the error does not name {layer}: {exc}"
        return None
    assert isinstance(out, Tensor)
    return out


def backprop(out, inputs):
    if not out.requires_grad:
        return
    weights = np.random.default_rng(1).standard_normal(out.shape)
    for t in inputs:
        t.grad = None
    (out * Tensor(weights.astype(out.dtype))).sum().backward()
    for t in inputs:
        if t.requires_grad:
            assert t.grad is not None and t.grad.shape == t.shape
            assert np.isfinite(t.grad).all()


# ---------------------------------------------------------------- conv and pooling
@example(shape=(0, 3, 5, 5), c_out=4, k=3, stride=1, padding=0, groups=1)  # N = 0
@example(shape=(2, 3, 5, 5), c_out=0, k=3, stride=1, padding=0, groups=1)  # C_out = 0
@example(shape=(1, 1, 5, 5), c_out=1, k=3, stride=(1.9, 1.9), padding=0, groups=1)
@example(shape=(1, 1, 5, 5), c_out=1, k=3, stride=("2", "2"), padding=0, groups=1)
@example(shape=(1, 1, 5, 5), c_out=1, k=3, stride=(float("inf"), 1), padding=0, groups=1)
@example(shape=(1, 1, 5, 5), c_out=1, k=3, stride=10**12, padding=0, groups=1)
@given(shape=small_shapes(4), c_out=st.integers(0, 3), k=st.integers(0, 3),
       stride=window_values(), padding=window_values(), groups=st.one_of(
           st.integers(0, 3), ODD_SCALARS))
def test_conv2d_never_fails_internally(shape, c_out, k, stride, padding, groups):
    x = data_tensor(shape)
    c_in = shape[1] // groups if isinstance(groups, int) and groups > 0 else shape[1]
    w = data_tensor((c_out, c_in, k, k), seed=1)
    out = run_or_clean_error("conv2d", lambda: F.conv2d(x, w, None, stride, padding, groups))
    if out is not None:
        assert out.shape[:2] == (shape[0], c_out)
        backprop(out, [x, w])


@pytest.mark.parametrize("pool", [F.max_pool2d, F.avg_pool2d])
@given(shape=small_shapes(4), kernel=window_values(0, 4), stride=st.one_of(
    st.none(), window_values()), padding=window_values(-1, 2),
       ceil_mode=st.one_of(st.booleans(), ODD_SCALARS))
def test_pooling_never_fails_internally(pool, shape, kernel, stride, padding, ceil_mode):
    x = data_tensor(shape)
    out = run_or_clean_error(pool.__name__, lambda: pool(x, kernel, stride, padding, ceil_mode))
    if out is not None:
        assert out.shape[:2] == shape[:2]
        backprop(out, [x])


@given(shape=small_shapes(4), size=st.one_of(
    st.integers(-1, 6), st.tuples(st.integers(0, 5), st.integers(0, 5)),
    st.tuples(st.none(), st.integers(1, 5)),
    st.sampled_from([1.5, "2", None, (2.0, 2), True, (2, "2"), 10**30, (1, 2, 3)])))
def test_adaptive_avg_pool2d_never_fails_internally(shape, size):
    x = data_tensor(shape)
    out = run_or_clean_error("adaptive_avg_pool2d", lambda: F.adaptive_avg_pool2d(x, size))
    if out is not None:
        assert np.isfinite(out.data).all()  # H = 0 used to give NaN
        backprop(out, [x])


def test_a_stride_beyond_the_input_picks_one_window_without_a_huge_buffer():
    x, w = data_tensor((2, 3, 5, 7)), data_tensor((4, 3, 3, 3), seed=1)
    expected = F.conv2d(x, w, stride=(3, 5)).data  # already a single window per axis
    for stride in (10**12, 2**62, (10**15, 10**9)):
        np.testing.assert_allclose(F.conv2d(x, w, stride=stride).data, expected, rtol=1e-12)


# ---------------------------------------------------------------- norms and dropout
@given(shape=st.one_of(small_shapes(2), small_shapes(3), small_shapes(4), small_shapes(1)),
       stats=st.booleans(), affine=st.booleans(),
       training=st.one_of(st.booleans(), ODD_SCALARS),
       momentum=st.one_of(st.floats(0, 1), ODD_SCALARS),
       eps=st.one_of(st.floats(1e-8, 1e-2), ODD_SCALARS))
def test_batch_norm_never_fails_internally(shape, stats, affine, training, momentum, eps):
    x = data_tensor(shape)
    c = shape[1] if len(shape) > 1 else 1
    mean = Tensor(np.zeros(c)) if stats else None
    var = Tensor(np.ones(c)) if stats else None
    weight, bias = (data_tensor(c, 2), data_tensor(c, 3)) if affine else (None, None)
    out = run_or_clean_error("batch_norm", lambda: F.batch_norm(
        x, mean, var, weight, bias, training, momentum, eps))
    if out is not None:
        assert out.shape == shape
        backprop(out, [x] + ([weight, bias] if affine else []))
        if stats:
            assert np.isfinite(mean.data).all() and np.isfinite(var.data).all()


@given(shape=small_shapes(4), size=st.one_of(st.integers(-1, 7), ODD_SCALARS),
       alpha=st.one_of(st.floats(0, 1), ODD_SCALARS),
       beta=st.one_of(st.floats(0, 1), ODD_SCALARS))
def test_local_response_norm_never_fails_internally(shape, size, alpha, beta):
    x = data_tensor(shape)
    out = run_or_clean_error("local_response_norm",
                             lambda: F.local_response_norm(x, size, alpha, beta))
    if out is not None:
        assert out.shape == shape
        backprop(out, [x])


RNGS = st.sampled_from([None, "x", 3, random.Random(0), np.random.default_rng(0),
                        np.random.RandomState(0)])


@given(shape=small_shapes(3), p=st.one_of(st.floats(0, 1), ODD_SCALARS),
       training=st.one_of(st.booleans(), ODD_SCALARS), rng=RNGS,
       dtype=st.sampled_from([np.float32, np.float64, np.float16, np.int64]))
def test_dropout_never_fails_internally(shape, p, training, rng, dtype):
    x = data_tensor(shape, dtype=dtype) if dtype != np.int64 else Tensor(np.ones(shape, dtype))
    out = run_or_clean_error("dropout", lambda: F.dropout(x, p, training, rng))
    if out is not None:
        assert out.shape == shape and out.dtype == dtype
        backprop(out, [x])


# ---------------------------------------------------------------- linear, softmax, loss
@given(x_shape=st.one_of(small_shapes(1), small_shapes(2), small_shapes(3)),
       out_features=st.integers(0, 3), bias=st.booleans())
def test_linear_handles_zero_sizes(x_shape, out_features, bias):
    x = data_tensor(x_shape)
    w = data_tensor((out_features, x_shape[-1]), seed=1)
    b = data_tensor(out_features, seed=2) if bias else None
    out = run_or_clean_error("linear", lambda: F.linear(x, w, b))
    assert out is not None
    expected = x.data @ w.data.T + (b.data if bias else 0)
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)
    backprop(out, [x, w] + ([b] if bias else []))


@pytest.mark.parametrize("op", [F.softmax, F.log_softmax])
@given(shape=st.one_of(small_shapes(1), small_shapes(2), small_shapes(3)),
       dim=st.one_of(st.integers(-4, 3), ODD_SCALARS))
def test_softmax_never_fails_internally(op, shape, dim):
    x = data_tensor(shape)
    out = run_or_clean_error(op.__name__, lambda: op(x, dim))
    if out is not None:
        assert out.shape == shape
        backprop(out, [x])


@given(n=st.integers(0, 3), classes=st.integers(0, 4),
       target=st.one_of(st.integers(-2, 5), st.floats(0, 3), st.text(max_size=1), st.none()),
       reduction=st.one_of(st.sampled_from(["mean", "sum", "none"]), ODD_SCALARS))
def test_cross_entropy_never_fails_internally(n, classes, target, reduction):
    logits = data_tensor((n, classes))
    labels = np.full(n, target) if target is not None else None
    out = run_or_clean_error("cross_entropy",
                             lambda: F.cross_entropy(logits, labels, reduction))
    if out is not None:
        backprop(out, [logits])


@given(shape=st.one_of(small_shapes(1), small_shapes(3)),
       start=st.one_of(st.integers(-4, 3), ODD_SCALARS),
       end=st.one_of(st.integers(-4, 3), ODD_SCALARS))
def test_flatten_never_fails_internally(shape, start, end):
    x = data_tensor(shape)
    out = run_or_clean_error("flatten", lambda: F.flatten(x, start, end))
    if out is not None:
        assert out.size == x.size
        backprop(out, [x])


@pytest.mark.parametrize("op", [F.relu, F.tanh, F.sigmoid])
@pytest.mark.parametrize("dtype", [np.float16, np.int64, np.bool_, np.complex128])
def test_activations_refuse_other_dtypes(op, dtype):
    with pytest.raises(TypeError, match=rf"{op.__name__}: expected a floating-point input"):
        op(Tensor(np.zeros(3, dtype=dtype)))


# ---------------------------------------------------------------- PyTorch as the oracle
def _torch_twin(torch, name, x, kwargs):
    """The same call in torch (kwargs in our names), or the exception torch raises."""
    tf = torch.nn.functional
    t = torch.from_numpy(x.copy())
    calls = {
        "conv2d": lambda: tf.conv2d(t, torch.from_numpy(kwargs["w"]), stride=kwargs["stride"],
                                    padding=kwargs["padding"]),
        "max_pool2d": lambda: tf.max_pool2d(t, kwargs["k"], kwargs["stride"],
                                            kwargs["padding"]),
        "avg_pool2d": lambda: tf.avg_pool2d(t, kwargs["k"], kwargs["stride"],
                                            kwargs["padding"]),
        "adaptive_avg_pool2d": lambda: tf.adaptive_avg_pool2d(t, kwargs["size"]),
        "batch_norm": lambda: tf.batch_norm(t, torch.zeros(x.shape[1], dtype=t.dtype),
                                            torch.ones(x.shape[1], dtype=t.dtype),
                                            training=False),
        "local_response_norm": lambda: tf.local_response_norm(t, kwargs["size"],
                                                              kwargs["size"] * 1e-4, k=2.0),
        "softmax": lambda: tf.softmax(t, dim=-1),
        "log_softmax": lambda: tf.log_softmax(t, dim=-1),
    }
    try:
        return calls[name]().numpy()
    except RuntimeError as exc:
        return exc


def _ours(name, x, kwargs):
    t = Tensor(x.copy())
    calls = {
        "conv2d": lambda: F.conv2d(t, Tensor(kwargs["w"]), stride=kwargs["stride"],
                                   padding=kwargs["padding"]),
        "max_pool2d": lambda: F.max_pool2d(t, kwargs["k"], kwargs["stride"],
                                           kwargs["padding"]),
        "avg_pool2d": lambda: F.avg_pool2d(t, kwargs["k"], kwargs["stride"],
                                           kwargs["padding"]),
        "adaptive_avg_pool2d": lambda: F.adaptive_avg_pool2d(t, kwargs["size"]),
        "batch_norm": lambda: F.batch_norm(t, Tensor(np.zeros(x.shape[1])),
                                           Tensor(np.ones(x.shape[1])), training=False),
        "local_response_norm": lambda: F.local_response_norm(t, kwargs["size"]),
        "softmax": lambda: F.softmax(t, dim=-1),
        "log_softmax": lambda: F.log_softmax(t, dim=-1),
    }
    try:
        return calls[name]().data
    except ValueError as exc:
        return exc


# Where minialex refuses what torch 2.13 computes: a convolution of an image with no channels
# or no pixels (torch returns a tensor with 0 output channels, whatever the weight says), an
# adaptive average over no pixels of an empty batch.
STRICTER = {"conv2d": lambda shape: 0 in shape[1:],
            "adaptive_avg_pool2d": lambda shape: 0 in shape[2:]}


@pytest.mark.torch
@pytest.mark.parametrize("name", ["conv2d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d",
                                  "batch_norm", "local_response_norm", "softmax",
                                  "log_softmax"])
@given(data=st.data())
def test_zero_sized_inputs_match_torch(name, data):
    torch = import_torch()
    shape = data.draw(small_shapes(4, max_side=3), label="shape")
    k = data.draw(st.integers(1, 3), label="k")
    stride = data.draw(st.integers(1, 3), label="stride")
    kwargs = {"k": k, "stride": stride, "padding": data.draw(st.integers(0, k // 2)),
              "size": data.draw(st.integers(1, 3), label="size")}
    kwargs["w"] = np.random.default_rng(1).standard_normal(
        (data.draw(st.integers(0, 2), label="c_out"), shape[1], k, k))
    x = np.random.default_rng(0).standard_normal(shape)
    ours, theirs = _ours(name, x, kwargs), _torch_twin(torch, name, x, kwargs)
    if isinstance(theirs, Exception):
        assert isinstance(ours, ValueError), f"torch refuses ({theirs}), minialex gave {ours}"
    elif name in STRICTER and STRICTER[name](shape) and isinstance(ours, ValueError):
        pass
    else:
        assert not isinstance(ours, Exception), f"torch computes {theirs.shape}: {ours}"
        assert ours.shape == theirs.shape
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- autograd edge cases
@pytest.mark.torch
@pytest.mark.parametrize("exponent", [0, 1, 2, 3, 0.0, 1.0])
def test_pow_gradient_at_zero_matches_torch(exponent):
    torch = import_torch()
    values = np.array([0.0, -0.0, 1.5, -2.0, 0.0])
    x = Tensor(values.copy(), requires_grad=True)
    (x**exponent).sum().backward()
    t = torch.tensor(values, requires_grad=True)
    (t**exponent).sum().backward()
    np.testing.assert_array_equal(x.grad, t.grad.numpy())


def test_pow_zero_gradient_is_zero_even_where_the_incoming_gradient_is_not():
    x = Tensor(np.zeros(3), requires_grad=True)
    y = x**0 * Tensor(np.array([1.0, np.inf, -5.0]))
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, np.zeros(3))


ZERO_D_OPS = {
    "mul": lambda t: t * t, "add": lambda t: t + t, "div": lambda t: 1.0 / t,
    "sub": lambda t: t - 3.0, "pow": lambda t: t**3, "exp": lambda t: t.exp(),
    "log": lambda t: t.log(), "neg": lambda t: -t, "sum": lambda t: t.sum(),
    "max": lambda t: t.max(), "reshape": lambda t: t.reshape(1), "mean": lambda t: t.mean(),
    "matmul": lambda t: t.reshape(1) @ t.reshape(1), "astype": lambda t: t.astype(np.float32),
    "chain": lambda t: ((t * 2.0).exp() * t).log(),
}


@pytest.mark.parametrize("name", sorted(ZERO_D_OPS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_zero_d_gradients_are_arrays(name, dtype):
    x = Tensor(np.array(1.5, dtype=dtype), requires_grad=True)
    mid = (x * 1.0).retain_grad()
    for _ in range(2):  # the second backward accumulates
        ZERO_D_OPS[name](mid).sum().backward()
    for t in (x, mid):
        assert isinstance(t.grad, np.ndarray), type(t.grad)
        assert t.grad.shape == () and t.grad.dtype == dtype


# ---------------------------------------------------------------- version counter
def _square_input(t):
    return t.reshape(1, 1, 3, 3)


# ops whose backward reads their inputs' (or their output's) values: a changed .data raises
READS_VALUES = {
    "mul": lambda t: t * t, "div": lambda t: 1.0 / t, "pow": lambda t: t**3,
    "log": lambda t: t.log(), "exp": lambda t: t.exp(), "max": lambda t: t.max(),
    "matmul": lambda t: t.reshape(3, 3) @ t.reshape(3, 3), "relu": F.relu, "tanh": F.tanh,
    "sigmoid": F.sigmoid, "softmax": lambda t: F.softmax(t.reshape(3, 3)),
    "linear": lambda t: F.linear(t.reshape(3, 3), t.reshape(3, 3)),
    "conv2d": lambda t: F.conv2d(t.reshape(1, 1, 3, 3), t.reshape(1, 1, 3, 3)),
    "max_pool2d": lambda t: F.max_pool2d(t.reshape(1, 1, 3, 3), 2, 1),
    "cross_entropy": lambda t: F.cross_entropy(t.reshape(3, 3), np.array([0, 1, 2])),
}
# ops whose backward needs only shapes: changing .data afterwards is harmless, as in PyTorch
SHAPES_ONLY = {
    "add": lambda t: t + 1.0, "neg": lambda t: -t, "reshape": lambda t: t.reshape(3, 3),
    "transpose": lambda t: t.reshape(3, 3).T, "sum": lambda t: t.sum(axis=0),
    "getitem": lambda t: t[1:], "astype": lambda t: t.astype(np.float32),
}


def _change(t, how):
    if how == "assign":
        t.data = t.data + 1.0
    elif how == "add in place":
        t.data += 1.0
    else:
        t.data *= 2.0


@given(name=st.sampled_from(sorted(READS_VALUES)),
       how=st.sampled_from(["assign", "add in place", "scale in place"]))
def test_changing_saved_data_before_backward_raises(name, how):
    x = Tensor(np.linspace(0.5, 2.0, 9), requires_grad=True)
    y = READS_VALUES[name](x)
    _change(x, how)
    with pytest.raises(RuntimeError, match=r"had its \.data changed after the forward pass"):
        y.sum().backward()


@given(name=st.sampled_from(sorted(SHAPES_ONLY)),
       how=st.sampled_from(["assign", "add in place", "scale in place"]))
def test_changing_data_an_op_did_not_save_is_allowed(name, how):
    x = Tensor(np.linspace(0.5, 2.0, 9), requires_grad=True)
    y = SHAPES_ONLY[name](x)
    expected = Tensor(np.linspace(0.5, 2.0, 9), requires_grad=True)
    SHAPES_ONLY[name](expected).sum().backward()
    _change(x, how)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, expected.grad)


def test_changing_an_output_its_backward_reads_raises():
    x = Tensor(np.linspace(0.5, 2.0, 9), requires_grad=True)
    y = x.exp()  # exp's backward multiplies by its own output
    y.data *= 2.0
    with pytest.raises(RuntimeError, match="its output had its .data changed"):
        y.sum().backward()


def test_the_training_step_order_never_trips_the_counter():
    # forward, backward, step (which changes every parameter's .data), forward again
    from minialex.optim import SGD

    w = Tensor(np.ones(3), requires_grad=True)
    opt = SGD([w], lr=0.1, momentum=0.9)
    for _ in range(3):
        loss = (w * w).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert w._version == 3
    # but backward through the old graph after the step is refused
    loss = (w * w).sum()
    opt.step()
    with pytest.raises(RuntimeError, match="changed after the forward pass"):
        loss.backward()


@given(view=st.sampled_from(["reshape", "transpose", "slice", "detach"]),
       through=st.sampled_from(["base", "view"]))
def test_a_view_and_its_base_share_one_version(view, through):
    x = Tensor(np.linspace(0.5, 2.0, 9).reshape(3, 3), requires_grad=True)
    v = {"reshape": lambda: x.reshape(9), "transpose": lambda: x.T,
         "slice": lambda: x[1:], "detach": lambda: x.detach()}[view]()
    y = (v * v).sum() if view != "detach" else (x * v).sum()
    if through == "base":
        x.data += 1.0  # the view's values changed with it
    else:
        v.data *= 2.0  # and the other way round
    with pytest.raises(RuntimeError, match="changed after the forward pass"):
        y.backward()
