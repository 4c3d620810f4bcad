"""Datasets and the DataLoader: shapes generator, CIFAR-10 files (incl. a malicious pickle),
image folders, batching and reproducible shuffling."""

from __future__ import annotations

import math
import os
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from minialex import backend
from minialex.data import CIFAR10, ArrayDataset, DataLoader, ImageFolder, Shapes
from minialex.data.cifar import _RestrictedUnpickler
from minialex.data.shapes import CLASSES, SHAPES, generate_shapes

np = backend.np


# ---------------------------------------------------------------------------- shapes
def test_shapes_layout_dtype_and_range():
    d = Shapes(40, image_size=32, seed=1)
    assert d.images.shape == (40, 3, 32, 32) and d.images.dtype == np.float32
    assert d.labels.shape == (40,) and d.labels.dtype == np.int64
    assert 0.0 <= d.images.min() and d.images.max() <= 1.0
    assert d.classes == list(CLASSES) and len(CLASSES) >= 6
    # balanced: 40 images over 8 classes -> 5 each
    assert np.bincount(d.labels, minlength=len(CLASSES)).tolist() == [5] * len(CLASSES)


def test_shapes_deterministic_and_splits_differ():
    a, la = generate_shapes(30, 24, seed=3)
    b, lb = generate_shapes(30, 24, seed=3)
    assert np.array_equal(a, b) and np.array_equal(la, lb)
    c, _ = generate_shapes(30, 24, seed=4)
    t, _ = generate_shapes(30, 24, seed=3, split="test")
    v, _ = generate_shapes(30, 24, seed=3, split="val")
    assert not np.allclose(a, c) and not np.allclose(a, t) and not np.allclose(v, t)
    assert np.array_equal(Shapes(30, 24, seed=3, split="val").images, v)
    # the images of a prefix do not depend on how many are generated
    p, lp = generate_shapes(10, 24, seed=3)
    assert np.array_equal(p, a[:10]) and np.array_equal(lp, la[:10])


@pytest.mark.parametrize("size", [32, 57, 227])
def test_shapes_any_size(size):
    images, labels = generate_shapes(3, size, seed=0)
    assert images.shape == (3, 3, size, size)
    assert images.std() > 0.05  # not a blank canvas


def test_shapes_class_subset_and_errors():
    d = Shapes(12, image_size=16, classes=("circle", "square", "star"))
    assert d.classes == ["circle", "square", "star"] and set(d.labels.tolist()) == {0, 1, 2}
    with pytest.raises(ValueError, match="classes"):
        Shapes(4, classes=("circle", "blob"))
    with pytest.raises(ValueError, match="split"):
        generate_shapes(4, 16, split="dev")
    with pytest.raises(ValueError, match="image_size"):
        generate_shapes(4, 4)


def _mode_share(image):
    """Fraction of pixels that have the image's most common colour."""
    _, counts = np.unique(image.reshape(3, -1).T, axis=0, return_counts=True)
    return counts.max() / counts.sum()


def test_shapes_clutter_and_rotation_knobs():
    plain, _ = generate_shapes(16, 32, seed=2, clutter=0.0)
    busy, _ = generate_shapes(16, 32, seed=2, clutter=1.0)
    # without clutter the background is one flat colour, with it noise makes colours unique
    assert min(_mode_share(im) for im in plain) > 0.3
    assert max(_mode_share(im) for im in busy) < 0.05

    def box_fill(rotation):
        """Mean of (foreground area / bounding-box area) over the squares."""
        images, labels = generate_shapes(64, 48, seed=5, clutter=0.0, rotation=rotation,
                                         classes=("square", "circle"))
        fills = []
        for im in images[labels == 0]:
            flat = im.reshape(3, -1).T
            colours, counts = np.unique(flat, axis=0, return_counts=True)
            background = colours[counts.argmax()]
            mask = (np.abs(im - background[:, None, None]).max(axis=0) > 0.25)
            rows, cols = np.nonzero(mask)
            box = (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)
            fills.append(mask.sum() / box)
        return np.mean(fills)
    assert box_fill(0.0) > 0.85  # axis-aligned rectangles fill their bounding box
    assert box_fill(180.0) < 0.75  # turned ones do not
    with pytest.raises(ValueError, match="clutter"):
        generate_shapes(2, 16, clutter=3.0)


