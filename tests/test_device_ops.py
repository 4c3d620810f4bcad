"""Every Tensor op and functional op on the device, forward and backward, float32 and float64.

cupy-marked: on a GPU with CuPy, or on a CPU with ``MINIALEX_BACKEND=cupy-emulator``. Each case
runs the op on host tensors and on device tensors made from the same values and checks that
the device result and every device gradient (a) stay on the device in the input's dtype and
(b) equal the host ones (the host ops are checked against PyTorch and finite differences
elsewhere). Float64 gradchecks on the device add finite differences as a direct oracle.
"""

from __future__ import annotations

import pytest
from helpers import array_module, assert_close_scaled, requires_cupy

import minialex
import minialex.functional as F
from minialex import Tensor, backend

np = backend.np
pytestmark = [pytest.mark.cupy, requires_cupy]
DTYPES = [pytest.param(np.float32, id="f32"), pytest.param(np.float64, id="f64")]
TOL = {np.float32: 3e-5, np.float64: 1e-12}


def _values(shape, seed, kind="normal"):
    """Distinct values (no ties for max, no kinks at 0 for relu), positive for log/div."""
    rng = np.random.default_rng(seed)
    if kind == "positive":
        return rng.uniform(0.5, 2.0, shape)
    if kind == "distinct":
        n = int(np.prod(shape))
        return (rng.permutation(n).reshape(shape) - n / 2) / n * 4 + 0.01
    v = rng.standard_normal(shape)
    return np.where(np.abs(v) < 0.05, 0.3, v)


def run_on_both(fn, arrays, dtype, requires_grad=True, seed=1, tol=None):
    """fn(*host tensors) vs fn(*device tensors): output and every input gradient."""
    tol = TOL[dtype] if tol is None else tol
    host = [Tensor(np.asarray(a, dtype=dtype), requires_grad=requires_grad) for a in arrays]
    device = [Tensor(backend.to_device(np.asarray(a, dtype=dtype), "gpu"),
                     requires_grad=requires_grad) for a in arrays]
    out_h, out_d = fn(*host), fn(*device)
    assert out_d.device == "gpu" and out_d.dtype == out_h.dtype
    assert_close_scaled(out_d.numpy(), out_h.data, tol)
    if not requires_grad:
        return out_d
    weights = np.random.default_rng(seed).standard_normal(out_h.shape).astype(out_h.dtype)
    (out_h * Tensor(weights)).sum().backward()
    (out_d * Tensor(backend.to_device(weights, "gpu"))).sum().backward()
    for k, (th, td) in enumerate(zip(host, device, strict=True)):
        assert (th.grad is None) == (td.grad is None), f"input {k}"
        if th.grad is not None:
            assert backend.device_of(td.grad) == "gpu" and td.grad.dtype == dtype, f"input {k}"
            assert_close_scaled(backend.to_host(td.grad), th.grad, tol)
    return out_d


