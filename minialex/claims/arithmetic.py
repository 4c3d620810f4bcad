"""Ledger rows computed on the spot: counts, shapes and mult-adds, and the sources' arithmetic.

Every measured number here comes from the library (``alexnet`` models read by shape
inference: ``minialex.nn.shapes.layer_record``, ``count_params``, ``layer_arithmetic``) or from
redoing a source's arithmetic with its own numbers; verdicts follow from comparing them with
the claimed value.

Where each quote is, by line of the text copies the project works from (the paper itself is
cited by section): paper-params: Keras notebook 9, Dutta 14; paper-neurons: Dutta 14;
input-224: 227 in Sarkar and Tambat 20-21 and the Keras notebook 23-37; shape-chain: Sarkar
and Tambat 20-30; fc6-input: Keras notebook 69; lrn-constants: the formula only in Sarkar
and Tambat 44 and the Keras notebook 99; pool-lrn-order: Sarkar and Tambat 22-23 and 25-26;
overlapping-pool: Sarkar and Tambat 46, Dutta 28; dropout-0.5: Keras notebook 9, Sarkar and
Tambat 48, Sahu et al. 20; towers: Sahu et al. 18; sahu-48-kernels: Sahu et al. 16 and 29;
sahu-conv345: Sahu et al. 18; paper-budget: 1.2 million images also in Dutta 14; nb-conv1:
Keras notebook 48; nb-conv2: 53; nb-total and nb-62.3: 76; nb-param-share and
nb-compute-share: 77; nb-total-compute: 76; nb-same-padding: 23 (and 'valid' in 29);
nb-6-classes: 43 against Dense(10) in 193; keras-conv12: Keras notebook 211-215, Dutta
296-304; dutta-totals: Dutta 362-364; dutta-pool: Dutta 175 and 296-328; dutta-conv1: Dutta
22; dutta-pool5: Dutta 102; dutta-test-on-train: Dutta 282-286 and 366; two-3x3: Sarkar and
Tambat 66; ilsvrc-2012: Sarkar and Tambat 70; sahu-10pct: Sahu et al. 12;
sahu-text-vs-table: Sahu et al. 55-60; w-89pct, w-halves, w-43pct, w-20pct: Waghmare 80;
w-half-loss: Waghmare 76; w-92pct: Waghmare 84.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from minialex import nn
from minialex.claims import NOT_HERE, REPRODUCED, SHOWN_WRONG, Row
from minialex.models import alexnet
from minialex.nn.rules import layer_arithmetic
from minialex.nn.shapes import LayerError, count_params, layer_record, leaves

__all__ = ["arithmetic_rows", "layer_table", "LayerInfo"]

PAPER = "Krizhevsky, Sutskever, Hinton 2012"
WAGHMARE = "Waghmare 2021 (RIT report)"
SARKAR = "Sarkar and Tambat 2022 (notes)"
NOTEBOOK = "\"AlexNet\" Keras notebook"
SAHU = "Sahu et al. 2016, \"Tweaking the AlexNet\""
DUTTA = "Dutta 2020, \"AlexNet in a Nutshell\""
HERE = "python -m minialex claims"


@dataclass(frozen=True)
class LayerInfo:
    """One layer of a model as shape inference sees it (per image, no batch axis)."""

    module: Any
    out_shape: tuple[int, ...]
    params: int
    mult_adds: int
    mult_adds_bias: int  # counting one add per bias, as the Keras notebook's table does
    kind: str  # "conv", "fc" or "other"


def layer_table(model: Any, input_shape: tuple[int, int, int]) -> dict[str, LayerInfo]:
    """{layer name: LayerInfo} of a flat model (an AlexNet), from the shape arithmetic only."""
    table, shape = {}, tuple(input_shape)
    for name, module in leaves(model):
        r = layer_record(name, module, shape)
        shape = r.output_shape
        table[name] = LayerInfo(module, shape, r.params, r.mult_adds, r.mult_adds_bias, r.kind)
    return table


def _verdict(ok: bool) -> str:
    return REPRODUCED if ok else SHOWN_WRONG


def _close(measured: float, claimed: float, rel: float) -> bool:
    return abs(measured - claimed) <= rel * abs(claimed)


def _sizes(table: dict[str, LayerInfo], names: tuple[str, ...]) -> list[int]:
    return [table[n].out_shape[1] for n in names]


def _paper_rows() -> Iterator[Row]:
    """Rows about the paper's network, read from ``alexnet("paper")``."""
    model = alexnet("paper")
    t = layer_table(model, (3, 227, 227))
    total = sum(i.params for i in t.values())
    yield Row("paper-params", "AlexNet has 60 million parameters",
              f"{PAPER}, abstract; repeated by Dutta and the Keras notebook",
              "python -m minialex summary --variant paper", f"{total:,}",
              _verdict(_close(total, 60e6, 0.05)),
              f"{total / 1e6:.2f} million for the two-tower network, "
              f"{100 * (total / 60e6 - 1):.1f}% above the round figure")
    neurons = sum(math.prod(i.out_shape) for i in t.values() if i.kind in ("conv", "fc"))
    yield Row("paper-neurons", "AlexNet has 650,000 neurons", f"{PAPER}, abstract; Dutta",
              "lesson 05", f"{neurons:,} conv and FC outputs at 227x227",
              _verdict(_close(neurons, 650_000, 0.05)),
              f"within {100 * abs(neurons / 650_000 - 1):.1f}% of the round figure; the paper "
              "does not say what it counts")
    # Section 3.5: "the number of neurons in the network's remaining layers is given by
    # 253,440-186,624-64,896-64,896-43,264-4096-4096-1000".
    listed = (253_440, 186_624, 64_896, 64_896, 43_264, 4096, 4096, 1000)
    weighted = [n for n in t if t[n].kind in ("conv", "fc")]
    counted = [math.prod(t[n].out_shape) for n in weighted]
    wrong = [f"{n}: {c:,} vs {w:,}" for n, c, w in zip(weighted, counted, listed, strict=True)
             if c != w]
    yield Row("paper-neuron-list", "neurons per layer 253,440-186,624-64,896-64,896-43,264-"
              "4096-4096-1000", f"{PAPER}, section 3.5", "lesson 05",
              "; ".join(wrong) or "all equal", _verdict(not wrong),
              f"conv1's {t['conv1'].out_shape[1]}x{t['conv1'].out_shape[2]}x96 outputs are "
              f"{counted[0]:,}; the other seven entries match; the list sums to "
              f"{sum(listed):,}, not 650,000")
    conv1 = model.conv1
    (_, side224, _), _, notes = layer_arithmetic(conv1, (3, 224, 224))
    exact = (224 - conv1.kernel_size[0]) / conv1.stride[0] + 1
    yield Row("input-224", "224x224x3 input; conv1 (11x11, stride 4) gives 55x55x96",
              f"{PAPER}, section 3.5 and figure 2", "lesson 04 (python -m minialex summary "
              "--variant paper --input 3,224,224 --trace)",
              f"(224 - 11) / 4 + 1 = {exact:g} -> {side224}x{side224}; 227 gives "
              f"{t['conv1'].out_shape[1]}", _verdict(exact == 55),
              "224 is not a valid size for conv1 without padding (Sarkar and Tambat and the "
              "Keras notebook use 227)" + ("; the trace flags the non-integer division"
                                           if notes else ""))
    names = ("conv1", "pool1", "conv2", "pool2", "conv3", "conv4", "conv5", "pool5")
    table_sizes = [55, 27, 27, 13, 13, 13, 13, 6]  # Sarkar and Tambat, table lines 20-30
    measured = _sizes(t, names)
    yield Row("shape-chain", "227 -> 55 -> 27 -> 27 -> 13 -> 13 -> 13 -> 13 -> 6 (conv1 .. "
              "pool5)", f"{SARKAR}, architecture table", "python -m minialex summary "
              "--variant paper --trace", " -> ".join(map(str, [227] + measured)),
              _verdict(measured == table_sizes), "the formula floor((n + 2p - f) / s) + 1 "
              "layer by layer (pool1 and pool2 after the LRN, which keeps the size)")
    flat = t["flatten"].out_shape[0]
    yield Row("fc6-input", "fc6 reads 256 x 6 x 6 = 9,216 values",
              f"{NOTEBOOK}, parameter table", "python -m minialex summary --variant paper",
              f"{flat:,}", _verdict(flat == 9216), "pool5's 6x6x256 output, flattened")
    lrn = model.lrn1
    constants = (lrn.k, lrn.size, lrn.alpha, lrn.beta)
    yield Row("lrn-constants", "LRN with k = 2, n = 5, alpha = 1e-4, beta = 0.75",
              f"{PAPER}, section 3.3 (Sarkar and Tambat and the Keras notebook give only "
              "the formula)", "lesson 07",
              "k = {:g}, n = {}, alpha = {:g}, beta = {:g} in alexnet(\"paper\")".format(
                  *constants), _verdict(constants == (2.0, 5, 1e-4, 0.75)),
              "the paper's constants, used after ReLU in blocks 1 and 2; lesson 07 shows they "
              "inhibit only at raw-pixel activation scales")
    order = [n for n in t if n.endswith("1") and not n.startswith("fc")]
    yield from _order_row(order)
    pool = model.pool1
    z, s = pool.kernel_size[0], pool.stride[0]
    yield Row("overlapping-pool", "max-pooling over 3x3 windows with stride 2 (overlapping): "
              "55 -> 27", f"{PAPER}, section 3.4; {SARKAR}; Dutta", "lesson 08",
              f"window {z}, stride {s}: {t['conv1'].out_shape[1]} -> {t['pool1'].out_shape[1]}",
              _verdict((z, s, t["pool1"].out_shape[1]) == (3, 2, 27)),
              f"z > s, so neighbouring windows share a row and a column ({z - s} of {z})")
    drops = {n: m.p for n, m in model.named_children() if isinstance(m, nn.Dropout)}
    after = [n for n in drops if list(t).index(n) > list(t).index(f"fc{n[-1]}")]
    yield Row("dropout-0.5", "dropout with p = 0.5 in the first two fully connected layers",
              f"{PAPER}, section 4.2; {SARKAR}; Keras notebook; Sahu et al.", "lesson 09",
              ", ".join(f"{n} p={p:g}" for n, p in drops.items()),
              _verdict(set(drops.values()) == {0.5} and after == ["drop6", "drop7"]),
              "on the outputs of fc6 and fc7; minialex scales at training time (inverted "
              "dropout), which lesson 09 shows equal to the paper's x0.5 at test time")
    yield _init_row(model)
    groups = {n: t[n].module.groups for n in t if t[n].kind == "conv"}
    crossing = [n for n, g in groups.items() if g == 1 and n != "conv1"]
    yield Row("towers", "conv3 reads the kernel maps of both GPUs; conv4 and conv5 only those "
              "on their own GPU", f"{PAPER}, section 3.5; {SAHU}, introduction", "lesson 11",
              ", ".join(f"{n} groups={g}" for n, g in groups.items()),
              _verdict(crossing == ["conv3"] and groups["conv2"] == groups["conv4"]
                       == groups["conv5"] == 2),
              "groups=2 is a layer whose halves never see each other; conv1 reads the image, "
              "which both GPUs hold, so the towers first exchange data before conv3")
    w2 = t["conv2"].module.weight.shape
    yield Row("sahu-48-kernels", "conv2 is composed of 48 kernels of size 5x5",
              f"{SAHU}, introduction (again \"48 of the second\" in Tweaks)", "python -m "
              "minialex summary --variant paper", f"conv2 weight {tuple(w2)}: {w2[0]} kernels "
              f"of {w2[2]}x{w2[3]}x{w2[1]}", _verdict(w2[0] == 48),
              f"48 is the depth of each kernel (96 conv1 maps / 2 towers); there are {w2[0]} "
              f"kernels, {w2[0] // 2} per GPU")
    shapes = {n: tuple(t[n].module.weight.shape) for n in ("conv3", "conv4", "conv5")}
    claimed = {"conv3": (384, 256, 3, 3), "conv4": (384, 192, 3, 3), "conv5": (256, 192, 3, 3)}
    yield _budget_row(sum(i.mult_adds for i in t.values()))
    yield Row("sahu-conv345", "conv3: 384 kernels 3x3x256; conv4: 384 of 3x3x192; conv5: 256 "
              "of 3x3x192", f"{SAHU}, introduction", "python -m minialex summary --variant "
              "paper", "; ".join(f"{n} {s}" for n, s in shapes.items()),
              _verdict(shapes == claimed), "weights are (kernels, depth, height, width); "
              "depth 192 = 384 / 2 towers")


