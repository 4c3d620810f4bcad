"""Shared timing harness for the benchmark scripts (imported as ``from harness import ...``).

Every ratio a benchmark prints is measured in the same run, side by side: candidates are
timed in interleaved rounds (A, B, C, A, B, C, ...) so that a slow moment of the machine hits
all of them alike, and the median of each is reported.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from minialex import backend
from minialex.functional import _parallel

np = backend.np

RESULTS_DIR = Path(__file__).resolve().parent / "results"
_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def bench_args(description: str,
               more: Callable[[argparse.ArgumentParser], None] | None = None) -> argparse.Namespace:
    """The options every benchmark takes (``more`` adds a script's own)."""
    parser = argparse.ArgumentParser(description=description)
    if more is not None:
        more(parser)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one round (CI smoke)")
    parser.add_argument("--device", choices=("cpu", "gpu"), default="cpu",
                        help="gpu: minialex on CuPy vs PyTorch CUDA")
    parser.add_argument("--rounds", type=int, default=None, help="timed rounds per candidate")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    parser.add_argument("--record", action="store_true",
                        help="write the results of record: results/DEVICE-Nthread-NAME.json "
                             "(what benchmarks/report.py turns into the README's tables)")
    parser.add_argument("--profile", action="store_true",
                        help="also print where minialex's time goes: copies / GEMMs / other")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for both NumPy's BLAS and PyTorch (default: theirs)")
    parser.add_argument("--timer", choices=("wall", "cpu"), default="wall",
                        help="wall: median wall-clock time (a quiet machine); cpu: best "
                             "process CPU time (less disturbed by other load; use --threads 1)")
    args = parser.parse_args()
    if args.threads is not None:
        _limit_threads(args.threads)
    if args.device == "gpu":  # real CuPy, or the CuPy-rules emulator when it is selected
        backend.use("cupy-emulator" if backend.current() == "cupy-emulator" else "cupy")
    return args


def _limit_threads(threads: int) -> None:
    """BLAS reads its thread count when NumPy is imported: restart this script with the
    variables set (once), then limit PyTorch too."""
    wanted = str(threads)
    if any(os.environ.get(v) != wanted for v in _THREAD_VARIABLES):
        env = dict(os.environ, **{v: wanted for v in _THREAD_VARIABLES})
        os.execve(sys.executable, [sys.executable, *sys.argv], env)
    torch = optional_torch()
    if torch is not None:
        torch.set_num_threads(threads)


def timer_description(args: argparse.Namespace, rounds: int) -> str:
    what = ("median wall-clock time" if args.timer == "wall"
            else "best process CPU time (user + system)")
    return f"{what} of {rounds} interleaved rounds"


def optional_torch() -> Any:
    """PyTorch if installed (the comparison column is skipped otherwise)."""
    try:
        import torch
    except ImportError:
        return None
    return torch


def per_op_setup(args: argparse.Namespace, full_rounds: int) -> tuple[int, int]:
    """(batch, rounds) of a per-op benchmark (32 and ``full_rounds``; 2 and 1 with --quick),
    after printing the machine and the method."""
    batch = 2 if args.quick else 32
    rounds = args.rounds or (1 if args.quick else full_rounds)
    print(f"machine: {machine_description(args.device)}")
    print(f"batch {batch}, float32, forward + backward, {timer_description(args, rounds)}")
    return batch, rounds


def torch_for(device: str) -> tuple[Any, str]:
    """(PyTorch or None, its device name) for the comparison column on ``device``.

    None when PyTorch is not installed, or on "gpu" when it has no CUDA.
    """
    torch = optional_torch()
    tdev = "cuda" if device == "gpu" else "cpu"
    if torch is not None and tdev == "cuda" and not torch.cuda.is_available():
        torch = None
    return torch, tdev


def synchronize(device: str) -> None:
    """Wait for queued GPU work so that timings cover the work itself."""
    if device == "gpu":
        backend.synchronize()
        torch = optional_torch()
        if torch is not None and torch.cuda.is_available():
            torch.cuda.synchronize()


class Timings(dict):
    """``{candidate: seconds}`` from ``time_interleaved``, with ``.rounds``: every round's
    seconds per candidate, in round order (round k of each candidate ran side by side, so
    ``rounds["a"][k] / rounds["b"][k]`` is one round's ratio: their spread is the noise)."""

    rounds: dict[str, list[float]]


def time_interleaved(candidates: dict[str, Callable[[], Any]], rounds: int, warmup: int = 1,
                     device: str = "cpu", timer: str = "wall") -> Timings:
    """Seconds per call of each candidate, measured in interleaved rounds: the median of
    wall-clock times (``timer="wall"``) or the best process CPU time (``timer="cpu"``, which
    on a loaded machine counts only this process's work; GPU work is not CPU time). The
    rounds themselves are in the result's ``.rounds`` (record them as ``rounds_s``)."""
    clock = time.perf_counter if timer == "wall" else time.process_time
    pick = statistics.median if timer == "wall" else min
    for fn in candidates.values():
        for _ in range(warmup):
            fn()
    synchronize(device)
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(rounds):
        for name, fn in candidates.items():
            synchronize(device)
            start = clock()
            fn()
            synchronize(device)
            samples[name].append(clock() - start)
    result = Timings({name: pick(s) for name, s in samples.items()})
    result.rounds = samples
    return result


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _blas_name() -> str:
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:  # older NumPy: no dict mode
        return "unknown"


_OTHERS_BUSY: list[float | None] = []  # sampled once per process, before any timing


def _cpu_jiffies() -> tuple[int, int, int] | None:
    """(all, idle, this process) CPU time in clock ticks, from /proc (Linux)."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        own = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, ValueError, IndexError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields[:8]), idle, int(own[11]) + int(own[12])  # utime + stime


def other_cores_busy(seconds: float = 1.0) -> float | None:
    """How many cores other processes kept busy during ``seconds`` (0 on a quiet machine;
    None where /proc is missing). Unlike the load average, which still remembers the
    previous minute (a benchmark that has just ended), this is the machine right now."""
    if not _OTHERS_BUSY:
        first = _cpu_jiffies()
        time.sleep(seconds)
        second = _cpu_jiffies()
        if first is None or second is None or second[0] == first[0]:
            _OTHERS_BUSY.append(None)
        else:
            total, idle, own = (b - a for a, b in zip(first, second, strict=True))
            share = max(0.0, (total - idle - own) / total)
            _OTHERS_BUSY.append(round(share * (os.cpu_count() or 1), 2))
    return _OTHERS_BUSY[0]


def machine_info(device: str = "cpu") -> dict[str, Any]:
    """The machine and the settings a run was measured with, as data (the JSON of record)."""
    torch = optional_torch()
    try:
        load = [round(v, 2) for v in os.getloadavg()]
    except OSError:  # pragma: no cover - not Unix
        load = None
    return {
        "date": datetime.date.today().isoformat(),
        "cpu": _cpu_name(),
        "cores": os.cpu_count(),
        "load_average_1_5_15min": load,
        "other_cores_busy": other_cores_busy(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": _blas_name(),
        "blas_threads": _parallel.blas_threads(),
        "minialex_copy_threads": _parallel.num_threads(),
        "thread_variables": {v: os.environ.get(v) for v in (*_THREAD_VARIABLES,
                                                            _parallel.ENV_VAR)},
        "torch": None if torch is None else torch.__version__,
        "torch_threads": None if torch is None else torch.get_num_threads(),
        "device": device,
    }


def machine_description(device: str = "cpu") -> str:
    info = machine_info(device)
    text = (f"{info['date']}, {info['cpu']}, {info['cores']} cores, numpy {info['numpy']} "
            f"({info['blas']}, {info['blas_threads']} BLAS threads, "
            f"{info['minialex_copy_threads']} copy threads)")
    if info["torch"] is not None:
        text += f", torch {info['torch']} ({info['torch_threads']} threads)"
    if info["other_cores_busy"] is not None:
        text += f", other processes busy on {info['other_cores_busy']:.2f} cores"
    elif info["load_average_1_5_15min"] is not None:
        text += f", load {info['load_average_1_5_15min'][0]:.2f}"
    if device == "gpu" and backend.current() == "cupy-emulator":
        text += ", GPU: the CuPy-rules emulator (NumPy computes: its timings say nothing)"
    elif device == "gpu":
        cp = backend.require_cupy()
        props = cp.cuda.runtime.getDeviceProperties(0)
        text += f", GPU {props['name'].decode()}, cupy {cp.__version__}"
    return text


def print_table(title: str, header: list[str], rows: list[list[Any]]) -> None:
    cells = [[str(c) for c in row] for row in [header] + rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    print(f"\n{title}")
    line = "  ".join(h.ljust(w) for h, w in zip(cells[0], widths, strict=True))
    print(line)
    print("-" * len(line))
    for row in cells[1:]:
        print("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in
                        enumerate(zip(row, widths, strict=True))))


def fmt_ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1e3:.2f}"


def fmt_ratio(a: float | None, b: float | None) -> str:
    return "-" if a is None or b is None else f"{a / b:.2f}x"


def layer_inputs(rng: Any, batch: int, shape: tuple[int, ...], xp: Any
                 ) -> tuple[Any, Any, tuple[Any, ...], Callable[[Any], Any]]:
    """(host_x, x, state, grad_for) for a per-layer benchmark: a standard-normal float32 batch
    of ``shape``, minialex's per-channel state (running mean, running var, weight, bias, as
    batch norm takes it; other layers ignore it), and ``grad_for(out)``, a random upstream
    gradient of ``out``'s shape."""
    import minialex

    host_x = rng.standard_normal((batch, *shape)).astype("float32")
    channels = shape[0]
    x = minialex.Tensor(xp.asarray(host_x), requires_grad=True)
    state = (minialex.Tensor(xp.zeros(channels, "float32")),
             minialex.Tensor(xp.ones(channels, "float32")),
             minialex.Tensor(xp.ones(channels, "float32"), requires_grad=True),
             minialex.Tensor(xp.zeros(channels, "float32"), requires_grad=True))

    def grad_for(out: Any) -> Any:
        return xp.asarray(rng.standard_normal(out.shape).astype("float32"))
    return host_x, x, state, grad_for


