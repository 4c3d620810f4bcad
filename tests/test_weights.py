"""load_weights: PyTorch zip and legacy checkpoints, .safetensors and .npz, read without torch.

Oracles: PyTorch writes the files and holds the expected tensors (``torch`` tests); files
built here byte by byte from the published layouts, with values written out by hand, test
the readers where torch is absent; the safetensors package (optional) is an independent
writer. The loader itself runs with ``import torch`` made impossible.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minialex import backend
from minialex.interop import load_weights as interop_load_weights
from minialex.weights import WeightsError, detect_format, load_weights

np = backend.np
ROOT = Path(__file__).resolve().parent.parent

# torch/serialization.py: the legacy format's first two pickles
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001


# ------------------------------------------------------------ files written by hand
def _frag(obj) -> bytes:
    """The pickle opcodes of one plain value (protocol 2, without PROTO and STOP)."""
    return pickle.dumps(obj, protocol=2)[2:-1]


def _global(module: str, name: str) -> bytes:
    return b"c" + f"{module}\n{name}\n".encode()


def state_dict_pickle(tensors: dict, legacy: bool = False) -> bytes:
    """The pickle torch.save writes for a state dict, built opcode by opcode.

    tensors: name -> (storage key, storage type, numel, offset, size, stride).
    """
    ordered_dict = _global("collections", "OrderedDict") + b")R"  # OrderedDict()
    out = [b"\x80\x02", ordered_dict, b"("]
    for name, (key, stype, numel, offset, size, stride) in tensors.items():
        pid = (b"(" + _frag("storage") + _global("torch", stype) + _frag(key) + _frag("cpu")
               + _frag(numel) + (_frag(None) if legacy else b"") + b"tQ")  # TUPLE, BINPERSID
        out += [_frag(name), _global("torch._utils", "_rebuild_tensor_v2"), b"(", pid,
                _frag(offset), _frag(tuple(size)), _frag(tuple(stride)), _frag(False),
                ordered_dict, b"tR"]
    out.append(b"u.")  # SETITEMS, STOP
    return b"".join(out)


def torch_zip(pkl: bytes, storages: dict, folder: str = "archive",
              byteorder: str | None = "little") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(f"{folder}/data.pkl", pkl)
        if byteorder:
            zf.writestr(f"{folder}/byteorder", byteorder)
        for key, data in storages.items():
            zf.writestr(f"{folder}/data/{key}", data)
        zf.writestr(f"{folder}/version", "3\n")
    return buf.getvalue()


def torch_legacy(pkl: bytes, storages: dict, itemsize: dict) -> bytes:
    info = {"protocol_version": LEGACY_PROTOCOL, "little_endian": True,
            "type_sizes": {"short": 2, "int": 4, "long": 4}}
    parts = [pickle.dumps(v, protocol=2) for v in (LEGACY_MAGIC, LEGACY_PROTOCOL, info)]
    parts += [pkl, pickle.dumps(list(storages), protocol=2)]
    for key, data in storages.items():
        parts += [struct.pack("<q", len(data) // itemsize[key]), data]
    return b"".join(parts)


def safetensors_bytes(tensors: dict, pad: int = 0) -> bytes:
    """The documented layout: u64 header length, JSON header, the data buffer."""
    header, data, pos = {"__metadata__": {"by": "hand"}}, b"", 0
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [pos, pos + len(raw)]}
        data, pos = data + raw, pos + len(raw)
    text = json.dumps(header).encode() + b" " * pad
    return struct.pack("<Q", len(text)) + text + data


# w: float32 0..5 as 2x3; t: the transpose of the same storage; b: int64 [7, -1]
F32 = struct.pack("<6f", 0, 1, 2, 3, 4, 5)
I64 = struct.pack("<2q", 7, -1)
HAND_TENSORS = {"w": ("0", "FloatStorage", 6, 0, (2, 3), (3, 1)),
                "t": ("0", "FloatStorage", 6, 0, (3, 2), (1, 3)),
                "b": ("1", "LongStorage", 2, 0, (2,), (1,))}
HAND_EXPECTED = {"w": [[0, 1, 2], [3, 4, 5]], "t": [[0, 3], [1, 4], [2, 5]], "b": [7, -1]}


def hand_files() -> dict[str, bytes]:
    """One small valid file per format, every byte chosen here."""
    buf = io.BytesIO()
    np.savez(buf, w=np.arange(6, dtype=np.float32).reshape(2, 3),
             b=np.array([7, -1], dtype=np.int64))
    return {
        "zip.pth": torch_zip(state_dict_pickle(HAND_TENSORS), {"0": F32, "1": I64}),
        "legacy.pth": torch_legacy(state_dict_pickle(HAND_TENSORS, legacy=True),
                                   {"0": F32, "1": I64}, {"0": 4, "1": 8}),
        "st.safetensors": safetensors_bytes({"w": ("F32", (2, 3), F32),
                                             "b": ("I64", (2,), I64)}),
        "w.npz": buf.getvalue(),
    }


@pytest.fixture(scope="module")
def hand_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("hand")
    for name, data in hand_files().items():
        (folder / name).write_bytes(data)
    return folder


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# ------------------------------------------------------------ reading, no torch needed
@pytest.mark.parametrize("name", list(hand_files()))
def test_hand_written_files_load_with_the_values_written(hand_dir, name):
    loaded = load_weights(hand_dir / name)
    assert loaded["w"].dtype == np.float32 and loaded["b"].dtype == np.int64
    for key, value in loaded.items():
        assert value.tolist() == HAND_EXPECTED[key], key
    assert set(loaded) <= set(HAND_EXPECTED) and {"w", "b"} <= set(loaded)
    assert interop_load_weights is load_weights  # the interop name is the same function


@pytest.mark.parametrize("name, fmt", [("zip.pth", "torch-zip"), ("legacy.pth", "torch-legacy"),
                                       ("st.safetensors", "safetensors"), ("w.npz", "npz")])
def test_format_is_read_from_the_bytes_not_the_name(hand_dir, tmp_path, name, fmt):
    renamed = write(tmp_path, "weights.bin", (hand_dir / name).read_bytes())
    assert detect_format(renamed) == fmt
    assert load_weights(renamed)["b"].tolist() == [7, -1]


def test_zip_folder_name_byteorder_and_big_endian_storages(tmp_path):
    # the folder is the saved file's stem in older files; no byteorder record means little
    old = torch_zip(state_dict_pickle(HAND_TENSORS), {"0": F32, "1": I64}, folder="my_model",
                    byteorder=None)
    assert load_weights(write(tmp_path, "old.pth", old))["w"].tolist() == HAND_EXPECTED["w"]
    big = torch_zip(state_dict_pickle(HAND_TENSORS),
                    {"0": struct.pack(">6f", 0, 1, 2, 3, 4, 5), "1": struct.pack(">2q", 7, -1)},
                    byteorder="big")
    loaded = load_weights(write(tmp_path, "big.pth", big))
    assert loaded["t"].tolist() == HAND_EXPECTED["t"] and loaded["b"].tolist() == [7, -1]
    assert loaded["w"].dtype.isnative


def test_bfloat16_becomes_float32_exactly(tmp_path):
    # bfloat16 bit patterns by hand: 1.5 = 0x3FC0, -2.0 = 0xC000, 2**-10 = 0x3A80
    bits = struct.pack("<3H", 0x3FC0, 0xC000, 0x3A80)
    expected = [1.5, -2.0, 2.0 ** -10]
    pkl = state_dict_pickle({"h": ("0", "BFloat16Storage", 3, 0, (3,), (1,))})
    for data in (torch_zip(pkl, {"0": bits}),
                 safetensors_bytes({"h": ("BF16", (3,), bits)})):
        loaded = load_weights(write(tmp_path, "bf16.bin", data))["h"]
        assert loaded.dtype == np.float32 and loaded.tolist() == expected


def test_safetensors_layout_rules(tmp_path):
    ok = safetensors_bytes({"w": ("F32", (2, 3), F32)}, pad=5)  # header padded with spaces
    assert load_weights(write(tmp_path, "ok.safetensors", ok))["w"].tolist() == [[0, 1, 2],
                                                                                 [3, 4, 5]]
    cases = {
        "holes or overlaps": safetensors_bytes({"a": ("F32", (2,), F32[:8]),
                                                "b": ("F32", (2,), F32[:8])})
        .replace(b'"data_offsets": [8, 16]', b'"data_offsets": [4, 12]'),
        "needs 24 bytes": safetensors_bytes({"w": ("F32", (2, 3), F32[:20])}),
        "not supported": safetensors_bytes({"w": ("F8_E4M3", (6,), F32[:6])}),
        "header length": struct.pack("<Q", 10 ** 12) + b"{}",
        "extra bytes": safetensors_bytes({"w": ("F32", (2, 3), F32)}) + b"\0" * 4,
    }
    for words, data in cases.items():
        path = write(tmp_path, "bad.safetensors", data)
        with pytest.raises(WeightsError, match=words) as info:
            load_weights(path)
        assert str(path) in str(info.value)


def test_npz_object_arrays_and_oversized_headers_are_refused(tmp_path):
    path = tmp_path / "obj.npz"
    np.savez(path, x=np.array([{"a": 1}], dtype=object))
    with pytest.raises(WeightsError, match="object"):
        load_weights(path)
    # a member whose header promises more elements than its bytes hold
    good = io.BytesIO()
    np.save(good, np.zeros(4, dtype=np.float32))
    lying = good.getvalue().replace(b"(4,)", b"(9,)")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("x.npy", lying)
    with pytest.raises(WeightsError, match=r"\(9,\) needs"):
        load_weights(write(tmp_path, "lying.npz", buf.getvalue()))


@pytest.mark.parametrize("change, words", [
    ({"w": ("0", "FloatStorage", 10 ** 12, 0, (10 ** 12,), (1,))}, "should hold"),
    ({"w": ("0", "FloatStorage", 6, 4, (2, 3), (3, 1))}, "reaches element"),
    ({"w": ("0", "FloatStorage", 6, 0, (10 ** 6, 10 ** 6), (0, 0))}, "zero strides"),
    ({"w": ("7", "FloatStorage", 6, 0, (6,), (1,))}, "missing|used by no tensor"),
    ({"w": ("0", "FloatStorage", 6, -1, (6,), (1,))}, "non-negative"),
    ({"w": ("0", "ComplexFloatStorage", 3, 0, (3,), (1,))}, "refusing to load torch."),
])
@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_sizes_and_strides_are_checked_against_the_file_before_allocating(tmp_path, change,
                                                                          words, legacy):
    tensors = {**change, "b": HAND_TENSORS["b"]}  # w's storage "0" holds 6 float32
    pkl = state_dict_pickle(tensors, legacy=legacy)
    data = (torch_legacy(pkl, {"0": F32, "1": I64}, {"0": 4, "1": 8}) if legacy
            else torch_zip(pkl, {"0": F32, "1": I64}))
    path = write(tmp_path, "bad.pth", data)
    with pytest.raises(WeightsError, match=words) as info:
        load_weights(path)  # 10**12 elements would be 4 TB: refused, not allocated
    assert str(path) in str(info.value)


def test_a_pickle_that_is_not_a_state_dict_says_so(tmp_path):
    data = torch_zip(b"\x80\x02" + _frag([1, 2]) + b".", {})
    with pytest.raises(WeightsError, match="expected a state dict"):
        load_weights(write(tmp_path, "list.pth", data))
    not_weights = write(tmp_path, "notes.txt", b"just some text\n")
    with pytest.raises(WeightsError, match="not a weights file"):
        load_weights(not_weights)
    with pytest.raises(FileNotFoundError):
        load_weights(tmp_path / "missing.pth")


# ------------------------------------------------------------ code in a pickle never runs
class _RunsShell:
    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):
        return (os.system, (f"touch {self.target}",))


class _RunsEval:
    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):
        import builtins

        return (builtins.eval, (f"open({str(self.target)!r}, 'w').close()",))


@pytest.mark.parametrize("payload, words", [(_RunsShell, "system"), (_RunsEval, "eval")])
@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_a_pickle_calling_os_system_or_eval_is_refused_and_never_runs(tmp_path, payload, words,
                                                                      legacy):
    target = tmp_path / "payload_ran"
    evil = pickle.dumps({"conv1.weight": payload(target)}, protocol=2)
    # the payload works: plain pickle.loads would create the file
    if legacy:
        data = b"".join(pickle.dumps(v, protocol=2) for v in
                        (LEGACY_MAGIC, LEGACY_PROTOCOL, {"little_endian": True})) + evil
    else:
        data = torch_zip(evil, {})
    path = write(tmp_path, "evil.pth", data)
    with pytest.raises(WeightsError, match=f"refusing to load .*{words}") as info:
        load_weights(path)
    assert str(path) in str(info.value)
    assert not target.exists(), "the pickle's payload ran"
    pickle.loads(evil)  # the control: the same bytes do run code when unpickled freely
    assert target.exists()


# ------------------------------------------------------------ damaged files
CORRUPTIBLE = hand_files()


@given(name=st.sampled_from(sorted(CORRUPTIBLE)), cut=st.floats(0.0, 1.0, exclude_max=True))
def test_every_truncated_file_gives_one_clear_error(tmp_path_factory, name, cut):
    data = CORRUPTIBLE[name]
    path = tmp_path_factory.mktemp("cut") / name
    path.write_bytes(data[:int(cut * len(data))])
    with pytest.raises(WeightsError) as info:
        load_weights(path)
    assert str(path) in str(info.value)


@given(name=st.sampled_from(sorted(CORRUPTIBLE)), where=st.floats(0.0, 1.0, exclude_max=True),
       bit=st.integers(0, 7))
def test_a_flipped_bit_gives_a_clear_error_or_named_arrays_never_a_crash(tmp_path_factory,
                                                                        name, where, bit):
    data = bytearray(CORRUPTIBLE[name])
    data[int(where * len(data))] ^= 1 << bit
    path = tmp_path_factory.mktemp("flip") / name
    path.write_bytes(bytes(data))
    try:
        loaded = load_weights(path)
    except WeightsError as exc:
        assert str(path) in str(exc)
        return
    # formats without a checksum may load changed numbers; a zip's CRC-32 allows no change
    assert all(isinstance(k, str) and hasattr(v, "dtype") for k, v in loaded.items())
    if name == "zip.pth":
        assert {k: v.tolist() for k, v in loaded.items()} == HAND_EXPECTED


# ------------------------------------------------------------ PyTorch as the oracle
_LOAD_WITHOUT_TORCH = """
import sys
sys.modules["torch"] = None          # any `import torch` now raises ImportError
sys.modules["safetensors"] = None
from minialex.backend import numpy
from minialex.weights import load_weights
out = {}
for i, path in enumerate(sys.argv[2:]):
    for key, value in load_weights(path).items():
        out[f"{i}|{key}"] = value
