"""The command line as a new user (or a hostile file) meets it: every failure is one line on
stderr and exit code 2, found before the work starts; flags mean one thing everywhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minialex import backend
from minialex.cli import main
from minialex.models import VARIANTS

np = backend.np

TINY = ["--train-size", "48", "--test-size", "16", "--batch-size", "16", "--no-progress"]


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_line_error(code, err, command):
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"minialex {command}: error: "), err


# ---------------------------------------------------------------- class 1: before the work
def test_out_pointing_at_a_file_fails_before_training(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    code, out, err = run(capsys, "train", *TINY, "--out", tmp_path / "file")
    one_line_error(code, err, "train")
    assert "is a file" in err and "epoch" not in out and "training" not in out


def test_last_npz_being_a_folder_fails_before_training(tmp_path, capsys):
    (tmp_path / "run" / "last.npz").mkdir(parents=True)
    code, out, err = run(capsys, "train", *TINY, "--out", tmp_path / "run")
    one_line_error(code, err, "train")
    assert "last.npz: it is a folder" in err and "epoch" not in out


@pytest.mark.parametrize("value", ["", "  "])
def test_empty_out_is_refused(capsys, value):
    with pytest.raises(SystemExit) as info:
        main(["train", "--out", value])
    assert info.value.code == 2
    assert "argument --out: expected a folder name" in capsys.readouterr().err


def test_training_memory_is_estimated_before_allocating(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MINIALEX_MEMORY_LIMIT", "40MB")  # the model fits, training does not
    code, out, err = run(capsys, "train", *TINY, "--out", tmp_path / "run")
    one_line_error(code, err, "train")
    assert "training cifar-small at batch size 16 would need" in err
    assert "MINIALEX_MEMORY_LIMIT" in err and not (tmp_path / "run" / "last.npz").exists()


@pytest.mark.parametrize("argv, words", [
    (["summary", "--pool", "1x1/1"], "the fully connected layers (774,400 -> 4,096"),
    (["summary", "--variant", "torchvision", "--input", "3,4000,4000"], "trace of AlexNet"),
    (["--input", "3,5000,5000"], "trace of AlexNet (paper)"),
])
def test_summary_and_demo_refuse_what_would_not_fit_with_the_number(capsys, monkeypatch,
                                                                    argv, words):
    monkeypatch.setenv("MINIALEX_MEMORY_LIMIT", "2GiB")
    code, _, err = run(capsys, *argv)
    one_line_error(code, err, argv[0] if argv[0] == "summary" else "demo")
    assert words in err and "would need" in err and "above the limit of 2 GiB" in err


def test_pool_of_size_zero_is_refused(capsys):
    code, _, err = run(capsys, "summary", "--pool", "0x0/1")
    one_line_error(code, err, "summary")
    assert "3x3/2" in err


# ---------------------------------------------------------------- class 2: one clean line
@pytest.mark.parametrize("lr", ["inf", "nan", "0", "-1", "-inf", "x"])
def test_non_finite_or_non_positive_lr_is_refused_by_argparse(capsys, lr):
    with pytest.raises(SystemExit) as info:
        main(["train", "--lr", lr])
    assert info.value.code == 2
    assert "argument --lr:" in capsys.readouterr().err


def test_a_diverging_run_is_one_line(tmp_path, capsys):
    code, _, err = run(capsys, "train", *TINY, "--epochs", "1", "--lr", "1e6", "--out",
                       tmp_path / "run")
    one_line_error(code, err, "train")
    assert "the loss became" in err and "lower the learning rate" in err


def _fit_checkpoint(folder):
    """A checkpoint folder written by fit(checkpoint_dir=) from Python: no run settings."""
    from minialex import nn
    from minialex.data import DataLoader, Shapes
    from minialex.optim import Adam
    from minialex.train import fit

    net = nn.Sequential(nn.Flatten(), nn.Linear(3 * 16 * 16, 8))
    fit(net, DataLoader(Shapes(32, 16), 16), Adam(net.parameters()), 1,
        checkpoint_dir=str(folder), log=None, progress=False)
    return folder / "last.npz"


def test_resume_of_a_fit_checkpoint_is_one_line(tmp_path, capsys):
    _fit_checkpoint(tmp_path / "run")
    code, _, err = run(capsys, "train", "--resume", "--out", tmp_path / "run")
    one_line_error(code, err, "train")
    assert "no complete run configuration" in err and "fit(..., resume=True)" in err


@pytest.mark.parametrize("config, words", [
    ({}, "missing variant"), ({"variant": "cifar-small"}, "missing dataset"),
    ("text", "config is str, not a dict"),
])
def test_evaluate_of_an_incomplete_configuration_is_one_line(tmp_path, capsys, config, words):
    from minialex import nn
    from minialex.checkpoint import save_checkpoint

    path = tmp_path / "c.npz"
    save_checkpoint(path, nn.Sequential(nn.Linear(2, 2)), config=config)
    code, _, err = run(capsys, "evaluate", "--checkpoint", path)
    one_line_error(code, err, "evaluate")
    assert words in err


def test_evaluate_of_a_wrongly_typed_configuration_is_one_line(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", *TINY, "--epochs", "1", "--out", str(out)]) == 0
    capsys.readouterr()
    _rewrite_config(out / "last.npz", num_classes="ten", input_shape=[3, 32])
    code, _, err = run(capsys, "evaluate", "--checkpoint", out / "last.npz")
    one_line_error(code, err, "evaluate")
    assert "invalid settings: num_classes='ten', input_shape=[3, 32]" in err


def _rewrite_config(path, **changes):
    """Change settings in a checkpoint's recorded configuration, checksum recomputed (so that
    only the configuration checks can catch them)."""
    from minialex.checkpoint import _digest

    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(str(arrays.pop("meta")))
    meta["config"].update(changes)
    meta["sha256"] = _digest(arrays, meta)
    np.savez(path, meta=np.array(json.dumps(meta)), **arrays)


FIXTURE_OK = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


@FIXTURE_OK
@given(data=st.data())
def test_corrupt_checkpoints_are_one_line_for_evaluate(tmp_path_factory, capsys, data):
    folder = tmp_path_factory.mktemp("corrupt")
    good = _trained_once(folder)
    raw = bytearray(good.read_bytes())
    for _ in range(data.draw(st.integers(1, 4), label="changes")):
        raw[data.draw(st.integers(0, 600), label="position")] ^= data.draw(st.integers(1, 255))
    bad = folder / "bad.npz"
    bad.write_bytes(bytes(raw))
    code, _, err = run(capsys, "evaluate", "--checkpoint", bad)
    if code != 0:
        one_line_error(code, err, "evaluate")


_TRAINED: dict[str, bytes] = {}


def _trained_once(folder):
    """last.npz of a one-epoch run (trained once per session, copied where asked)."""
    if "raw" not in _TRAINED:
        out = folder / "run"
        assert main(["train", *TINY, "--epochs", "1", "--out", str(out)]) == 0
        _TRAINED["raw"] = (out / "last.npz").read_bytes()
    path = folder / "good.npz"
    path.write_bytes(_TRAINED["raw"])
    return path


@pytest.mark.parametrize("value", ["garbage", "CUPY-emulator!", "numpy2"])
def test_a_bad_backend_variable_is_one_line_under_python_m(value):
    done = subprocess.run([sys.executable, "-m", "minialex", "variants"], capture_output=True,
                          text=True, timeout=120, env=dict(os.environ, MINIALEX_BACKEND=value))
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("minialex: error: environment variable MINIALEX_BACKEND")
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_a_bad_backend_variable_still_raises_on_import():
    code = "import minialex"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env=dict(os.environ, MINIALEX_BACKEND="garbage"))
    assert done.returncode == 1 and "BackendError" in done.stderr


# ---------------------------------------------------------------- class 3: never wrong
def _image_folder(root, classes=("cat", "dog"), per_class=10):
    from PIL import Image

    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for name in classes:
            (root / split / name).mkdir(parents=True)
            for i in range(per_class if split == "train" else 2):
                Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(
                    root / split / name / f"{i}.png")


def test_resume_after_a_class_folder_was_renamed_is_refused(tmp_path, capsys):
    data, out = tmp_path / "data", tmp_path / "run"
    _image_folder(data)
    common = ["--dataset", "folder", "--data-dir", data, "--batch-size", "4", "--no-progress",
              "--out", out]
    code, _, err = run(capsys, "train", "--epochs", "1", *common)
    assert code == 0, err
    for split in ("train", "test"):
        os.rename(data / split / "cat", data / split / "zebra")  # sorts after dog now
    code, _, err = run(capsys, "train", "--epochs", "2", "--resume", *common)
    one_line_error(code, err, "train")
    assert "['cat', 'dog']" in err and "['dog', 'zebra']" in err


def test_image_folders_validate_on_held_out_training_images(tmp_path, capsys):
    data, out = tmp_path / "data", tmp_path / "run"
    _image_folder(data, per_class=10)
    code, stdout, err = run(capsys, "train", "--dataset", "folder", "--data-dir", data,
                            "--batch-size", "4", "--epochs", "1", "--no-progress",
                            "--val-fraction", "0.2", "--out", out)
    assert code == 0, err
    # 20 training images, 2 of each class held out; 4 test images untouched
    assert "16 train / 4 validation / 4 test images" in stdout
    history = json.loads((out / "history.json").read_text())
    assert history["epochs"][0]["val_top1"] in (0.0, 0.25, 0.5, 0.75, 1.0)  # of 4 images


@given(fraction=st.floats(0.05, 0.95), sizes=st.lists(st.integers(1, 30), min_size=2,
                                                        max_size=5), seed=st.integers(0, 9))
def test_split_off_holds_out_part_of_every_class_and_never_overlaps(fraction, sizes, seed):
    from minialex.data import ArrayDataset, split_off

    labels = np.repeat(np.arange(len(sizes)), sizes)
    data = ArrayDataset(np.zeros((len(labels), 1, 1, 1), np.float32), labels)
    rest, held = split_off(data, fraction, seed)
    assert np.intersect1d(rest.indices, held.indices).size == 0
    assert np.union1d(rest.indices, held.indices).size == len(labels)
    for k, n in enumerate(sizes):
        got = int((held.labels == k).sum())
        assert got == (0 if n == 1 else min(n - 1, max(1, round(fraction * n))))
    again = split_off(data, fraction, seed)[1]
    assert np.array_equal(again.indices, held.indices)  # the seed fixes it


@given(classes=st.integers(2, 9), data=st.data())
def test_topk_refuses_labels_outside_the_classes(classes, data):
    from minialex.metrics import topk_accuracy

    n = data.draw(st.integers(1, 6))
    labels = np.array(data.draw(st.lists(st.integers(0, classes - 1), min_size=n, max_size=n)))
    labels[data.draw(st.integers(0, n - 1))] = data.draw(
        st.sampled_from([-1, -2, classes, classes + 3]))
    scores = np.random.default_rng(0).standard_normal((n, classes))
    with pytest.raises(ValueError, match=r"topk: target class -?\d+ out of range"):
        topk_accuracy(scores, labels, 1)


# ---------------------------------------------------------------- class 7: consistency
@pytest.mark.parametrize("command", ["summary", "train"])
@pytest.mark.parametrize("typo, meant", [("papr", "paper"), ("cifar-smal", "cifar-small"),
                                         ("keras_bn", "keras-bn"), ("torchvison", "torchvision")])
def test_a_misspelt_variant_gets_a_did_you_mean(capsys, command, typo, meant, tmp_path):
    code, _, err = run(capsys, command, "--variant", typo, "--out", tmp_path) \
        if command == "train" else run(capsys, command, "--variant", typo)
    one_line_error(code, err, command)
    assert f"did you mean '{meant}'?" in err


@pytest.mark.parametrize("text, meant", [("227,227,3", "3,227,227"), ("224x224x3", "3,224,224"),
                                         ("32,32,1", "1,32,32")])
def test_channels_last_input_says_channels_come_first(capsys, text, meant):
    with pytest.raises(SystemExit):
        main(["summary", "--input", text])
    err = capsys.readouterr().err
    assert "channels come first" in err and f"did you mean {meant}?" in err


def test_data_dir_without_a_dataset_that_reads_it_is_an_error(tmp_path, capsys):
    code, _, err = run(capsys, "train", *TINY, "--data-dir", tmp_path, "--out", tmp_path / "r")
    one_line_error(code, err, "train")
    assert "--data-dir" in err and "cifar10" in err


@pytest.mark.parametrize("command", ["train", "summary", "evaluate", "demo"])
def test_help_shows_the_defaults(capsys, monkeypatch, command):
    monkeypatch.setenv("COLUMNS", "300")  # no line breaks inside words such as cifar-small
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for words in {"train": ["default: 5", "default: 32", "default: adam", "0.0003 for adam",
                            "default: runs/latest", "validation split", "default: cifar-small",
                            "default: 0)", "default: cpu"],
                  "summary": ["default: paper"], "evaluate": ["default: cpu"],
                  "demo": ["3,227,227"]}[command]:
        assert words in text, words


@FIXTURE_OK
@given(variant=st.sampled_from(list(VARIANTS)), side=st.sampled_from([None, 64, 224, 227, 300]),
       trace=st.booleans())
def test_trace_lines_fit_in_100_columns(capsys, variant, side, trace):
    argv = ["summary", "--variant", variant] + (["--trace"] if trace else [])
    if side:
        argv += ["--input", f"3,{side},{side}"]
    main(argv)
    out = capsys.readouterr().out
    assert max((len(line) for line in out.splitlines()), default=0) <= 100
