"""Hostile and damaged checkpoint files: bounded memory before anything is decompressed, one
error type naming the file, metadata under the checksum and validated, nothing changed by a
failed load, stale temporary files of a killed writer cleaned up."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import tracemalloc
import zipfile

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minialex import backend, nn
from minialex.atomic import atomic_file, check_output_folder, remove_stale_temporaries
from minialex.checkpoint import (
    CheckpointError,
    _digest,
    load_checkpoint,
    read_checkpoint,
    read_checkpoint_meta,
    save_checkpoint,
)
from minialex.npzfile import NpzError, list_arrays
from minialex.optim import SGD, Adam, StepLR

np = backend.np


def _net(width=4):
    return nn.Sequential(nn.Linear(3, width), nn.ReLU(), nn.Linear(width, 2))


def _stepped(width=4):
    backend.manual_seed(1)
    net = _net(width)
    opt = Adam(net.parameters(), lr=0.01)
    for p in net.parameters():
        p.grad = np.full(p.shape, 0.25, p.dtype)
    opt.step()
    return net, opt


def _saved(tmp_path, name="c.npz", **kwargs):
    net, opt = _stepped()
    path = tmp_path / name
    save_checkpoint(path, net, opt, StepLR(opt, step_size=2), epoch=3,
                    config={"variant": "tiny"}, **kwargs)
    return path


def _rewrite(path, out, change_meta=None, arrays_change=None, restamp=True, version=None):
    """Copy checkpoint ``path`` to ``out`` with its metadata (and arrays) changed; with
    ``restamp`` the checksum is recomputed, so that only the other checks can catch it."""
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(str(arrays.pop("meta")))
    if change_meta:
        change_meta(meta)
    if arrays_change:
        arrays_change(arrays)
    if version is not None:
        meta["version"] = version
    if restamp:
        v2 = isinstance(meta.get("version"), int) and meta["version"] >= 2
        meta["sha256"] = _digest(arrays, meta if v2 else None)
    np.savez(out, meta=np.array(json.dumps(meta)), **arrays)
    return out


def _npy(array_or_header_shape, dtype=np.float32):
    """The bytes of a .npy file; a shape (tuple) writes only a header claiming it."""
    buf = io.BytesIO()
    if isinstance(array_or_header_shape, tuple):
        np.lib.format.write_array_header_1_0(buf, {"descr": np.dtype(dtype).str,
                                                   "fortran_order": False,
                                                   "shape": array_or_header_shape})
    else:
        np.save(buf, array_or_header_shape)
    return buf.getvalue()


# ---------------------------------------------------------------- bounded memory
def _zip_bomb(path, name, n_floats, meta=None):
    """An .npz whose member ``name`` declares n_floats float32 zeros, deflated (1 MB of
    zeros compresses to about 1 kB)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
        zf.writestr("meta.npy", _npy(np.array(json.dumps(meta or {"format": "x"}))))
        with zf.open(f"{name}.npy", "w", force_zip64=True) as f:
            f.write(_npy((n_floats,)))
            chunk = bytes(1 << 20)
            for _ in range(n_floats * 4 // len(chunk)):
                f.write(chunk)


def test_zip_bomb_is_refused_before_decompressing(tmp_path):
    path = tmp_path / "bomb.npz"
    meta = read_checkpoint_meta(_saved(tmp_path))  # a real checkpoint's metadata
    _zip_bomb(path, "model/0.weight", 64 << 20, meta)  # 256 MB declared
    assert os.path.getsize(path) < 2 << 20  # from a file of a few hundred kB
    tracemalloc.start()
    try:
        with pytest.raises(CheckpointError, match=r"bomb\.npz"):
            read_checkpoint(path, _net())  # the model says (4, 3), the header 64M floats
        with pytest.raises(CheckpointError, match=r"bomb\.npz.*would need 256 MiB"):
            read_checkpoint(path, max_bytes=100 << 20)  # no model: the budget bounds it
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, f"peak {peak:,} bytes: data was decompressed before the checks"


def test_declared_shapes_are_compared_with_the_model_before_reading(tmp_path):
    big = _net(width=2000)
    path = tmp_path / "big.npz"
    save_checkpoint(path, big)
    tracemalloc.start()
    try:
        with pytest.raises(CheckpointError, match=r"big\.npz does not fit Sequential: .*"
                                                  r"0\.weight: model \(4, 3\), checkpoint "
                                                  r"\(2000, 3\)"):
            load_checkpoint(path, _net())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


@pytest.mark.parametrize("shape", [(2**40, 8), (2**62,), (10**30,)])
def test_a_header_claiming_terabytes_is_a_clear_error(tmp_path, shape):
    path = tmp_path / "huge.npz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("meta.npy", _npy(np.array("{}")))
        zf.writestr("model/w.npy", _npy(shape) + b"\0" * 64)
    with pytest.raises(CheckpointError, match=r"huge\.npz: member 'model/w\.npy' declares"):
        read_checkpoint(path)


# ---------------------------------------------------------------- damaged bytes
def test_every_single_byte_change_of_the_headers_is_caught_or_harmless(tmp_path):
    good = _saved(tmp_path)
    raw = good.read_bytes()
    arrays, meta = read_checkpoint(good)
    # the .npy headers inside the (uncompressed) archive: each byte, changed two ways
    with zipfile.ZipFile(good) as zf:
        starts = [zi.header_offset + 30 + len(zi.filename) + len(zi.extra)
                  for zi in zf.infolist()]
    positions = [s + i for s in starts for i in range(128)]
    bad = tmp_path / "bad.npz"
    for pos in positions:
        for flip in (0x01, 0xFF):
            changed = bytearray(raw)
            changed[pos] ^= flip
            bad.write_bytes(bytes(changed))
            try:
                got_arrays, got_meta = read_checkpoint(bad)
            except CheckpointError as exc:
                assert "bad.npz" in str(exc)
            else:  # padding spaces and the like: then the values are exactly the same
                assert got_meta == meta and got_arrays.keys() == arrays.keys()
                assert all(np.array_equal(got_arrays[k], v) for k, v in arrays.items())


@given(data=st.data())
def test_random_corruption_never_loads_other_values(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("flip")
    good = _saved(folder)
    raw = good.read_bytes()
    arrays, meta = read_checkpoint(good)
    changed = bytearray(raw)
    for _ in range(data.draw(st.integers(1, 3), label="bytes changed")):
        pos = data.draw(st.integers(0, len(raw) - 1), label="position")
        changed[pos] ^= data.draw(st.integers(1, 255), label="xor")
    bad = folder / "bad.npz"
    bad.write_bytes(bytes(changed))
    try:
        got_arrays, got_meta = read_checkpoint(bad)
    except CheckpointError as exc:
        assert "bad.npz" in str(exc)
    else:
        assert got_meta == meta
        assert all(np.array_equal(got_arrays[k], v) for k, v in arrays.items())


@pytest.mark.parametrize("header, words", [
    (b"{'descr': '<f4', 'fortran_order': False, 'shape': (3, }", "corrupt .npy header"),
    (b"{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }\n" + b"\xff" * 8,
     "corrupt .npy header"),
    (b"{'descr': '|O', 'fortran_order': False, 'shape': (1,), }\n", "pickled Python objects"),
    (b"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }\n",
     "corrupt .npy header"),
    (b"{'descr': '<f4', 'fortran_order': False, 'shape': (__import__('os'),), }\n",
     "corrupt .npy header"),
    (b"{'descr': '<q9', 'fortran_order': False, 'shape': (1,), }\n", "unknown dtype"),
])
def test_hand_made_headers_are_refused_naming_the_member(tmp_path, header, words):
    body = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header
    path = tmp_path / "h.npz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("meta.npy", _npy(np.array("{}")))
        zf.writestr("model/w.npy", body + bytes(16))
    with pytest.raises(NpzError, match=rf"h\.npz.*{words}"):
        list_arrays(str(path))
    with pytest.raises(CheckpointError, match=r"h\.npz"):
        read_checkpoint(path)


# ---------------------------------------------------------------- metadata
@pytest.mark.parametrize("change", [
    lambda m: m.update(epoch=4), lambda m: m["config"].update(variant="other"),
    lambda m: m["optimizer"]["param_groups"][0].update(lr=0.5),
    lambda m: m["rng"]["state"].update(state=12345),
])
def test_the_checksum_covers_the_metadata(tmp_path, change):
    bad = _rewrite(_saved(tmp_path), tmp_path / "bad.npz", change, restamp=False)
    with pytest.raises(CheckpointError, match=r"bad\.npz is corrupt"):
        read_checkpoint(bad)


def test_format_1_checkpoints_still_load(tmp_path):
    old = _rewrite(_saved(tmp_path), tmp_path / "v1.npz", version=1)
    assert load_checkpoint(old, _net()).epoch == 3


BAD_META = {
    "epoch text": lambda m: m.update(epoch="3"),
    "epoch negative": lambda m: m.update(epoch=-1),
    "epoch float": lambda m: m.update(epoch=1.5),
    "epoch bool": lambda m: m.update(epoch=True),
    "config list": lambda m: m.update(config=[1]),
    "best_top1": lambda m: m.update(extra={"best_top1": 5}),
    "history": lambda m: m.update(history={"iteration_loss": "x", "epochs": []}),
    "history epochs": lambda m: m.update(history={"iteration_loss": [], "epochs": [1]}),
    "rng": lambda m: m.update(rng={"bit_generator": "MT19937"}),
    "rng garbage": lambda m: m.update(rng=[1, 2]),
    "lr text": lambda m: m["optimizer"]["param_groups"][0].update(lr="x"),
    "lr nan": lambda m: m["optimizer"]["param_groups"][0].update(lr=float("nan")),
    "lr negative": lambda m: m["optimizer"]["param_groups"][0].update(lr=-1),
    "optimizer type": lambda m: m["optimizer"].update(type=3),
    "scheduler": lambda m: m.update(scheduler={"type": "StepLR"}),
    "scheduler value": lambda m: m["scheduler"]["state"].update(step_size="2"),
    "version": lambda m: m.update(version="2"),
}


@pytest.mark.parametrize("name", sorted(BAD_META))
def test_bad_metadata_is_refused_and_changes_nothing(tmp_path, name):
    bad = _rewrite(_saved(tmp_path), tmp_path / "bad.npz", BAD_META[name])  # checksum ok
    net, opt = _stepped(width=4)
    sched = StepLR(opt, step_size=7)
    backend.manual_seed(11)
    rng_before = backend.get_rng(like=np.empty(0)).bit_generator.state
    before = ([p.data.copy() for p in net.parameters()], opt.lr,
              {i: {k: np.copy(v) for k, v in s.items()} for i, s in opt.state.items()})
    with pytest.raises(CheckpointError, match=r"bad\.npz"):
        load_checkpoint(bad, net, opt, sched, restore_rng=True)
    weights, lr, state = before
    assert all(np.array_equal(a, p.data) for a, p in zip(weights, net.parameters(),
                                                         strict=True))
    assert opt.lr == lr and sched.step_size == 7 and sched.last_epoch == 0
    assert all(np.array_equal(opt.state[i][k], v) for i in state for k, v in state[i].items())
    assert backend.get_rng(like=np.empty(0)).bit_generator.state == rng_before


def test_integer_arrays_for_float_weights_are_refused_before_any_change(tmp_path):
    bad = _rewrite(_saved(tmp_path), tmp_path / "bad.npz", arrays_change=lambda a: a.update(
        {"model/0.weight": a["model/0.weight"].astype(np.int64)}))
    net = _net()
    before = [p.data.copy() for p in net.parameters()]
    with pytest.raises(CheckpointError, match="dtype kinds differ.*0.weight"):
        load_checkpoint(bad, net)
    assert all(np.array_equal(a, p.data) for a, p in zip(before, net.parameters(),
                                                         strict=True))


def test_optimizer_arrays_must_fit_the_parameters(tmp_path):
    bad = _rewrite(_saved(tmp_path), tmp_path / "bad.npz", arrays_change=lambda a: a.update(
        {"optimizer/0/m": np.zeros((5, 5), np.float32)}))
    net = _net()
    with pytest.raises(CheckpointError, match="optimiser array 'optimizer/0/m'"):
        read_checkpoint(bad, net, Adam(net.parameters()))


def test_missing_and_directory_paths_are_checkpoint_errors(tmp_path):
    with pytest.raises(CheckpointError, match="missing.npz does not exist"):
        read_checkpoint(tmp_path / "missing.npz")
    with pytest.raises(FileNotFoundError):  # and still a FileNotFoundError, as before
        read_checkpoint(tmp_path / "missing.npz")
    with pytest.raises(CheckpointError, match="is a directory"):
        read_checkpoint_meta(tmp_path)


# ---------------------------------------------------------------- temporary files
def test_stale_temporaries_are_removed_on_the_next_save(tmp_path):
    net, opt = _stepped()
    path = tmp_path / "last.npz"
    stale = tmp_path / ".last.npz.k3j_9xq2.tmp"
    stale.write_bytes(b"x" * 1000)  # what a killed writer leaves
    other = [tmp_path / ".best.npz.k3j_9xq2.tmp", tmp_path / "notes.tmp",
             tmp_path / ".last.npz.tmp"]
    for f in other:
        f.write_bytes(b"keep")
    save_checkpoint(path, net, opt)
    assert not stale.exists()
    assert all(f.exists() for f in other)  # not ours, or another file's
    assert load_checkpoint(path, _net()).epoch == 0


def test_a_temporary_being_written_is_not_removed(tmp_path):
    path = tmp_path / "last.npz"
    with atomic_file(path, "wb") as f:
        f.write(b"half")
        live = [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]
        assert len(live) == 1
        assert remove_stale_temporaries(str(path)) == []  # its writer holds the lock
        assert os.listdir(tmp_path) == live
    assert path.read_bytes() == b"half"


def test_kill_during_a_save_leaves_a_temporary_the_next_save_removes(tmp_path):
    code = ("import os, signal, sys\n"
            "from minialex.atomic import atomic_file\n"
            "with atomic_file(sys.argv[1], 'wb') as f:\n"
            "    f.write(b'x' * 100000)\n"
            "    f.flush()\n"
            "    os.kill(os.getpid(), signal.SIGKILL)\n")
    target = tmp_path / "last.npz"
    done = subprocess.run([sys.executable, "-c", code, str(target)], timeout=60)
    assert done.returncode == -signal.SIGKILL
    left = [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]
    assert len(left) == 1 and not target.exists()
    net, opt = _stepped()
    save_checkpoint(target, net, opt)
    assert sorted(os.listdir(tmp_path)) == ["last.npz"]


# ---------------------------------------------------------------- output folders
def test_output_folder_problems_are_found_before_the_work(tmp_path, monkeypatch):
    import errno
    import shutil
    import tempfile

    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError, match="is a file"):
        check_output_folder(tmp_path / "file")
    (tmp_path / "run" / "last.npz").mkdir(parents=True)
    with pytest.raises(IsADirectoryError, match=r"last\.npz: it is a folder"):
        check_output_folder(tmp_path / "run", ("last.npz",))
    with pytest.raises(ValueError, match="empty"):
        check_output_folder("")

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")
    monkeypatch.setattr(tempfile, "TemporaryFile", read_only)
    with pytest.raises(OSError, match="cannot write into output folder.*Read-only"):
        check_output_folder(tmp_path / "ro")
    monkeypatch.undo()

    monkeypatch.setattr(shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10, 9, 1))
    with pytest.raises(OSError, match=r"0\.0 MB free; the files to write there need"):
        check_output_folder(tmp_path / "full", need_bytes=10**6)


def test_fit_checks_its_checkpoint_folder_before_the_first_epoch(tmp_path):
    from minialex.data import DataLoader, Shapes
    from minialex.train import fit

    (tmp_path / "out").write_text("a file")
    net = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 8))
    loader = DataLoader(Shapes(16, 8), 8)
    calls = []
    original = net.forward
    net.forward = lambda x: calls.append(1) or original(x)
    with pytest.raises(NotADirectoryError):
        fit(net, loader, SGD(net.parameters(), lr=0.1), 1, checkpoint_dir=str(tmp_path / "out"),
            log=None, progress=False)
    assert calls == []  # no batch was trained
