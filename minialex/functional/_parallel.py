"""The copies of a layer on every core: a small thread pool for NumPy's loops.

OpenBLAS runs a layer's GEMMs on all cores, but im2col's patch copies, col2im's adds, the
layout transposes and the element-wise passes of pooling and batch norm are single NumPy loops
on one core. NumPy releases the GIL inside large copies and ufunc loops, so Python threads
that each take a slice of the array run them in parallel.

- How many threads: as many as BLAS uses (threadpoolctl when installed, else
  ``OPENBLAS_NUM_THREADS`` / ``OMP_NUM_THREADS``, else the cores this process may run on), or
  ``MINIALEX_NUM_THREADS``. With one BLAS thread everything stays in the calling thread, so a
  run limited to one core is never oversubscribed. ``threads(n)`` overrides it for a block.
- Only NumPy arrays are split. Device arrays (CuPy, the CuPy emulator) run as one call: there
  a kernel launch per operation is what matters, and the GPU has its own parallelism.
- Determinism: the work is always cut along an axis whose slices are independent (channels,
  kernel rows, images), and each slice runs the same operations in the same order as the
  whole array would; the results are bit for bit the same for every thread count.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from minialex import backend

__all__ = ["blas_threads", "num_threads", "threads", "split", "slices", "copy", "timed",
           "profile"]

ENV_VAR = "MINIALEX_NUM_THREADS"
# Below this much work (bytes touched) one thread. Measured on 2 cores (benchmarks/README.md):
# a second thread sped up the passes over AlexNet's 96x55x55 maps at batch 32 (a few tens of MB
# each) but slowed down everything of a few MB (the 13x13 pool, small batch norms, im2col
# blocks): a worker must wait for the GIL between the calling thread's short NumPy calls, and
# these passes are bound by memory bandwidth, which the two cores share.
MIN_SPLIT_BYTES = 32 << 20

_override: int | None = None
_min_bytes = MIN_SPLIT_BYTES
_detected: int | None = None
_pool: ThreadPoolExecutor | None = None
_pool_key: tuple[int, int] | None = None  # (process id, workers): a forked child starts anew
_pool_lock = threading.Lock()
_local = threading.local()  # .busy: this thread runs a piece (a nested split runs inline)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _positive_int(text: str | None) -> int | None:
    try:
        value = int(str(text).split(",")[0])
    except ValueError:
        return None
    return value if value > 0 else None


def blas_threads() -> int:
    """Threads NumPy's BLAS runs on: threadpoolctl's answer when it is installed, else
    OpenBLAS's own rule (``OPENBLAS_NUM_THREADS``, ``GOTO_NUM_THREADS``, ``OMP_NUM_THREADS``,
    else every core this process may use)."""
    try:
        import threadpoolctl
    except ImportError:
        threadpoolctl = None
    if threadpoolctl is not None:
        blas = [i for i in threadpoolctl.threadpool_info() if i.get("user_api") == "blas"]
        ours = [i for i in blas if "numpy" in str(i.get("filepath", ""))] or blas
        counts = [n for n in (_positive_int(i.get("num_threads")) for i in ours) if n]
        if counts:
            return min(counts)
    for var in ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS"):
        value = _positive_int(os.environ.get(var))
        if value:
            return value
    return _cores()


def num_threads() -> int:
    """Threads a split uses: ``threads(n)`` if active, else ``MINIALEX_NUM_THREADS``, else
    ``blas_threads()`` (read once), never more than the cores available."""
    global _detected
    if _override is not None:
        return _override
    if _detected is None:
        _detected = max(1, min(_positive_int(os.environ.get(ENV_VAR)) or blas_threads(),
                               _cores()))
    return _detected


@contextmanager
def threads(n: int, min_bytes: int | None = None) -> Iterator[None]:
    """Use ``n`` threads for the splits inside the block (tests: 1 versus 2, benchmarks);
    ``min_bytes=0`` splits even tiny work (tests of small arrays)."""
    global _override, _min_bytes
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"threads: expected a positive int, got {n!r}")
    before = _override, _min_bytes
    _override = n
    if min_bytes is not None:
        _min_bytes = min_bytes
    try:
        yield
    finally:
        _override, _min_bytes = before


def _executor(workers: int) -> ThreadPoolExecutor:
    global _pool, _pool_key
    key = (os.getpid(), workers)
    with _pool_lock:
        if _pool_key != key:
            if _pool is not None and _pool_key[0] == key[0]:
                _pool.shutdown(wait=False)
            _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="minialex")
            _pool_key = key
        return _pool


def _run_piece(fn: Callable[[int, int], None], start: int, stop: int) -> None:
    _local.busy = True
    try:
        fn(start, stop)
    finally:
        _local.busy = False


def split(fn: Callable[[int, int], None], length: int, like: Any, nbytes: int,
          category: str | None = None) -> None:
    """Call ``fn(start, stop)`` on contiguous pieces that cover ``range(length)``, one piece
    per thread, and return when all are done. ``like``: an array of the work (only NumPy
    arrays are split); ``nbytes``: about how many bytes the whole work touches (small work
    runs in one call). The pieces must write disjoint memory. ``category``: the ``profile``
    entry the wall-clock time of the whole split goes to."""
    with timed(category) if category else _NO_TIMER:
        _split(fn, length, like, nbytes)


def _split(fn: Callable[[int, int], None], length: int, like: Any, nbytes: int) -> None:
    workers = min(num_threads(), length)
    if (workers < 2 or nbytes < _min_bytes or getattr(_local, "busy", False)
            or not isinstance(like, backend.np.ndarray)):
        fn(0, length)
        return
    bounds = [length * k // workers for k in range(workers + 1)]
    pool = _executor(workers - 1)
    futures = [pool.submit(_run_piece, fn, bounds[k], bounds[k + 1])
               for k in range(1, workers)]
    try:
        _run_piece(fn, bounds[0], bounds[1])  # the calling thread takes the first piece
    finally:
        errors = [f.exception() for f in futures]  # wait for every piece, even on an error
    for error in errors:
        if error is not None:
            raise error


def slices(fn: Callable[[tuple[slice, ...]], None], shape: tuple[int, ...], like: Any,
           nbytes: int, axis: int | None = None, category: str | None = None) -> None:
    """``split`` along ``axis`` of ``shape`` (by default the longer of the first two axes):
    ``fn(index)`` gets an index such as ``(slice(a, b),)`` or ``(slice(None), slice(a, b))``
    to apply to every array of the work."""
    if axis is None:
        axis = 0 if len(shape) < 2 or shape[0] >= shape[1] else 1
    lead = (slice(None),) * axis
    split(lambda a, b: fn(lead + (slice(a, b),)), shape[axis], like, nbytes, category)


def copy(dst: Any, src: Any, axis: int | None = None, category: str = "layout") -> None:
    """``dst[...] = src`` (same shape) on every thread, each piece in cache-sized chunks
    (``backend.copy_blocked``): for the layout transposes, NCHW <-> CHWN."""
    def piece(index: tuple[slice, ...]) -> None:
        backend.copy_blocked(dst[index], src[index])

    slices(piece, src.shape, dst, 2 * src.size * src.itemsize, axis, category)


# ---------------------------------------------------------------- where the time goes
# The kinds of copy conv2d times; their sum is also recorded as "copy".
COPIES = ("layout", "im2col", "col2im")
_totals: dict[str, float] | None = None
_clock: Callable[[], float] = time.perf_counter


class _Timer:
    __slots__ = ("category", "start")

    def __init__(self, category: str) -> None:
        self.category = category

    def __enter__(self) -> None:
        self.start = _clock()

    def __exit__(self, *exc: Any) -> None:
        totals = _totals
        if totals is not None:
            seconds = _clock() - self.start
            totals[self.category] = totals.get(self.category, 0.0) + seconds
            if self.category in COPIES:
                totals["copy"] = totals.get("copy", 0.0) + seconds


class _NoTimer:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> None:
        return None


_NO_TIMER = _NoTimer()


def timed(category: str) -> Any:
    """``with timed("gemm"): ...`` adds the block's wall-clock time to ``category`` while a
    ``profile()`` is active; otherwise it does nothing. Time only in the calling thread
    (around a ``split``, never inside a piece)."""
    if _totals is None:
        return _NO_TIMER
    return _Timer(category)


@contextmanager
def profile(clock: Callable[[], float] = time.perf_counter) -> Iterator[dict[str, float]]:
    """Collect the seconds spent in ``timed`` sections inside the block: ``with profile() as
    seconds: conv2d(...)`` -> ``seconds["gemm"]``, ``seconds["im2col"]``, ``seconds["col2im"]``,
    ``seconds["layout"]`` (transposes, padding, phase split, bias) and ``seconds["copy"]``, the
    sum of the last three. ``clock``: wall-clock time by default; ``time.process_time`` for a
    one-thread run on a busy machine (the benchmarks' ``--timer cpu``)."""
    global _totals, _clock
    before, _totals, _clock = (_totals, _clock), {}, clock
    try:
        yield _totals
    finally:
        _totals, _clock = before
