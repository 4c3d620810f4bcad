"""Shared test configuration: the hypothesis profiles and the fixtures (helpers.py holds the
plain helper functions the test files import)."""

from __future__ import annotations

import os

import pytest
from helpers import DEVICE_BACKEND, array_module, import_torch
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


@pytest.fixture
def xp(request):
    """The array module named by the test's ``xp_name`` parameter (numpy by default)."""
    # Read the test's own xp_name parameter (request.param exists only with indirect=True).
    callspec = getattr(request.node, "callspec", None)
    name = getattr(request, "param", None) or (
        callspec.params.get("xp_name") if callspec is not None else None) or "numpy"
    return array_module(name)


@pytest.fixture
def device_default():
    """Make the device backend the default for new tensors during the test."""
    backend.use(DEVICE_BACKEND)
    yield
    backend.use("numpy")


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same global random state."""
    backend.manual_seed(0)
    yield


@pytest.fixture(scope="session")
def torch():
    """PyTorch as an independent oracle; the test is skipped (with the reason) when absent.

    Session-scoped: it only hands over the module, so hypothesis tests may use it directly.
    """
    return import_torch()


def pytest_collection_modifyitems(config, items):
    """Every test using the torch oracle must say so with @pytest.mark.torch, so that
    ``python -m pytest -m "not torch"`` deselects all of them."""
    unmarked = [item.nodeid for item in items
                if "torch" in getattr(item, "fixturenames", ()) and
                item.get_closest_marker("torch") is None]
    if unmarked:
        raise pytest.UsageError("tests using the torch fixture without @pytest.mark.torch: "
                                + ", ".join(unmarked))
