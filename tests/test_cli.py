"""The command line: the main demo, ``summary`` and ``variants`` (through ``main(argv)``)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from minialex import backend
from minialex.cli import main
from minialex.models import VARIANTS


def run(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.slow
def test_main_demo_assembles_the_paper_network(capsys):
    code, out, err = run(capsys)
    assert code == 0 and err == ""
    # stage by stage, with the arithmetic of every layer
    order = [out.index(text) for text in ("Block 1: conv -> ReLU -> LRN -> max-pool",
                                          "floor((227 + 2*0 - 11) / 4) + 1 = 55",
                                          "Block 2", "Block 5", "256*6*6 = 9216",
                                          "Output: (N, 1000)", "Why 227", "Summary",
                                          "What the numbers say")]
    assert order == sorted(order)
    assert "floor(53.25) + 1 = 54" in out  # the 224 pitfall
    assert "would receive 6,400" in out
    assert "Total params: 60,965,224" in out
    assert "2,334,080 of the 60,965,224 parameters (3.8%)" in out


@pytest.mark.parametrize("channels, words", [
    ("1", "a batch of N images with 1 channel (N, 1, 67, 67)"),
    ("4", "a batch of N images with 4 channels (N, 4, 67, 67)"),
])
def test_demo_calls_only_three_channels_rgb(capsys, channels, words):
    code, out, _ = run(capsys, "--input", f"{channels},67,67")  # 67: the smallest that fits
    assert code == 0
    assert words in out and "RGB" not in out


def test_summary_of_keras_bn_reproduces_the_published_totals(capsys):
    code, out, _ = run(capsys, "summary", "--variant", "keras-bn")
    assert code == 0
    for text in ("Total params: 28,096,769", "Trainable params: 28,075,633",
                 "Non-trainable params: 21,136", "fc9 (Linear)", "(N, 17)"):
        assert text in out, text
    assert "floor(" not in out  # no trace unless asked


def test_summary_with_trace_and_options(capsys):
    code, out, _ = run(capsys, "summary", "--variant", "cifar-small", "--trace", "--num-conv",
                       "3", "--activation", "tanh", "--no-lrn", "--dropout", "0",
                       "--num-classes", "7")
    assert code == 0
    assert "floor((32 + 2*5 - 11) / 2) + 1 = floor(15.5) + 1 = 16" in out
    assert "tanh3" in out and "conv4" not in out and "drop6" not in out
    assert "(N, 7)" in out and "Total params:" in out


def test_broken_pooling_shows_the_trace_up_to_the_failure(capsys):
    code, out, err = run(capsys, "summary", "--variant", "keras-bn", "--pool", "3x3/2",
                         "--trace")
    assert code == 2
    assert err.startswith("minialex summary: error: pool5") and "-> 1 (conv5)" in err
    assert "floor((54 + 2*0 - 3) / 2) + 1 = floor(25.5) + 1 = 26" in out  # pool1
    assert "-> (N, 256, 1, 1)" in out  # conv5, the last layer that fits


@pytest.mark.parametrize("argv, words", [
    (["summary", "--variant", "paper", "--input", "3,32,32"],
     ["summary: error: pool2", "(N, 256, 2, 2)"]),
    (["summary", "--variant", "lenet"], ["summary: error:", "lenet", "paper", "keras-bn"]),
    (["summary", "--variant", "paper", "--pool", "3/2"], ["summary: error:", "3x3/2"]),
])
def test_user_errors_are_one_line_and_exit_2(capsys, argv, words):
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    for word in words:
        assert word in err


@pytest.mark.skipif(backend.cupy_available(), reason="CuPy and a GPU are present here")
def test_gpu_without_cupy_is_one_line_and_exit_2(capsys, tmp_path):
    code, _, err = run(capsys, "train", "--device", "gpu", "--train-size", "8", "--test-size",
                       "8", "--out", str(tmp_path / "run"))
    assert code == 2
    assert err.startswith("minialex train: error: backend 'cupy' requested")
    assert len(err.strip().splitlines()) == 1


def test_out_of_memory_is_one_line_and_exit_2(capsys):
    # 1 PiB of input: more than any machine's address space, so the allocation always fails.
    code, _, err = run(capsys, "summary", "--input", "3,10000000,10000000")
    assert code == 2
    assert err.startswith("minialex summary: error: out of memory")
    assert "PiB" in err and "--input" in err
    assert len(err.strip().splitlines()) == 1


def test_variants_lists_one_line_each(capsys):
    code, out, _ = run(capsys, "variants")
    assert code == 0
    lines = [line for line in out.splitlines() if line.split(" ", 1)[0] in VARIANTS]
    assert [line.split()[0] for line in lines] == list(VARIANTS)
    assert "3x227x227" in lines[0] and "3x32x32" in lines[4]
    # hidden widths then classes, as the papers give them: 17 flowers, 10 CIFAR classes
    assert " FC 4096-4096-1000 " in lines[0]
    assert " FC 4096-4096-1000-17 " in lines[3] and " FC 384-192-10 " in lines[4]
    assert "Krizhevsky" in out and "seed" not in out.lower()


def test_module_entry_point_runs():
    result = subprocess.run([sys.executable, "-m", "minialex", "variants"], capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0 and "torchvision" in result.stdout