# ------------------------------------------------------------------ Tensor ops
TENSOR_OPS = {
    "add-broadcast": (lambda a, b: a + b, [(3, 4), (4,)], "normal"),
    "sub-column": (lambda a, b: a - b, [(3, 4), (3, 1)], "normal"),
    "mul-broadcast": (lambda a, b: a * b, [(2, 3, 4), (3, 1)], "normal"),
    "div": (lambda a, b: a / b, [(3, 4), (3, 4)], "positive"),
    "pow-3": (lambda a: a ** 3, [(5,)], "normal"),
    "pow-half": (lambda a: a ** 0.5, [(2, 3)], "positive"),
    "neg": (lambda a: -a, [(2, 3)], "normal"),
    "scalar-left": (lambda a: 2.0 - a * 1.5 + 3, [(4,)], "normal"),
    "rtruediv": (lambda a: 3.0 / a, [(4,)], "positive"),
    "matmul-2d": (lambda a, b: a @ b, [(3, 4), (4, 5)], "normal"),
    "matmul-vec-mat": (lambda a, b: a @ b, [(4,), (4, 5)], "normal"),
    "matmul-mat-vec": (lambda a, b: a @ b, [(3, 4), (4,)], "normal"),
    "matmul-batched-broadcast": (lambda a, b: a @ b, [(2, 3, 4), (4, 5)], "normal"),
    "matmul-batched": (lambda a, b: a @ b, [(2, 3, 4), (2, 4, 2)], "normal"),
    "sum-all": (lambda a: a.sum(), [(2, 3, 4)], "normal"),
    "sum-axis": (lambda a: a.sum(axis=1), [(2, 3, 4)], "normal"),
    "sum-axes-keepdims": (lambda a: a.sum(axis=(0, 2), keepdims=True), [(2, 3, 4)], "normal"),
    "mean-last": (lambda a: a.mean(axis=-1), [(2, 3, 4)], "normal"),
    "mean-all": (lambda a: a.mean(), [(3, 4)], "normal"),
    "max-axis": (lambda a: a.max(axis=1), [(3, 5)], "distinct"),
    "max-all": (lambda a: a.max(), [(3, 5)], "distinct"),
    "max-keepdims": (lambda a: a.max(axis=0, keepdims=True), [(3, 5)], "distinct"),
    "reshape": (lambda a: a.reshape(6, 4), [(2, 3, 4)], "normal"),
    "transpose": (lambda a: a.transpose(1, 0, 2), [(2, 3, 4)], "normal"),
    "T": (lambda a: a.T, [(2, 3)], "normal"),
    "slice": (lambda a: a[1:, ::2], [(3, 4)], "normal"),
    "int-index": (lambda a: a[1], [(3, 4)], "normal"),
    "fancy-repeated": (lambda a: a[[0, 0, 2]], [(3, 4)], "normal"),
    "fancy-pairs": (lambda a: a[np.array([0, 2, 2]), np.array([1, 1, 3])], [(3, 4)], "normal"),
    "exp": (lambda a: a.exp(), [(3, 4)], "normal"),
    "log": (lambda a: a.log(), [(3, 4)], "positive"),
    "chain": (lambda a, b: ((a * b + a) / 2).exp().sum(axis=0), [(3, 4), (3, 4)], "normal"),
    "shared-input": (lambda a: a * a + a, [(5,)], "normal"),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(TENSOR_OPS))