# (point inside, point outside) for each signed distance function, in shape units
_INSIDE_OUTSIDE = {
    "circle": ((0.0, 0.95), (0.75, 0.75)),
    "square": ((0.75, 0.75), (0.0, 0.85)),
    "triangle": ((0.0, 0.9), (0.0, -0.6)),  # vertex up, flat bottom edge at v = -0.5
    "star": ((0.9, 0.0), (0.6 * math.cos(math.pi / 5), 0.6 * math.sin(math.pi / 5))),
    "cross": ((0.9, 0.0), (0.5, 0.5)),
    "ring": ((0.72, 0.0), (0.0, 0.0)),
    "hexagon": ((0.8, 0.0), (0.95, 0.0)),
    "crescent": ((-0.8, 0.0), (0.0, 0.0)),
}


@pytest.mark.parametrize("name", list(SHAPES))
def test_shape_signed_distances(name):
    (ui, vi), (uo, vo) = _INSIDE_OUTSIDE[name]
    sdf = SHAPES[name]
    assert sdf(np.array([ui]), np.array([vi]))[0] < 0
    assert sdf(np.array([uo]), np.array([vo]))[0] > 0


def test_shapes_draw_their_class():
    # Without clutter the foreground mask of a centred circle is a disc: check the rendered
    # coverage against the analytic area (pi r^2) of the shape.
    d = Shapes(64, image_size=64, seed=0)
    # every class shows up and images of one class are not all identical
    for k in range(len(CLASSES)):
        imgs = d.images[d.labels == k]
        assert len(imgs) == 8 and np.abs(imgs[0] - imgs[1]).mean() > 0.02


# ---------------------------------------------------------------------------- CIFAR-10
_N = 6  # images per fake batch


class _Py2Array:
    """Pickles like a NumPy array written by Python 2 (as the real CIFAR batches were)."""

    def __init__(self, array):
        self.array = array

    def __reduce__(self):
        reconstruct = np.empty(0).__reduce__()[0]
        state = (1, self.array.shape, np.dtype("u1"), False, self.array.tobytes().decode("latin1"))
        return reconstruct, (np.ndarray, (0,), "b"), state


def _fake_batch(seed):
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 256, (_N, 3072), dtype=np.uint8)
    labels = rng.integers(0, 10, _N).tolist()
    return data, labels


def _write_python(folder, protocol=2, real_style=True):
    os.makedirs(folder, exist_ok=True)
    written = {}
    for i, name in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
        data, labels = _fake_batch(i)
        written[name] = (data, labels)
        batch = {"batch_label": f"batch {i}", "labels": labels,
                 "data": _Py2Array(data) if real_style else data,
                 "filenames": [f"img_{j}.png" for j in range(_N)]}
        with open(os.path.join(folder, name), "wb") as f:
            pickle.dump(batch, f, protocol=protocol)
    return written


def _write_binary(folder):
    os.makedirs(folder, exist_ok=True)
    for i, name in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
        data, labels = _fake_batch(i)
        records = np.concatenate([np.asarray(labels, np.uint8)[:, None], data], axis=1)
        records.tofile(os.path.join(folder, name + ".bin"))


def test_cifar_python_batches(tmp_path):
    written = _write_python(tmp_path / "cifar-10-batches-py")
    train = CIFAR10(tmp_path)  # finds the standard sub-folder
    test = CIFAR10(tmp_path, train=False)
    assert len(train) == 5 * _N and len(test) == _N
    assert train.images.dtype == np.uint8 and train.images.shape[1:] == (3, 32, 32)
    data, labels = written["data_batch_2"]
    # row layout: 1024 red, then green, then blue values, each row-major 32x32
    img = train.images[_N + 1]
    assert img[0, 0, 0] == data[1, 0] and img[1, 0, 0] == data[1, 1024]
    assert img[2, 31, 31] == data[1, 3071] and img[0, 1, 0] == data[1, 32]
    assert train.labels[_N:2 * _N].tolist() == labels
    x, y = train.get_batch(np.array([_N + 1]))
    assert x.dtype == np.float32 and x[0, 0, 0, 0] == pytest.approx(data[1, 0] / 255)
    assert test.classes[0] == "airplane" and test.num_classes == 10


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_cifar_python_batches_written_by_python3(tmp_path, protocol):
    written = _write_python(tmp_path, protocol=protocol, real_style=False)
    test = CIFAR10(tmp_path, train=False, fmt="python")
    assert np.array_equal(test.images.reshape(_N, -1), written["test_batch"][0])


