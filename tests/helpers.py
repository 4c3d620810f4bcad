"""Helpers shared by the test files: ``from helpers import BACKENDS, check_gradients``.

The backend parametrisation (numpy, and cupy where a GPU or the CuPy-rules emulator is
present), PyTorch as an optional oracle, and the numerical comparisons several test files use.
"""

from __future__ import annotations

import pytest

import minialex
from minialex import Tensor, backend, rel_error
from minialex.backend import np

# cupy-marked tests run on a real GPU, or on the CuPy-rules emulator when it is selected
# (MINIALEX_BACKEND=cupy-emulator python -m pytest -m cupy); otherwise they skip.
_NO_GPU_REASON = None if backend.gpu_available() else (
    "CuPy with a CUDA GPU is not available here (MINIALEX_BACKEND=cupy-emulator runs these "
    "tests on the CuPy-rules emulator)")

# The device backend chosen by MINIALEX_BACKEND ("cupy" or "cupy-emulator"). Tests place their
# data on the device explicitly (the "cupy" parameter, .to("gpu")); the default backend for new
# tensors stays numpy, so host-side expectations hold (conftest's ``device_default`` fixture
# switches it for a test).
DEVICE_BACKEND = backend.current() if backend.current() != "numpy" else "cupy"
backend.use("numpy")

requires_cupy = pytest.mark.skipif(_NO_GPU_REASON is not None, reason=_NO_GPU_REASON or "")

# Use as @pytest.mark.parametrize("xp_name", BACKENDS) to run a test on both array libraries.
BACKENDS = [
    "numpy",
    pytest.param("cupy", marks=[pytest.mark.cupy, requires_cupy]),
]


def array_module(name: str):
    """numpy, or by the name "cupy" the module behind device "gpu" (CuPy, or the emulator
    when selected; raises with the reason when neither is available)."""
    return backend.require_cupy() if name == "cupy" else backend.np


def import_torch():
    """PyTorch, or skip the calling test with the reason when it is not installed."""
    module = pytest.importorskip(
        "torch", reason="PyTorch oracle not installed (pip install torch==2.13.0)")
    module.set_num_threads(1)
    return module


def assert_close_scaled(ours, theirs, tol: float) -> None:
    """|ours - theirs| <= tol * max(1, max |theirs|): relative for O(1) and larger values.

    Not element-wise relative error: where a true value is a near-cancellation (batch-norm
    input gradients at N = 2, tanh'(7) computed from a float32 tanh) its last digits are
    rounding noise in any library. Test inputs are O(1), so a wrong formula still misses by
    far more than the tolerance.
    """
    ours, theirs = np.asarray(ours, np.float64), np.asarray(theirs, np.float64)
    assert ours.shape == theirs.shape, f"shape {ours.shape} != {theirs.shape}"
    err = np.abs(ours - theirs).max()
    assert err <= tol * max(1.0, np.abs(theirs).max()), f"max abs error {err:.3g}"


def check_gradients(fn, tensors, seed=0, eps=1e-3, tol=1e-6):
    """Backprop vs central differences of sum(fn(*tensors) * R), R random, for every input,
    as CS231n does: rel_error of each gradient below ``tol``.

    Convolution is linear in x and in w separately, and pooling is (piecewise) linear in x
    with draws that keep elements apart, so a central difference has no truncation error; a
    large eps then keeps float64 rounding far below the tolerance.
    """
    rng = np.random.default_rng(seed)
    for t in tensors:
        t.grad = None
    out = fn(*tensors)
    weights = rng.standard_normal(out.shape)
    (out * Tensor(weights)).sum().backward()
    for k, t in enumerate(tensors):
        def value():
            with minialex.no_grad():
                return float(np.sum(fn(*tensors).data * weights))
        numeric = minialex.numerical_gradient(value, t.data, eps)
        err = rel_error(t.grad, numeric)
        assert err < tol, f"input {k} (shape {t.shape}): rel_error {err:.2e}"


def relative_max_error(actual, expected):
    actual, expected = backend.to_host(actual), backend.to_host(expected)
    return float(np.max(np.abs(actual - expected)) / max(np.max(np.abs(expected)), 1e-30))
