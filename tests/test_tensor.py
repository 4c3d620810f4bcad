"""Autograd engine: every Tensor op against central differences, graph rules, dtype rules,
and random expressions against PyTorch as an oracle."""

from __future__ import annotations

import gc
import math
import weakref

import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minialex
from minialex import Tensor, backend, no_grad, numerical_gradient, rel_error, tensor
from minialex.testing import arrays, broadcastable_shapes, distinct_arrays, shapes

np = backend.np

SMALL = shapes(max_dims=3, max_side=4)  # at most 64 elements: element-wise checks stay fast
POSITIVE = {"low": 0.5, "high": 2.0}  # away from 0: log, 1/x and relative errors stay tame


def assert_grads_match(fn, *arrays_, tol=1e-7):
    """Backprop through ``fn`` vs central differences for every input (float64)."""
    xs = [Tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays_]
    out = fn(*xs)
    # Fixed positive weights make every output element count without cancellation.
    weights = Tensor(np.random.default_rng(1).uniform(0.5, 1.5, out.shape))
    (out * weights).sum().backward()

    def loss():
        with no_grad():
            return (fn(*xs) * weights).sum().item()

    for i, x in enumerate(xs):
        assert x.grad is not None, f"input {i} got no gradient"
        assert x.grad.shape == x.shape and x.grad.dtype == np.float64
        numeric = numerical_gradient(loss, x.data)
        err = rel_error(x.grad, numeric)
        assert err < tol, f"input {i}: rel_error {err:.3g}\nanalytic {x.grad}\nnumeric {numeric}"


def axes_for(data, ndim):
    """None, one axis (possibly negative) or a tuple of distinct axes of an ndim-D array."""
    one = st.integers(-ndim, ndim - 1)
    several = st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True)
    return data.draw(st.one_of(st.none(), one, several.map(tuple)), label="axis")


# ------------------------------------------------------------------ element-wise ops
@given(x=arrays(SMALL, **POSITIVE))
def test_neg_exp_log_gradients(x):
    assert_grads_match(lambda t: -t, x)
    assert_grads_match(lambda t: t.exp(), x)
    assert_grads_match(lambda t: t.log(), x)


@pytest.mark.parametrize("exponent", [2, 3, 0.5, -1, 1.5, -2.5])
@given(x=arrays(SMALL, **POSITIVE))
def test_pow_gradient(exponent, x):
    assert_grads_match(lambda t: t**exponent, x)


@pytest.mark.parametrize("op", ["+", "-", "*", "/"])
@given(data=st.data(), shapes_=broadcastable_shapes(max_dims=3, max_side=4))
def test_binary_ops_broadcast_gradients(op, data, shapes_):
    a = data.draw(arrays(shapes_[0], **POSITIVE), label="a")
    b = data.draw(arrays(shapes_[1], **POSITIVE), label="b")
    fn = {"+": lambda s, t: s + t, "-": lambda s, t: s - t,
          "*": lambda s, t: s * t, "/": lambda s, t: s / t}[op]
    assert_grads_match(fn, a, b)


def test_broadcast_gradient_reduces_to_input_shape_by_hand():
    # (3, 1, 4) + (5, 4) -> (3, 5, 4): d/da sums over the 5, d/db over the 3.
    a = Tensor(np.zeros((3, 1, 4)), requires_grad=True)
    b = Tensor(np.zeros((5, 4)), requires_grad=True)
    (a + b).sum().backward()
    assert (a + b).shape == (3, 5, 4)
    np.testing.assert_array_equal(a.grad, np.full((3, 1, 4), 5.0))
    np.testing.assert_array_equal(b.grad, np.full((5, 4), 3.0))


@given(x=arrays(SMALL, **POSITIVE))
def test_scalar_operands_both_sides(x):
    assert_grads_match(lambda t: 2.0 - t, x)
    assert_grads_match(lambda t: 3.0 / t, x)
    assert_grads_match(lambda t: 1.5 * t + 0.5, x)
    assert_grads_match(lambda t: t - 0.25, x)