def test_cifar_binary_matches_python(tmp_path):
    _write_python(tmp_path / "cifar-10-batches-py")
    _write_binary(tmp_path / "cifar-10-batches-bin")
    py = CIFAR10(tmp_path, fmt="python")
    bn = CIFAR10(tmp_path, fmt="binary")
    assert bn.format == "binary"
    assert np.array_equal(py.images, bn.images) and np.array_equal(py.labels, bn.labels)


def test_cifar_missing_file_is_named(tmp_path):
    _write_python(tmp_path)
    os.remove(tmp_path / "data_batch_3")
    with pytest.raises(FileNotFoundError, match="data_batch_3"):
        CIFAR10(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        CIFAR10(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="data_batch_1"):
        CIFAR10(tmp_path / "..", fmt="binary")


def test_cifar_truncated_and_corrupt_pickles(tmp_path):
    _write_python(tmp_path)
    path = tmp_path / "data_batch_4"
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="data_batch_4.*truncated or corrupt"):
        CIFAR10(tmp_path)
    path.write_bytes(b"\x00garbage" * 100)
    with pytest.raises(ValueError, match="data_batch_4"):
        CIFAR10(tmp_path)
    with open(path, "wb") as f:  # a valid pickle of the wrong content
        pickle.dump({"labels": [1, 2]}, f, protocol=2)
    with pytest.raises(ValueError, match="data_batch_4.*'data'"):
        CIFAR10(tmp_path)
    with open(path, "wb") as f:
        pickle.dump({"data": _Py2Array(np.zeros((2, 3072), np.uint8)), "labels": [1, 12]}, f)
    with pytest.raises(ValueError, match="data_batch_4.*'labels'"):
        CIFAR10(tmp_path)


def test_cifar_truncated_binary(tmp_path):
    _write_binary(tmp_path)
    path = tmp_path / "data_batch_5.bin"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ValueError, match="data_batch_5.bin.*truncated"):
        CIFAR10(tmp_path)
    raw = bytearray((tmp_path / "test_batch.bin").read_bytes())
    raw[0] = 200  # label byte out of range
    (tmp_path / "test_batch.bin").write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="test_batch.bin.*label"):
        CIFAR10(tmp_path, train=False)


class _SystemPayload:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


class _OpenPayload:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return open, (self.path, "w")


@pytest.mark.parametrize("where", ["top", "nested"])
@pytest.mark.parametrize("payload", ["system", "open"])
def test_cifar_malicious_pickle_is_refused_unrun(tmp_path, where, payload):
    _write_python(tmp_path)
    marker = tmp_path / "pwned"
    evil = (_SystemPayload(f"touch {marker}") if payload == "system"
            else _OpenPayload(str(marker)))
    data, labels = _fake_batch(0)
    obj = evil if where == "top" else {"data": _Py2Array(data), "labels": labels, "x": evil}
    with open(tmp_path / "data_batch_1", "wb") as f:
        pickle.dump(obj, f, protocol=2)
    with pytest.raises(ValueError, match=r"data_batch_1.*refusing to load global"):
        CIFAR10(tmp_path)
    assert not marker.exists()
    # the same file through plain pickle would have run the payload: the test can fail
    with open(tmp_path / "data_batch_1", "rb") as f:
        result = pickle.load(f)
    assert marker.exists()
    if payload == "open" and where == "top":
        result.close()
    elif payload == "open":
        result["x"].close()


# A pickle calling numpy.ndarray((1,), numpy.dtype("O"), b"AAAAAAAA") directly: an object
# array whose one element pointer is 0x4141414141414141, read from the file (printing its
# element would crash the interpreter).
_OBJECT_ARRAY_PICKLE = (b"\x80\x02}X\x04\x00\x00\x00datacnumpy\nndarray\n(K\x01\x85cnumpy\ndtype\n"
                        b"X\x01\x00\x00\x00O\x85RC\x08AAAAAAAAtRs.")


