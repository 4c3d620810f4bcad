"""Array backend: the import rule, backend selection and its errors, host/device transfers,
the global random state, and the small primitives layer code relies on."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import BACKENDS

import minialex
from minialex import Tensor, backend

np = backend.np
PACKAGE = Path(minialex.__file__).parent
ARRAY_LIBRARIES = {"numpy", "cupy", "cupyx"}


def array_library_imports(source: str) -> list[str]:
    """Top-level names of numpy/cupy modules imported by ``source`` (import and from-import)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [n for n in names if n.split(".")[0] in ARRAY_LIBRARIES]
    return found


# ------------------------------------------------------------------ the import rule
def test_scanner_sees_every_import_form():
    source = ("import os\nimport numpy as np\nfrom cupy import asarray\n"
              "def f():\n    import cupyx.scipy\n    from numpy.lib import stride_tricks\n"
              "from . import numpy\nimport numpyish\n")
    assert array_library_imports(source) == ["numpy", "cupy", "cupyx.scipy", "numpy.lib"]


EMULATOR = PACKAGE / "_cupy_emulator"  # the CuPy-rules emulator backend.py selects


def test_only_backend_imports_numpy_or_cupy():
    files = sorted(PACKAGE.rglob("*.py"))
    assert PACKAGE / "backend.py" in files and len(files) > 5
    offenders = {}
    for path in files:
        found = array_library_imports(path.read_text(encoding="utf-8"))
        if found and path != PACKAGE / "backend.py" and EMULATOR not in path.parents:
            offenders[str(path.relative_to(PACKAGE))] = found
    assert not offenders, (f"only minialex/backend.py (and the emulator it selects) may import "
                           f"numpy/cupy; use backend.get_array_module / backend.np instead: "
                           f"{offenders}")
    # The scan is live: backend.py and the emulator are seen importing numpy, and the emulator
    # never imports CuPy (it must work where CuPy is absent).
    assert "numpy" in array_library_imports((PACKAGE / "backend.py").read_text())
    emulated = [array_library_imports(p.read_text()) for p in EMULATOR.glob("*.py")]
    assert ["numpy"] in emulated
    assert not any(n.startswith("cupy") for names in emulated for n in names)


def test_only_backend_imports_the_emulator():
    users = [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
             if EMULATOR not in p.parents and "_cupy_emulator" in p.read_text(encoding="utf-8")]
    assert users == ["backend.py"]


# ------------------------------------------------------------------ selecting a backend
def test_unknown_backend_is_a_value_error():
    with pytest.raises(ValueError, match=r"'bogus'.*numpy.*cupy"):
        backend.use("bogus")
    assert backend.current() == "numpy"


@pytest.mark.skipif(backend.cupy_available(), reason="CuPy and a GPU are present here")
def test_cupy_without_gpu_says_what_is_missing():
    missing = r"backend 'cupy' requested.*(not installed|no CUDA GPU)"
    assert issubclass(backend.BackendError, RuntimeError)
    with pytest.raises(backend.BackendError, match=missing):
        backend.use("cupy")
    assert backend.current() == "numpy"  # a failed switch changes nothing
    with pytest.raises(backend.BackendError, match="pip install|no CUDA GPU"):
        backend.require_cupy()
    with pytest.raises(backend.BackendError, match="cupy"):
        backend.to_device(np.ones(2), "gpu")
    with pytest.raises(backend.BackendError, match="cupy"):
        Tensor(np.ones(2)).to("gpu")


def test_use_numpy_and_back():
    backend.use("numpy")
    assert backend.current() == "numpy" and backend.xp() is np
    assert Tensor([1.0]).device == "cpu"


def _python_with_env(code: str, value: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, MINIALEX_BACKEND=value)
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=120)


def test_env_var_selects_backend_in_a_fresh_process():
    code = "from minialex import backend; print(backend.current())"
    done = _python_with_env(code, " NumPy ")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "numpy"
    bogus = _python_with_env(code, "bogus")
    last = bogus.stderr.strip().splitlines()[-1]
    assert bogus.returncode != 0 and last.startswith("minialex.backend.BackendError")
    for word in ("MINIALEX_BACKEND='bogus'", "unknown backend", "'numpy'", "'cupy'"):
        assert word in last, word
    gpu = _python_with_env(code, "cupy")
    if backend.cupy_available():
        assert gpu.stdout.strip() == "cupy", gpu.stderr
    else:
        last = gpu.stderr.strip().splitlines()[-1]
        assert gpu.returncode != 0 and "BackendError" in last
        assert "MINIALEX_BACKEND='cupy'" in last and "backend 'cupy' requested" in last


