"""Training on the device: every AlexNet variant's step, fit / evaluate / ten-crop, the
DataLoader, checkpoints and exact resume, the CLI, lesson 11, the benchmarks, sync counts,
host/device errors and conv2d's bounded im2col blocks.

cupy-marked: on a GPU with CuPy, or on a CPU with ``MINIALEX_BACKEND=cupy-emulator`` (where
``backend.sync_count()`` counts every device-to-host transfer, so the sync bounds are exact).
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest
from helpers import DEVICE_BACKEND, assert_close_scaled, requires_cupy

import minialex.functional as F
from minialex import Tensor, backend, nn
from minialex.checkpoint import load_checkpoint, read_checkpoint, save_checkpoint
from minialex.data import DataLoader, Shapes
from minialex.data import transforms as T
from minialex.functional import conv as conv_module
from minialex.functional.loss import check_target
from minialex.models import VARIANTS, alexnet
from minialex.optim import SGD, Adam
from minialex.train import evaluate, fit

np = backend.np
pytestmark = [pytest.mark.cupy, requires_cupy]
ROOT = Path(__file__).resolve().parents[1]


def _env():
    return dict(os.environ, MINIALEX_BACKEND=DEVICE_BACKEND, PYTHONPATH=str(ROOT),
                MPLBACKEND="Agg")


def syncs_during(fn):
    before = backend.sync_count()
    result = fn()
    return result, backend.sync_count() - before


def _small(variant, num_classes=5, **options):
    """A 1/16-width copy of ``variant`` at its own input size (every layer's geometry kept)."""
    return alexnet(variant, width=1 / 16, num_classes=num_classes, **options)


# ------------------------------------------------------------------ every variant
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_training_step_of_every_variant_on_device_matches_host(variant):
    host = _small(variant, dropout=0.0)
    device = copy.deepcopy(host).to("gpu")
    shape = (2, *host.input_shape)
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    y = np.array([1, 3])
    losses = []
    for model, dev in ((host, "cpu"), (device, "gpu")):
        opt = SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
        loss = F.cross_entropy(model(Tensor(backend.to_device(x, dev))),
                               backend.to_device(y, dev))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[1] == pytest.approx(losses[0], rel=1e-5)
    for (name, pd), (_, ph) in zip(device.named_parameters(), host.named_parameters(),
                                   strict=True):
        assert pd.device == "gpu" and backend.device_of(pd.grad) == "gpu", name
        assert_close_scaled(pd.numpy(), ph.data, 1e-5)
        assert_close_scaled(backend.to_host(pd.grad), ph.grad, 1e-4)
    for (name, bd), (_, bh) in zip(device.named_buffers(), host.named_buffers(), strict=True):
        assert bd.device == "gpu", name  # keras-bn's running statistics
        assert_close_scaled(bd.numpy(), bh.data, 1e-5)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_fit_of_every_variant_on_device_syncs_once_per_step(variant):
    data = Shapes(4, VARIANTS[variant].input_shape[-1], seed=1)
    # the variant's own dropout: random draws on the device
    model = _small(variant, num_classes=data.num_classes).to("gpu")
    loader = DataLoader(data, 2, device="gpu")
    history, syncs = syncs_during(lambda: fit(model, loader, Adam(model.parameters(), 1e-3), 1,
                                              progress=False, log=None))
    assert len(history.iteration_loss) == 2
    assert syncs == 2  # one per step: the logged loss (with the step's top-1/top-5 hits)
    assert all(p.device == "gpu" for p in model.parameters())


# ------------------------------------------------------------------ data on the device
@pytest.fixture(scope="module")
def shapes16():
    return Shapes(24, 16, seed=3)


def _transform():
    return T.Compose([T.Normalize([0.5] * 3, [0.25] * 3), T.RandomCrop(16, padding=2),
                      T.RandomHorizontalFlip()])


def test_dataloader_on_device_gives_the_host_batches(shapes16):
    host = DataLoader(shapes16, 5, shuffle=True, seed=4, transform=_transform())
    device = DataLoader(shapes16, 5, shuffle=True, seed=4, transform=_transform(), device="gpu")
    (host_batches, _), (device_batches, syncs) = (syncs_during(lambda: list(host)),
                                                  syncs_during(lambda: list(device)))
    assert syncs == 0  # host to device only
    assert len(device_batches) == len(host_batches) == 5
    for (xh, yh), (xd, yd) in zip(host_batches, device_batches, strict=True):
        assert xd.device == yd.device == "gpu"
        assert xd.dtype == np.float32 and yd.dtype == np.int64
        np.testing.assert_array_equal(xd.numpy(), xh.data)
        np.testing.assert_array_equal(yd.numpy(), yh.data)


def _net(num_classes, dropout=0.5):
    return alexnet("cifar-small", width=1 / 8, num_classes=num_classes, input_shape=(3, 16, 16),
                   dropout=dropout)


def test_fit_with_validation_schedule_and_checkpoints_on_device(shapes16, tmp_path):
    from minialex.optim import PlateauDivider

    model = _net(shapes16.num_classes).to("gpu")
    opt = SGD(model.parameters(), lr=0.01, momentum=0.9)
    train = DataLoader(shapes16, 6, shuffle=True, drop_last=True, transform=_transform(),
                       device="gpu")
    val = DataLoader(shapes16, 12, device="gpu")
    history = fit(model, train, opt, 2, val_loader=val, scheduler=PlateauDivider(opt),
                  progress=False, log=None, checkpoint_dir=str(tmp_path))
    assert len(history.iteration_loss) == 8 and len(history.epochs) == 2
    assert all(np.isfinite(history.iteration_loss))
    assert history.epochs[-1]["val_top1"] is not None
    arrays, meta = read_checkpoint(str(tmp_path / "last.npz"))
    assert meta["epoch"] == 2 and "rng/gpu" in arrays  # the device generator's state


def test_evaluate_and_ten_crop_on_device_match_host_with_one_sync_per_batch(shapes16):
    host = _net(shapes16.num_classes)
    device = copy.deepcopy(host).to("gpu")
    norm = T.Normalize([0.5] * 3, [0.25] * 3)
    for kwargs in ({}, {"ten_crop": True, "crop_size": 14}, {"ten_crop": True, "padding": 2}):
        expected = evaluate(host, DataLoader(shapes16, 8, transform=norm), **kwargs)
        loader = DataLoader(shapes16, 8, transform=norm, device="gpu")
        got, syncs = syncs_during(lambda: evaluate(device, loader, **kwargs))  # noqa: B023
        assert syncs == len(loader) == 3, kwargs  # one per batch: loss and hits together
        assert got["n"] == expected["n"] == 24
        assert got["top1"] == expected["top1"] and got["top5"] == expected["top5"], kwargs
        assert got["loss"] == pytest.approx(expected["loss"], rel=1e-5), kwargs


def test_sync_count_per_training_step_is_one(shapes16):
    model = _net(shapes16.num_classes).to("gpu")
    opt = Adam(model.parameters(), lr=1e-3)
    loader = DataLoader(shapes16, 4, device="gpu")
    images, labels = next(iter(loader))
    # forward, loss, backward and the update queue device work and read nothing back
    (_, syncs) = syncs_during(lambda: (opt.zero_grad(),
                                       F.cross_entropy(model(images), labels).backward(),
                                       opt.step()))
    assert syncs == 0
    history, syncs = syncs_during(lambda: fit(model, loader, opt, 1, progress=False, log=None))
    assert syncs == len(history.iteration_loss) == 6


def test_bad_device_target_is_named_by_fit(shapes16):
    model = _net(shapes16.num_classes).to("gpu")
    logits = model(Tensor(backend.to_device(np.zeros((2, 3, 16, 16), np.float32), "gpu")))
    bad = backend.to_device(np.array([0, 99]), "gpu")
    loss, syncs = syncs_during(lambda: F.cross_entropy(logits, bad, reduction="none"))
    assert syncs == 0  # not read back to check it
    assert np.isnan(loss.numpy()[1]) and np.isfinite(loss.numpy()[0])
    with pytest.raises(ValueError, match="target class 99 out of range"):
        check_target(bad, logits.shape[1])

    class BadLabels:
        def __len__(self):
            return 1

        def __iter__(self):
            yield Tensor(backend.to_device(np.zeros((2, 3, 16, 16), np.float32), "gpu")), bad
    with pytest.raises(ValueError, match="target class 99 out of range"):
        fit(model, BadLabels(), SGD(model.parameters(), lr=0.1), 1, progress=False, log=None)


# ------------------------------------------------------------------ checkpoints, resume
def _run(epochs, folder, resume=False, data=None):
    backend.manual_seed(0)
    model = _net(data.num_classes).to("gpu")
    opt = SGD(model.parameters(), lr=0.01, momentum=0.9)
    loader = DataLoader(data, 6, shuffle=True, transform=_transform(), device="gpu")
    return fit(model, loader, opt, epochs, progress=False, log=None, checkpoint_dir=str(folder),
               resume=resume)


def test_resume_on_device_is_exact_dropout_included(shapes16, tmp_path):
    straight = _run(3, tmp_path / "a", data=shapes16).iteration_loss
    _run(1, tmp_path / "b", data=shapes16)
    resumed = _run(3, tmp_path / "b", resume=True, data=shapes16).iteration_loss
    assert len(resumed) == len(straight) == 12
    assert resumed == straight  # bit for bit: the device generator's state was restored


def test_device_checkpoint_loads_on_host_and_device(shapes16, tmp_path):
    model = _net(shapes16.num_classes).to("gpu")
    opt = Adam(model.parameters(), lr=1e-3)
    fit(model, DataLoader(shapes16, 6, device="gpu"), opt, 1, progress=False, log=None)
    path = str(tmp_path / "ck.npz")
    save_checkpoint(path, model, opt, epoch=1)
    host, host_opt = _net(shapes16.num_classes), None
    host_opt = Adam(host.parameters(), lr=1e-3)
    load_checkpoint(path, host, host_opt)
    again = _net(shapes16.num_classes).to("gpu")
    again_opt = Adam(again.parameters(), lr=1e-3)
    load_checkpoint(path, again, again_opt, restore_rng=True)
    for (k, a), (_, b), (_, c) in zip(model.named_parameters(), host.named_parameters(),
                                      again.named_parameters(), strict=True):
        assert b.device == "cpu" and c.device == "gpu", k
        np.testing.assert_array_equal(b.data, a.numpy())
        np.testing.assert_array_equal(c.numpy(), a.numpy())
    for buffers in again_opt.state.values():
        assert backend.device_of(buffers["m"]) == "gpu"


# ------------------------------------------------------------------ command line
def _cli(*argv):
    from minialex.cli import main

    return main(list(argv))


TINY = ("--train-size", "24", "--test-size", "12", "--batch-size", "12", "--no-progress",
        "--dropout", "0.5", "--device", "gpu")


def test_cli_train_and_evaluate_on_device(tmp_path, capsys):
    out = str(tmp_path / "run")
    assert _cli("train", "--epochs", "1", "--out", out, *TINY) == 0
    text = capsys.readouterr().out
    assert "device gpu" in text and "test top-1 accuracy" in text
    arrays, meta = read_checkpoint(os.path.join(out, "last.npz"))
    assert "rng/gpu" in arrays and meta["config"]["variant"] == "cifar-small"
    for extra in ((), ("--ten-crop",)):
        assert _cli("evaluate", "--checkpoint", os.path.join(out, "last.npz"),
                    "--device", "gpu", *extra) == 0
        text = capsys.readouterr().out
        assert "shapes test set (12 images)" in text and "top-1" in text


def test_cli_resume_on_device_is_exact(tmp_path, capsys):
    straight, split = str(tmp_path / "straight"), str(tmp_path / "split")
    assert _cli("train", "--epochs", "2", "--out", straight, *TINY) == 0
    assert _cli("train", "--epochs", "1", "--out", split, *TINY) == 0
    assert _cli("train", "--epochs", "2", "--out", split, "--resume", "--device", "gpu",
                "--no-progress") == 0
    capsys.readouterr()

    def losses(folder):
        return json.loads(Path(folder, "history.json").read_text())["iteration_loss"]
    assert losses(split) == losses(straight) and len(losses(straight)) == 4


# ------------------------------------------------------------------ lesson 11, benchmarks
def test_lesson_11_runs_its_gpu_branch(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "lessons" / "11_two_towers.py"), "--quick",
                           "--out", str(tmp_path)], cwd=ROOT / "lessons", env=_env(),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    gpu_line = ("CuPy-rules emulator stands in for a GPU" if DEVICE_BACKEND == "cupy-emulator"
                else "tower B on the GPU (CuPy)")
    assert gpu_line in " ".join(done.stdout.split())
    diff = next(line for line in done.stdout.splitlines() if "towers vs one device" in line)
    assert float(diff.rsplit(" ", 1)[1]) < 1e-5