def test_cifar_object_array_pickle_is_refused(tmp_path):
    # in a child process: if the array were built and touched, a crash fails the test
    # instead of killing pytest
    import subprocess
    import sys

    _write_python(tmp_path)
    (tmp_path / "data_batch_1").write_bytes(_OBJECT_ARRAY_PICKLE)
    code = ("import sys\nfrom minialex.data import CIFAR10\n"
            "try:\n    d = CIFAR10(sys.argv[1])\n    print('LOADED', d.images)\n"
            "except ValueError as exc:\n    print('REFUSED', exc)\n")
    run = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("REFUSED"), run.stdout
    assert "data_batch_1" in run.stdout and "numpy.dtype('O')" in run.stdout


class _DirectNdarray:
    """Pickles as a direct call numpy.ndarray(shape, dtype, buffer, offset, strides)."""

    def __init__(self, shape, buffer, strides):
        self.args = (shape, np.dtype("u1"), buffer, 0, strides)

    def __reduce__(self):
        return np.ndarray, self.args


class _StateArray:
    """Pickles as NumPy does (_reconstruct, then a state) with a state chosen by the test."""

    def __init__(self, state):
        self.state = state

    def __reduce__(self):
        return np.empty(0).__reduce__()[0], (np.ndarray, (0,), b"b"), self.state


def _write_batch_1(folder, data):
    with open(os.path.join(folder, "data_batch_1"), "wb") as f:
        pickle.dump({"data": data, "labels": [0] * 2}, f, protocol=3)


def test_cifar_zero_stride_and_oversized_arrays_are_refused(tmp_path):
    _write_python(tmp_path)
    # a zero-stride (10**6, 3072) view of one byte: 3 GB once concatenated, from a tiny file
    _write_batch_1(tmp_path, _DirectNdarray((10**6, 3072), b"x", (0, 0)))
    with pytest.raises(ValueError, match="data_batch_1.*direct call of numpy.ndarray"):
        CIFAR10(tmp_path)
    # NumPy's own form, but the shape claims more bytes than the file holds
    _write_batch_1(tmp_path, _StateArray((1, (10**6, 3072), np.dtype("u1"), False, b"x" * 6)))
    with pytest.raises(ValueError, match="data_batch_1.*needs 3072000000 bytes.*holds 6"):
        CIFAR10(tmp_path)
    # a record dtype is not a plain numeric type
    _write_batch_1(tmp_path, _StateArray((1, (2,), np.dtype([("a", "u1")]), False, b"xy")))
    with pytest.raises(ValueError, match="data_batch_1.*refusing"):
        CIFAR10(tmp_path)
    # the well-formed version of the same file loads: the refusals are about the content
    _write_batch_1(tmp_path, _StateArray((1, (2, 3072), np.dtype("u1"), False, b"\1" * 6144)))
    assert CIFAR10(tmp_path).images[0, 0, 0, 0] == 1


def test_cifar_codecs_encode_only_latin1_str(tmp_path):
    import codecs

    class _Encode:
        def __reduce__(self):
            return codecs.encode, ("x", "rot13")

    _write_python(tmp_path)
    with open(tmp_path / "data_batch_1", "wb") as f:
        pickle.dump({"data": _Encode(), "labels": []}, f, protocol=2)
    with pytest.raises(ValueError, match=r"data_batch_1.*_codecs.encode.*'rot13'"):
        CIFAR10(tmp_path)


def _build_on_global(module, name, slots):
    """A pickle that sets attribute 'injected' on the global module.name with BUILD (as a
    __dict__ update, or with slots=True as (None, {...}) slot state)."""
    state = b"}X\x08\x00\x00\x00injectedK\x01s"
    if slots:
        state = b"N" + state + b"\x86"
    return b"\x80\x02c" + f"{module}\n{name}\n".encode() + state + b"b."


@pytest.mark.parametrize("key", sorted(_RestrictedUnpickler.allowed))
@pytest.mark.parametrize("slots", [False, True])
def test_cifar_build_on_an_allowed_global_is_refused(tmp_path, key, slots):
    _write_python(tmp_path)
    (tmp_path / "data_batch_1").write_bytes(_build_on_global(*key, slots))
    with pytest.raises(ValueError, match=r"data_batch_1.*refusing to set the state"):
        CIFAR10(tmp_path)
    # nothing was set on the stand-ins, which every later load shares
    assert not any(hasattr(v, "injected") for v in _RestrictedUnpickler.allowed.values())


def _state_array_pickle(protocol=2):
    class _StateArray:
        def __reduce__(self):
            state = (1, (2, 3072), np.dtype("u1"), False, b"\1" * 6144)
            return np.empty(0).__reduce__()[0], (np.ndarray, (0,), b"b"), state

    return pickle.dumps({"data": _StateArray(), "labels": [0, 0]}, protocol=protocol)