def test_ndarray_on_the_left_defers_to_tensor():
    x = Tensor(np.ones(3), requires_grad=True)
    y = np.full(3, 2.0) * x + np.ones(3)
    assert isinstance(y, Tensor)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 2.0, 2.0])


# ------------------------------------------------------------------ matmul
# numpy.matmul's signature: 1-D operands lose their axis, leading axes broadcast.
MATMUL_SHAPES = hnp.mutually_broadcastable_shapes(
    signature="(m?,n),(n,p?)->(m?,p?)", max_dims=4, max_side=3
).map(lambda r: r.input_shapes)


@given(data=st.data(), shapes_=MATMUL_SHAPES)
def test_matmul_gradients_with_batch_broadcast_and_1d(data, shapes_):
    a = data.draw(arrays(shapes_[0], **POSITIVE), label="a")
    b = data.draw(arrays(shapes_[1], **POSITIVE), label="b")
    out = Tensor(a) @ Tensor(b)
    np.testing.assert_allclose(out.data, np.matmul(a, b), rtol=1e-12)
    assert_grads_match(lambda s, t: s @ t, a, b)


@pytest.mark.parametrize("shape_a,shape_b", [((4,), (4,)), ((4,), (2, 4, 3)), ((2, 3, 4), (4,)),
                                              ((5, 1, 2, 3), (4, 3, 2)), ((2, 3), (3,))])
def test_matmul_gradients_fixed_cases(shape_a, shape_b):
    rng = np.random.default_rng(3)
    assert_grads_match(lambda s, t: s @ t, rng.uniform(0.5, 2, shape_a),
                       rng.uniform(0.5, 2, shape_b))


def test_matmul_by_hand():
    a = Tensor(np.array([[1.0, 2.0], [3.0, 4.0]]), requires_grad=True)
    b = Tensor(np.array([[5.0], [6.0]]), requires_grad=True)
    out = a @ b
    np.testing.assert_array_equal(out.data, [[17.0], [39.0]])
    out.sum().backward()
    np.testing.assert_array_equal(a.grad, [[5.0, 6.0], [5.0, 6.0]])  # g @ b.T
    np.testing.assert_array_equal(b.grad, [[4.0], [6.0]])  # a.T @ g


# ------------------------------------------------------------------ reductions
@pytest.mark.parametrize("reduction", ["sum", "mean"])
@given(data=st.data(), x=arrays(SMALL, **POSITIVE), keepdims=st.booleans())
def test_sum_mean_gradients(reduction, data, x, keepdims):
    axis = axes_for(data, x.ndim)
    out = getattr(Tensor(x), reduction)(axis=axis, keepdims=keepdims)
    expected = getattr(np, reduction)(x, axis=axis, keepdims=keepdims)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.data, expected, rtol=1e-12)
    assert_grads_match(lambda t: getattr(t, reduction)(axis=axis, keepdims=keepdims), x)


@given(data=st.data(), x=distinct_arrays(SMALL), keepdims=st.booleans())
def test_max_gradient(data, x, keepdims):
    axis = axes_for(data, x.ndim)
    out = Tensor(x).max(axis=axis, keepdims=keepdims)
    np.testing.assert_array_equal(out.data, np.max(x, axis=axis, keepdims=keepdims))
    assert_grads_match(lambda t: t.max(axis=axis, keepdims=keepdims), x)


def test_max_ties_share_gradient_by_hand():
    x = Tensor(np.array([[1.0, 3.0, 3.0], [2.0, 0.0, -1.0]]), requires_grad=True)
    x.max(axis=1).sum().backward()
    np.testing.assert_array_equal(x.grad, [[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]])


def test_mean_by_hand():
    x = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    m = x.mean(axis=(0, 1))
    assert m.item() == 2.5
    m.backward()
    np.testing.assert_array_equal(x.grad, np.full((2, 3), 1 / 6))


