"""minialex.functional._parallel: the thread count it reads, how it splits work, and the
profile conv2d's copies report to. Results of the layers that use it (conv2d, max_pool2d,
batch_norm) with 1 and 2 threads are tested in their own files."""

from __future__ import annotations

import sys
import threading
import types

import pytest

import minialex
import minialex.functional as F
from minialex import backend
from minialex.functional import _parallel

np = backend.np


@pytest.fixture
def fresh_count(monkeypatch):
    """num_threads() detects again (it caches the first answer) with no overriding variable."""
    monkeypatch.setattr(_parallel, "_detected", None)
    for var in ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS", _parallel.ENV_VAR):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)  # import fails: the env rule
    monkeypatch.setattr(_parallel, "_cores", lambda: 8)
    return monkeypatch


def test_thread_count_follows_openblas_rule(fresh_count):
    assert _parallel.blas_threads() == 8  # no variable: every core, as OpenBLAS does
    fresh_count.setenv("OMP_NUM_THREADS", "3")
    assert _parallel.blas_threads() == 3
    fresh_count.setenv("OPENBLAS_NUM_THREADS", "1")  # OpenBLAS's own variable wins
    assert _parallel.blas_threads() == 1
    assert _parallel.num_threads() == 1  # one BLAS thread: the copies stay on one thread


def test_thread_count_ignores_bad_values_and_caps_at_the_cores(fresh_count):
    fresh_count.setenv("OPENBLAS_NUM_THREADS", "zero")
    fresh_count.setenv("OMP_NUM_THREADS", "4,2")  # OpenMP's nested list: the first level
    assert _parallel.blas_threads() == 4
    fresh_count.setenv(_parallel.ENV_VAR, "64")
    assert _parallel.num_threads() == 8  # MINIALEX_NUM_THREADS, never above the cores


def test_thread_count_from_threadpoolctl(fresh_count):
    """With threadpoolctl installed its answer for NumPy's BLAS wins over the variables."""
    fake = types.ModuleType("threadpoolctl")
    fake.threadpool_info = lambda: [
        {"user_api": "blas", "internal_api": "mkl", "num_threads": 6, "filepath": "/x/libmkl.so"},
        {"user_api": "blas", "internal_api": "openblas", "num_threads": 2,
         "filepath": "/site-packages/numpy.libs/libscipy_openblas64_.so"},
        {"user_api": "openmp", "num_threads": 7, "filepath": "/x/libgomp.so"}]
    fresh_count.setitem(sys.modules, "threadpoolctl", fake)
    fresh_count.setenv("OPENBLAS_NUM_THREADS", "5")
    assert _parallel.blas_threads() == 2


def test_threads_override_and_bad_values():
    with _parallel.threads(3):
        assert _parallel.num_threads() == 3
        with _parallel.threads(1):
            assert _parallel.num_threads() == 1
        assert _parallel.num_threads() == 3
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="positive int"), _parallel.threads(bad):
            pass


def _record_pieces(length, like, nbytes=1 << 30, n=2):
    pieces, names = [], set()

    def fn(start, stop):
        pieces.append((start, stop))
        names.add(threading.current_thread().name)

    with _parallel.threads(n):
        _parallel.split(fn, length, like, nbytes)
    return sorted(pieces), names


def test_split_covers_the_range_once_on_several_threads():
    pieces, _ = _record_pieces(10, np.zeros(1), n=3)
    assert pieces == [(0, 3), (3, 6), (6, 10)]
    together = threading.Barrier(3, timeout=10)  # passes only if the 3 pieces run at once
    with _parallel.threads(3):
        _parallel.split(lambda a, b: together.wait(), 3, np.zeros(1), 1 << 30)
    pieces, _ = _record_pieces(2, np.zeros(1), n=4)  # never more pieces than items
    assert pieces == [(0, 1), (1, 2)]


def test_split_runs_inline_when_it_should_not_split():
    array = np.zeros(1)
    assert _record_pieces(10, array, n=1)[0] == [(0, 10)]  # one thread
    assert _record_pieces(10, array, nbytes=10)[0] == [(0, 10)]  # too little work
    assert _record_pieces(10, [1.0])[0] == [(0, 10)]  # not a NumPy array (device arrays)


def test_nested_split_runs_inline():
    inner = []

    def outer(start, stop):
        _parallel.split(lambda a, b: inner.append((start, a, b)), 4, np.zeros(1), 1 << 30)

    with _parallel.threads(2):
        _parallel.split(outer, 2, np.zeros(1), 1 << 30)
    assert sorted(inner) == [(0, 0, 4), (1, 0, 4)]


def test_split_waits_for_every_piece_then_raises():
    done = []

    def fn(start, stop):
        if start == 0:
            raise RuntimeError("piece 0 failed")
        threading.Event().wait(0.05)
        done.append(start)

    with _parallel.threads(2), pytest.raises(RuntimeError, match="piece 0 failed"):
        _parallel.split(fn, 2, np.zeros(1), 1 << 30)
    assert done == [1]  # the other piece had finished when the error came back


def test_slices_pick_the_longer_leading_axis():
    got = []
    with _parallel.threads(2, min_bytes=0):
        _parallel.slices(got.append, (3, 11, 5), np.zeros(1), 1)
        _parallel.slices(got.append, (3, 11, 5), np.zeros(1), 1, axis=0)
    assert sorted(map(repr, got[:2])) == sorted(map(repr, [(slice(None), slice(0, 5)),
                                                           (slice(None), slice(5, 11))]))
    assert sorted(map(repr, got[2:])) == sorted(map(repr, [(slice(0, 1),), (slice(1, 3),)]))


def test_copy_transposes_exactly():
    src = np.random.default_rng(0).standard_normal((4, 3, 5, 6)).astype(np.float32)
    dst = np.empty((3, 5, 6, 4), np.float32)
    with _parallel.threads(2, min_bytes=0):
        _parallel.copy(dst, src.transpose(1, 2, 3, 0))
    assert np.array_equal(dst, src.transpose(1, 2, 3, 0))


def test_profile_records_conv_copies_and_gemms():
    x = minialex.Tensor(np.random.default_rng(1).standard_normal((2, 3, 9, 9)),
                        requires_grad=True)
    w = minialex.Tensor(np.random.default_rng(2).standard_normal((4, 3, 3, 3)),
                        requires_grad=True)
    with _parallel.profile() as seconds:
        F.conv2d(x, w, padding=1).sum().backward()
    assert {"gemm", "im2col", "col2im", "layout", "copy"} <= set(seconds)
    kinds = sum(seconds[k] for k in _parallel.COPIES)
    assert seconds["copy"] == pytest.approx(kinds) and all(v > 0 for v in seconds.values())
    with _parallel.profile() as seconds:
        pass
    assert seconds == {}
    F.conv2d(x, w)  # outside a profile nothing is recorded, nothing fails