def _order_row(order: list[str]) -> Iterator[Row]:
    """Sarkar and Tambat's table (lines 22-23) puts Max Pool #1 before Norm #1."""
    from minialex import backend, tensor
    from minialex.functional import local_response_norm, max_pool2d

    host = backend.np  # host arrays whatever the default backend (about 1 MB)
    rng = host.random.default_rng(0)
    acts = tensor((20.0 * host.maximum(rng.standard_normal((1, 96, 55, 55)), 0.0))
                  .astype(host.float32))  # ReLU outputs at a raw-pixel scale
    paper_way = max_pool2d(local_response_norm(acts), 3, 2).numpy()
    table_way = local_response_norm(max_pool2d(acts, 3, 2)).numpy()
    diff = float(host.abs(paper_way - table_way).max() / host.abs(paper_way).max())
    yield Row("pool-lrn-order", "block 1 is conv -> max-pool -> normalisation (Norm #1 after "
              "Max Pool #1)", f"{SARKAR}, architecture table", "lesson 07",
              f"the paper's order: {' -> '.join(order)}; the two orders differ by up to "
              f"{diff:.0%} (relative) on a ReLU map of conv1's shape",
              _verdict(order.index("pool1") < order.index("lrn1")),
              "the paper applies LRN after the ReLU and max-pools the normalised maps "
              "(sections 3.3 and 3.5); LRN and max-pooling do not commute")