# ------------------------------------------------------------------ shape ops
@given(data=st.data(), x=arrays(SMALL, **POSITIVE))
def test_reshape_and_transpose_gradients(data, x):
    assert_grads_match(lambda t: t.reshape(-1), x)
    assert_grads_match(lambda t: t.reshape(x.shape[::-1]), x)
    perm = data.draw(st.permutations(range(x.ndim)), label="perm")
    # Negative axes name the same permutation.
    neg = tuple(p - x.ndim for p in perm)
    for axes in (tuple(perm), neg):
        assert Tensor(x).transpose(axes).shape == np.transpose(x, perm).shape
        assert_grads_match(lambda t, axes=axes: t.transpose(*axes), x)
    assert_grads_match(lambda t: t.T, x)


@given(data=st.data(), x=arrays(shapes(min_dims=2, max_dims=3, max_side=4), **POSITIVE))
def test_indexing_gradients(data, x):
    n = x.shape[0]
    repeated = data.draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=6), label="idx")
    mask = data.draw(hnp.arrays(bool, x.shape), label="mask")
    assert_grads_match(lambda t: t[repeated], x)
    assert_grads_match(lambda t: t[1:, ::2], x)
    assert_grads_match(lambda t: t[..., -1], x)
    assert_grads_match(lambda t: t[0, 0], x)
    if mask.any():
        assert_grads_match(lambda t: t[mask], x)


def test_tensor_inside_a_tuple_index_acts_as_its_array():
    x = Tensor(np.arange(12.0).reshape(4, 3), requires_grad=True)
    rows = tensor(np.array([3, 1, 3]))
    y = x[rows, 0]  # same as x.data[[3, 1, 3], 0] = [9, 3, 9]
    np.testing.assert_array_equal(y.data, [9.0, 3.0, 9.0])
    y.sum().backward()
    expected = np.zeros((4, 3))
    expected[1, 0], expected[3, 0] = 1.0, 2.0  # row 3 picked twice
    np.testing.assert_array_equal(x.grad, expected)
    np.testing.assert_array_equal(x[1:, tensor(np.array([2, 0]))].data, [[5, 3], [8, 6], [11, 9]])


def test_repeated_fancy_index_accumulates_by_hand():
    x = Tensor(np.array([10.0, 20.0, 30.0]), requires_grad=True)
    x[[0, 0, 2, 0]].sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 0.0, 1.0])


@given(x=arrays(SMALL, **POSITIVE))
def test_astype_gradient(x):
    assert_grads_match(lambda t: t.astype(np.float64) * t, x)


def test_astype_round_trip_grad_dtype():
    x = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    y = x.astype(np.float64)
    assert y.dtype == np.float64
    (y * 3.0).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad, [3.0, 3.0, 3.0])


# ------------------------------------------------------------------ graph semantics
def test_reused_node_gradient_is_2x_plus_1():
    xs = np.array([-2.0, 0.0, 0.5, 3.0])
    x = Tensor(xs, requires_grad=True)
    y = x * x + x
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, 2 * xs + 1)


def test_double_backward_accumulates_on_leaves():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    (x * 3.0).sum().backward()
    (x * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [6.0, 6.0])
    loss = (x * x).sum()  # the same graph, backpropagated twice
    x.zero_grad()
    loss.backward()
    loss.backward()
    np.testing.assert_array_equal(x.grad, [4.0, 8.0])


def test_retained_grad_is_not_propagated_twice():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    h = (x * 2.0).retain_grad()
    loss = (h * h).sum()
    loss.backward()
    loss.backward()
    np.testing.assert_array_equal(h.grad, 2 * (2 * h.data))  # d(h^2)/dh = 2h, twice
    np.testing.assert_array_equal(x.grad, 2 * (8 * x.data))  # d(4x^2)/dx = 8x, twice


def test_retained_grad_kept_when_a_pass_gives_it_nothing():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    h = (x * 2.0).retain_grad()
    (h * h).sum().backward()
    # A node that passes no gradient on: h is in this graph but receives none.
    blocked = Tensor.from_op(h.data.copy(), (h,), lambda g: None, op="blocked")
    blocked.sum().backward()
    np.testing.assert_array_equal(h.grad, 2 * h.data)


