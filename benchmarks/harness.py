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
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from minialex import backend

np = backend.np


def bench_args(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one round (CI smoke)")
    parser.add_argument("--device", choices=("cpu", "gpu"), default="cpu",
                        help="gpu: minialex on CuPy vs PyTorch CUDA")
    parser.add_argument("--rounds", type=int, default=None, help="timed rounds per candidate")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = parser.parse_args()
    if args.device == "gpu":
        backend.use("cupy")
    return args


def optional_torch() -> Any:
    """PyTorch if installed (the comparison column is skipped otherwise)."""
    try:
        import torch
    except ImportError:
        return None
    return torch


def synchronize(device: str) -> None:
    """Wait for queued GPU work so that timings cover the work itself."""
    if device == "gpu":
        backend.require_cupy().cuda.Device().synchronize()
        torch = optional_torch()
        if torch is not None and torch.cuda.is_available():
            torch.cuda.synchronize()


def time_interleaved(candidates: dict[str, Callable[[], Any]], rounds: int, warmup: int = 1,
                     device: str = "cpu") -> dict[str, float]:
    """Median seconds per call of each candidate, measured in interleaved rounds."""
    for fn in candidates.values():
        for _ in range(warmup):
            fn()
    synchronize(device)
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(rounds):
        for name, fn in candidates.items():
            synchronize(device)
            start = time.perf_counter()
            fn()
            synchronize(device)
            samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(s) for name, s in samples.items()}


def machine_description(device: str = "cpu") -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    text = f"{cpu}, {os.cpu_count()} cores, numpy {np.__version__}"
    torch = optional_torch()
    if torch is not None:
        text += f", torch {torch.__version__} ({torch.get_num_threads()} threads)"
    if device == "gpu":
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