def _init_row(model: Any) -> Row:
    """The paper's initialisation (section 5), read from the built model."""
    weight_std = [float(layer.weight.data.ravel()[:200_000].std())
                  for _, layer in model.named_children() if hasattr(layer, "weight")]
    biases = {name: float(abs(layer.bias.data).max()) for name, layer in model.named_children()
              if getattr(layer, "bias", None) is not None}
    ones = [n for n in biases if float(getattr(model, n).bias.data.min()) == 1.0 == biases[n]]
    zeros = [n for n, b in biases.items() if b == 0.0]
    return Row("paper-init", "weights from N(0, 0.01); biases 1 in conv2, conv4, conv5 and the "
               "hidden FC layers, 0 elsewhere", f"{PAPER}, section 5", "lesson 15",
               f"weight std {min(weight_std):.4f}-{max(weight_std):.4f}; bias 1 in "
               f"{', '.join(ones)}; 0 in {', '.join(zeros)}",
               _verdict(all(_close(s, 0.01, 0.02) for s in weight_std)
                        and ones == ["conv2", "conv4", "conv5", "fc6", "fc7"]
                        and len(ones) + len(zeros) == len(biases)),
               "biases of 1 start the ReLUs in their active region; lesson 15 measures how "
               "little of the image N(0, 0.01) passes forward")