def test_tensor_op_on_device(name, dtype):
    fn, shapes, kind = TENSOR_OPS[name]
    run_on_both(fn, [_values(s, k, kind) for k, s in enumerate(shapes)], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_index_with_a_device_tensor_and_a_mask(dtype):
    def pick(a):  # an index Tensor on a's own device (NumPy cannot read a device index)
        return a[Tensor(backend.to_device(np.array([2, 0, 2]), a.device))]
    run_on_both(pick, [_values((3, 4), 0)], dtype)
    run_on_both(lambda a: a[a.data > 0], [_values((3, 4), 1)], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_astype_detach_and_to_on_device(dtype):
    other = np.float64 if dtype == np.float32 else np.float32
    out = run_on_both(lambda a: a.astype(other) * 2, [_values((3,), 0)], dtype, tol=3e-5)
    assert out.dtype == other
    x = Tensor(backend.to_device(_values((3,), 1).astype(dtype), "gpu"), requires_grad=True)
    assert x.detach().device == "gpu" and not x.detach().requires_grad
    back = x.to("cpu")
    (back * 3).sum().backward()
    assert back.device == "cpu" and x.grad.dtype == dtype and backend.device_of(x.grad) == "gpu"
    np.testing.assert_array_equal(backend.to_host(x.grad), 3)


@pytest.mark.parametrize("dtype", DTYPES)
def test_minialex_tensor_copies_on_the_device(dtype):
    xp = array_module("cupy")
    a = xp.asarray(np.arange(3.0, dtype=dtype))
    t = minialex.tensor(a, requires_grad=True)
    a[0] = 7.0
    assert t.device == "gpu" and t.dtype == dtype and t.numpy().tolist() == [0.0, 1.0, 2.0]


# ------------------------------------------------------------------ functional ops
FUNCTIONAL = {
    "relu": (F.relu, [(2, 3, 4)], "normal"),
    "tanh": (F.tanh, [(2, 3, 4)], "normal"),
    "sigmoid": (F.sigmoid, [(2, 3, 4)], "normal"),
    "softmax-last": (lambda x: F.softmax(x, dim=-1), [(3, 5)], "normal"),
    "softmax-0": (lambda x: F.softmax(x, dim=0), [(3, 5)], "normal"),
    "log_softmax": (lambda x: F.log_softmax(x, dim=1), [(3, 5)], "normal"),
    "linear": (F.linear, [(4, 6), (3, 6), (3,)], "normal"),
    "linear-no-bias": (F.linear, [(4, 6), (3, 6)], "normal"),
    "linear-3d": (F.linear, [(2, 4, 6), (3, 6), (3,)], "normal"),
    "flatten": (F.flatten, [(2, 3, 2, 2)], "normal"),
    "max_pool-3-2": (lambda x: F.max_pool2d(x, 3, 2), [(2, 3, 9, 9)], "distinct"),
    "max_pool-2": (lambda x: F.max_pool2d(x, 2), [(2, 3, 8, 8)], "distinct"),
    "max_pool-pad-ceil": (lambda x: F.max_pool2d(x, 3, 2, padding=1, ceil_mode=True),
                          [(1, 2, 8, 8)], "distinct"),
    "avg_pool-3-2": (lambda x: F.avg_pool2d(x, 3, 2), [(2, 3, 9, 9)], "normal"),
    "avg_pool-pad-ceil": (lambda x: F.avg_pool2d(x, 3, 2, padding=1, ceil_mode=True),
                          [(1, 2, 8, 8)], "normal"),
    "adaptive-identity": (lambda x: F.adaptive_avg_pool2d(x, 6), [(1, 2, 6, 6)], "normal"),
    "adaptive-blocks": (lambda x: F.adaptive_avg_pool2d(x, (2, 3)), [(2, 2, 6, 6)], "normal"),
    "adaptive-general": (lambda x: F.adaptive_avg_pool2d(x, (4, 5)), [(1, 2, 7, 9)],
                         "normal"),
    "lrn-paper": (F.local_response_norm, [(2, 7, 3, 3)], "normal"),
    "lrn-even-strong": (lambda x: F.local_response_norm(x, 2, alpha=0.5, beta=0.75, k=1.0),
                        [(2, 4, 3, 3)], "normal"),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(FUNCTIONAL))
def test_functional_op_on_device(name, dtype):
    fn, shapes, kind = FUNCTIONAL[name]
    run_on_both(fn, [_values(s, k, kind) for k, s in enumerate(shapes)], dtype)


# conv2d: (x shape, w shape, stride, padding, groups, bias) chosen so that a mistake in the
# column order, the stride arithmetic, the padding or the group slicing changes the numbers.
CONV_CASES = {
    "3x3": ((2, 3, 6, 6), (4, 3, 3, 3), 1, 0, 1, True),
    "stride2-pad1": ((2, 3, 7, 7), (4, 3, 3, 3), 2, 1, 1, True),
    "groups2": ((2, 4, 6, 6), (6, 2, 3, 3), 1, 1, 2, True),
    "groups2-stride2-nobias": ((1, 4, 7, 7), (4, 2, 3, 3), 2, 0, 2, False),
    "5x5-stride3-pad2": ((2, 2, 9, 9), (3, 2, 5, 5), 3, 2, 1, True),
    "rect-stride-pad": ((1, 2, 7, 8), (3, 2, 3, 2), (2, 1), (1, 0), 1, True),
    "1x1": ((2, 5, 4, 4), (3, 5, 1, 1), 1, 0, 1, True),
    "alexnet-conv1-like": ((1, 3, 23, 23), (4, 3, 11, 11), 4, 0, 1, True),
    "groups3-depth": ((1, 3, 5, 5), (3, 1, 3, 3), 1, 1, 3, True),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", list(CONV_CASES))
def test_conv2d_dx_dw_db_on_device(case, dtype):
    xs, ws, stride, padding, groups, bias = CONV_CASES[case]
    arrays = [_values(xs, 0), _values(ws, 1) * 0.3] + ([_values((ws[0],), 2)] if bias else [])

    def conv(x, w, b=None):
        return F.conv2d(x, w, b, stride=stride, padding=padding, groups=groups)
    run_on_both(conv, arrays, dtype, tol=1e-4 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("shape", [(6, 3), (3, 2, 4, 4)], ids=["2d", "4d"])
def test_batch_norm_on_device(shape, training, dtype):
    c = shape[1]

    def bn(x, w, b):
        xp = backend.get_array_module(x.data)  # running statistics on x's device
        mean, var = Tensor(xp.full(c, 0.1, dtype=dtype)), Tensor(xp.full(c, 1.5, dtype=dtype))
        out = F.batch_norm(x, mean, var, w, b, training=training, momentum=0.3)
        out.running = (mean, var)
        return out
    out = run_on_both(bn, [_values(shape, 0) * 2 + 1, _values((c,), 1), _values((c,), 2)],
                      dtype, tol=1e-4 if dtype == np.float32 else 1e-10)
    mean, var = out.running
    assert mean.device == var.device == "gpu" and mean.dtype == dtype


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("target_on", ["gpu", "cpu", "tensor"])
def test_cross_entropy_on_device(reduction, target_on, dtype):
    labels = np.array([2, 0, 1, 2, 4])
    target = {"gpu": backend.to_device(labels, "gpu"), "cpu": labels,
              "tensor": Tensor(backend.to_device(labels, "gpu"))}[target_on]

    def loss(logits):
        t = labels if logits.device == "cpu" else target
        return F.cross_entropy(logits, t, reduction=reduction)
    run_on_both(loss, [_values((5, 6), 0) * 3], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_on_device_masks_forward_and_backward_alike(dtype):
    xp = array_module("cupy")
    x = Tensor(xp.ones((200, 50), dtype=dtype), requires_grad=True)
    out = F.dropout(x, p=0.5, training=True)
    assert out.device == "gpu" and out.dtype == dtype
    kept = backend.to_host(out.data) != 0
    assert 0.45 < kept.mean() < 0.55  # 10,000 draws: 10 standard deviations wide
    np.testing.assert_array_equal(backend.to_host(out.data)[kept], 2.0)
    out.sum().backward()
    np.testing.assert_array_equal(backend.to_host(x.grad), np.where(kept, 2.0, 0.0))
    assert F.dropout(x, 0.5, training=False) is x
    assert not bool((F.dropout(x, 1.0).data != 0).any())


@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_on_device_is_reproducible_by_manual_seed(dtype):
    xp = array_module("cupy")
    x = Tensor(xp.ones((4, 8), dtype=dtype))
    backend.manual_seed(5)
    first = F.dropout(x, 0.5).numpy()
    backend.manual_seed(5)
    np.testing.assert_array_equal(F.dropout(x, 0.5).numpy(), first)


# ------------------------------------------------------------------ finite differences
GRADCHECKS = {
    "conv2d-groups": (lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1, groups=2),
                      [(1, 4, 5, 5), (4, 2, 3, 3), (4,)]),
    "max_pool": (lambda x: F.max_pool2d(x, 3, 2, padding=1), [(1, 2, 5, 5)]),
    "lrn": (lambda x: F.local_response_norm(x, 3, alpha=0.3), [(1, 4, 2, 2)]),
    "batch_norm-train": (lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
                         [(4, 3), (3,), (3,)]),
    "cross_entropy": (lambda z: F.cross_entropy(z, np.array([1, 0, 2])), [(3, 4)]),
    "linear-softmax": (lambda x, w: F.softmax(F.linear(x, w), dim=1), [(2, 3), (4, 3)]),
}


@pytest.mark.parametrize("name", list(GRADCHECKS))
def test_gradcheck_float64_on_device(name):
    fn, shapes = GRADCHECKS[name]
    kind = "distinct" if name == "max_pool" else "normal"
    inputs = [Tensor(backend.to_device(_values(s, k, kind), "gpu"), requires_grad=True)
              for k, s in enumerate(shapes)]
    assert minialex.gradcheck(fn, inputs, eps=1e-6, atol=1e-6, rtol=1e-4)
