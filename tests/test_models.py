"""AlexNet variants: exact parameter counts, shapes, initialisation, options, PyTorch logits.

Expected numbers come from outside the code under test: the counts published for each
variant, arithmetic written out here from the layer hyper-parameters, the Keras summary
printed in Dutta's "AlexNet in a Nutshell", and PyTorch modules built in this file.
"""

from __future__ import annotations

import functools
import math

import pytest

import minialex
import minialex.functional as F
from minialex import backend, nn, rel_error
from minialex.models import VARIANTS, alexnet
from minialex.summary import count_params

np = backend.np


@functools.lru_cache(maxsize=2)
def cached(variant: str, **options):
    """Building a 60 M-parameter model takes a second or two: share it between tests."""
    return alexnet(variant, **options)


def layer_params(layer) -> int:
    """Parameters plus BatchNorm running statistics (Keras counts both)."""
    return (sum(p.size for p in layer.parameters())
            + sum(b.size for n, b in layer.named_buffers() if n.startswith("running_")))


# --------------------------------------------------------------- counts, by hand
def conv(c_in, c_out, k, groups=1, bias=True):
    """A k x k convolution: c_out filters of (c_in / groups) x k x k weights, one bias each."""
    return c_out * (c_in // groups) * k * k + (c_out if bias else 0)


def fc(n_in, n_out, bias=True):
    return n_in * n_out + (n_out if bias else 0)


def bn(c):
    """gamma, beta (trained) + running mean, running variance (not trained)."""
    return 4 * c


# Per-layer counts from the hyper-parameters of each variant (DESIGN.md's table).
EXPECTED_LAYERS = {
    "paper": {"conv1": conv(3, 96, 11), "conv2": conv(96, 256, 5, groups=2),
              "conv3": conv(256, 384, 3), "conv4": conv(384, 384, 3, groups=2),
              "conv5": conv(384, 256, 3, groups=2), "fc6": fc(256 * 6 * 6, 4096),
              "fc7": fc(4096, 4096), "fc8": fc(4096, 1000)},
    "single": {"conv1": conv(3, 96, 11), "conv2": conv(96, 256, 5), "conv3": conv(256, 384, 3),
               "conv4": conv(384, 384, 3), "conv5": conv(384, 256, 3),
               "fc6": fc(256 * 6 * 6, 4096), "fc7": fc(4096, 4096), "fc8": fc(4096, 1000)},
    "torchvision": {"conv1": conv(3, 64, 11), "conv2": conv(64, 192, 5),
                    "conv3": conv(192, 384, 3), "conv4": conv(384, 256, 3),
                    "conv5": conv(256, 256, 3), "fc6": fc(256 * 6 * 6, 4096),
                    "fc7": fc(4096, 4096), "fc8": fc(4096, 1000)},
    # 224 -> 54 -> 27 -> 17 -> 8 -> 6 -> 4 -> 2 -> 1: fc6 sees 256 * 1 * 1 values.
    "keras-bn": {"conv1": conv(3, 96, 11), "bn1": bn(96), "conv2": conv(96, 256, 11),
                 "bn2": bn(256), "conv3": conv(256, 384, 3), "bn3": bn(384),
                 "conv4": conv(384, 384, 3), "bn4": bn(384), "conv5": conv(384, 256, 3),
                 "bn5": bn(256), "fc6": fc(256, 4096), "bn6": bn(4096), "fc7": fc(4096, 4096),
                 "bn7": bn(4096), "fc8": fc(4096, 1000), "bn8": bn(1000), "fc9": fc(1000, 17)},
    # 32 -> 16 (conv1) -> 8 (pool1) -> 4 (pool2) -> 2 (pool5): fc6 sees 256 * 2 * 2 values.
    "cifar-small": {"conv1": conv(3, 64, 11), "conv2": conv(64, 192, 5),
                    "conv3": conv(192, 384, 3), "conv4": conv(384, 256, 3),
                    "conv5": conv(256, 256, 3), "fc6": fc(256 * 2 * 2, 384),
                    "fc7": fc(384, 192), "fc8": fc(192, 10)},
    "original-100": {"conv1": conv(3, 100, 11), "conv2": conv(100, 100, 5),
                     "conv3": conv(100, 384, 3), "conv4": conv(384, 384, 3),
                     "conv5": conv(384, 256, 3), "fc6": fc(256 * 6 * 6, 4096),
                     "fc7": fc(4096, 4096), "fc8": fc(4096, 1000)},
}

PUBLISHED_TOTALS = {"paper": 60_965_224, "single": 62_378_344, "torchvision": 61_100_840,
                    "keras-bn": 28_096_769}


@pytest.mark.parametrize("variant", list(EXPECTED_LAYERS))
def test_parameter_count_matches_hand_arithmetic(variant):
    model = cached(variant)
    got = {name: layer_params(layer) for name, layer in model.named_children()
           if layer_params(layer)}
    assert got == EXPECTED_LAYERS[variant]
    total = sum(EXPECTED_LAYERS[variant].values())
    running = sum(v // 2 for k, v in EXPECTED_LAYERS[variant].items() if k.startswith("bn"))
    assert count_params(model) == (total - running, running)  # (trainable, non-trainable)
    if variant in PUBLISHED_TOTALS:
        assert total == PUBLISHED_TOTALS[variant]


def test_published_counts():
    assert sum(EXPECTED_LAYERS["paper"].values()) == 60_965_224
    model = cached("keras-bn")
    trainable = sum(p.size for p in model.parameters())
    running = sum(b.size for b in model.buffers())
    # Dutta's printed Keras summary: Total 28,096,769, Trainable 28,075,633, Non-trainable 21,136
    assert (trainable + running, trainable, running) == (28_096_769, 28_075_633, 21_136)


def test_single_without_fc_biases_matches_the_notebook_table():
    model = alexnet("single", fc_bias=False)
    assert model.num_parameters() == 62_369_152
    assert model.fc6.bias is None and model.conv1.bias is not None


def test_keras_bn_layers_match_the_printed_keras_summary():
    """Param # column of the Keras summary printed in "AlexNet in a Nutshell"."""
    printed = [34944, 384, 2973952, 1024, 885120, 1536, 1327488, 1536, 884992, 1024, 1052672,
               16384, 16781312, 16384, 4097000, 4000, 17017]
    model = cached("keras-bn")
    assert [layer_params(m) for m in model if layer_params(m)] == printed


@pytest.mark.parametrize("variant, options, expected", [
    # num_conv=3: the last block (conv3, 384 channels) keeps the pool: 384 * 6 * 6 into fc6
    ("paper", {"num_conv": 3}, conv(3, 96, 11) + conv(96, 256, 5, 2) + conv(256, 384, 3)
     + fc(384 * 36, 4096) + fc(4096, 4096) + fc(4096, 1000)),
    ("paper", {"num_conv": 4}, conv(3, 96, 11) + conv(96, 256, 5, 2) + conv(256, 384, 3)
     + conv(384, 384, 3, 2) + fc(384 * 36, 4096) + fc(4096, 4096) + fc(4096, 1000)),
    # 224 -> 54 -> 27 -> 17 -> 8 -> 6, pool3 2x2/2 -> 3: 384 * 3 * 3 into fc6
    ("keras-bn", {"num_conv": 3, "num_classes": 5}, conv(3, 96, 11) + bn(96) + conv(96, 256, 11)
     + bn(256) + conv(256, 384, 3) + bn(384) + fc(384 * 9, 4096) + bn(4096) + fc(4096, 4096)
     + bn(4096) + fc(4096, 1000) + bn(1000) + fc(1000, 5)),
    ("cifar-small", {"activation": "tanh", "num_classes": 100, "lrn": True, "dropout": 0},
     conv(3, 64, 11) + conv(64, 192, 5) + conv(192, 384, 3) + conv(384, 256, 3)
     + conv(256, 256, 3) + fc(1024, 384) + fc(384, 192) + fc(192, 100)),
    # torchvision keeps 6x6 after its adaptive pool whatever the input size
    ("torchvision", {"num_conv": 3, "input_shape": (3, 100, 100)}, conv(3, 64, 11)
     + conv(64, 192, 5) + conv(192, 384, 3) + fc(384 * 36, 4096) + fc(4096, 4096)
     + fc(4096, 1000)),
    # at 64x64: 64 -> 32 -> 16 -> 8 -> 4: 256 * 4 * 4 into fc6
    ("cifar-small", {"input_shape": (3, 64, 64)}, conv(3, 64, 11) + conv(64, 192, 5)
     + conv(192, 384, 3) + conv(384, 256, 3) + conv(256, 256, 3) + fc(256 * 16, 384)
     + fc(384, 192) + fc(192, 10)),
    # BatchNorm after each of the 5 blocks and the 2 hidden FC layers
    ("cifar-small", {"batch_norm": True}, conv(3, 64, 11) + bn(64) + conv(64, 192, 5) + bn(192)
     + conv(192, 384, 3) + bn(384) + conv(384, 256, 3) + bn(256) + conv(256, 256, 3) + bn(256)
     + fc(1024, 384) + bn(384) + fc(384, 192) + bn(192) + fc(192, 10)),
    # width=0.5: 96/2 = 48 filters in conv1, 256/2 = 128 (still 2 groups of 64) in conv2,
    # 192, 192, 128; hidden FC 4096/2 = 2048; pool5 still 6x6: 128 * 36 into fc6
    ("paper", {"width": 0.5}, conv(3, 48, 11) + conv(48, 128, 5, 2) + conv(128, 192, 3)
     + conv(192, 192, 3, 2) + conv(192, 128, 3, 2) + fc(128 * 36, 2048) + fc(2048, 2048)
     + fc(2048, 1000)),
    # width=1/8: 64/8, 192/8, 384/8, 256/8, 256/8 filters; FC 384/8 = 48, 192/8 = 24;
    # 32x32 keeps 2x2 after pool5 (32 * 2 * 2 into fc6), 16x16 ends at 1x1 (32 into fc6)
    ("cifar-small", {"width": 1 / 8, "num_classes": 8}, conv(3, 8, 11) + conv(8, 24, 5)
     + conv(24, 48, 3) + conv(48, 32, 3) + conv(32, 32, 3) + fc(32 * 4, 48) + fc(48, 24)
     + fc(24, 8)),
    ("cifar-small", {"width": 1 / 8, "num_classes": 8, "input_shape": (3, 16, 16)},
     conv(3, 8, 11) + conv(8, 24, 5) + conv(24, 48, 3) + conv(48, 32, 3) + conv(32, 32, 3)
     + fc(32, 48) + fc(48, 24) + fc(24, 8)),
    # keras-bn's three hidden FC widths scale too (4096, 4096, 1000 -> 1024, 1024, 250)
    ("keras-bn", {"width": 0.25}, conv(3, 24, 11) + bn(24) + conv(24, 64, 11) + bn(64)
     + conv(64, 96, 3) + bn(96) + conv(96, 96, 3) + bn(96) + conv(96, 64, 3) + bn(64)
     + fc(64, 1024) + bn(1024) + fc(1024, 1024) + bn(1024) + fc(1024, 250) + bn(250)
     + fc(250, 17)),
])
def test_options_change_the_count_as_computed(variant, options, expected):
    model = alexnet(variant, **options)
    assert sum(layer_params(m) for m in model) == expected


def test_layer_names_and_options():
    paper = [n for n, _ in cached("paper").named_children()]
    assert paper == ["conv1", "relu1", "lrn1", "pool1", "conv2", "relu2", "lrn2", "pool2",
                     "conv3", "relu3", "conv4", "relu4", "conv5", "relu5", "pool5", "flatten",
                     "fc6", "relu6", "drop6", "fc7", "relu7", "drop7", "fc8"]
    tv = [n for n, _ in alexnet("torchvision", num_conv=3, num_classes=3).named_children()]
    assert tv == ["conv1", "relu1", "pool1", "conv2", "relu2", "pool2", "conv3", "relu3",
                  "pool3", "avgpool", "flatten", "drop6", "fc6", "relu6", "drop7", "fc7",
                  "relu7", "fc8"]
    small = alexnet("cifar-small", activation="tanh", dropout=0, lrn=True)
    names = [n for n, _ in small.named_children()]
    assert "tanh1" in names and "relu1" not in names and "lrn2" in names
    assert not any(n.startswith("drop") for n in names)
    assert isinstance(small.tanh6, nn.Tanh)
    assert small.fc6.out_features == 384 and small.fc8.out_features == 10
    assert all(m.p == 0.4 for m in cached("keras-bn") if isinstance(m, nn.Dropout))
    assert alexnet("cifar-small", dropout=0.3).drop6.p == 0.3
    pools = [m for m in cached("keras-bn") if isinstance(m, nn.MaxPool2d)]
    assert [(m.kernel_size, m.stride) for m in pools] == [((2, 2), (2, 2))] * 3


@pytest.mark.parametrize("call, words", [
    (lambda: alexnet("vgg"), ["vgg", "paper", "single", "torchvision", "keras-bn",
                              "cifar-small", "original-100"]),
    (lambda: alexnet("paper", activation="sigmoid"), ["activation", "'relu'", "'tanh'"]),
    (lambda: alexnet("paper", num_conv=2), ["num_conv", "3", "4", "5"]),
    (lambda: alexnet("paper", dropout=1.0), ["dropout"]),
    (lambda: alexnet("paper", pool="3/2"), ["pool", "3x3/2"]),
    (lambda: alexnet("paper", num_classes=0), ["num_classes"]),
    (lambda: alexnet("paper", lrn="yes"), ["lrn"]),
    (lambda: alexnet("paper", batch_norm=1), ["batch_norm"]),
    (lambda: alexnet("paper", width=0), ["width", "(0, 1]", "0"]),
    (lambda: alexnet("paper", width=-0.5), ["width", "(0, 1]", "-0.5"]),
    (lambda: alexnet("paper", width=1.5), ["width", "(0, 1]", "1.5"]),
    (lambda: alexnet("paper", width=float("nan")), ["width", "(0, 1]", "nan"]),
    (lambda: alexnet("paper", width=True), ["width", "(0, 1]"]),
    (lambda: alexnet("paper", width="1/8"), ["width", "(0, 1]", "'1/8'"]),
    (lambda: alexnet("paper", groups=2), ["groups", "num_classes", "activation", "num_conv",
                                          "dropout", "lrn", "pool", "width", "batch_norm"]),
])
def test_bad_variant_or_option_lists_valid_ones(call, words):
    with pytest.raises(ValueError) as info:
        call()
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize("width, filters, hidden", [
    # 96w, 256w, 384w, 384w, 256w rounded to the nearest even number (conv2/4/5 have two
    # groups; conv1 and conv3 feed conv2 and conv4, so their outputs must split in two too)
    (0.5, [48, 128, 192, 192, 128], 2048),
    (0.3, [28, 76, 116, 116, 76], 1229),      # 28.8, 76.8, 115.2, 115.2, 76.8; 1228.8
    (0.01, [2, 2, 4, 4, 2], 41),              # 0.96, 2.56, 3.84, 3.84, 2.56: at least 2
])
def test_width_keeps_the_paper_groups_valid(width, filters, hidden):
    model = alexnet("paper", width=width)
    convs = [m for m in model if isinstance(m, nn.Conv2d)]
    assert [m.out_channels for m in convs] == filters
    assert [m.groups for m in convs] == [1, 2, 1, 2, 2]
    assert all(m.in_channels % m.groups == 0 and m.out_channels % m.groups == 0 for m in convs)
    assert [model.fc6.out_features, model.fc7.out_features] == [hidden, hidden]
    assert model.width == width and "width=" in repr(model)
    if width < 0.1:  # the whole chain still runs: 227 -> 6x6 after pool5 -> 1000 scores
        x = minialex.tensor(backend.np.ones((1, 3, 227, 227), dtype=np.float32))
        assert model(x).shape == (1, 1000)


def test_num_classes_attribute():
    assert cached("paper").num_classes == 1000
    assert cached("keras-bn").num_classes == 17
    assert alexnet("cifar-small", num_classes=8, width=1 / 8).num_classes == 8
    assert alexnet("torchvision", num_classes=3, num_conv=3).num_classes == 3
    small = alexnet("cifar-small", num_classes=5, width=1 / 8)
    assert small.num_classes == small.fc8.out_features == 5
    assert cached("paper").width == 1.0 and "width" not in repr(cached("paper")).split("\n")[0]


def test_variants_metadata():
    assert list(VARIANTS) == ["paper", "single", "torchvision", "keras-bn", "cifar-small",
                              "original-100"]
    inputs = {"paper": 227, "single": 227, "torchvision": 224, "keras-bn": 224,
              "cifar-small": 32, "original-100": 227}
    for name, spec in VARIANTS.items():
        assert spec.input_shape == (3, inputs[name], inputs[name])
        assert spec.source and spec.description and "seed" not in spec.source.lower()
    assert cached("paper").input_shape == (3, 227, 227)


# --------------------------------------------------------------- initialisation
def test_paper_initialisation():
    """Weights N(0, 0.01); biases 1 in conv2, conv4, conv5, fc6, fc7; 0 in conv1, conv3, fc8."""
    model = cached("paper")
    for name in ("conv2", "conv4", "conv5", "fc6", "fc7"):
        assert np.all(getattr(model, name).bias.data == 1.0), name
    for name in ("conv1", "conv3", "fc8"):
        assert np.all(getattr(model, name).bias.data == 0.0), name
    w = model.fc6.weight.data  # 37.7 M draws: the sample std is 0.01 to ~1e-5
    assert abs(float(w.std()) - 0.01) < 1e-4 and abs(float(w.mean())) < 1e-4
    assert abs(float(model.conv1.weight.data.std()) - 0.01) < 5e-4
    assert all(p.dtype == np.float32 for p in model.parameters())


def test_init_option_replaces_the_variants_initialisation():
    """original-100 starts from the paper's init; init="kaiming" gives He weights, zero biases."""
    paper = alexnet("original-100", width=0.5)
    assert np.all(paper.conv2.bias.data == 1.0)
    he = alexnet("original-100", width=0.5, init="kaiming")
    assert np.all(he.conv2.bias.data == 0.0) and np.all(he.fc6.bias.data == 0.0)
    fan_in = 192 * 3 * 3  # conv4 at width 0.5: 384 / 2 = 192 input channels
    assert abs(float(he.conv4.weight.data.std()) / math.sqrt(2 / fan_in) - 1) < 0.03
    with pytest.raises(ValueError, match="init.*'paper'.*'kaiming'"):
        alexnet("cifar-small", init="he")


def test_cifar_small_and_keras_initialisation():
    small = alexnet("cifar-small")
    fan_in = 64 * 5 * 5  # conv2
    assert abs(float(small.conv2.weight.data.std()) / math.sqrt(2 / fan_in) - 1) < 0.03
    assert abs(float(small.fc8.weight.data.std()) - 0.01) < 2e-3
    assert all(np.all(m.bias.data == 0) for m in small if isinstance(m, (nn.Conv2d, nn.Linear)))
    keras = cached("keras-bn")
    bound = math.sqrt(6 / (4096 + 4096))  # Glorot uniform, fc7
    w = keras.fc7.weight.data
    assert float(abs(w).max()) <= bound and float(abs(w).max()) > 0.99 * bound
    assert np.all(keras.fc7.bias.data == 0)


# --------------------------------------------------------------- shapes
def spatial(model, shape):
    return {r.name: r.output_shape for r in minialex.trace(model, shape, print=False)}


def test_paper_shapes_at_227():
    out = spatial(cached("paper"), (3, 227, 227))
    expected = {"conv1": (96, 55, 55), "pool1": (96, 27, 27), "conv2": (256, 27, 27),
                "pool2": (256, 13, 13), "conv3": (384, 13, 13), "conv4": (384, 13, 13),
                "conv5": (256, 13, 13), "pool5": (256, 6, 6), "flatten": (9216,),
                "fc6": (4096,), "fc7": (4096,), "fc8": (1000,)}
    assert {k: out[k] for k in expected} == expected


def test_torchvision_shapes_at_224():
    out = spatial(cached("torchvision"), (3, 224, 224))
    expected = {"conv1": (64, 55, 55), "pool1": (64, 27, 27), "conv2": (192, 27, 27),
                "pool2": (192, 13, 13), "conv3": (384, 13, 13), "conv4": (256, 13, 13),
                "conv5": (256, 13, 13), "pool5": (256, 6, 6), "avgpool": (256, 6, 6),
                "flatten": (9216,), "fc6": (4096,), "fc7": (4096,), "fc8": (1000,)}
    assert {k: out[k] for k in expected} == expected


def test_keras_bn_reproduces_the_printed_shapes():
    """Dutta's printed summary: 54, 27, 17, 8, 6, 4, 2, 1 (2x2/2 pooling, as in the notebook)."""
    out = spatial(cached("keras-bn"), (3, 224, 224))
    names = ["conv1", "pool1", "conv2", "pool2", "conv3", "conv4", "conv5", "pool5"]
    assert [out[n][1] for n in names] == [54, 27, 17, 8, 6, 4, 2, 1]
    assert [out[n][0] for n in names] == [96, 96, 256, 256, 384, 384, 256, 256]
    assert out["flatten"] == (256,) and out["fc9"] == (17,)


def test_keras_bn_with_3x3_pooling_breaks_at_pool5():
    with pytest.raises(ValueError) as info:
        alexnet("keras-bn", pool="3x3/2")
    message = str(info.value)
    assert message.startswith("pool5")
    assert "54 (conv1) -> 26 (pool1) -> 16 (conv2) -> 7 (pool2) -> 5 (conv3) -> 3 (conv4) " \
           "-> 1 (conv5)" in message
    assert "(N, 256, 1, 1)" in message


KERAS_BN_PRINTED = [54, 27, 17, 8, 6, 4, 2, 1]  # conv1, pool1, conv2, pool2, conv3-5, pool5


def test_keras_bn_with_3x3_ceil_pooling_runs_in_minialex():
    """ceil_mode 3x3/2 pools: ceil((54 - 3) / 2) + 1 = 27, ceil((17 - 3) / 2) + 1 = 8 and
    ceil((2 - 3) / 2) + 1 = 1 by hand. minialex's trace and its own forward both give the
    printed sizes, and the clipped last window of pool5 sees the whole 2x2 map."""
    model = alexnet("keras-bn", pool="3x3/2", ceil_mode=True).eval()
    names = ["conv1", "pool1", "conv2", "pool2", "conv3", "conv4", "conv5", "pool5"]
    out = spatial(model, (3, 224, 224))
    assert [out[n][1] for n in names] == KERAS_BN_PRINTED
    x = minialex.tensor(backend.get_rng().standard_normal((1, 3, 224, 224), dtype=np.float32))
    sizes, before_pool5 = {}, None
    with minialex.no_grad():
        for name, layer in model.named_children():
            if name == "pool5":
                before_pool5 = x.numpy()
            x = layer(x)
            sizes[name] = x.shape
    assert [sizes[n][-1] for n in names] == KERAS_BN_PRINTED
    assert all(sizes[n][-2] == sizes[n][-1] for n in names)
    assert before_pool5.shape == (1, 256, 2, 2)
    np.testing.assert_array_equal(model.pool5(minialex.tensor(before_pool5)).numpy()[..., 0, 0],
                                  before_pool5.max(axis=(2, 3)))
    assert x.shape == (1, 17) and bool(np.isfinite(x.numpy()).all())


@pytest.mark.torch
def test_keras_bn_with_3x3_ceil_pooling_gives_the_printed_shapes(torch):
    """With ceil_mode the 3x3/2 code gives the printed sizes again; PyTorch agrees."""
    model = alexnet("keras-bn", pool="3x3/2", ceil_mode=True)
    assert model.fc6.in_features == 256
    x = torch.zeros(1, 3, 224, 224)
    sizes = []
    for layer in model:
        if isinstance(layer, nn.Conv2d):
            x = torch.nn.functional.conv2d(x, torch.zeros(layer.out_channels, x.shape[1],
                                                          *layer.kernel_size), None,
                                           layer.stride, layer.padding)
            sizes.append(x.shape[-1])
        elif isinstance(layer, nn.MaxPool2d):
            x = torch.nn.functional.max_pool2d(x, 3, 2, ceil_mode=True)
            sizes.append(x.shape[-1])
    assert sizes == KERAS_BN_PRINTED


def test_invalid_input_names_the_layer():
    model = cached("paper")
    with pytest.raises(ValueError, match=r"^pool2 .*\(N, 256, 2, 2\)"):
        minialex.trace(model, (3, 32, 32), print=False)
    x = minialex.tensor(np.zeros((1, 3, 32, 32), dtype=np.float32))
    with pytest.raises(ValueError, match=r"^pool2"):
        with minialex.no_grad():
            model(x)
    with pytest.raises(ValueError, match=r"^pool2"):
        alexnet("paper", input_shape=(3, 32, 32))
    with pytest.raises(ValueError, match=r"^fc6 .*9216.*6400"):
        minialex.trace(model, (3, 224, 224), print=False)


# --------------------------------------------------------------- PyTorch as oracle
def torch_alexnet(torch, variant):
    """The same network written with torch.nn (torchvision's layout, no torchvision needed)."""
    tnn = torch.nn
    if variant == "torchvision":
        features = [tnn.Conv2d(3, 64, 11, 4, 2), tnn.ReLU(), tnn.MaxPool2d(3, 2),
                    tnn.Conv2d(64, 192, 5, padding=2), tnn.ReLU(), tnn.MaxPool2d(3, 2),
                    tnn.Conv2d(192, 384, 3, padding=1), tnn.ReLU(),
                    tnn.Conv2d(384, 256, 3, padding=1), tnn.ReLU(),
                    tnn.Conv2d(256, 256, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(3, 2),
                    tnn.AdaptiveAvgPool2d((6, 6))]
    else:
        groups = 2 if variant == "paper" else 1
        # torch divides alpha by size: the paper's alpha 1e-4 is torch's 5e-4
        features = [tnn.Conv2d(3, 96, 11, 4), tnn.ReLU(), tnn.LocalResponseNorm(5, 5e-4, 0.75, 2),
                    tnn.MaxPool2d(3, 2),
                    tnn.Conv2d(96, 256, 5, padding=2, groups=groups), tnn.ReLU(),
                    tnn.LocalResponseNorm(5, 5e-4, 0.75, 2), tnn.MaxPool2d(3, 2),
                    tnn.Conv2d(256, 384, 3, padding=1), tnn.ReLU(),
                    tnn.Conv2d(384, 384, 3, padding=1, groups=groups), tnn.ReLU(),
                    tnn.Conv2d(384, 256, 3, padding=1, groups=groups), tnn.ReLU(),
                    tnn.MaxPool2d(3, 2)]
    classifier = [tnn.Flatten(), tnn.Dropout(), tnn.Linear(9216, 4096), tnn.ReLU(), tnn.Dropout(),
                  tnn.Linear(4096, 4096), tnn.ReLU(), tnn.Linear(4096, 1000)]
    return tnn.Sequential(*features, *classifier).eval()


@pytest.mark.torch
@pytest.mark.slow
@pytest.mark.parametrize("variant", ["torchvision", "single", "paper"])
def test_logits_match_pytorch(torch, variant):
    torch.manual_seed(0)
    reference = torch_alexnet(torch, variant)
    model = cached(variant)
    weighted = [m for m in reference if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    ours = [n for n, m in model.named_children() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert len(weighted) == len(ours) == 8
    state = {}
    for t, name in zip(weighted, ours, strict=True):
        state[f"{name}.weight"] = t.weight.detach().numpy()
        state[f"{name}.bias"] = t.bias.detach().numpy()
    model.load_state_dict(state)
    size = model.input_shape[-1]
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        expected = reference(x).numpy()
    model.eval()
    try:
        with minialex.no_grad():
            got = model(minialex.tensor(x.numpy())).numpy()
    finally:
        model.train()
        cached.cache_clear()  # the weights were replaced: do not hand this model on
    assert got.dtype == np.float32 and got.shape == (2, 1000)
    # Relative to the largest logit: an element-wise relative error is meaningless for the
    # logits that happen to sit near zero (float32 keeps ~7 digits of the largest ones).
    scale = float(np.abs(expected).max())
    assert scale > 1e-3  # logits are not trivially zero
    assert float(np.abs(got - expected).max()) / scale < 1e-4
    assert rel_error(got.argsort(axis=1)[:, -5:], expected.argsort(axis=1)[:, -5:]) == 0


# --------------------------------------------------------------- forward + backward
@pytest.mark.slow
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_forward_backward_smoke(variant):
    model = alexnet(variant, num_classes=5)
    x = minialex.tensor(backend.get_rng().standard_normal((2, *model.input_shape),
                                                          dtype=np.float32))
    logits = model(x)
    assert logits.shape == (2, 5) and logits.dtype == np.float32
    loss = F.cross_entropy(logits, np.array([1, 3]))
    loss.backward()
    assert np.isfinite(loss.item())
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.shape == p.shape, name
        assert np.all(np.isfinite(p.grad)), name
    assert float(np.abs(model.conv1.weight.grad).max()) > 0
    assert float(np.abs(model[-1].weight.grad).max()) > 0