def test_intermediate_grads_freed_unless_retained():
    x = Tensor(np.array([1.0, -1.0]), requires_grad=True)
    h = x * 3.0
    kept = (x * 2.0).retain_grad()
    (h * kept).sum().backward()
    assert h.grad is None
    np.testing.assert_array_equal(kept.grad, h.data)
    np.testing.assert_array_equal(x.grad, 12 * x.data)


def test_leaf_grads_do_not_alias():
    a = Tensor(np.ones(3), requires_grad=True)
    b = Tensor(np.ones(3), requires_grad=True)
    (a + b).sum().backward()
    a.grad *= 10  # an in-place update (weight decay, clipping) must touch only a
    np.testing.assert_array_equal(b.grad, [1.0, 1.0, 1.0])


# ------------------------------------------------------------------ writing an op (public API)
def cube(x: Tensor) -> Tensor:
    """y = x**3 written as a learner would: forward on arrays, backward beside it."""
    def _backward(g):
        x.accumulate_grad(3 * x.data**2 * g)
    return Tensor.from_op(x.data**3, (x,), _backward, op="cube")


def test_from_op_records_a_node_that_backward_runs():
    x = Tensor(np.array([1.0, 2.0, -3.0]), requires_grad=True)
    y = cube(x)
    assert y.requires_grad and not y.is_leaf and y._prev == (x,) and y._op == "cube"
    (y * 2.0).sum().backward()  # with built-in ops around it
    np.testing.assert_array_equal(x.grad, [6.0, 24.0, 54.0])  # 2 * 3x^2, by hand


def test_from_op_records_nothing_without_a_gradient_to_compute():
    constant = Tensor(np.array([1.0, 2.0]))
    assert cube(constant).is_leaf and not cube(constant).requires_grad
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    with no_grad():
        y = cube(x)
    assert y.is_leaf and not y.requires_grad and y._prev == ()
    np.testing.assert_array_equal(y.data, [1.0, 8.0])


def test_from_op_two_parents_and_a_parent_used_twice():
    """f(a, b) = a * b^2 by hand: df/da = b^2, df/db = 2ab; f(a, a) gives 3a^2."""
    def a_times_b_squared(a, b):
        def _backward(g):
            a.accumulate_grad(g * b.data**2)
            b.accumulate_grad(g * 2 * a.data * b.data)
        return Tensor.from_op(a.data * b.data**2, (a, b), _backward, op="ab2")

    a = Tensor(np.array([2.0, -1.0]), requires_grad=True)
    b = Tensor(np.array([3.0, 0.5]), requires_grad=True)
    a_times_b_squared(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad, [9.0, 0.25])
    np.testing.assert_array_equal(b.grad, [12.0, -1.0])
    a.zero_grad()
    a_times_b_squared(a, a).sum().backward()
    np.testing.assert_array_equal(a.grad, [12.0, 3.0])  # b^2 + 2ab with b = a: 3a^2
    assert minialex.gradcheck(a_times_b_squared, [a, b])


def test_from_op_argument_errors_say_what_is_expected():
    x = Tensor(np.ones(2), requires_grad=True)
    with pytest.raises(TypeError, match=r"parents must be a tuple of Tensors, e\.g\. \(x,\)"):
        Tensor.from_op(x.data, x, lambda g: None, op="single")
    with pytest.raises(TypeError, match="parents must be a tuple of Tensors"):
        Tensor.from_op(x.data, (x.data,), lambda g: None, op="array_parent")
    with pytest.raises(TypeError, match=r"backward must be a function.*from_op\(data, parents, "
                                        r"backward, op=name\)"):
        Tensor.from_op(x.data, (x,), "old_order", lambda g: None)


def test_accumulate_grad_adds_checks_shape_and_skips_constants():
    x = Tensor(np.ones(3), requires_grad=True)
    x.accumulate_grad(np.array([1.0, 2.0, 3.0]))
    x.accumulate_grad(np.array([0.5, 0.5, 0.5]))
    np.testing.assert_array_equal(x.grad, [1.5, 2.5, 3.5])
    constant = Tensor(np.ones(3))
    constant.accumulate_grad(np.ones(3))
    assert constant.grad is None
    y = cube(x)
    with pytest.raises(RuntimeError, match=r"gradient shape \(2,\) does not match tensor "
                                           r"shape \(3,\) \(output of 'cube'\)"):
        y.accumulate_grad(np.ones(2))


