"""The CuPy-rules emulator itself: each rule it promises, checked against what CuPy 14 does.

These run in the ordinary suite (the emulator needs no GPU). The expected behaviour comes from
CuPy's source and its recorded name list, not from the emulator: e.g. CuPy's ``__array__``
raises "Implicit conversion to a NumPy array is not allowed", its ``Generator`` has no
``permutation``, its ``maximum.reduce`` raises NotImplementedError.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

import minialex
from minialex import Tensor, backend

np = backend.np
ROOT = Path(__file__).resolve().parents[1]
NAMES = json.loads((ROOT / "minialex" / "_cupy_emulator" / "cupy14_names.json").read_text())


@pytest.fixture
def cp():
    """The emulated cupy module, selected for the test only."""
    with backend.using("cupy-emulator") as module:
        backend.use("numpy")  # new tensors stay on the host unless a test moves them
        yield module


def syncs_of(fn):
    before = backend.sync_count()
    fn()
    return backend.sync_count() - before


# ------------------------------------------------------------------ selecting it
def test_selected_by_name_and_by_environment_without_importing_cupy():
    code = ("import sys; from minialex import Tensor, backend; t = Tensor([1.0, 2.0]); "
            "print(backend.current(), t.device, type(t.data).__name__, "
            "isinstance(t.data, backend.np.ndarray), 'cupy' in sys.modules)")
    env = dict(os.environ, MINIALEX_BACKEND="cupy-emulator", PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["cupy-emulator", "gpu", "ndarray", "False", "False"]


def test_numpy_default_imports_neither_cupy_nor_the_emulator():
    code = ("import sys, minialex; from minialex import backend; backend.xp(); "
            "backend.get_array_module(backend.np.ones(2)); "
            "print('cupy' in sys.modules, 'minialex._cupy_emulator' in sys.modules)")
    env = {k: v for k, v in os.environ.items() if k != "MINIALEX_BACKEND"}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False"]


def test_using_restores_the_previous_selection(cp):
    assert backend.current() == "numpy"
    with backend.using("cupy-emulator") as module:
        assert module is cp and backend.current() == "cupy-emulator"
        assert Tensor([1.0]).device == "gpu"
    assert backend.current() == "numpy" and Tensor([1.0]).device == "cpu"


# ------------------------------------------------------------------ device arrays
def test_device_arrays_are_their_own_type(cp):
    a = cp.arange(6, dtype=cp.float32).reshape(2, 3)
    assert not isinstance(a, np.ndarray) and isinstance(a, cp.ndarray)
    assert backend.get_array_module(a) is cp and backend.get_array_module(Tensor(a)) is cp
    assert backend.device_of(a) == "gpu" and backend.is_array(a)
    assert (a.shape, a.dtype, a.ndim, a.size, a.itemsize) == ((2, 3), np.float32, 2, 6, 4)
    assert a.flags.c_contiguous and not a.T.flags.c_contiguous
    assert "MemoryPointer" in repr(a.data)  # .data is device memory on CuPy, not the values


@pytest.mark.parametrize("convert", [
    lambda a: np.asarray(a), lambda a: np.array(a), lambda a: np.ascontiguousarray(a),
    lambda a: np.sum(a), lambda a: np.concatenate([a, a]), lambda a: np.exp(a),
    lambda a: np.maximum(a, 0), lambda a: np.float64(1.0) + np.ones(3) * a,
], ids=["asarray", "array", "ascontiguousarray", "sum", "concatenate", "exp", "maximum",
        "host-expression"])
def test_implicit_host_conversion_raises_type_error(cp, convert):
    with pytest.raises(TypeError, match="(?i)implicit conversion|NumPy|numpy"):
        convert(cp.ones(3))


def test_numpy_array_error_is_cupys(cp):
    with pytest.raises(TypeError, match=r"Implicit conversion to a NumPy array is not allowed\. "
                                        r"Please use `\.get\(\)`"):
        np.asarray(cp.ones(2))


@pytest.mark.parametrize("mix", [
    lambda d, h: d + h, lambda d, h: h + d, lambda d, h: d * h, lambda d, h: h @ d,
    lambda d, h: d.__iadd__(h), lambda d, h: d > h,
])
def test_host_and_device_array_in_one_operation_raise(cp, mix):
    with pytest.raises(TypeError, match="Unsupported type <class 'numpy.ndarray'>"):
        mix(cp.ones(3), np.ones(3))


@pytest.mark.parametrize("call", [
    lambda cp, h: cp.exp(h), lambda cp, h: cp.maximum(cp.ones(3), h),
    lambda cp, h: cp.where(cp.ones(3) > 0, h, 0.0), lambda cp, h: cp.sum(h),
    lambda cp, h: cp.matmul(cp.ones((3, 3)), h), lambda cp, h: cp.ascontiguousarray(h),
    lambda cp, h: cp.add.at(cp.zeros(3), cp.asarray([0]), h[:1]),
])
def test_cupy_functions_refuse_host_arrays(cp, call):
    with pytest.raises(TypeError, match="NumPy|numpy"):
        call(cp, np.ones(3))


def test_host_data_into_a_device_slice_is_refused_as_on_cupy(cp):
    d = cp.zeros(4)
    with pytest.raises(ValueError, match="non-scalar"):
        d[1:3] = np.ones(2)
    d[1:3] = 5.0  # a scalar is fine
    d[cp.asarray([0, 3])] = np.array([7.0, 8.0])  # advanced indexing copies (CuPy does too)
    assert d.tolist() == [7.0, 5.0, 5.0, 8.0]


def test_scalars_mix_with_device_arrays_as_on_cupy(cp):
    a = cp.ones(3, dtype=cp.float32)
    for out in (a * 2.0, 2.0 * a, a + 1, np.float32(2.0) * a, a / np.float32(4.0)):
        assert isinstance(out, cp.ndarray) and out.dtype == np.float32
    assert (a * np.float64(2.0)).dtype == np.float64  # NEP 50, as CuPy 14 and NumPy 2


def test_asarray_copies_host_data_to_the_device(cp):
    host = np.arange(3.0)
    dev = cp.asarray(host)
    host[0] = 99.0
    assert dev.tolist() == [0.0, 1.0, 2.0]
    assert cp.asarray(dev) is not None and backend.to_host(dev) is not host


def test_unsupported_dtypes_are_refused(cp):
    with pytest.raises(TypeError, match="Unsupported dtype"):
        cp.asarray(np.array(["a", "b"]))
    with pytest.raises(TypeError, match="Unsupported dtype"):
        cp.zeros(3).astype(object)


def test_empty_memory_is_poisoned_not_zero(cp):
    assert bool(cp.isnan(cp.empty(4)).all())
    assert bool(cp.isnan(cp.empty_like(cp.zeros((2, 2)))).all())
    assert int(cp.empty(2, dtype=cp.int32).min()) != 0


# ------------------------------------------------------------------ only CuPy 14's names
def test_name_list_comes_from_cupy_14():
    assert NAMES["cupy_version"].startswith("14.")
    assert NAMES["generated_by"] == "tools/cupy_names.py"
    cupy_names = NAMES["modules"]["cupy"]
    assert cupy_names["add"]["kind"] == "ufunc" and "at" in cupy_names["add"]["methods"]
    assert "permutation" not in NAMES["random.Generator"]  # CuPy's Generator lacks it
    assert "asnumpy" in cupy_names and "scatter_add" in NAMES["ndarray"]


def test_committed_name_list_matches_the_installed_cupy():
    cupy = pytest.importorskip("cupy", reason="CuPy not installed: the list cannot be redone")
    if not cupy.__version__.startswith(NAMES["cupy_version"]):
        pytest.skip(f"installed CuPy {cupy.__version__}, list from {NAMES['cupy_version']}")
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "cupy_names.py"), "--check"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def _numpy_only_function():
    """A public NumPy function that CuPy 14 does not have (read from the list)."""
    cupy_names = NAMES["modules"]["cupy"]
    return next(n for n in sorted(dir(np)) if not n.startswith("_") and n not in cupy_names
                and callable(getattr(np, n)) and not isinstance(getattr(np, n), type))


def test_a_numpy_only_name_is_missing(cp):
    name = _numpy_only_function()
    with pytest.raises(AttributeError, match=rf"no attribute '{name}'.*NumPy has it"):
        getattr(cp, name)
    with pytest.raises(AttributeError, match="no such name"):
        cp.definitely_not_a_function  # noqa: B018


def test_ndarray_methods_numpy_has_but_cupy_lacks(cp):
    a = cp.ones(4)
    missing = [m for m in ("resize", "setflags", "getfield", "to_device", "itemset")
               if m not in NAMES["ndarray"]]
    assert missing
    for m in missing:
        with pytest.raises(AttributeError, match="no such method"):
            getattr(a, m)


@pytest.mark.parametrize("call", [
    lambda cp: cp.ones(3).sum(where=True),            # NumPy's where= is not CuPy's
    lambda cp: cp.asarray([1.0], like=cp.ones(1)),
    lambda cp: cp.zeros(3, like=cp.ones(1)),
    lambda cp: cp.ones(3).max(initial=0.0),
    lambda cp: cp.exp(cp.ones(2), where=True),
])
def test_keyword_arguments_cupy_lacks_are_refused(cp, call):
    with pytest.raises(TypeError, match="unexpected keyword"):
        call(cp)


def test_unravel_index_refuses_a_python_int_as_cupy_14_does(cp):
    with pytest.raises(TypeError, match="indices.*cupy.ndarray"):
        cp.unravel_index(5, (2, 3))
    rows, cols = cp.unravel_index(cp.asarray(5), (2, 3))
    assert (int(rows), int(cols)) == (1, 2)


def test_random_generator_has_only_cupys_methods(cp):
    rng = cp.random.default_rng(0)
    for missing in ("permutation", "shuffle", "choice", "normal"):
        with pytest.raises(AttributeError, match="no such method"):
            getattr(rng, missing)
    x = rng.random((3, 4), dtype=cp.float32)
    assert isinstance(x, cp.ndarray) and x.dtype == np.float32 and x.shape == (3, 4)
    assert rng.standard_normal(5).dtype == np.float64
    with pytest.raises(TypeError, match="dtype"):
        rng.random(3, dtype=np.float16)


def test_ufunc_methods_follow_cupy(cp):
    target = cp.zeros(3)
    cp.add.at(target, cp.asarray([0, 0, 2]), 1.0)  # repeated indices all add
    assert target.tolist() == [2.0, 0.0, 1.0]
    assert float(cp.add.reduce(cp.arange(4.0))) == 6.0
    with pytest.raises(NotImplementedError, match="maximum.reduce"):
        cp.maximum.reduce(cp.arange(4.0))
    with pytest.raises(NotImplementedError, match="exp.at"):
        cp.exp.at(target, cp.asarray([0]))


def test_kernels_and_streams_are_not_emulated(cp):
    with pytest.raises(AttributeError, match="not emulated.*kernels"):
        cp.RawKernel  # noqa: B018
    with pytest.raises(AttributeError, match="not emulated"):
        cp.fft  # noqa: B018


# ------------------------------------------------------------------ 0-d device results
def test_reductions_and_integer_indexing_give_0d_device_arrays(cp):
    a = cp.arange(6.0).reshape(2, 3)
    for out in (a.sum(), a.max(), a.mean(), a.argmax(), cp.sum(a), a[1, 2], a[0][1],
                cp.all(a > -1), (a > 2).any(), a.std()):
        assert isinstance(out, cp.ndarray) and out.shape == (), type(out)
    assert all(isinstance(row, cp.ndarray) and row.shape == (3,) for row in a)


def test_no_index_protocol_as_on_cupy(cp):
    n = cp.asarray(3)
    with pytest.raises(TypeError):
        range(n)
    with pytest.raises(TypeError):
        [1, 2, 3, 4][n]
    assert int(n) == 3


# ------------------------------------------------------------------ sync counting
@pytest.mark.parametrize("transfer", [
    lambda a: float(a.sum()), lambda a: int(a[0]), lambda a: bool(a[0] > 0),
    lambda a: a[0].item(), lambda a: a.get(), lambda a: a.tolist(),
    lambda a: backend.to_host(a), lambda a: repr(a), lambda a: f"{a[0]:.2f}",
    lambda a: a[a > 1], lambda a: a.nonzero(), lambda a: Tensor(a).numpy(),
    lambda a: Tensor(a).sum().item(),
], ids=["float", "int", "bool", "item", "get", "tolist", "to_host", "repr", "format",
        "mask-index", "nonzero", "Tensor.numpy", "Tensor.item"])
def test_every_device_to_host_transfer_is_one_sync(cp, transfer):
    a = cp.arange(1.0, 5.0)
    assert syncs_of(lambda: transfer(a)) == 1


def test_device_work_itself_does_not_sync(cp):
    a = cp.arange(12.0).reshape(3, 4)

    def work():
        b = cp.exp(a) @ a.T
        b += 1.0
        b = b.sum(axis=0) / b.max()
        a[0, 1] = b[2]
        _ = a[cp.asarray([0, 2])], a[1], a.reshape(-1)[::2], cp.where(a > 3, a, 0.0)
        cp.add.at(b, cp.asarray([0, 0]), 1.0)
    assert syncs_of(work) == 0


# ------------------------------------------------------------------ random state
def test_generator_state_lives_in_a_device_array_and_round_trips(cp):
    rng = cp.random.default_rng(7)
    saved = rng.bit_generator._state.copy()
    first = rng.random(5).tolist()
    assert rng.bit_generator._state.tolist() != saved.tolist()  # drawing advanced it
    rng.bit_generator._state[...] = saved
    assert rng.random(5).tolist() == first


def test_backend_rng_state_restores_device_draws_exactly(cp):
    backend.manual_seed(3)
    like = cp.zeros(1)
    backend.get_rng(like=like).random(4)
    state = backend.rng_state()
    assert isinstance(state["gpu"], np.ndarray)  # on the host, ready for a checkpoint
    expected = backend.get_rng(like=like).random(6).tolist()
    host_expected = backend.get_rng(like=np.zeros(1)).random(2).tolist()
    backend.manual_seed(99)  # anything else in between
    backend.get_rng(like=like).random(10)
    backend.set_rng_state(state)
    assert backend.get_rng(like=like).random(6).tolist() == expected
    assert backend.get_rng(like=np.zeros(1)).random(2).tolist() == host_expected
    with pytest.raises(ValueError, match="GPU random state"):
        backend.set_rng_state({"gpu": np.zeros(3, np.int8)})


# ------------------------------------------------------------------ cupy_available's probe
class _FakeRuntime:
    def __init__(self, count):
        self.count = count

    def getDeviceCount(self):  # noqa: N802 - CuPy's name
        return self.count


def _fake_cupy(count=1, kernel_error=None):
    def arange(n, dtype=None):
        if kernel_error is not None:
            raise kernel_error
        return np.arange(n, dtype=dtype)
    return types.SimpleNamespace(cuda=types.SimpleNamespace(runtime=_FakeRuntime(count)),
                                 arange=arange, float32=np.float32, ndarray=np.ndarray)


@pytest.fixture
def fake_cupy(monkeypatch):
    def install(module):
        monkeypatch.setattr(backend, "_import_cupy", lambda: module)
        monkeypatch.setattr(backend, "_probe_result", [])
        monkeypatch.setattr(backend, "_cupy", module)
        monkeypatch.setattr(backend, "_gpu_module", None)  # "gpu" not yet chosen
    return install


def test_probe_runs_a_kernel_and_a_matmul(fake_cupy):
    fake_cupy(_fake_cupy())
    assert backend.cupy_available()


def test_probe_says_when_nvrtc_or_cublas_is_missing(fake_cupy):
    fake_cupy(_fake_cupy(kernel_error=RuntimeError("libnvrtc.so.12: cannot open shared object")))
    assert not backend.cupy_available()
    with pytest.raises(backend.BackendError, match=r"libnvrtc.*NVRTC, cuBLAS.*\[ctk\]"):
        backend.require_cupy()


def test_probe_result_is_cached(fake_cupy):
    calls = []
    fake = _fake_cupy()
    fake.cuda.runtime.getDeviceCount = lambda: calls.append(1) or 1
    fake_cupy(fake)
    for _ in range(5):
        backend.cupy_available()
        backend.xp()
    assert calls == [1]


# ------------------------------------------------------------------ through minialex
def test_tensor_ops_and_backward_on_the_emulator(cp):
    x = Tensor(cp.asarray([[1.0, -2.0], [3.0, 4.0]]), requires_grad=True)
    loss = (minialex.functional.relu(x) * x).sum()
    loss.backward()
    assert isinstance(x.grad, cp.ndarray)
    assert backend.to_host(x.grad).tolist() == [[2.0, 0.0], [6.0, 8.0]]


def test_scatter_add_uses_add_at(cp):
    target = cp.zeros(4)
    backend.scatter_add(target, cp.asarray([1, 1, 3]), cp.asarray([1.0, 2.0, 3.0]))
    assert target.tolist() == [0.0, 3.0, 0.0, 3.0]


def test_example_checks_a_layer_for_the_gpu_without_one():
    env = {k: v for k, v in os.environ.items() if k != "MINIALEX_BACKEND"}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "run_on_gpu_without_gpu.py")],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("1. swish on the emulated GPU: output on gpu")
    assert "(a NumPy array: False)" in lines[0]
    assert lines[1].endswith("max difference 0.0e+00")  # NumPy computes both: bit for bit
    assert lines[2].endswith("(float64): True")
    assert lines[3].startswith("2. swish_host_numpy on the device: TypeError: numpy.exp()")
    assert lines[4] == "3. device-to-host syncs in 10 calls: swish 0, swish_with_a_sync 10"
