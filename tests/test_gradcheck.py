"""gradcheck, numerical_gradient and rel_error: the checker must pass correct ops, catch wrong
ones (naming the worst element), and its arithmetic must match hand-computed values."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given

from minialex import (
    GradcheckError,
    Tensor,
    backend,
    gradcheck,
    numerical_gradient,
    rel_error,
)
from minialex.testing import arrays, shapes

np = backend.np


def scaled_square(x: Tensor, factor: float = 1.0, bad_index=None) -> Tensor:
    """y = x**2 with a backward that is off by ``factor`` (everywhere, or at one index)."""
    def _backward(g):
        grad = 2 * x.data * g
        if bad_index is None:
            grad = grad * factor
        else:
            grad[bad_index] *= factor
        x.accumulate_grad(grad)
    return Tensor.from_op(x.data**2, (x,), _backward, op="scaled_square")


def leaf(shape, seed=0, low=0.5, high=2.0):
    return Tensor(np.random.default_rng(seed).uniform(low, high, shape), requires_grad=True)


# ------------------------------------------------------------------ correct ops pass
@given(a=arrays(shapes(max_dims=3, max_side=4), low=0.5, high=2.0))
def test_passes_on_correct_ops(a):
    x = Tensor(a, requires_grad=True)
    y = Tensor(a[..., ::-1].copy() + 1.0, requires_grad=True)
    assert gradcheck(lambda s, t: (s * t).exp() / t, [x, y]) is True
    assert gradcheck(scaled_square, [x]) is True
    assert gradcheck(lambda s: s.log().sum(axis=0), [x], directional=True) is True


def test_passes_with_constant_and_non_tensor_inputs():
    x = leaf((3, 4))
    w = Tensor(np.random.default_rng(1).standard_normal((4, 2)))  # no requires_grad: skipped
    assert gradcheck(lambda a, b, scale: (a @ b) * scale, [x, w, 0.5])
    assert w.grad is None


def test_non_leaf_inputs_are_checked_as_leaves():
    # The float32 error says "use .double()": the result is a graph node, not a leaf.
    x32 = Tensor(np.array([0.5, 1.5, 2.0], dtype=np.float32), requires_grad=True)
    assert gradcheck(scaled_square, [x32.double()])
    assert gradcheck(scaled_square, [x32.double()], directional=True)
    with pytest.raises(GradcheckError):
        gradcheck(lambda t: scaled_square(t, 1.5), [x32.double()])


def test_non_contiguous_leaf_inputs_are_checked():
    a = np.random.default_rng(3).uniform(0.5, 2.0, (4, 3))
    w = Tensor(np.random.default_rng(4).standard_normal((4, 2)))
    strided = [Tensor(a.T, requires_grad=True), Tensor(a[::2, ::-1], requires_grad=True)]
    assert not any(x.data.flags.c_contiguous for x in strided)
    assert gradcheck(lambda t: (t @ w).exp(), [strided[0]])
    assert gradcheck(lambda t: scaled_square(t), [strided[1]])
    assert gradcheck(lambda t: scaled_square(t), [strided[1]], directional=True)
    with pytest.raises(GradcheckError, match="gradcheck failed for input 0"):
        gradcheck(lambda t: scaled_square(t, 1.5), [strided[0]])
    np.testing.assert_array_equal(a, np.random.default_rng(3).uniform(0.5, 2.0, (4, 3)))


def test_inputs_restored_after_check():
    x = leaf((2, 3))
    before = x.data.copy()
    gradcheck(lambda t: t**3, [x])
    gradcheck(lambda t: t**3, [x], directional=True)
    np.testing.assert_array_equal(x.data, before)


# ------------------------------------------------------------------ wrong ops fail
@pytest.mark.parametrize("factor", [1.01, 0.5, -1.0, 2.0])
def test_fails_on_wrong_backward(factor):
    x = leaf((3, 4))
    with pytest.raises(GradcheckError, match="gradcheck failed for input 0"):
        gradcheck(lambda t: scaled_square(t, factor), [x])
    with pytest.raises(GradcheckError, match="directional gradcheck failed"):
        gradcheck(lambda t: scaled_square(t, factor), [x], directional=True)


def test_error_names_the_worst_element():
    x = leaf((3, 4))
    with pytest.raises(GradcheckError, match=r"1 of 12 elements.*worst at index \(1, 2\)"):
        gradcheck(lambda t: scaled_square(t, 3.0, bad_index=(1, 2)), [x])


def test_error_names_the_failing_input():
    a, b = leaf((2, 2), seed=1), leaf((2, 2), seed=2)

    def half_wrong_mul(s, t):
        def _backward(g):
            s.accumulate_grad(g * t.data)
            t.accumulate_grad(g * s.data * 1.1)  # wrong only for the second input
        return Tensor.from_op(s.data * t.data, (s, t), _backward, op="half_wrong_mul")

    with pytest.raises(GradcheckError, match=r"input 1 \(shape \(2, 2\)\)"):
        gradcheck(half_wrong_mul, [a, b])


def test_missing_gradient_is_caught():
    x = leaf((2, 3))

    def forgets(t):  # forward depends on t, backward never passes a gradient on
        return Tensor.from_op(t.data * 2.0, (t,), lambda g: None, op="forgets")

    with pytest.raises(GradcheckError):
        gradcheck(forgets, [x])


def test_tolerances_are_used():
    x = leaf((2, 3))
    assert gradcheck(lambda t: scaled_square(t, 1.01), [x], atol=1.0, rtol=0.0)
    with pytest.raises(GradcheckError):
        gradcheck(lambda t: scaled_square(t, 1.01), [x], atol=0.0, rtol=1e-3)


# ------------------------------------------------------------------ misuse
def test_float32_inputs_are_a_type_error():
    x = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    with pytest.raises(TypeError, match=r"float32.*float64.*\.double\(\)"):
        gradcheck(lambda t: t * 2.0, [x])


def test_nothing_to_check_is_a_value_error():
    with pytest.raises(ValueError, match="requires_grad"):
        gradcheck(lambda t: t * 2.0, [Tensor(np.ones(3))])


def test_fn_must_return_a_tensor():
    with pytest.raises(TypeError, match="must return a Tensor, got ndarray"):
        gradcheck(lambda t: t.data * 2.0, [leaf(3)])


# ------------------------------------------------------------------ numerical_gradient
def test_numerical_gradient_of_sum_of_squares_by_hand():
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    grad = numerical_gradient(lambda: float((x**2).sum()), x)
    np.testing.assert_allclose(grad, 2 * x, rtol=1e-9)
    np.testing.assert_array_equal(x, [[1.0, -2.0], [0.5, 3.0]])  # restored


def test_numerical_gradient_central_difference_is_exact_on_quadratics():
    # (f(x+e) - f(x-e)) / 2e is exact for a quadratic up to rounding, whatever eps.
    x = np.array([2.0])
    grad = numerical_gradient(lambda: float(3 * x[0] ** 2 + x[0]), x, eps=0.5)
    assert abs(grad[0] - 13.0) < 1e-12


def test_numerical_gradient_needs_contiguous_array():
    x = np.ones((3, 4)).T
    with pytest.raises(ValueError, match="C-contiguous"):
        numerical_gradient(lambda: float(x.sum()), x)


# ------------------------------------------------------------------ rel_error
@pytest.mark.parametrize("a,b,expected", [
    ([1.0, 2.0], [1.0, 2.0], 0.0),
    (1.0, 3.0, 0.5),  # |1-3| / (1+3)
    ([0.0, 1.0], [0.0, 1.1], 0.1 / 2.1),  # 0/0 counts as 0 thanks to the 1e-8 floor
    (0.0, 1e-9, 0.1),  # 1e-9 / max(1e-8, 1e-9)
    ([-1.0, 4.0], [1.0, 4.0], 1.0),  # opposite signs: |-2| / 2
    ([[2.0, 10.0]], [[2.0, 11.0]], 1.0 / 21.0),  # the worst element wins
])
def test_rel_error_by_hand(a, b, expected):
    assert rel_error(np.array(a), np.array(b)) == pytest.approx(expected, rel=1e-12)


def test_rel_error_accepts_tensors_and_is_symmetric():
    a, b = Tensor(np.array([1.0, 5.0])), np.array([1.5, 5.0])
    assert rel_error(a, b) == rel_error(b, a) == pytest.approx(0.5 / 2.5)


# ------------------------------------------------------------------ the learner's example
def test_gradcheck_your_own_layer_example_runs():
    script = Path(__file__).resolve().parents[1] / "examples" / "gradcheck_your_own_layer.py"
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert "gradcheck(leaky_relu): True" in done.stdout
    assert "caught the bug" in done.stdout and "property held" in done.stdout