numpy.savez(sys.argv[1], **out)
assert sys.modules["torch"] is None
"""


def load_without_torch(tmp_path: Path, paths: list[Path]) -> list[dict]:
    out = tmp_path / "loaded.npz"
    proc = subprocess.run([sys.executable, "-c", _LOAD_WITHOUT_TORCH, str(out), *map(str, paths)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert proc.returncode == 0, proc.stderr[-3000:]
    results: list[dict] = [{} for _ in paths]
    with np.load(out, allow_pickle=False) as npz:
        for name in npz.files:
            i, key = name.split("|", 1)
            results[int(i)][key] = npz[name]
    return results


def _oracle_state_dict(torch):
    g = torch.Generator().manual_seed(0)
    base = torch.randn(4, 6, generator=g)
    return {
        "conv.weight": torch.randn(8, 3, 5, 5, generator=g),
        "half": torch.randn(7, generator=g).half(),
        "bf16": torch.randn(5, generator=g).bfloat16(),
        "double": torch.randn(2, 3, generator=g, dtype=torch.float64),
        "steps": torch.tensor(12345678901, dtype=torch.int64),
        "mask": torch.tensor([True, False, True]),
        "transposed": base.t(),               # strides (1, 6): not contiguous
        "row": base[2],                        # a view sharing base's storage, offset 12
        "base": base,
        "empty": torch.zeros(0, 4),
    }


@pytest.mark.torch
def test_files_written_by_pytorch_load_without_torch(torch, tmp_path):
    state = _oracle_state_dict(torch)
    module = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    paths = [tmp_path / "zip.pth", tmp_path / "legacy.pth", tmp_path / "module.pth",
             tmp_path / "module_legacy.pth", tmp_path / "w.npz", tmp_path / "wc.npz"]
    torch.save(state, paths[0])
    torch.save(state, paths[1], _use_new_zipfile_serialization=False)
    torch.save(module.state_dict(), paths[2])  # OrderedDict with _metadata, a LongStorage
    torch.save(module.state_dict(), paths[3], _use_new_zipfile_serialization=False)
    as_numpy = {k: (v.float() if v.dtype == torch.bfloat16 else v).numpy() for k, v in
                state.items()}
    np.savez(paths[4], **as_numpy)
    np.savez_compressed(paths[5], **as_numpy)
    expected = [state, state, module.state_dict(), module.state_dict(), state, state]
    try:  # the safetensors package, when installed, as an independent writer
        from safetensors.torch import save_file
    except ImportError:
        pass
    else:
        save_file({k: v.contiguous() for k, v in state.items() if k != "row"},
                  tmp_path / "w.safetensors")
        paths.append(tmp_path / "w.safetensors")
        expected.append({k: v for k, v in state.items() if k != "row"})
    for path, want, got in zip(paths, expected, load_without_torch(tmp_path, paths),
                               strict=True):
        assert set(got) == set(want), path.name
        for key, tensor in want.items():
            ref = (tensor.float() if tensor.dtype == torch.bfloat16 else tensor).numpy()
            assert got[key].dtype == ref.dtype and got[key].shape == ref.shape, (path.name, key)
            np.testing.assert_array_equal(got[key], ref, err_msg=f"{path.name}: {key}")


@pytest.mark.torch
def test_pickled_whole_model_is_refused_with_a_hint(torch, tmp_path):
    path = tmp_path / "model.pth"
    torch.save(torch.nn.Linear(2, 2), path)
    with pytest.raises(WeightsError, match="state_dict"):
        load_weights(path)


def test_a_pickle_declaring_a_huge_string_is_refused_without_allocating(tmp_path):
    # BINBYTES8 with a length of 2**62: CPython's unpickler would allocate it before reading
    huge = b"\x80\x04\x8e" + struct.pack("<Q", 2 ** 62) + b"abc."
    for data in (huge, torch_zip(huge, {})):
        with pytest.raises(WeightsError, match="truncated or corrupt"):
            load_weights(write(tmp_path, "huge.pth", data))


# ------------------------------------------------------------ torchvision's AlexNet
# torchvision.models.AlexNet's state dict, written out from its layer definitions
TORCHVISION_SHAPES = {
    "features.0.weight": (64, 3, 11, 11), "features.0.bias": (64,),
    "features.3.weight": (192, 64, 5, 5), "features.3.bias": (192,),
    "features.6.weight": (384, 192, 3, 3), "features.6.bias": (384,),
    "features.8.weight": (256, 384, 3, 3), "features.8.bias": (256,),
    "features.10.weight": (256, 256, 3, 3), "features.10.bias": (256,),
    "classifier.1.weight": (4096, 9216), "classifier.1.bias": (4096,),
    "classifier.4.weight": (4096, 4096), "classifier.4.bias": (4096,),
    "classifier.6.weight": (1000, 4096), "classifier.6.bias": (1000,),
}


@pytest.fixture(scope="module")
def tv_model():
    from minialex.models import alexnet

    return alexnet("torchvision")


def _constant_state(values: dict | None = None) -> dict:
    """Full-size arrays that cost no memory: each a broadcast of one float32 value."""
    values = values or {}
    return {name: np.broadcast_to(np.float32(values.get(name, i)), shape)
            for i, (name, shape) in enumerate(TORCHVISION_SHAPES.items())}


def test_torchvision_names_land_on_the_right_layers(tv_model):
    from minialex.models.pretrained import load_pretrained

    assert sum(int(np.prod(s)) for s in TORCHVISION_SHAPES.values()) == 61_100_840
    load_pretrained(tv_model, _constant_state())
    ours = {"conv1": 0, "conv2": 2, "conv3": 4, "conv4": 6, "conv5": 8, "fc6": 10, "fc7": 12,
            "fc8": 14}  # index of the weight in TORCHVISION_SHAPES' order
    for layer, i in ours.items():
        module = getattr(tv_model, layer)
        assert float(module.weight.numpy().mean()) == i and float(module.bias.numpy()[0]) == i + 1


@pytest.mark.parametrize("edit, words", [
    (lambda s: s.update({"features.0.weight": np.zeros((96, 3, 11, 11), np.float32)}),
     r"features.0.weight \(conv1.weight\): expected shape \(64, 3, 11, 11\), got "
     r"\(96, 3, 11, 11\)"),
    (lambda s: s.pop("classifier.6.bias"),
     r"fc8.bias \(classifier.6.bias in torchvision's names\): missing, expected shape "
     r"\(1000,\)"),
    (lambda s: s.update({"features.1.weight": np.zeros(3, np.float32)}),
     r"features.1.weight: unexpected.*\(shape \(3,\)\)"),
    (lambda s: s.update({"features.0.bias": np.zeros(64, np.int64)}),
     r"features.0.bias \(conv1.bias\): expected a float32 array, got int64"),
])
def test_a_state_dict_that_does_not_fit_names_the_key_and_both_shapes(tv_model, edit, words):
    from minialex.models.pretrained import load_pretrained

    before = tv_model.conv1.weight.numpy().copy()
    state = _constant_state({"features.0.weight": 123.0})
    edit(state)
    with pytest.raises(WeightsError, match=words):
        load_pretrained(tv_model, state, what="alexnet('torchvision')")
    np.testing.assert_array_equal(tv_model.conv1.weight.numpy(), before)  # untouched


def test_alexnet_weights_option_names_the_file_in_errors(tmp_path):
    from minialex.models import alexnet

    path = tmp_path / "small.npz"
    np.savez(path, **{"features.0.weight": np.zeros((64, 3, 11, 11), np.float32)})
    with pytest.raises(WeightsError, match=rf"{path}.*does not fit alexnet\('torchvision'\).*"
                                           r"missing"):
        alexnet("torchvision", weights=path)
    with pytest.raises(FileNotFoundError):
        alexnet("torchvision", weights=tmp_path / "absent.pth")


def torchvision_alexnet(torch):
    """torchvision.models.AlexNet, written in plain torch.nn (torchvision itself is not
    installable beside this torch); same layer order, so the same state-dict names."""
    nn = torch.nn

    class AlexNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(3, 64, 11, stride=4, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
                nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
                nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(),
                nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(),
                nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2))
            self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
            self.classifier = nn.Sequential(
                nn.Dropout(0.5), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(),
                nn.Dropout(0.5), nn.Linear(4096, 4096), nn.ReLU(), nn.Linear(4096, 1000))

        def forward(self, x):
            return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))

    return AlexNet()


@pytest.fixture(scope="module")
def torchvision_file(tmp_path_factory):
    """A torchvision-shaped checkpoint with random weights, saved by torch.save (zip)."""
    from conftest import import_torch

    torch = import_torch()
    torch.manual_seed(0)
    model = torchvision_alexnet(torch).eval()
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == TORCHVISION_SHAPES
    path = tmp_path_factory.mktemp("tv") / "alexnet-random.pth"
    torch.save(model.state_dict(), path)
    return path, model, torch


@pytest.mark.torch
@pytest.mark.slow
def test_torchvision_checkpoint_gives_pytorch_logits(torchvision_file):
    import minialex
    from minialex.models import alexnet

    path, reference, torch = torchvision_file
    model = alexnet("torchvision", weights=path).eval()
    x = np.random.default_rng(0).standard_normal((2, 3, 224, 224)).astype(np.float32)
    with minialex.no_grad():
        ours = model(minialex.tensor(x)).numpy()
    with torch.no_grad():
        theirs = reference(torch.from_numpy(x)).numpy()
    assert ours.shape == theirs.shape == (2, 1000)
    err = np.abs(ours - theirs).max()
    assert err <= 1e-5 * np.abs(theirs).max(), f"max abs error {err:.3g}"
    assert not np.allclose(theirs[0], theirs[1])  # the two images give different logits


@pytest.mark.torch
@pytest.mark.slow
def test_classify_command_gives_pytorchs_top5_for_the_same_file(torchvision_file, tmp_path,
                                                                capsys):
    import argparse

    from PIL import Image

    from minialex.cli import classify as classify_cli
    from minialex.data.imagenet import eval_crops, imagenet_classes

    path, reference, torch = torchvision_file
    photo = tmp_path / "photo.png"
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)).save(photo)
    parser = argparse.ArgumentParser(prog="python -m minialex")
    classify_cli.register(parser.add_subparsers())
    args = parser.parse_args(["classify", str(photo), "--weights", str(path), "--top", "5"])
    assert args.run(args) == 0
    printed = capsys.readouterr().out
    with torch.no_grad():
        probs = torch.softmax(reference(torch.from_numpy(eval_crops(photo))), 1)[0].numpy()
    best = np.argsort(-probs)[:5]
    rows = [line.split() for line in printed.splitlines()[2:7]]
    assert [int(r[2]) for r in rows] == best.tolist(), printed
    assert [" ".join(r[3:]) for r in rows] == [imagenet_classes()[i] for i in best]
    assert [float(r[1].rstrip("%")) for r in rows] == pytest.approx(
        [round(100 * float(probs[i]), 2) for i in best], abs=0.006)


@pytest.mark.torch
@pytest.mark.slow
def test_lesson_16_runs_with_a_weights_file(torchvision_file, tmp_path):
    path = torchvision_file[0]
    proc = subprocess.run(
        [sys.executable, str(ROOT / "lessons" / "16_the_real_alexnet.py"), "--quick",
         "--weights", str(path), "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env=dict(os.environ, MPLBACKEND="Agg", PYTHONPATH=str(ROOT)))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "weights: loaded" in proc.stdout and "UNTRAINED" not in proc.stdout
    assert sorted(p.name for p in tmp_path.glob("16_*.png"))