def test_op_template_in_functional_docstring_runs():
    """The op-writing template in minialex.functional's docstring is executed, not just read."""
    import doctest

    import minialex.functional as F

    result = doctest.testmod(F, report=True)
    assert result.attempted >= 8 and result.failed == 0, result


def test_private_op_names_are_gone_from_library_and_teaching_code():
    """Lessons, examples, the README and the library use only from_op / accumulate_grad."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    files = [*root.glob("minialex/**/*.py"), *root.glob("lessons/*.py"),
             *root.glob("examples/*.py"), *root.glob("*.md"), *root.glob("lessons/*.md")]
    stale = [f.name for f in files
             if "._result(" in f.read_text(encoding="utf-8")
             or "._accumulate(" in f.read_text(encoding="utf-8")]
    assert not stale, f"private op API still used in {stale}"
    assert not hasattr(Tensor, "_result") and not hasattr(Tensor, "_accumulate")


def test_owned_gradients_are_kept_and_still_do_not_alias():
    """An op's fresh gradient is kept without a copy (owned=True); a shared one is copied."""
    w = Tensor(np.ones(3), requires_grad=True)
    fresh = np.arange(3.0)
    w.accumulate_grad(fresh, owned=True)
    assert w.grad is fresh
    v = Tensor(np.ones(3), requires_grad=True)
    shared = np.arange(3.0)
    v.accumulate_grad(shared)
    assert v.grad is not shared
    np.testing.assert_array_equal(v.grad, shared)


def test_leaf_gradient_accumulates_in_place_across_uses_and_calls():
    """A leaf used twice and backward called twice: the sums are right, and an in-place
    update of the accumulated .grad does not reach any gradient another leaf holds."""
    a = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    b = Tensor(np.array([3.0, 4.0]), requires_grad=True)
    ((a * b) + a).sum().backward()   # d/da = b + 1, d/db = a
    np.testing.assert_array_equal(a.grad, [4.0, 5.0])
    buffer = a.grad
    ((a * b) + a).sum().backward()
    assert a.grad is buffer  # accumulated in place, as PyTorch does
    np.testing.assert_array_equal(a.grad, [8.0, 10.0])
    np.testing.assert_array_equal(b.grad, [2.0, 4.0])
    a.grad *= 0
    np.testing.assert_array_equal(b.grad, [2.0, 4.0])


def test_deep_chain_no_recursion_error():
    c = 1.0001
    x = Tensor(np.array([1.0]), requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * c
    y.sum().backward()
    assert math.isclose(x.grad[0], c**10_000, rel_tol=1e-9)
    del y
    gc.collect()


def test_graph_is_freed_without_gc():
    # Closures hold inputs, never their output: no reference cycles, so activations are
    # freed as soon as the last reference goes (reference counting alone).
    x = Tensor(np.ones(4), requires_grad=True)
    out = (x * 2.0).exp().sum()
    ref = weakref.ref(out)
    gc.disable()
    try:
        del out
        assert ref() is None
    finally:
        gc.enable()


def test_no_grad_records_nothing():
    x = Tensor(np.ones(2), requires_grad=True)
    with no_grad():
        assert not minialex.is_grad_enabled()
        y = x * 2.0 + 1.0
    assert minialex.is_grad_enabled()
    assert not y.requires_grad and y._prev == () and y.is_leaf
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.sum().backward()
    with pytest.raises(ZeroDivisionError), no_grad():
        raise ZeroDivisionError
    assert minialex.is_grad_enabled()  # restored after an exception


def test_detach_shares_data_and_stops_gradient():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    d = x.detach()
    assert not d.requires_grad and d.data is x.data
    (d * x).sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0, 2.0])  # d is a constant: grad x, not 2x


