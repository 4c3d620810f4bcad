"""Shared test configuration: hypothesis profile, backend parametrisation, optional oracles."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

from minialex import backend

# No deadlines (2-core CI machines are slow and noisy) and bounded examples: no flaky tests.
settings.register_profile(
    "minialex",
    deadline=None,
    max_examples=25,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("thorough", deadline=None, max_examples=300)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "minialex"))

_NO_GPU_REASON = None if backend.cupy_available() else "CuPy with a CUDA GPU is not available here"

requires_cupy = pytest.mark.skipif(_NO_GPU_REASON is not None, reason=_NO_GPU_REASON or "")

# Use as @pytest.mark.parametrize("xp_name", BACKENDS) to run a test on both array libraries.
BACKENDS = [
    "numpy",
    pytest.param("cupy", marks=[pytest.mark.cupy, requires_cupy]),
]


@pytest.fixture
def xp(request):
    """The array module named by the test's ``xp_name`` parameter (numpy by default)."""
    # Read the test's own xp_name parameter (request.param exists only with indirect=True).
    callspec = getattr(request.node, "callspec", None)
    name = getattr(request, "param", None) or (
        callspec.params.get("xp_name") if callspec is not None else None) or "numpy"
    if name == "cupy":
        return backend.require_cupy()
    return backend.np


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same global random state."""
    backend.manual_seed(0)
    yield


@pytest.fixture
def torch():
    """PyTorch as an independent oracle; the test is skipped (with the reason) when absent."""
    module = pytest.importorskip(
        "torch", reason="PyTorch oracle not installed (pip install torch==2.13.0)")
    module.set_num_threads(1)
    return module
