"""The training loop, metrics, 10-crop evaluation, checkpoints (atomic, verified, resumable)
and the train/evaluate command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import minialex.functional as F
from minialex import backend, nn
from minialex.data import DataLoader, Shapes
from minialex.data.transforms import Compose, RandomCrop, RandomHorizontalFlip
from minialex.optim import SGD, Adam, PlateauDivider, StepLR
from minialex.tensor import Tensor
from minialex.train import (
    History,
    evaluate,
    fit,
    load,
    load_checkpoint,
    predict_ten_crop,
    save,
    save_checkpoint,
    topk_accuracy,
)

np = backend.np


def _tiny_net(classes=8, dropout=0.0, size=16):
    """A miniature AlexNet: two conv-ReLU-maxpool blocks and a fully connected classifier."""
    layers = [nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
              nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten()]
    if dropout:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(16 * (size // 4) ** 2, classes))
    return nn.Sequential(*layers)


@pytest.fixture(scope="module")
def shapes16():
    return Shapes(64, image_size=16, seed=0)


def _augment():
    return Compose([RandomCrop(16, padding=2), RandomHorizontalFlip()])


# ---------------------------------------------------------------------------- metrics
def test_topk_accuracy_by_hand():
    scores = np.array([[0.1, 0.5, 0.2, 0.0, 0.3, 0.9],   # label 5: rank 1
                       [0.9, 0.1, 0.8, 0.7, 0.6, 0.5],   # label 1: rank 6
                       [0.2, 0.3, 0.1, 0.6, 0.5, 0.4],   # label 2: rank 6
                       [0.3, 0.2, 0.4, 0.1, 0.0, 0.5]])  # label 0: rank 3
    labels = np.array([5, 1, 2, 0])
    assert topk_accuracy(scores, labels, 1) == 0.25
    assert topk_accuracy(scores, labels, 3) == 0.5
    assert topk_accuracy(scores, labels, 5) == 0.5
    assert topk_accuracy(Tensor(scores), Tensor(labels), 1) == 0.25
    assert topk_accuracy(scores[:, :5], np.array([4, 1, 2, 0]), 5) is None  # 5 classes: n/a
    ties = np.zeros((2, 7))
    assert topk_accuracy(ties, np.array([0, 6]), 1) == 0.5  # ties go to the lower index


# ---------------------------------------------------------------------------- fit
def test_tiny_alexnet_overfits_64_shapes(shapes16):
    backend.manual_seed(0)
    net = _tiny_net()
    loader = DataLoader(shapes16, batch_size=16, shuffle=True, seed=0)
    history = fit(net, loader, Adam(net.parameters(), lr=0.005), epochs=40, progress=False,
                  log=None)
    losses = [e["train_loss"] for e in history.epochs]
    assert losses[0] > 1.9  # starts near ln(8) = 2.08
    # decreasing on average: every 5-epoch window below the one before
    windows = [np.mean(losses[i:i + 5]) for i in range(0, 40, 5)]
    assert all(b < a for a, b in zip(windows, windows[1:], strict=False))
    result = evaluate(net, DataLoader(shapes16, batch_size=64))
    assert result["top1"] == 1.0 and result["loss"] < 0.2
    assert len(history.iteration_loss) == 40 * 4


def _run(epochs, checkpoint_dir=None, resume=False, seed=0):
    """A fit with every source of randomness in play: dropout, shuffling, augmentation."""
    backend.manual_seed(seed)
    data = Shapes(32, image_size=16, seed=1)
    net = _tiny_net(dropout=0.5)
    opt = SGD(net.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    sched = StepLR(opt, step_size=1, gamma=0.5)
    loader = DataLoader(data, batch_size=8, shuffle=True, seed=seed, transform=_augment())
    history = fit(net, loader, opt, epochs, scheduler=sched, progress=False, log=None,
                  checkpoint_dir=checkpoint_dir, resume=resume,
                  val_loader=DataLoader(data, batch_size=16))
    return history, net, opt


def test_same_seed_same_losses_bit_for_bit():
    h1, net1, _ = _run(2)
    h2, net2, _ = _run(2)
    assert h1.iteration_loss == h2.iteration_loss
    for (k, a), b in zip(net1.state_dict().items(), net2.state_dict().values(), strict=True):
        assert np.array_equal(a, b), k
    h3, _, _ = _run(2, seed=1)
    assert h3.iteration_loss != h1.iteration_loss


def test_resume_continues_exactly(tmp_path):
    straight, net_a, opt_a = _run(3)
    _run(1, checkpoint_dir=tmp_path)
    backend.get_rng(like=np.empty(0)).random(100)  # disturb the global random state
    resumed, net_b, opt_b = _run(3, checkpoint_dir=tmp_path, resume=True)
    assert resumed.iteration_loss == straight.iteration_loss
    assert [e["lr"] for e in resumed.epochs] == [0.05, 0.025, 0.0125]
    for (k, a), b in zip(net_a.state_dict().items(), net_b.state_dict().values(), strict=True):
        assert np.array_equal(a, b), k
    assert opt_a.lr == opt_b.lr
    assert os.path.exists(tmp_path / "last.npz") and os.path.exists(tmp_path / "best.npz")


def test_plateau_schedule_needs_validation_and_nan_loss_is_reported(shapes16):
    net = _tiny_net()
    opt = SGD(net.parameters(), lr=0.1)
    loader = DataLoader(shapes16, batch_size=32)
    with pytest.raises(ValueError, match="val_loader"):
        fit(net, loader, opt, 1, scheduler=PlateauDivider(opt), progress=False, log=None)

    def nan_loss(logits, labels):
        return F.cross_entropy(logits, labels) * float("nan")
    with pytest.raises(FloatingPointError, match="learning rate"):
        fit(net, loader, opt, 1, loss_fn=nan_loss, progress=False, log=None)


def test_fit_logs_one_line_per_epoch(shapes16):
    lines = []
    net = _tiny_net()
    fit(net, DataLoader(shapes16, batch_size=32), Adam(net.parameters()), 2, progress=False,
        log=lines.append, val_loader=DataLoader(shapes16, batch_size=64))
    assert len(lines) == 2 and lines[1].startswith("epoch 2/2")
    assert "top-1" in lines[0] and "top-5" in lines[0] and "val loss" in lines[0]


def test_plain_progress_lines_without_tqdm(shapes16, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # import fails as if not installed
    net = _tiny_net()
    fit(net, DataLoader(shapes16, batch_size=16), Adam(net.parameters()), 1, progress=True,
        log_every=2, log=None)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[2] for line in lines] == ["2/4", "4/4"]
    assert lines[0].startswith("epoch 1/1") and "loss" in lines[0]


# ---------------------------------------------------------------------------- evaluation
def test_evaluate_against_a_manual_computation(shapes16):
    backend.manual_seed(3)
    net = _tiny_net()
    result = evaluate(net, DataLoader(shapes16, batch_size=24))
    with backend_no_grad():
        logits = net(Tensor(shapes16.images)).numpy().astype(np.float64)
    shifted = logits - logits.max(1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
    y = shapes16.labels
    assert result["loss"] == pytest.approx(-logp[np.arange(64), y].mean(), rel=1e-5)
    assert result["top1"] == np.mean(logits.argmax(1) == y)
    ranks = (logits > logits[np.arange(64), y][:, None]).sum(1)
    assert result["top5"] == np.mean(ranks < 5) and result["n"] == 64
    assert net.training  # evaluate restores the mode


def backend_no_grad():
    from minialex.tensor import no_grad
    return no_grad()


def test_ten_crop_prediction_is_the_mean_softmax_of_the_ten_crops():
    backend.manual_seed(4)
    net = _tiny_net(size=12)
    net.eval()
    x = np.random.default_rng(0).random((3, 3, 14, 14)).astype(np.float32)
    probs = predict_ten_crop(net, Tensor(x), 12, padding=1)
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    expected = np.zeros((3, 8))
    for t, l in [(0, 0), (0, 4), (4, 0), (4, 4), (2, 2)]:
        crop = padded[:, :, t:t + 12, l:l + 12]
        for view in (crop, crop[..., ::-1]):
            with backend_no_grad():
                logits = net(Tensor(np.ascontiguousarray(view))).numpy().astype(np.float64)
            e = np.exp(logits - logits.max(1, keepdims=True))
            expected += e / e.sum(1, keepdims=True) / 10
    assert np.allclose(probs, expected, atol=1e-6)
    assert np.allclose(probs.sum(1), 1.0, atol=1e-5)


def test_zero_iteration_runs_are_refused(shapes16):
    net = _tiny_net()
    opt = SGD(net.parameters(), lr=0.1)
    loader = DataLoader(shapes16, batch_size=16)
    for epochs in (0, -1, 1.5):
        with pytest.raises(ValueError, match="epochs must be a positive int"):
            fit(net, loader, opt, epochs, log=None, progress=False)
    empty = DataLoader(shapes16, batch_size=100, drop_last=True)
    with pytest.raises(ValueError, match=r"no batches \(64 images, batch size 100, incomplete "
                                         r"batches dropped\)"):
        fit(net, empty, opt, 1, log=None, progress=False)
    with pytest.raises(ValueError, match="evaluate: the loader yields no batches"):
        evaluate(net, empty)


def test_ten_crop_of_the_whole_image_is_refused(shapes16):
    net = _tiny_net()
    loader = DataLoader(shapes16, batch_size=16)
    with pytest.raises(ValueError, match="ten_crop needs crop_size smaller.*or padding > 0"):
        evaluate(net, loader, ten_crop=True)
    with pytest.raises(ValueError, match="ten_crop: crop 16 is the whole 16x16 image"):
        evaluate(net, loader, ten_crop=True, crop_size=16)
    assert evaluate(net, loader, ten_crop=True, padding=2)["n"] == 64


# ---------------------------------------------------------------------------- checkpoints
def _trained(tmp_path):
    backend.manual_seed(0)
    net = _tiny_net()
    opt = Adam(net.parameters(), lr=0.01)
    x, y = next(iter(DataLoader(Shapes(16, image_size=16), batch_size=16)))
    loss = F.cross_entropy(net(x), y)
    loss.backward()
    opt.step()
    return net, opt


def test_checkpoint_round_trip(tmp_path):
    net, opt = _trained(tmp_path)
    sched = StepLR(opt, step_size=2)
    sched.step()
    path = tmp_path / "c.npz"
    save_checkpoint(path, net, opt, sched, epoch=7, extra={"note": "x"},
                    config={"variant": "tiny"}, history=History([1.5, 1.25], []))
    backend.manual_seed(9)
    net2 = _tiny_net()
    opt2 = Adam(net2.parameters(), lr=0.5)
    sched2 = StepLR(opt2, step_size=5)
    ck = load_checkpoint(path, net2, opt2, sched2)
    assert ck.epoch == 7 and ck.extra == {"note": "x"} and ck.config == {"variant": "tiny"}
    assert ck.history.iteration_loss == [1.5, 1.25]
    for (k, a), b in zip(net.state_dict().items(), net2.state_dict().values(), strict=True):
        assert np.array_equal(a, b) and a.dtype == b.dtype, k
    assert opt2.lr == 0.01 and sched2.step_size == 2 and sched2.last_epoch == 1
    assert opt2.state[0]["step"] == 1
    assert np.array_equal(opt2.state[0]["m"], opt.state[0]["m"])
    with np.load(path, allow_pickle=False) as raw:  # plain arrays, nothing pickled
        assert all(raw[k].dtype != object for k in raw.files)


def test_save_and_load_contract(tmp_path):
    net, opt = _trained(tmp_path)
    path = tmp_path / "model.npz"
    save(net, opt, path, epoch=4)
    backend.manual_seed(3)
    net2 = _tiny_net()
    opt2 = Adam(net2.parameters(), lr=0.9)
    assert load(net2, opt2, path).epoch == 4
    for a, b in zip(net.parameters(), net2.parameters(), strict=True):
        assert np.array_equal(a.data, b.data)
    assert opt2.lr == 0.01 and np.array_equal(opt2.state[0]["m"], opt.state[0]["m"])
    net3 = _tiny_net()
    load(net3, None, path)  # weights only
    for a, b in zip(net.parameters(), net3.parameters(), strict=True):
        assert np.array_equal(a.data, b.data)


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    import minialex.checkpoint as checkpoint

    net, opt = _trained(tmp_path)
    path = tmp_path / "last.npz"
    save_checkpoint(path, net, opt, epoch=1)
    before = path.read_bytes()

    def crash(f, arrays):
        f.write(b"PK\x03\x04 half a zip file")
        raise OSError("disk full (simulated)")
    monkeypatch.setattr(checkpoint, "_write_npz", crash)
    for p in net.parameters():
        p.data += 1.0
    with pytest.raises(OSError, match="simulated"):
        save_checkpoint(path, net, opt, epoch=2)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["last.npz"]  # the temporary file is gone
    monkeypatch.undo()
    assert load_checkpoint(path, _tiny_net()).epoch == 1


def test_truncated_and_corrupt_checkpoints_are_named(tmp_path):
    net, opt = _trained(tmp_path)
    good = tmp_path / "good.npz"
    save_checkpoint(good, net, opt)
    raw = good.read_bytes()
    cut = tmp_path / "cut.npz"
    cut.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match=r"cut\.npz is not an \.npz archive"):
        load_checkpoint(cut, _tiny_net())
    flipped = bytearray(raw)
    flipped[len(raw) // 3] ^= 0xFF  # one byte inside the stored weights
    bad = tmp_path / "bad.npz"
    bad.write_bytes(bytes(flipped))
    with pytest.raises(ValueError, match=r"bad\.npz.*corrupt"):
        load_checkpoint(bad, _tiny_net())
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        load_checkpoint(tmp_path / "missing.npz")


def test_checkpoint_must_fit_the_model(tmp_path):
    net, opt = _trained(tmp_path)
    path = tmp_path / "c.npz"
    save_checkpoint(path, net, opt)
    other = _tiny_net(classes=5)
    before = [p.data.copy() for p in other.parameters()]
    with pytest.raises(ValueError, match=r"shape mismatches.*7\.weight"):
        load_checkpoint(path, other)
    assert all(np.array_equal(a, p.data) for a, p in zip(before, other.parameters(),
                                                         strict=True))
    with pytest.raises(ValueError, match="missing"):
        load_checkpoint(path, _tiny_net(dropout=0.5))  # Linear renamed 7 -> 8
    with pytest.raises(ValueError, match="Adam state, not SGD"):
        load_checkpoint(path, _tiny_net(), SGD(_tiny_net().parameters(), lr=0.1))


def _fresh_adam_with_state():
    """A new net and Adam with a step taken (so the optimiser state is not empty)."""
    backend.manual_seed(5)
    net = _tiny_net()
    opt = Adam([{"params": net.parameters(), "lr": 0.3}], lr=0.3)
    for p in net.parameters():
        p.grad = np.full(p.shape, 0.5, p.dtype)
    opt.step()
    return net, opt


def _snapshot(net, opt):
    return ([p.data.copy() for p in net.parameters()], opt.lr,
            {i: {k: np.copy(v) for k, v in s.items()} for i, s in opt.state.items()})


def _assert_unchanged(before, net, opt):
    weights, lr, state = before
    assert all(np.array_equal(a, p.data) for a, p in zip(weights, net.parameters(),
                                                         strict=True))
    assert opt.lr == lr
    assert opt.state.keys() == state.keys()
    assert all(np.array_equal(opt.state[i][k], v) for i in state for k, v in state[i].items())


def test_failed_load_changes_nothing(tmp_path, monkeypatch):
    net, opt = _trained(tmp_path)
    path = tmp_path / "c.npz"
    save_checkpoint(path, net, opt, StepLR(opt, step_size=2))
    # scheduler of another type: refused before the weights and the lr are overwritten
    net2, opt2 = _fresh_adam_with_state()
    before = _snapshot(net2, opt2)
    with pytest.raises(ValueError, match="c.npz holds StepLR state, not PlateauDivider"):
        load_checkpoint(path, net2, opt2, PlateauDivider(opt2))
    _assert_unchanged(before, net2, opt2)
    # optimiser state that does not fit (two parameter groups here, one saved)
    params = list(net2.parameters())
    opt3 = Adam([{"params": params[:2]}, {"params": params[2:]}], lr=0.7)
    with pytest.raises(ValueError, match="optimiser state does not fit.*parameter groups"):
        load_checkpoint(path, net2, opt3)
    _assert_unchanged(before, net2, opt2)
    assert opt3.lr == 0.7 and opt3.state == {}
    # and a failure after the checks (simulated) is undone
    sched = StepLR(opt2, step_size=9)

    def broken(state):
        raise RuntimeError("simulated")
    monkeypatch.setattr(sched, "load_state_dict", broken)
    with pytest.raises(RuntimeError, match="simulated"):
        load_checkpoint(path, net2, opt2, sched)
    _assert_unchanged(before, net2, opt2)
    assert sched.step_size == 9 and sched.last_epoch == 0


def test_pickled_npz_is_refused_without_running(tmp_path):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return open, (str(marker), "w")
    arr = np.empty(1, dtype=object)
    arr[0] = Payload()
    np.savez(tmp_path / "evil.npz", meta=np.array("{}"), x=arr)
    with pytest.raises(ValueError, match="evil.npz"):
        load_checkpoint(tmp_path / "evil.npz")
    assert not marker.exists()


def test_checkpoint_path_errors_say_what_is_wrong(tmp_path):
    with pytest.raises(ValueError, match="is a directory.*last.npz"):
        load_checkpoint(tmp_path)
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip file at all" * 10)
    with pytest.raises(ValueError, match=r"garbage\.npz is not an \.npz archive") as info:
        load_checkpoint(garbage)
    assert "allow_pickle" not in str(info.value)  # never suggest unsafe loading
    arr = np.empty(1, dtype=object)
    arr[0] = "text"
    np.savez(tmp_path / "objects.npz", meta=np.array("{}"), x=arr)
    with pytest.raises(ValueError, match="objects.npz holds pickled Python objects") as info:
        load_checkpoint(tmp_path / "objects.npz")
    assert "allow_pickle" not in str(info.value)


def test_checkpoint_and_history_files_get_the_usual_mode(tmp_path):
    net, opt = _trained(tmp_path)
    umask = os.umask(0o022)
    try:
        save_checkpoint(tmp_path / "c.npz", net, opt)
        History([1.0], [{"epoch": 1}]).save_json(tmp_path / "h.json")
        with open(tmp_path / "plain", "w"):
            pass
    finally:
        os.umask(umask)
    for name in ("c.npz", "h.json", "plain"):
        assert os.stat(tmp_path / name).st_mode & 0o777 == 0o644, name


def test_history_files(tmp_path):
    h = History([2.0, 1.5, 1.0, 0.8], [
        {"epoch": 1, "lr": 0.1, "train_loss": 1.75, "val_loss": 1.6},
        {"epoch": 2, "lr": 0.1, "train_loss": 0.9, "val_loss": 1.1}])
    h.save_json(tmp_path / "h.json")
    h.save_csv(tmp_path / "h.csv")
    assert History.from_dict(json.loads((tmp_path / "h.json").read_text())) == h
    rows = (tmp_path / "h.csv").read_text().splitlines()
    assert rows[0] == "epoch,lr,train_loss,val_loss" and rows[2] == "2,0.1,0.9,1.1"
    pytest.importorskip("matplotlib")
    fig = h.plot()
    assert len(fig.axes[0].lines) == 3


# ---------------------------------------------------------------------------- command line
def test_cli_train_resume_and_evaluate(tmp_path):
    from minialex.cli import main

    out = tmp_path / "run"
    common = ["--train-size", "48", "--test-size", "16", "--batch-size", "16",
              "--out", str(out), "--no-progress"]
    env = dict(os.environ, MPLBACKEND="Agg")
    done = subprocess.run([sys.executable, "-m", "minialex", "train", "--epochs", "1"] + common,
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "epoch 1/1" in done.stdout and "test top-1 accuracy" in done.stdout
    for name in ("last.npz", "best.npz", "history.json", "history.csv"):
        assert (out / name).exists(), name
    first = json.loads((out / "history.json").read_text())
    assert len(first["iteration_loss"]) == 3
    # resume to 2 epochs in-process: the first epoch's losses are kept, a second is added
    assert main(["train", "--epochs", "2", "--resume"] + common) == 0
    resumed = json.loads((out / "history.json").read_text())
    assert resumed["iteration_loss"][:3] == first["iteration_loss"]
    assert len(resumed["iteration_loss"]) == 6 and len(resumed["epochs"]) == 2
    assert main(["evaluate", "--checkpoint", str(out / "last.npz"), "--ten-crop"]) == 0
    assert main(["evaluate", "--checkpoint", str(tmp_path / "nothing.npz")]) == 2


@pytest.mark.parametrize("option, value", [
    ("--epochs", "0"), ("--epochs", "-1"), ("--batch-size", "0"), ("--train-size", "0"),
    ("--test-size", "-3"), ("--image-size", "0"), ("--seed", "-1"), ("--epochs", "two")])
def test_cli_train_refuses_bad_counts_naming_the_option(option, value, capsys):
    from minialex.cli import main

    with pytest.raises(SystemExit) as info:
        main(["train", option, value])
    assert info.value.code == 2
    assert f"argument {option}: expected" in capsys.readouterr().err


def test_cli_train_without_a_full_batch_is_an_error(tmp_path, capsys):
    from minialex.cli import main

    code = main(["train", "--batch-size", "100", "--train-size", "64", "--test-size", "8",
                 "--out", str(tmp_path / "run"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "no batches (64 images, batch size 100" in err
    assert not (tmp_path / "run" / "last.npz").exists()


def _folder_checkpoint(tmp_path, dataset, data_dir):
    """A checkpoint whose recorded configuration points at ``dataset`` in ``data_dir``."""
    from minialex.cli._runs import build_model

    cfg = {"variant": "cifar-small", "dataset": dataset, "data_dir": str(data_dir),
           "image_size": 32, "crop_padding": 4, "num_classes": 10, "input_shape": [3, 32, 32],
           "mean": [0.5] * 3, "std": [0.25] * 3, "dropout": 0.0, "seed": 0, "test_size": 8,
           "classes": [f"c{i}" for i in range(10)], "augment": "none"}
    backend.manual_seed(0)
    path = tmp_path / "model.npz"
    save_checkpoint(path, build_model(cfg), config=cfg, epoch=3)
    return path


@pytest.mark.parametrize("dataset", ["cifar10", "folder"])
def test_cli_evaluate_reads_only_the_test_split(tmp_path, dataset, capsys):
    import pickle

    from PIL import Image

    from minialex.cli import main

    data = tmp_path / "data"
    rng = np.random.default_rng(0)
    if dataset == "cifar10":  # test_batch only, no data_batch_1..5
        data.mkdir()
        batch = {"data": rng.integers(0, 256, (4, 3072), dtype=np.uint8),
                 "labels": [0, 1, 2, 3]}
        (data / "test_batch").write_bytes(pickle.dumps(batch, protocol=4))
    else:  # DIR/test only, no DIR/train
        for i in range(10):
            (data / "test" / f"c{i}").mkdir(parents=True)
            Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(
                data / "test" / f"c{i}" / "a.png")
    path = _folder_checkpoint(tmp_path, dataset, data)
    assert main(["evaluate", "--checkpoint", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"{dataset} test set ({4 if dataset == 'cifar10' else 10} images)" in out


def test_cli_evaluate_names_a_directory(tmp_path, capsys):
    from minialex.cli import main

    assert main(["evaluate", "--checkpoint", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err


def test_image_folder_example_runs():
    script = os.path.join(os.path.dirname(__file__), "..", "examples", "train_image_folder.py")
    done = subprocess.run([sys.executable, script, "--quick"], capture_output=True, text=True,
                          env=dict(os.environ, MPLBACKEND="Agg"), timeout=300)
    assert done.returncode == 0, done.stderr
    assert "with ten crops" in done.stdout and "unknown_0.png" in done.stdout