@pytest.mark.parametrize("which", [0, -1])  # the dtype's BUILD, the array's BUILD
def test_cifar_second_build_on_one_object_is_refused(tmp_path, which):
    import pickletools

    raw = _state_array_pickle()
    ops = list(pickletools.genops(raw))
    builds = [k for k, (op, _, _) in enumerate(ops) if op.name == "BUILD"]
    k = builds[which]
    memo = ops[k - 1][1]  # BUILD's state was memoised by the BINPUT right before it
    assert ops[k - 1][0].name == "BINPUT"
    at = ops[k][2] + 1
    doubled = raw[:at] + b"h" + bytes([memo]) + b"b" + raw[at:]  # BINGET state, BUILD again
    _write_python(tmp_path)
    (tmp_path / "data_batch_1").write_bytes(raw)
    assert CIFAR10(tmp_path).images.shape[0] == 2 + 4 * _N  # the plain file loads
    (tmp_path / "data_batch_1").write_bytes(doubled)
    with pytest.raises(ValueError, match=r"data_batch_1.*refusing a second state"):
        CIFAR10(tmp_path)


# ---------------------------------------------------------------------------- image folders
def _save(path, array, fmt=None):
    from PIL import Image

    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(array).save(path, format=fmt)


def _solid(colour, h=20, w=30):
    return np.broadcast_to(np.asarray(colour, np.uint8), (h, w, 3)).copy()


def _make_folder(root):
    colours = {"cat": (255, 0, 0), "dog": (0, 255, 0), "fox": (0, 0, 255)}
    for split, count in (("train", 3), ("test", 2)):
        for name, colour in colours.items():
            for i in range(count):
                ext = "png" if i % 2 else "jpg"
                _save(os.path.join(root, split, name, f"{i}.{ext}"), _solid(colour))
    for i in range(4):
        _save(os.path.join(root, "pred", f"{i}.jpg"), _solid((9, 9, 9)))
    return colours


def test_image_folder_layout(tmp_path):
    colours = _make_folder(tmp_path)
    train = ImageFolder(tmp_path / "train", image_size=16)
    test = ImageFolder(tmp_path / "test", image_size=16, classes=train.classes)
    assert train.classes == ["cat", "dog", "fox"] and len(train) == 9 and len(test) == 6
    x, y = train.get_batch(np.arange(len(train)))
    assert x.shape == (9, 3, 16, 16) and x.dtype == np.float32
    assert y.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    for img, label in zip(x, y, strict=True):  # JPEG is lossy: approximately the colour
        expected = np.asarray(colours[train.classes[label]], np.float32) / 255
        assert np.abs(img.mean(axis=(1, 2)) - expected).max() < 0.03
    pred = ImageFolder(tmp_path / "pred", image_size=8)
    assert pred.classes == [] and pred.labels.tolist() == [-1] * 4
    assert pred[0][0].shape == (3, 8, 8)


def test_image_folder_resizes_shorter_side_then_centre_crops(tmp_path):
    # 40 wide, 20 high: left 20 columns red, right 20 blue. Shorter side 20 -> 10 gives a
    # 20x10 image; the central 10 columns are 5 red then 5 blue.
    img = np.zeros((20, 40, 3), np.uint8)
    img[:, :20, 0] = 255
    img[:, 20:, 2] = 255
    _save(os.path.join(tmp_path, "a", "x.png"), img)
    x, _ = ImageFolder(tmp_path, image_size=10).get_batch(np.array([0]))
    assert x.shape == (1, 3, 10, 10)
    assert np.all(x[0, 0, :, :4] > 0.9) and np.all(x[0, 2, :, :4] < 0.1)
    assert np.all(x[0, 2, :, 6:] > 0.9) and np.all(x[0, 0, :, 6:] < 0.1)