def test_tensor_copies_but_Tensor_shares():
    a = np.array([1.0, 2.0, 3.0])
    t = tensor(a, requires_grad=True)
    t.data -= 1.0  # what an optimiser step does
    np.testing.assert_array_equal(a, [1.0, 2.0, 3.0])
    p, q = tensor(a), tensor(a)
    p.data[0] = 7.0
    assert q.data[0] == 1.0  # two tensors from one array are not tied
    assert tensor(t).data is not t.data and tensor(a, dtype=np.float32).dtype == np.float32
    transposed = tensor(np.arange(6.0).reshape(2, 3).T)
    assert transposed.data.flags.c_contiguous and transposed.shape == (3, 2)
    shared = Tensor(a)  # like torch.from_numpy
    shared.data[1] = -2.0
    assert a[1] == -2.0


def test_backward_needs_grad_for_non_scalar():
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    y = x * 2.0
    with pytest.raises(RuntimeError, match=r"scalar.*\(2, 3\)"):
        y.backward()
    with pytest.raises(ValueError, match=r"expected shape \(2, 3\)"):
        y.backward(np.ones(3))
    y.backward(np.full((2, 3), 0.5))
    np.testing.assert_array_equal(x.grad, np.ones((2, 3)))


def test_backward_on_leaf_accumulates():
    x = Tensor(np.array(2.0), requires_grad=True)
    x.backward()
    x.backward()
    assert x.grad == 2.0


# ------------------------------------------------------------------ dtype rules
def test_dtype_rules():
    assert tensor([1, 2]).dtype == np.float32
    assert tensor(2.5).dtype == np.float32
    assert tensor(np.zeros(2)).dtype == np.float64
    assert tensor(np.zeros(2, dtype=np.int64)).dtype == np.int64
    assert tensor(np.float64(1.0)).dtype == np.float64
    f32 = tensor(np.ones(2, dtype=np.float32), requires_grad=True)
    assert (f32 * 2.5).dtype == np.float32
    assert (2.5 * f32).dtype == np.float32
    assert (f32 + np.float64(1.5)).dtype == np.float32
    assert (f32 ** np.float64(2.0)).dtype == np.float32
    assert (f32 / 3).dtype == np.float32
    assert f32.double().dtype == np.float64 and f32.double().float().dtype == np.float32


def test_mixed_dtypes_raise_clear_type_error():
    a = tensor(np.ones(2, dtype=np.float32))
    b = tensor(np.ones(2, dtype=np.float64))
    for op in (lambda: a + b, lambda: a * b, lambda: b - a, lambda: a / b, lambda: a @ b):
        with pytest.raises(TypeError, match=r"mixed dtypes.*float32.*float64|float64.*float32"):
            op()
    with pytest.raises(TypeError, match="mixed dtypes"):
        a + np.ones(2)  # a float64 ndarray is not silently promoted either


def test_float32_graph_keeps_float32_gradients():
    x = tensor(np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32),
               requires_grad=True)
    loss = ((x * 2.0 - 1.0) / 3.0).exp().max(axis=1).mean() + (x**2).sum() + x.T[0].sum()
    assert loss.dtype == np.float32
    loss.backward()
    assert x.grad.dtype == np.float32