@pytest.mark.parametrize("script", ["conv_layers.py", "layers.py", "network.py"])
def test_benchmark_quick_on_device(script, tmp_path):
    out = tmp_path / "result.json"
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), "--quick",
                           "--device", "gpu", "--json", str(out)], cwd=ROOT / "benchmarks",
                          env=_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "GPU" in json.loads(out.read_text())["machine"]
    assert json.loads(out.read_text())["results"]


# ------------------------------------------------------------------ host meets device
def test_host_and_device_tensors_meeting_name_both_devices():
    host = Tensor(np.ones((2, 3), np.float32))
    device = Tensor(backend.to_device(np.ones((2, 3), np.float32), "gpu"))
    for op in (lambda: host + device, lambda: device * host, lambda: device - host,
               lambda: host @ device.T, lambda: 1.0 / device + host):
        with pytest.raises(ValueError, match=r"different devices \((cpu|gpu).*(gpu|cpu)"):
            op()
    layer = nn.Linear(3, 4)  # on the host
    with pytest.raises(ValueError, match=r"linear: .*input: gpu, weight: cpu"):
        layer(device)
    conv = nn.Conv2d(3, 2, 1).to("gpu")
    with pytest.raises(ValueError, match=r"conv2d: .*input: cpu, weight: gpu"):
        conv(Tensor(np.ones((1, 3, 2, 2), np.float32)))