def torch_layer_inputs(torch: Any, tdev: str, host_x: Any, gy: Any
                       ) -> tuple[Any, tuple[Any, ...], Any]:
    """PyTorch's twin of ``layer_inputs``: (x, state, upstream gradient) on ``tdev``."""
    channels = host_x.shape[1]
    tx = torch.tensor(host_x, device=tdev, requires_grad=True)
    tstate = (torch.zeros(channels, device=tdev), torch.ones(channels, device=tdev),
              torch.ones(channels, device=tdev, requires_grad=True),
              torch.zeros(channels, device=tdev, requires_grad=True))
    return tx, tstate, torch.tensor(backend.to_host(gy), device=tdev)


def record_path(args: argparse.Namespace, name: str) -> Path:
    """results/DEVICE-Nthread-NAME.json: the file of record for this device and thread count."""
    return RESULTS_DIR / f"{args.device}-{_parallel.blas_threads()}thread-{name}.json"


def write_json(args: argparse.Namespace, name: str, results: Any, **settings: Any) -> None:
    """The results as data (``--json FILE``, ``--record``): the machine and thread settings,
    the method, and every measured time in seconds. Written whole (temp file + rename)."""
    paths = [Path(p) for p in ([args.json] if args.json else [])]
    if args.record:
        paths.append(record_path(args, name))
    if not paths:
        return
    payload = {
        "benchmark": name,
        "date": datetime.date.today().isoformat(),
        "machine": machine_description(args.device),
        "machine_info": machine_info(args.device),
        "settings": {"timer": args.timer, "quick": args.quick, "threads": args.threads,
                     "device": args.device, **settings},
        "results": results,
    }
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(payload, indent=2) + "\n")
        tmp.replace(path)
        print(f"\nwrote {path}")


