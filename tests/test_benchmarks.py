"""The benchmark scripts keep working: each runs in --quick mode (timings are not asserted);
the README's result tables are what report.py makes of the JSON of record."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCH_DIR = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCH_DIR))
import report  # noqa: E402

# harness.py is imported by the others; gpu_report.py summarises a gpu_check.sh run
# (tests/test_gpu_check.py); report.py and before_after.py are tested below.
SCRIPTS = sorted(p.name for p in BENCH_DIR.glob("*.py")
                 if p.name not in ("harness.py", "gpu_report.py", "report.py",
                                   "before_after.py"))


def test_benchmarks_found():
    assert {"conv_layers.py", "layers.py", "network.py"} <= set(SCRIPTS)


def _run(args, tmp_path, timeout=300):
    out = tmp_path / "result.json"
    env = dict(os.environ, MPLBACKEND="Agg")
    done = subprocess.run([sys.executable, *args, "--quick", "--json", str(out)],
                          capture_output=True, text=True, timeout=timeout, env=env,
                          cwd=BENCH_DIR)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "machine:" in done.stdout
    return done.stdout, json.loads(out.read_text())


@pytest.mark.parametrize("script", SCRIPTS)
def test_benchmark_quick_mode_runs(script, tmp_path):
    stdout, data = _run([str(BENCH_DIR / script), "--profile"], tmp_path)
    assert data["results"] and data["machine_info"]["blas_threads"] >= 1
    assert {"timer", "quick", "threads"} <= set(data["settings"])
    if script in ("conv_layers.py", "network.py"):
        assert "where" in stdout and "copies" in stdout  # the --profile table
        assert all(r["copy_s"] > 0 for r in data["results"])


def test_before_after_quick_mode_runs(tmp_path):
    if shutil.which("git") is None or subprocess.run(
            ["git", "-C", str(BENCH_DIR), "rev-parse", "HEAD"], capture_output=True).returncode:
        pytest.skip("before_after.py reads the baseline with git: not a git checkout here")
    _, data = _run([str(BENCH_DIR / "before_after.py"), "--baseline", "HEAD"], tmp_path)
    groups = {r["group"] for r in data["results"]}
    assert groups == {"conv", "layers", "network"}
    assert all(r["before_s"] > 0 and r["after_s"] > 0 for r in data["results"])


def test_readme_tables_are_what_the_records_give():
    """No number in the result tables is typed by hand: report.py rebuilds them all."""
    assert report.main(["--check"]) == 0


def _record(folder, name, results, cores=2, load=0.1, others=None):
    info = {"date": "2030-01-02", "cpu": "Test CPU", "cores": cores, "numpy": "2",
            "blas": "OpenBLAS", "blas_threads": 2, "minialex_copy_threads": 2,
            "torch": "2.13", "torch_threads": 2, "load_average_1_5_15min": [load, load, load],
            "other_cores_busy": others}
    data = {"benchmark": name, "machine_info": info, "settings": {"timer": "wall", "rounds": 5},
            "results": results}
    (folder / f"cpu-2thread-{name}.json").write_text(json.dumps(data))


def _markers(*names):
    return "".join(f"<!-- report:{n} -->\n<!-- /report:{n} -->\n" for n in names)


def _report_into(folder, monkeypatch, text):
    """report.py reading the records in ``folder`` and writing a README.md there only."""
    readme = folder / "README.md"
    readme.write_text(text)
    monkeypatch.setattr(report, "RESULTS", folder)
    monkeypatch.setattr(report, "README", readme)
    monkeypatch.setattr(report, "MAIN_README", folder / "no-main-readme.md")
    return readme


def test_report_computes_ratios_and_verdicts(tmp_path, monkeypatch):
    """Hand-made records: every ratio and verdict in the tables is checked by hand."""
    conv = [{"layer": f"conv{k}", "shape": "s", "minialex_s": 0.30, "torch_s": 0.25,
             "gemm_s": 0.20 if k == 2 else 0.28, "serial_copies_s": 0.4, "copy_s": 0.06,
             "gemm_as_run_s": 0.21} for k in range(1, 6)]
    _record(tmp_path, "conv", conv)
    _record(tmp_path, "layers", [
        {"layer": "max_pool2d 3/2", "input": [32, 96, 55, 55], "minialex_s": 0.05,
         "torch_s": 0.04, "serial_copies_s": 0.09},
        {"layer": "batch_norm (train)", "input": [32, 4096], "minialex_s": 0.001,
         "torch_s": 0.002, "serial_copies_s": None}], load=3.0)
    readme = _report_into(tmp_path, monkeypatch,
                          "intro\n<!-- report:cpu-2thread-conv -->\nstale 9.99x\n"
                          "<!-- /report:cpu-2thread-conv -->\n" + _markers(
                              "profile-cpu-2thread-conv", "cpu-2thread-layers", "targets-2")
                          + "end\n")
    assert report.main(["--check"]) == 1  # stale
    assert report.main([]) == 0 and report.main(["--check"]) == 0
    text = readme.read_text()
    assert "stale" not in text and text.startswith("intro\n") and text.endswith("end\n")
    # conv2: 0.30 / 0.25 = 1.20x PyTorch, 0.30 / 0.20 = 1.50x its GEMMs; others 0.30 / 0.28
    assert "| conv2 | s | 300.0 | 400.0 | 250.0 | 200.0 | 60.0 | 1.20x | 1.50x |" in text
    assert "| conv1 | 300.0 | 60.0 | 210.0 | 30.0 | 280.0 | 0.75x | 20% |" in text  # profile
    assert "| max_pool2d 3/2 | 32x96x55x55 | 50.0 | 90.0 | 40.0 | 1.25x |" in text
    assert "a busy machine" in text  # the layers record started at load 3.0 on 2 cores
    # records without rounds: a single round's ratio is the median
    assert "| each conv layer vs its bare GEMMs, batch 32 | <= 1.15x | - | 1.07-1.50x | " \
           "1.07-1.50x | missed |" in text
    assert "| conv2 (5x5, groups=2) vs PyTorch | <= 1.20x | - | 1.20x | 1.20x | met |" in text
    assert "| max pool 3/2 vs PyTorch, 55x55 and 13x13 | <= 1.30x | - | 1.25x | 1.25x | met |" \
           in text
    assert "| batch norm (train and eval) vs PyTorch | <= 1.30x | - | 0.50x | 0.50x | met |" \
           in text
    assert "training step vs PyTorch, batch 8 / 32 / 128 | <= 1.10x | - | - | - | " \
           "not measured" in text
    readme.write_text(_markers("cpu-2thread-nothing"))
    report.main([])
    assert "Not measured yet" in readme.read_text()


@pytest.mark.parametrize(("load", "others", "busy"), [
    (3.0, 0.05, False),  # the load average still remembers the last run: the cores are idle
    (0.0, 1.5, True),  # quiet a minute ago, busy now
    (3.0, None, True),  # an older record without the sample: the load average decides
    (0.1, None, False)])
def test_report_says_busy_from_what_other_processes_were_doing(load, others, busy):
    info = {"date": "2030-01-02", "cpu": "Test CPU", "cores": 2, "numpy": "2", "blas": "B",
            "blas_threads": 2, "minialex_copy_threads": 2, "torch": "2.13", "torch_threads": 2,
            "load_average_1_5_15min": [load] * 3, "other_cores_busy": others}
    line = report.how_measured({"machine_info": info, "settings": {"timer": "wall"}})
    assert ("a busy machine" in line) == busy
    if others is not None:
        assert f"busy on {others:.2f} of the 2 cores" in line


@pytest.mark.skipif(not Path("/proc/stat").exists(), reason="needs Linux's /proc")
def test_other_cores_busy_sees_a_process_spinning_beside_it(monkeypatch):
    import harness

    monkeypatch.setattr(harness, "_OTHERS_BUSY", [])  # sample afresh
    spin = subprocess.Popen([sys.executable, "-c",
                             "import time\nend = time.time() + 4\nwhile time.time() < end: pass"])
    try:
        import time
        time.sleep(0.5)  # the child is running
        busy = harness.other_cores_busy(seconds=1.0)
    finally:
        spin.kill()
        spin.wait()
    assert busy is not None and busy >= 0.5  # one core spun the whole second


def test_report_network_profile_and_memory_tables(tmp_path, monkeypatch):
    """Hand-made network record: the kernel-time and memory columns, checked by hand."""
    mib = 2**20
    _record(tmp_path, "network", [
        {"variant": "torchvision", "batch": 32, "minialex_s": 1.2, "torch_s": 0.8,
         "copy_s": 0.3, "conv_gemm_s": 0.5, "kernel_s": {"minialex": 0.15, "torch": 0.05},
         "peak_step_bytes": {"minialex": 500 * mib, "torch": 400 * mib},
         "held_for_backward_bytes": {"minialex_outputs": 130 * mib,
                                     "minialex_saved": 50 * mib, "torch_saved": 96 * mib}},
        {"variant": "torchvision", "batch": 128, "minialex_s": 6.0, "torch_s": 3.0,
         "copy_s": 2.0, "conv_gemm_s": 2.5, "kernel_s": {"minialex": 2.0, "torch": 1.0},
         "peak_step_bytes": {}, "held_for_backward_bytes": {}}], others=0.0)
    readme = _report_into(tmp_path, monkeypatch, _markers("profile-cpu-2thread-network",
                                                          "memory-cpu-2thread-network"))
    assert report.main([]) == 0
    text = readme.read_text()
    # other = 1200 - 300 - 500 ms
    assert "| torchvision | 32 | 1200.0 | 300.0 | 500.0 | 400.0 | 150.0 | 800.0 | 50.0 |" in text
    assert "| torchvision | 128 | 6000.0 | 2000.0 | 2500.0 | 1500.0 | 2000.0 | 3000.0 | " \
           "1000.0 |" in text
    # held = 130 + 50 MB; peak 500 / 400 = 1.25x; batch 128 has no memory row
    assert "| torchvision | 32 | 130 | 50 | 180 | 96 | 500 | 400 | 1.25x |" in text
    assert "| torchvision | 128 |" not in text.split("memory-cpu-2thread-network")[1]
    assert "busy on 0.00 of the 2 cores" in text and "a busy machine" not in text
    # the main README's sentence: 1.2 / 0.8 and 6.0 / 3.0; no rounds recorded
    assert "training step takes 1.50-2.00x PyTorch's time (median of interleaved rounds; " \
           "single rounds 1.50-2.00x)" in report.speed_sentence(2)
    assert "Not measured yet" in report.speed_sentence(3)


def test_verdict_accounts_for_the_rounds(tmp_path, monkeypatch):
    """One-round ratios from rounds_s: a median over the goal with a round under it is noise."""
    def row(name, ours, theirs):
        return {"layer": name, "input": [32, 1], "minialex_s": sorted(ours)[1],
                "torch_s": sorted(theirs)[1], "rounds_s": {"minialex": ours, "torch": theirs}}
    # max pool rounds (minialex / torch): 1.2, 1.4, 1.5 -> median of times 1.4 / 1.0
    _record(tmp_path, "layers", [row("max_pool2d 3/2 a", [1.2, 1.4, 1.5], [1.0, 1.0, 1.0]),
                                 # batch norm: every round at 2.0x
                                 row("batch_norm (eval) b", [2.0, 2.0, 2.0], [1.0, 1.0, 1.0])],
            others=0.0)
    monkeypatch.setattr(report, "RESULTS", tmp_path)
    text = report.targets_table(2)
    assert "| max pool 3/2 vs PyTorch, 55x55 and 13x13 | <= 1.30x | - | 1.40x | 1.20-1.50x | " \
           "within noise |" in text
    assert "| batch norm (train and eval) vs PyTorch | <= 1.30x | - | 2.00x | 2.00x | missed |" \
           in text
    assert report.verdict(1.3, [(1.2, 1.1, 1.4)]) == "met"
    assert report.verdict(1.3, []) == "not measured"