# ------------------------------------------------------------------ conv2d's blocks
@pytest.mark.parametrize("layer", ["conv1", "conv2"])
def test_conv_im2col_blocks_stay_bounded_on_device_at_batch_128(layer):
    """AlexNet's conv1 and conv2 at batch 128, 227x227: the full im2col matrices would be
    0.56 GB and 0.9 GB; the device blocks stay within 128 MB."""
    c_in, k, s, p, size = {"conv1": (3, 11, 4, 0, 227), "conv2": (96, 5, 1, 2, 27)}[layer]
    n, xp = 128, backend.require_cupy()
    oh = (size + 2 * p - k) // s + 1
    row_bytes = c_in * k * k * oh * n * 4  # one output row of columns, float32
    full = row_bytes * oh
    assert full > 5e8  # what conv2d used to allocate in one piece on CuPy
    blocks = conv_module._row_blocks(xp.empty(1, dtype=np.float32), row_bytes, oh * n, oh)
    assert len(blocks) > 1 and sum(len(r) for r in blocks) == oh
    assert max(len(r) for r in blocks) * row_bytes <= conv_module._DEVICE_BLOCK_BYTES < full


@pytest.mark.parametrize("stride, padding, groups", [(1, 1, 1), (2, 0, 2)])
def test_conv_in_small_device_blocks_equals_one_block(monkeypatch, stride, padding, groups):
    x = np.random.default_rng(0).standard_normal((2, 4, 11, 11)).astype(np.float64)
    w = np.random.default_rng(1).standard_normal((6, 4 // groups, 3, 3))
    results = []
    for budget in (1 << 40, 200 * 4 * 8):  # one block, then blocks of about 200 columns
        monkeypatch.setattr(conv_module, "_DEVICE_BLOCK_BYTES", budget)
        monkeypatch.setattr(conv_module, "_MIN_BLOCK_COLUMNS", 1)
        xt = Tensor(backend.to_device(x, "gpu"), requires_grad=True)
        wt = Tensor(backend.to_device(w, "gpu"), requires_grad=True)
        out = F.conv2d(xt, wt, stride=stride, padding=padding, groups=groups)
        (out * out).sum().backward()
        results.append([out.numpy(), backend.to_host(xt.grad), backend.to_host(wt.grad)])
    for one, blocked in zip(*results, strict=True):
        np.testing.assert_allclose(blocked, one, rtol=1e-12, atol=1e-12)


@pytest.mark.skipif(DEVICE_BACKEND != "cupy-emulator",
                    reason="host memory is what the emulator's device arrays use")
def test_conv_peak_memory_stays_below_the_full_matrix_on_the_emulator(monkeypatch):
    x = Tensor(backend.to_device(np.ones((8, 16, 35, 35), np.float32), "gpu"))
    w = Tensor(backend.to_device(np.full((4, 16, 11, 11), 0.01, np.float32), "gpu"),
               requires_grad=True)
    full = 16 * 11 * 11 * 13 * 13 * 8 * 4  # this conv's whole im2col matrix: 10.5 MB

    monkeypatch.setattr(conv_module, "_MIN_BLOCK_COLUMNS", 1)  # 104 columns per output row

    def peak_bytes(budget):
        monkeypatch.setattr(conv_module, "_DEVICE_BLOCK_BYTES", budget)
        tracemalloc.start()  # NumPy reports its allocations to tracemalloc
        try:
            base = tracemalloc.get_traced_memory()[0]
            F.conv2d(x, w, stride=2).sum().backward()
            return tracemalloc.get_traced_memory()[1] - base
        finally:
            tracemalloc.stop()
    assert peak_bytes(1 << 40) > full  # one block: the whole matrix at once
    assert peak_bytes(1 << 20) < full / 2  # 1 MB blocks