def _budget_row(forward_macs: int) -> Row:
    """Section 5: batch 128, about 90 epochs of 1.2 million images in five to six days on two
    GTX 580 3GB GPUs. What that implies per second."""
    images, epochs, batch = 1.2e6, 90, 128
    rate = {days: images * epochs / (days * 86_400) for days in (5, 6)}
    work = {days: 3 * forward_macs * r for days, r in rate.items()}  # forward + backward
    return Row("paper-budget", "batch 128, about 90 epochs of 1.2 million images, five to six "
               "days on two GTX 580 3GB GPUs", f"{PAPER}, section 5", HERE,
               f"{images * epochs / batch:,.0f} SGD steps; {rate[6]:.0f}-{rate[5]:.0f} "
               f"images/s ({rate[6] / batch:.1f}-{rate[5] / batch:.1f} steps/s); "
               f"{work[6] / 1e12:.2f}-{work[5] / 1e12:.2f} tera mult-adds/s", NOT_HERE,
               f"arithmetic only: the 2012 GPUs and ImageNet are not here; a training image "
               f"costs about 3x the forward pass's {forward_macs / 1e6:.0f} million mult-adds")


def _notebook_rows() -> Iterator[Row]:
    """The Keras notebook's one-tower table counts no FC biases (lines 46-77)."""
    t = layer_table(alexnet("single", fc_bias=False), (3, 227, 227))
    total = sum(i.params for i in t.values())
    fc_biases = sum(i.module.out_features for i in t.values() if i.kind == "fc")
    yield Row("nb-conv1", "conv1: (11*11*3 + 1) * 96 = 34,944 parameters and 105,705,600 "
              "computations", f"{NOTEBOOK}, parameter table", "python -m minialex summary "
              "--variant single", f"{t['conv1'].params:,} and {t['conv1'].mult_adds_bias:,}",
              _verdict((t["conv1"].params, t["conv1"].mult_adds_bias) == (34_944, 105_705_600)),
              "its 'computations' are mult-adds plus one add per bias")
    yield Row("nb-conv2", "conv2: (5*5*96 + 1) * 256 = 614,656 parameters",
              f"{NOTEBOOK}, parameter table", "python -m minialex summary --variant single",
              f"{t['conv2'].params:,}", _verdict(t["conv2"].params == 614_656),
              "one tower; the paper's groups=2 conv2 has half the weights")
    yield Row("nb-total", "62,369,152 parameters in all", f"{NOTEBOOK}, parameter table",
              "lesson 05", f"{total:,} (one tower, no FC biases)",
              _verdict(total == 62_369_152), f"the table leaves out the {fc_biases:,} FC "
              f"biases; with them {total + fc_biases:,}, a number no source states")
    yield Row("nb-62.3", "62,369,152 = 62.3 million", f"{NOTEBOOK}, parameter table", HERE,
              f"{total / 1e6:.3f} million = {total / 1e6:.1f} million",
              _verdict(f"{total / 1e6:.1f}" == "62.3"),
              f"{total / 1e6:.2f} rounds to {total / 1e6:.1f}: truncated, not rounded")
    conv = sum(i.params for i in t.values() if i.kind == "conv")
    fc = sum(i.params for i in t.values() if i.kind == "fc")
    yield Row("nb-param-share", "conv: 3.7 million (6%), FC: 58.6 million (94%) of the "
              "parameters", f"{NOTEBOOK}, parameter table", "lesson 05",
              f"conv {conv / 1e6:.1f} million ({conv / total:.1%}), FC {fc / 1e6:.1f} "
              f"million ({fc / total:.1%})",
              _verdict((round(conv / 1e5), round(fc / 1e5), round(100 * conv / total))
                       == (37, 586, 6)), "the fully connected layers hold the parameters")
    conv_ops = sum(i.mult_adds_bias for i in t.values() if i.kind == "conv")
    fc_ops = sum(i.mult_adds_bias for i in t.values() if i.kind == "fc")
    yield Row("nb-compute-share", "conv: 1.08 billion (95%), FC: 58.6 million (5%) of the "
              "computation", f"{NOTEBOOK}, parameter table", "lesson 05",
              f"conv {conv_ops / 1e9:.2f} billion ({conv_ops / (conv_ops + fc_ops):.1%}), "
              f"FC {fc_ops / 1e6:.1f} million",
              _verdict(round(conv_ops / 1e7) == 108 and round(100 * conv_ops /
                                                             (conv_ops + fc_ops)) == 95),
              "the convolutions do the work: each weight is reused at every position")
    yield Row("nb-total-compute", "1,135,906,176 = 1.1 billion forward computations",
              f"{NOTEBOOK}, parameter table", "lesson 05", f"{conv_ops + fc_ops:,}",
              _verdict(conv_ops + fc_ops == 1_135_906_176), "sum of the per-layer column")
    # Model explanation, line 23: "96 filters of 11x11 ... a 'same' padding and a stride of 4"
    n, k, s = 227, 11, 4
    out_same = math.ceil(n / s)  # Keras 'same': ceil(n / s) outputs, padding as needed
    pad = max((out_same - 1) * s + k - n, 0)
    (_, checked, _), _, _ = layer_arithmetic(nn.Conv2d(3, 96, k, stride=s, padding=pad // 2),
                                             (3, n, n))
    yield Row("nb-same-padding", "conv1 has 'same' padding, stride 4, and gives 55x55",
              f"{NOTEBOOK}, model explanation", HERE,
              f"'same' at stride 4: ceil(227 / 4) = {out_same} (padding {pad // 2} per side "
              f"gives {checked}); 'valid' gives {t['conv1'].out_shape[1]}",
              _verdict(out_same == 55), "the next paragraph of the notebook says 'valid' and "
              "does the arithmetic with padding 0, which is what gives 55")
    yield Row("nb-6-classes", "the softmax layer has 6 units for 6 classes",
              f"{NOTEBOOK}, model explanation", HERE,
              "its own Keras code ends with Dense(10) and a softmax", SHOWN_WRONG,
              "the text and the code disagree; the notebook never trains, so neither can be "
              "checked further")


def _keras_rows() -> Iterator[Row]:
    """Dutta's printed Keras summary (lines 292-364) and the Keras notebook's (207-218)."""
    model = alexnet("keras-bn")
    t = layer_table(model, (3, 224, 224))
    trainable, frozen = count_params(model)
    yield Row("keras-conv12", "Keras AlexNet at 224: conv1 (54, 54, 96) with 34,944 params, "
              "conv2 (17, 17, 256) with 2,973,952", f"{NOTEBOOK}, model summary; Dutta",
              "lesson 04", f"conv1 {t['conv1'].out_shape}, {t['conv1'].params:,}; conv2 "
              f"{t['conv2'].out_shape}, {t['conv2'].params:,}",
              _verdict((t["conv1"].out_shape, t["conv1"].params, t["conv2"].out_shape,
                        t["conv2"].params) == ((96, 54, 54), 34_944, (256, 17, 17), 2_973_952)),
              "224 gives 54 (floor of 54.25); conv2 is 11x11 valid, 27 - 11 + 1 = 17")
    yield Row("dutta-totals", "Total params 28,096,769; non-trainable 21,136",
              f"{DUTTA}, model summary", "lesson 04", f"{trainable + frozen:,}; {frozen:,}",
              _verdict((trainable + frozen, frozen) == (28_096_769, 21_136)),
              "BatchNorm's running mean and variance count as non-trainable, as in Keras")
    printed = [54, 27, 17, 8, 6, 4, 2, 1]  # Dutta, lines 296-328
    blocks = ("conv1", "pool1", "conv2", "pool2", "conv3", "conv4", "conv5", "pool5")
    try:  # the pooling of the code Dutta prints (line 175)
        sizes, failed = _sizes(layer_table(alexnet("keras-bn", pool="3x3/2"), (3, 224, 224)),
                               blocks), ""
    except LayerError as exc:
        sizes = [r.output_shape[1] for r in exc.records if r.name in blocks]
        failed = exc.layer
    pooled = _sizes(t, blocks)
    yield Row("dutta-pool", "the summary (54, 27, 17, 8, 6, 4, 2, 1) comes from code with "
              "MaxPooling2D(3x3, stride 2)", f"{DUTTA}, code and model summary", "lesson 04",
              f"3x3/2: {', '.join(map(str, sizes))}, then {failed or 'nothing'} cannot fit; "
              f"2x2/2: {', '.join(map(str, pooled))}",
              _verdict(not failed and sizes == printed),
              "the printed shapes are those of 2x2/2 pooling (the Keras notebook's code), or "
              "of 3x3/2 with ceil mode")


def _walkthrough_rows() -> Iterator[Row]:
    """Dutta's layer-by-layer arithmetic (lines 22 and 102) and its evaluation (282-286)."""
    conv1 = (227 - 11) / 4 + (0 * 2)
    yield Row("dutta-conv1", "55 because (227 - 11) / 4 + (0 * 2)", f"{DUTTA}, first layer",
              HERE, f"that expression is {conv1:g}; floor((227 + 2*0 - 11) / 4) + 1 = "
              f"{(227 - 11) // 4 + 1}", _verdict(conv1 == 55), "the + 1 is missing and the "
              "padding is added after the division")
    pool5 = (13 - 3) / 2 + (2 * 0)
    yield Row("dutta-pool5", "pool5 output 5 = (13 - 3) / 2 + (2 * 0)", f"{DUTTA}, eighth layer",
              HERE, f"floor((13 - 3) / 2) + 1 = {(13 - 3) // 2 + 1} (the expression gives "
              f"{pool5:g})", _verdict((13 - 3) // 2 + 1 == 5),
              f"the same missing + 1; with 5 the flattened size would be {5 * 5 * 256:,}, "
              f"not {6 * 6 * 256:,}")
    train, val = 1088, 272  # "Train on 1088 samples, validate on 272 samples"
    yield Row("dutta-test-on-train", "'Test accuracy' from model.evaluate(x, y) after "
              "model.fit(x, y, validation_split=0.2)", f"{DUTTA}, training code", "lesson 13",
              f"evaluate() scores all {train + val:,} images fit() received, "
              f"{train / (train + val):.0%} of them trained on", SHOWN_WRONG,
              "a score on the training data measures fitting, not generalisation; lessons "
              "09 and 13 print train and test accuracy apart")


def _counting_rows() -> Iterator[Row]:
    """Claims settled by counting: kernels, crops, error gaps, the training budget."""
    one = count_params(nn.Conv2d(256, 256, 5))[0]
    two = 2 * count_params(nn.Conv2d(256, 256, 3))[0]
    field = 1 + 2 * (3 - 1)  # each stacked 3x3 widens the window by 2
    yield Row("two-3x3", "two 3x3 filters can replace a 5x5 one, with fewer parameters",
              f"{SARKAR}, drawbacks", "lesson 15",
              f"256 -> 256 channels: {two:,} vs {one:,} parameters ({two / one:.2f}x), "
              f"receptive field {field}x{field}", _verdict(two < one and field == 5),
              "VGGNet's argument; a ReLU between the two 3x3s adds a nonlinearity")
    first, second = 15.3, 26.2
    yield Row("ilsvrc-2012", "top-5 test error 15.3% against 26.2% for the second-best entry "
              "(ILSVRC-2012)", f"{SARKAR}, conclusion; {PAPER}, section 6", HERE,
              f"not measured; the gap is {second - first:.1f} points "
              f"({(second - first) / second:.0%} fewer errors)", NOT_HERE,
              "needs the ImageNet training set, the challenge's test server and about 90 "
              "epochs of a 61-million-parameter network (lesson 12 runs the recipe small)")
    yield Row("sahu-10pct", "around 10% better error rate than the second-best model",
              f"{SAHU}, introduction", HERE, f"26.2 - 15.3 = {second - first:.1f} points",
              _verdict(_close(second - first, 10, 0.15)), "percentage points of top-5 error")
    losses = {"original": 0.852, "tanh": 0.891, "small": 0.883}  # Sahu et al., lines 55-58
    best = min(losses, key=losses.get)
    yield Row("sahu-text-vs-table", "the original-AlexNet overfitted; tanh- and small-AlexNet "
              "produced better results", f"{SAHU}, discussion", "lesson 14",
              f"their own table's lowest loss: {best}-AlexNet {losses[best]}",
              _verdict(best != "original"), "the text contradicts the table beside it; one run "
              "each for undetermined iterations, so the table alone decides nothing either")
    image, crop = 256, 224
    offsets, positions = image - crop, image - crop + 1
    yield Row("augment-2048", "random 224x224 crops of 256x256 images and their flips enlarge "
              "the training set by a factor of 2048", f"{PAPER}, section 4.1", "lesson 10",
              f"{offsets} * {offsets} * 2 = {offsets ** 2 * 2:,}; a {crop} window fits at "
              f"{image} - {crop} + 1 = {positions} positions per axis: {positions} * "
              f"{positions} * 2 = {positions ** 2 * 2:,}", _verdict(positions ** 2 * 2 == 2048),
              f"off by one: 2,048 counts {offsets} offsets per axis, not {positions}")


def _waghmare_rows() -> Iterator[Row]:
    """Waghmare's arithmetic on his own numbers (section 5, lines 76 and 80; 84)."""
    loss1, loss3, loss_end = 1.5002, 0.8336, 0.2046
    acc1, acc3, acc_end = 0.5043, 0.6958, 0.9296
    drop = (loss1 - loss_end) / loss1
    yield Row("w-89pct", "from epoch 1 to the end, an 89 percent decrease of loss",
              f"{WAGHMARE}, research question 3", HERE,
              f"(1.5002 - 0.2046) / 1.5002 = {drop:.1%}", _verdict(round(100 * drop) == 89),
              f"his own numbers give {drop:.0%}")
    yield Row("w-halves", "the loss halves by the third epoch (1.5002 -> 0.8336)",
              f"{WAGHMARE}, research question 3", HERE,
              f"0.8336 / 1.5002 = x{loss3 / loss1:.3f}", _verdict(_close(loss3 / loss1, 0.5,
                                                                        0.05)),
              f"a {1 - loss3 / loss1:.0%} decrease, not a halving")
    yield Row("w-43pct", "accuracy 0.5043 -> 0.9296, a 43 percent increase",
              f"{WAGHMARE}, research question 3", HERE,
              f"+{100 * (acc_end - acc1):.1f} points ({(acc_end - acc1) / acc1:.0%} relative)",
              _verdict(round(100 * (acc_end - acc1)) == 43),
              f"right as percentage points; relative to 0.5043 the increase is "
              f"{(acc_end - acc1) / acc1:.0%}")
    yield Row("w-20pct", "accuracy 0.5043 -> 0.6958 by epoch 3, nearly 20 percent increase",
              f"{WAGHMARE}, research question 3", HERE, f"+{100 * (acc3 - acc1):.1f} points",
              _verdict(_close(100 * (acc3 - acc1), 20, 0.1)), "percentage points again")
    with_loss, without_loss = 2.2425, 1.1393
    yield Row("w-half-loss", "without dropout, nearly half the test loss (1.1393 vs 2.2425)",
              f"{WAGHMARE}, research question 2", HERE,
              f"1.1393 / 2.2425 = {without_loss / with_loss:.3f}",
              _verdict(_close(without_loss / with_loss, 0.5, 0.05)), "his own numbers agree")
    yield Row("w-92pct", "final training accuracy 0.9296: accuracy of 92 percent",
              f"{WAGHMARE}, conclusion", HERE, f"0.9296 = {acc_end:.1%}",
              _verdict(round(100 * acc_end) == 92),
              f"{acc_end:.0%} when rounded; 92 is truncated")


_SECTIONS: tuple[Callable[[], Iterator[Row]], ...] = (
    _paper_rows, _notebook_rows, _keras_rows, _walkthrough_rows, _counting_rows,
    _waghmare_rows)


def arithmetic_rows() -> list[Row]:
    """Every arithmetic row, computed now (a few seconds: the full-size models are built)."""
    return [row for section in _SECTIONS for row in section()]