# ------------------------------------------------------------------ array modules
def test_get_array_module_on_numpy_tensors_and_scalars():
    a = np.ones(3)
    assert backend.get_array_module(a) is np
    assert backend.get_array_module(Tensor(a)) is np
    for scalar in (1.0, 3, np.float64(2.0), np.float32(1.0), [1.0, 2.0], None):
        assert backend.get_array_module(scalar) is np
    assert backend.get_array_module(a, 2.0, Tensor(a)) is np


def test_to_host_and_to_device_on_numpy():
    a = np.arange(3.0)
    assert backend.to_host(a) is a  # no copy on the host
    assert backend.to_device(a, "cpu") is a
    listed = backend.to_host([1.0, 2.0])
    assert isinstance(listed, np.ndarray) and listed.tolist() == [1.0, 2.0]
    assert backend.device_of(a) == "cpu"
    with pytest.raises(ValueError, match="'tpu'"):
        backend.to_device(a, "tpu")


@pytest.mark.parametrize("xp_name", BACKENDS)
def test_round_trip_between_host_and_device(xp_name, xp):
    device = "gpu" if xp_name == "cupy" else "cpu"
    on_device = backend.to_device(np.arange(6.0).reshape(2, 3), device)
    assert backend.get_array_module(on_device) is xp
    assert backend.device_of(on_device) == device
    back = backend.to_host(on_device)
    assert isinstance(back, np.ndarray)
    np.testing.assert_array_equal(back, np.arange(6.0).reshape(2, 3))


@pytest.mark.parametrize("xp_name", BACKENDS)
def test_tensor_to_device_keeps_gradient_flowing(xp_name, xp):
    device = "gpu" if xp_name == "cupy" else "cpu"
    x = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    y = x.to(device)
    assert y.device == device and backend.get_array_module(y.data) is xp
    loss = (y * y + y).sum()
    loss.backward()
    assert isinstance(x.grad, np.ndarray)  # the gradient came back to the host
    np.testing.assert_array_equal(x.grad, [3.0, 5.0, 7.0])  # 2x + 1
    assert isinstance(loss.numpy(), np.ndarray)


@pytest.mark.parametrize("xp_name", BACKENDS)
def test_scatter_add_sums_repeated_indices(xp_name, xp):
    target = xp.zeros(4)
    backend.scatter_add(target, xp.asarray([0, 2, 0, 0]), xp.asarray([1.0, 2.0, 3.0, 4.0]))
    np.testing.assert_array_equal(backend.to_host(target), [8.0, 0.0, 2.0, 0.0])


@pytest.mark.parametrize("xp_name", BACKENDS)
def test_as_strided_sliding_windows(xp_name, xp):
    x = xp.arange(5.0)
    step = x.strides[0]
    windows = backend.as_strided(x, shape=(3, 3), strides=(step, step))
    np.testing.assert_array_equal(backend.to_host(windows),
                                  [[0, 1, 2], [1, 2, 3], [2, 3, 4]])


# ------------------------------------------------------------------ random state
@pytest.mark.parametrize("xp_name", BACKENDS)
def test_manual_seed_makes_draws_repeat(xp_name, xp):
    like = xp.zeros(1)
    backend.manual_seed(123)
    first = backend.to_host(backend.get_rng(like=like).standard_normal(5))
    more = backend.to_host(backend.get_rng(like=like).standard_normal(5))
    backend.manual_seed(123)
    again = backend.to_host(backend.get_rng(like=like).standard_normal(5))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, more)  # one generator, advancing
    backend.manual_seed(124)
    other = backend.to_host(backend.get_rng(like=like).standard_normal(5))
    assert not np.array_equal(first, other)


def test_get_rng_is_shared_and_default_rng_is_independent():
    assert backend.get_rng() is backend.get_rng(like=np.ones(2))
    a = backend.default_rng(7).standard_normal(3)
    b = backend.default_rng(7).standard_normal(3)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, np.random.default_rng(7).standard_normal(3))
