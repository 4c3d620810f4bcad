"""benchmarks/gpu_check.sh, the one command for a GPU machine: its CPU-side parts.

The script's syntax, the CUDA extra it picks from what nvidia-smi reports (a stand-in
nvidia-smi here), the steps a dry run lists, its refusals, and the JSON report it writes
(``benchmarks/gpu_report.py``) from the files the steps produce.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu_check.sh"
sys.path.insert(0, str(ROOT / "benchmarks"))
import gpu_report  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def fake_nvidia_smi(folder: Path, cuda: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    tool = folder / "nvidia-smi"
    tool.write_text(
        "#!/bin/sh\n"
        'case "$1" in --query-gpu=*) echo "NVIDIA H200, 143771 MiB, 570.12"; exit 0;; esac\n'
        f'echo "| NVIDIA-SMI 570.12   Driver Version: 570.12   CUDA Version: {cuda}     |"\n')
    tool.chmod(0o755)
    return folder


def run_script(*args: str, path_dirs: list[Path] = ()) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=os.pathsep.join([*map(str, path_dirs), "/usr/bin", "/bin"]))
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True,
                          env=env, timeout=60, cwd=ROOT)


def test_script_parses():
    done = subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("cuda, extra", [("12.8", "cuda12"), ("12.2", "cuda12"),
                                         ("13.0", "cuda13")])
def test_dry_run_picks_the_extra_and_lists_every_step(tmp_path, cuda, extra):
    done = run_script("--dry-run", path_dirs=[fake_nvidia_smi(tmp_path / "bin", cuda)])
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert f"driver CUDA {cuda} -> pip extra [{extra}]" in out and "NVIDIA H200" in out
    steps = [line[2:] for line in out.splitlines() if line.startswith("+ ")]
    order = [f"pip install -q -e .[dev,{extra}]", "backend.use('cupy')",
             "export MINIALEX_BACKEND=cupy", "pytest -m cupy", "conv_layers.py --device gpu",
             "layers.py --device gpu", "network.py --device gpu", "gpu_report.py"]
    positions = [next(i for i, s in enumerate(steps) if want in s) for want in order]
    assert positions == sorted(positions), steps
    for name in ("conv", "layers", "network"):
        assert any("--json benchmarks/results/gpu-" in s and f"-{name}.json" in s
                   for s in steps), name
    assert all("--quick" not in s for s in steps)
    assert any(s.startswith("timeout 480 ") for s in steps)  # the 8-minute budget


def test_quick_and_no_install_options(tmp_path):
    done = run_script("--dry-run", "--quick", "--no-install",
                      path_dirs=[fake_nvidia_smi(tmp_path / "bin", "12.8")])
    assert done.returncode == 0, done.stderr
    assert "pip install" not in done.stdout
    bench = [s for s in done.stdout.splitlines() if "--device gpu" in s]
    assert len(bench) == 3 and all("--quick" in s for s in bench)


def test_unsupported_cuda_and_unknown_option_are_refused(tmp_path):
    old = run_script("--dry-run", path_dirs=[fake_nvidia_smi(tmp_path / "bin", "11.8")])
    assert old.returncode == 2 and "CUDA '11.8'" in old.stderr
    bogus = run_script("--bogus", path_dirs=[fake_nvidia_smi(tmp_path / "bin", "12.8")])
    assert bogus.returncode == 2 and "unknown option --bogus" in bogus.stderr


def test_without_a_driver_it_points_to_the_emulator():
    if shutil.which("nvidia-smi", path="/usr/bin:/bin"):
        pytest.skip("this machine has an NVIDIA driver")
    done = run_script("--dry-run")
    assert done.returncode == 2
    assert "nvidia-smi not found" in done.stderr and "cupy-emulator" in done.stderr


# ------------------------------------------------------------------ the JSON report
JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" errors="0" failures="1" skipped="3" tests="320">
</testsuite></testsuites>"""


def _network(tmp_path: Path) -> Path:
    rows = [{"variant": "torchvision", "batch": 128, "minialex_s": 0.30, "torch_s": 0.25},
            {"variant": "paper", "batch": 128, "minialex_s": 0.50, "torch_s": 0.25},
            {"variant": "cifar-small", "batch": 128, "minialex_s": 0.02, "torch_s": None},
            {"variant": "paper", "batch": 8, "minialex_s": 0.05, "torch_s": 0.02}]
    path = tmp_path / "network.json"
    path.write_text(json.dumps({"benchmark": "network", "machine": "test", "results": rows}))
    return path


def test_report_records_counts_ratios_and_the_network_target(tmp_path, capsys):
    xml = tmp_path / "tests.xml"
    xml.write_text(JUNIT)
    out = tmp_path / "deep" / "check.json"
    code = gpu_report.main(["--out", str(out), "--pytest-xml", str(xml),
                            "--bench", f"network={_network(tmp_path)}",
                            "--bench", f"conv_layers={tmp_path / 'absent.json'}",
                            "--step", "tests=failed (exit 1)", "--step", "network=ok",
                            "--gpu", "NVIDIA H200", "--cuda", "12.8", "--extra", "cuda12",
                            "--seconds", "301", "--budget", "480"])
    assert code == 0
    report = json.loads(out.read_text())
    assert report["tests"] == {"status": "failed", "passed": 316, "failed": 1, "errors": 0,
                               "skipped": 3, "total": 320}
    assert report["steps"] == {"tests": "failed (exit 1)", "network": "ok"}
    target = {t["variant"]: t for t in report["benchmarks"]["network"]["target"]}
    assert target["torchvision"]["ratio"] == pytest.approx(1.2) and target["torchvision"]["met"]
    assert target["paper"]["ratio"] == pytest.approx(2.0) and target["paper"]["met"] is False
    assert target["cifar-small"]["ratio"] is None and target["cifar-small"]["met"] is None
    assert len(target) == 3  # batch 128 only
    assert report["benchmarks"]["conv_layers"]["status"].startswith("missing")
    assert not list(out.parent.glob("*.tmp"))
    printed = capsys.readouterr().out
    assert "torchvision batch 128: 1.20x, within 1.5x" in printed
    assert "paper batch 128: 2.00x, NOT within 1.5x" in printed
    assert "316 passed, 1 failed, 0 errors, 3 skipped" in printed


def test_report_without_inputs_says_missing(tmp_path):
    out = tmp_path / "check.json"
    assert gpu_report.main(["--out", str(out), "--pytest-xml", str(tmp_path / "none.xml")]) == 0
    assert json.loads(out.read_text())["tests"] == {"status": "missing"}
    with pytest.raises(SystemExit, match="NAME=VALUE"):
        gpu_report.main(["--out", str(out), "--step", "no-equals-sign"])