def test_image_folder_errors_name_the_file(tmp_path):
    _make_folder(tmp_path)
    bad = tmp_path / "train" / "dog" / "0.jpg"
    bad.write_bytes(b"not a jpeg at all")
    train = ImageFolder(tmp_path / "train", image_size=8)
    i = train.files.index(str(bad))
    with pytest.raises(ValueError, match=r"dog.0\.jpg"):
        train.get_batch(np.array([i]))
    png = tmp_path / "train" / "fox" / "1.png"
    png.write_bytes(png.read_bytes()[:60])  # truncated
    with pytest.raises(ValueError, match=r"fox.1\.png.*truncated"):
        train.get_batch(np.array([train.files.index(str(png))]))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ImageFolder(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="missing class folder"):
        ImageFolder(tmp_path / "test", classes=["cat", "dog", "fox", "owl"])
    with pytest.raises(ValueError, match="ImageFolder: image_size must be a positive int"):
        ImageFolder(tmp_path / "train", image_size=0)
    os.makedirs(tmp_path / "empty" / "c")
    with pytest.raises(FileNotFoundError, match="no .* images"):
        ImageFolder(tmp_path / "empty")


def _png_bytes(width, height, bit_depth=8, colour_type=0, rows=None):
    """A PNG written by hand (so its header can claim any size)."""
    import struct
    import zlib

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    if rows is None:  # an all-zero image, or as much of one as fits in a few bytes
        rows = [bytes(1 + width * bit_depth // 8)] * min(height, 16)
    data = zlib.compress(b"".join(rows))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) \
        + chunk(b"IEND", b"")


@given(image=hnp.arrays(np.uint8, st.tuples(st.integers(1, 12), st.integers(1, 12))),
       size=st.integers(1, 8))
def test_image_folder_scales_16_bit_greyscale_like_8_bit(tmp_path_factory, image, size):
    # v in 8 bits is v * 257 in 16 bits (65535 = 255 * 257): both must load identically
    from PIL import Image

    root = tmp_path_factory.mktemp("grey")
    os.makedirs(root / "a")
    Image.fromarray(image).save(root / "a" / "eight.png")
    wide = Image.fromarray(image.astype(np.uint16) * 257)
    assert wide.mode.startswith("I;16")
    wide.save(root / "a" / "sixteen.png")
    with Image.open(root / "a" / "sixteen.png") as check:
        assert check.mode.startswith("I")  # still 16-bit on disk
    x, _ = ImageFolder(root, image_size=size).get_batch(np.array([0, 1]))
    np.testing.assert_array_equal(x[0], x[1])


@pytest.mark.parametrize("value, expected", [(1000, 4), (65535, 255), (0, 0), (128, 0),
                                             (129, 1), (32768, 128)])
def test_image_folder_16_bit_values_by_hand(tmp_path, value, expected):
    # round(value * 255 / 65535): 1000 is 3.89 -> 4 (Pillow's own conversion gives 255)
    from PIL import Image

    os.makedirs(tmp_path / "a")
    Image.fromarray(np.full((3, 3), value, np.uint16)).save(tmp_path / "a" / "x.png")
    x, _ = ImageFolder(tmp_path, image_size=3).get_batch(np.array([0]))
    np.testing.assert_array_equal(x[0] * 255, np.full((3, 3, 3), expected, np.float32))


@given(short=st.integers(1, 6), ratio=st.floats(1, 40), wide=st.booleans())
def test_image_folder_refuses_extreme_aspect_ratios_before_decoding(tmp_path_factory, short,
                                                                    ratio, wide):
    from minialex.data.folder import MAX_ASPECT_RATIO

    long = max(short, round(short * ratio))
    w, h = (long, short) if wide else (short, long)
    root = tmp_path_factory.mktemp("strip")
    os.makedirs(root / "a")
    (root / "a" / "x.png").write_bytes(_png_bytes(w, h, rows=[bytes(1 + w)] * h))
    folder = ImageFolder(root, image_size=16)
    if long / short > MAX_ASPECT_RATIO:
        with pytest.raises(ValueError, match=rf"x\.png: {w} x {h} is .* times longer"):
            folder.get_batch(np.array([0]))
    else:
        assert folder.get_batch(np.array([0]))[0].shape == (1, 3, 16, 16)


@pytest.mark.parametrize("w, h", [(1, 200_000), (200_000, 1), (3, 1_000_000)])
def test_image_folder_long_strips_are_refused(tmp_path, w, h):
    os.makedirs(tmp_path / "a")
    (tmp_path / "a" / "x.png").write_bytes(_png_bytes(w, h))  # a few hundred bytes
    with pytest.raises(ValueError, match=r"x\.png.*times longer than wide"):
        ImageFolder(tmp_path, image_size=227).get_batch(np.array([0]))


@pytest.mark.parametrize("w, h", [(10_000, 9_000), (20_000, 10_000)])
def test_image_folder_pixel_bombs_are_refused(tmp_path, w, h):
    import warnings

    os.makedirs(tmp_path / "a")
    (tmp_path / "a" / "x.png").write_bytes(_png_bytes(w, h))  # the rows are not even there
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow's DecompressionBombWarning
        with pytest.raises(ValueError, match=r"x\.png.*(decompression-bomb limit|Decompr)"):
            ImageFolder(tmp_path, image_size=8).get_batch(np.array([0]))


@pytest.mark.parametrize("fmt", ["BMP", "GIF", "TIFF"])
def test_image_folder_decodes_only_jpeg_and_png(tmp_path, fmt):
    _save(os.path.join(tmp_path, "a", "x.png"), _solid((1, 2, 3)), fmt=fmt)  # renamed
    with pytest.raises(ValueError, match=r"x\.png.*not a JPEG/PNG image"):
        ImageFolder(tmp_path, image_size=8).get_batch(np.array([0]))


# ---------------------------------------------------------------------------- DataLoader
def _indexed(n=10):
    """A dataset whose image n is filled with the value n: batches reveal their indices."""
    images = np.broadcast_to(np.arange(n, dtype=np.float32)[:, None, None, None],
                             (n, 3, 2, 2)).copy()
    return ArrayDataset(images, np.arange(n) % 3)


def _indices(loader):
    return [x.numpy()[:, 0, 0, 0].astype(int).tolist() for x, _ in loader]


def test_loader_batches_in_order():
    loader = DataLoader(_indexed(), batch_size=4)
    assert len(loader) == 3 and _indices(loader) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    loader.drop_last = True
    assert len(loader) == 2 and _indices(loader) == [[0, 1, 2, 3], [4, 5, 6, 7]]
    x, y = next(iter(loader))
    assert x.dtype == np.float32 and y.dtype == np.int64 and y.numpy().tolist() == [0, 1, 2, 0]
    assert x.device == "cpu" and not x.requires_grad


def test_loader_shuffle_is_a_reproducible_permutation_per_epoch():
    a = DataLoader(_indexed(), batch_size=3, shuffle=True, seed=7)
    b = DataLoader(_indexed(), batch_size=3, shuffle=True, seed=7)
    epoch0, epoch1 = _indices(a), _indices(a)
    assert sorted(sum(epoch0, [])) == list(range(10)) and epoch0 != epoch1
    assert _indices(b) == epoch0 and _indices(b) == epoch1
    b.set_epoch(0)
    assert _indices(b) == epoch0
    assert _indices(DataLoader(_indexed(), batch_size=3, shuffle=True, seed=8)) != epoch0


def test_loader_passes_its_generator_to_the_transform():
    seen = []

    def transform(images, rng):
        seen.append(rng.random())
        return images + 1

    loader = DataLoader(_indexed(4), batch_size=2, transform=transform, seed=3)
    out = _indices(loader)
    assert out == [[1, 2], [3, 4]]
    first = list(seen)
    seen.clear()
    loader.set_epoch(0)
    _indices(loader)
    assert seen == first and first[0] != first[1]


def test_loader_argument_errors():
    for bad in (0, True, 2.0):
        with pytest.raises(ValueError, match="DataLoader: batch_size must be a positive int"):
            DataLoader(_indexed(), batch_size=bad)
    with pytest.raises(ValueError, match="seed"):
        DataLoader(_indexed(), seed=-1)
    if not backend.cupy_available():
        with pytest.raises(RuntimeError, match="cupy"):
            DataLoader(_indexed(), device="gpu")


def test_to_unit_float_is_the_float32_scaling_bit_for_bit():
    from minialex.data.dataset import to_unit_float

    every = np.arange(256, dtype=np.uint8).reshape(2, 2, 8, 8)  # every uint8 value once
    got = to_unit_float(every)
    want = every.astype(np.float32) * np.float32(1 / 255)  # the two-step arithmetic
    assert got.dtype == np.float32 and got.shape == every.shape
    assert np.array_equal(got.view(np.uint32), want.view(np.uint32))
    assert got.min() == 0.0 and got.max() == 1.0
    assert abs(float(got.reshape(-1)[51]) - 0.2) < 1e-7  # 51 / 255
