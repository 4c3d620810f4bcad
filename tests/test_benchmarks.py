"""The benchmark scripts keep working: each runs in --quick mode (timings are not asserted)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH_DIR = Path(__file__).resolve().parent.parent / "benchmarks"
# harness.py is imported by the others; gpu_report.py summarises a gpu_check.sh run
# (tests/test_gpu_check.py).
SCRIPTS = sorted(p.name for p in BENCH_DIR.glob("*.py")
                 if p.name not in ("harness.py", "gpu_report.py"))


def test_benchmarks_found():
    assert {"conv_layers.py", "layers.py", "network.py"} <= set(SCRIPTS)


@pytest.mark.parametrize("script", SCRIPTS)
def test_benchmark_quick_mode_runs(script, tmp_path):
    out = tmp_path / "result.json"
    env = dict(os.environ, MPLBACKEND="Agg")
    done = subprocess.run([sys.executable, str(BENCH_DIR / script), "--quick", "--json", str(out)],
                          capture_output=True, text=True, timeout=300, env=env, cwd=BENCH_DIR)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "machine:" in done.stdout
    assert out.exists() and '"results"' in out.read_text()
