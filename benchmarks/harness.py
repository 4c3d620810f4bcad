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

np = backend.np


_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def bench_args(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one round (CI smoke)")
    parser.add_argument("--device", choices=("cpu", "gpu"), default="cpu",
                        help="gpu: minialex on CuPy vs PyTorch CUDA")
    parser.add_argument("--rounds", type=int, default=None, help="timed rounds per candidate")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
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


def time_interleaved(candidates: dict[str, Callable[[], Any]], rounds: int, warmup: int = 1,
                     device: str = "cpu", timer: str = "wall") -> dict[str, float]:
    """Seconds per call of each candidate, measured in interleaved rounds: the median of
    wall-clock times (``timer="wall"``) or the best process CPU time (``timer="cpu"``, which
    on a loaded machine counts only this process's work; GPU work is not CPU time)."""
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
    return {name: pick(s) for name, s in samples.items()}


def machine_description(device: str = "cpu") -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    blas = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    text = (f"{datetime.date.today().isoformat()}, {cpu}, {os.cpu_count()} cores, "
            f"numpy {np.__version__} (BLAS threads: {blas})")
    torch = optional_torch()
    if torch is not None:
        text += f", torch {torch.__version__} ({torch.get_num_threads()} threads)"
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


def write_json(path: str | None, name: str, device: str, results: Any) -> None:
    if not path:
        return
    payload = {
        "benchmark": name,
        "date": datetime.date.today().isoformat(),
        "machine": machine_description(device),
        "results": results,
    }
    Path(path).write_text(json.dumps(payload, indent=2))
    print(f"\nwrote {path}")