def bare_gemms(xp: Any, rng: Any, groups: int, m: int, k: int, n: int,
               with_dx: bool) -> Callable[[], None]:
    """The matrix products of a conv layer alone (its ceiling with im2col): per group the
    forward (M x K) @ (K x N), the weight gradient and, if ``with_dx``, the column gradient,
    on ready-made float32 arrays, each written into an output allocated once (as conv2d's
    ``matmul(out=)`` does; a fresh output per call would add its page faults)."""
    def ready(*shape: int) -> Any:
        return xp.asarray(rng.standard_normal(shape).astype("float32"))
    cols, wmat, gmat = ready(groups, m, k), ready(groups, k, n), ready(groups, m, n)
    outs = [xp.empty((groups, m, n), "float32"), xp.empty((groups, k, n), "float32"),
            xp.empty((groups, m, k), "float32") if with_dx else None]

    def gemm() -> None:
        xp.matmul(cols, wmat, out=outs[0])                        # forward
        xp.matmul(cols.transpose(0, 2, 1), gmat, out=outs[1])     # weight gradient
        if with_dx:
            xp.matmul(gmat, wmat.transpose(0, 2, 1), out=outs[2])  # column gradient
    return gemm


def _kernel_seconds() -> float:
    """System CPU time of this process so far: page faults, thread wake-ups, the kernel."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not Unix
        return 0.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_stime


class KernelTimes:
    """Wraps a candidate so that each call records its time ("total", on the clock of
    ``timer``) and the system CPU time it took ("kernel": mostly the page faults of memory
    touched for the first time); ``median(key)`` over the calls, or the values of the call
    that took least time (``timer="cpu"``, as the candidate's own time is the best call)."""

    def __init__(self, fn: Callable[[], Any], timer: str = "wall") -> None:
        self.fn, self.calls, self.timer = fn, [], timer
        self.clock = time.perf_counter if timer == "wall" else time.process_time

    def __call__(self) -> None:
        start, kernel = self.clock(), _kernel_seconds()
        seconds = self._run()
        self.calls.append(dict(seconds, total=self.clock() - start,
                               kernel=_kernel_seconds() - kernel))

    def _run(self) -> dict[str, float]:
        self.fn()
        return {}

    def median(self, key: str, warmup: int = 1) -> float:
        """Seconds of ``key`` over the calls after the warm-up ones (see the class)."""
        calls = self.calls[warmup:] or self.calls
        if not calls:
            return 0.0
        if self.timer == "cpu":
            return min(calls, key=lambda c: c["total"]).get(key, 0.0)
        return statistics.median(c.get(key, 0.0) for c in calls)


class CopyTimes(KernelTimes):
    """KernelTimes for a minialex candidate, which also records where its time went
    (``_parallel.profile``: "copy" and "gemm" seconds, on the same clock)."""

    def _run(self) -> dict[str, float]:
        with _parallel.profile(self.clock) as seconds:
            self.fn()
        return seconds


def serial_copies(fn: Callable[[], Any]) -> Callable[[], Any] | None:
    """``fn`` with minialex's copies on one thread, or None when they are on one already."""
    if _parallel.num_threads() < 2:
        return None

    def one_thread() -> None:
        with _parallel.threads(1):
            fn()
    return one_thread