# ------------------------------------------------------------------ PyTorch oracle
def _oracle_ops(torch):
    """(name, needs a leaf, minialex op, torch op): the same math in both libraries."""
    return [
        ("add", True, lambda t, u: t + u, lambda t, u: t + u),
        ("sub", True, lambda t, u: t - u, lambda t, u: t - u),
        ("mul", True, lambda t, u: t * u, lambda t, u: t * u),
        ("div", True, lambda t, u: t / (u * u + 1.0), lambda t, u: t / (u * u + 1.0)),
        ("rsub", False, lambda t: 1.0 - t, lambda t: 1.0 - t),
        ("neg", False, lambda t: -t, lambda t: -t),
        ("square", False, lambda t: t**2 * 0.5, lambda t: t**2 * 0.5),
        ("exp", False, lambda t: (t * 0.3).exp(), lambda t: (t * 0.3).exp()),
        ("log", False, lambda t: (t * t + 1.0).log(), lambda t: (t * t + 1.0).log()),
        ("sqrt", False, lambda t: (t * t + 1.0) ** 0.5, lambda t: (t * t + 1.0) ** 0.5),
        ("sum", False, lambda t: t.sum(axis=-1, keepdims=True),
         lambda t: t.sum(dim=-1, keepdim=True)),
        ("mean", False, lambda t: t.mean(axis=0, keepdims=True),
         lambda t: t.mean(dim=0, keepdim=True)),
        ("max", False, lambda t: t.max(axis=-1, keepdims=True),
         lambda t: torch.amax(t, dim=-1, keepdim=True)),
        ("transpose", False, lambda t: t.T, lambda t: t.permute(*reversed(range(t.ndim)))),
        ("index", False, lambda t: t[..., [0, 0, -1]], lambda t: t[..., [0, 0, -1]]),
        ("slice", False, lambda t: t[:1], lambda t: t[:1]),
        ("matmul", False, lambda t: t @ _swap_last(t),
         lambda t: t @ (t.transpose(-1, -2) if t.ndim >= 2 else t)),
    ]


def _swap_last(t):
    """Swap the last two axes (a batch of matrices transposed); 1-D stays as it is."""
    axes = list(range(t.ndim))
    axes[-2:] = axes[:-3:-1]
    return t.transpose(*axes) if t.ndim >= 2 else t


@pytest.mark.torch
@given(data=st.data(), shapes_=broadcastable_shapes(num_shapes=3, max_dims=3, max_side=4))
def test_random_expressions_match_torch(torch, data, shapes_):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16), label="seed"))
    leaves = [rng.standard_normal(s) for s in shapes_]
    ours = [Tensor(a.copy(), requires_grad=True) for a in leaves]
    theirs = [torch.tensor(a, requires_grad=True) for a in leaves]
    ops = _oracle_ops(torch)
    t_ours, t_theirs, used = ours[0], theirs[0], ["leaf0"]
    for _ in range(data.draw(st.integers(1, 8), label="length")):
        name, binary, f_ours, f_theirs = data.draw(st.sampled_from(ops), label="op")
        if t_ours.ndim == 0:
            break
        if binary:
            j = data.draw(st.integers(0, len(leaves) - 1), label="leaf")
            try:
                np.broadcast_shapes(t_ours.shape, ours[j].shape)
            except ValueError:
                continue
            t_ours, t_theirs = f_ours(t_ours, ours[j]), f_theirs(t_theirs, theirs[j])
            used.append(f"{name}(leaf{j})")
        else:
            t_ours, t_theirs = f_ours(t_ours), f_theirs(t_theirs)
            used.append(name)
    weights = rng.uniform(0.5, 1.5, t_ours.shape)
    np.testing.assert_allclose(t_ours.data, t_theirs.detach().numpy(), rtol=1e-10, atol=1e-12,
                               err_msg=" -> ".join(used))
    (t_ours * Tensor(weights)).sum().backward()
    (t_theirs * torch.tensor(weights)).sum().backward()
    for i, (o, t) in enumerate(zip(ours, theirs, strict=True)):
        expected = np.zeros(o.shape) if t.grad is None else t.grad.numpy()
        got = np.zeros(o.shape) if o.grad is None else o.grad
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12,
                                   err_msg=f"leaf {i} after {' -> '.join(used)}")


@pytest.mark.torch
@given(data=st.data(), shapes_=MATMUL_SHAPES)
def test_matmul_matches_torch(torch, data, shapes_):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16), label="seed"))
    a, b = (rng.standard_normal(s) for s in shapes_)
    ta, tb = Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)
    pa, pb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    out, ref = ta @ tb, pa @ pb
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-10, atol=1e-12)
    w = rng.standard_normal(out.shape)
    (out * Tensor(w)).sum().backward()
    (ref * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(ta.grad, pa.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(tb.grad, pb.grad.numpy(), rtol=1e-10, atol=1e-12)
