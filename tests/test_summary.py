"""trace and summary: the arithmetic they print, the numbers they return, and their errors.

Expected values are hand arithmetic, the per-layer table of the "AlexNet" Keras notebook,
and PyTorch's own output sizes (for the shape formula, ceil_mode included).
"""

from __future__ import annotations

from collections import OrderedDict

import pytest
from hypothesis import given
from hypothesis import strategies as st

import minialex
from minialex import backend, nn
from minialex.models import alexnet
from minialex.nn.module import Module, Sequential
from minialex.summary import LayerError, infer_shape, layer_arithmetic, summary, trace

np = backend.np


def small_net(*, batch_norm: bool = False) -> Sequential:
    """3x8x8 -> conv 4@3x3 p1 -> ReLU -> [BN] -> max-pool 2x2/2 -> flatten -> Linear(64, 5)."""
    layers = OrderedDict(conv=nn.Conv2d(3, 4, 3, padding=1), relu=nn.ReLU())
    if batch_norm:
        layers["bn"] = nn.BatchNorm2d(4)
    layers.update(pool=nn.MaxPool2d(2, 2), flatten=nn.Flatten(), fc=nn.Linear(4 * 4 * 4, 5))
    return Sequential(layers)


@pytest.fixture(scope="module")
def single_summary():
    return summary(alexnet("single"), (3, 227, 227))


# --------------------------------------------------------------- numbers by hand
def test_small_model_numbers_by_hand():
    s = summary(small_net(), (3, 8, 8))
    conv = 4 * 3 * 3 * 3 + 4  # 112
    fc = 64 * 5 + 5  # 325
    assert [r.name for r in s.rows] == ["conv", "relu", "pool", "flatten", "fc"]
    assert [r.output_shape for r in s.rows] == [(4, 8, 8), (4, 8, 8), (4, 4, 4), (64,), (5,)]
    assert [r.params for r in s.rows] == [conv, 0, 0, 0, fc]
    assert s["conv"].mult_adds == 8 * 8 * 4 * (3 * 3 * 3)  # 6,912
    assert s["conv"].mult_adds_bias == 6912 + 8 * 8 * 4
    assert s["fc"].mult_adds == 320 and s["fc"].mult_adds_bias == 325
    t = s.totals
    assert (t.total_params, t.trainable_params, t.non_trainable_params) == (437, 437, 0)
    assert t.mult_adds == 6912 + 320 and t.mult_adds_bias == 7168 + 325
    assert t.input_mb == pytest.approx(3 * 8 * 8 * 4 / 1e6)
    assert t.activation_mb == pytest.approx((256 + 256 + 64 + 64 + 5) * 4 / 1e6)
    assert t.param_mb == pytest.approx(437 * 4 / 1e6)
    assert t.conv_param_share == pytest.approx(112 / 437)
    assert t.fc_mult_add_share == pytest.approx(320 / 7232)
    table = str(s)
    for text in ("Layer (type)", "Output Shape", "Param #", "Mult-Adds", "conv (Conv2d)",
                 "(N, 4, 8, 8)", "Total params: 437", "Trainable params: 437",
                 "Non-trainable params: 0", "Total mult-adds: 7,232", "7,493 counting bias"):
        assert text in table, text


def test_batch_norm_running_stats_and_frozen_params_are_non_trainable():
    model = small_net(batch_norm=True)
    model.fc.bias.requires_grad = False  # frozen: counted as non-trainable too (5)
    t = summary(model, (3, 8, 8)).totals
    # BN: gamma, beta trained (8); running mean, running var not (8)
    assert (t.total_params, t.trainable_params, t.non_trainable_params) == (
        437 + 16, 437 + 8 - 5, 8 + 5)
    assert "Non-trainable params: 13 (BatchNorm running" in str(summary(model, (3, 8, 8)))


def test_conv1_mult_adds_of_the_single_tower_network(single_summary):
    assert single_summary["conv1"].mult_adds == 55 * 55 * 96 * (11 * 11 * 3) == 105_415_200
    assert single_summary["conv1"].mult_adds_bias == (11 * 11 * 3 + 1) * 96 * 55 * 55 \
        == 105_705_600


def test_single_tower_reproduces_the_notebook_table(single_summary):
    """The "AlexNet" Keras notebook counts the bias add in convs but not in FC layers."""
    rows = single_summary.rows
    convs = [r.mult_adds_bias for r in rows if r.type == "Conv2d"]
    fcs = [r.mult_adds for r in rows if r.type == "Linear"]
    assert convs == [105_705_600, 448_084_224, 149_585_280, 224_345_472, 149_563_648]
    assert fcs == [37_748_736, 16_777_216, 4_096_000]
    assert sum(convs) + sum(fcs) == 1_135_906_176  # "1.1 billion"
    t = single_summary.totals
    assert t.total_params == 62_378_344
    assert t.conv_params == 34_944 + 614_656 + 885_120 + 1_327_488 + 884_992  # "3.7 million"
    assert round(100 * t.conv_param_share) == 6  # "Conv ... (6%)"
    assert round(100 * t.conv_mult_add_share) == 95  # "Conv: 1.08 billion (95%)"
    assert t.conv_mult_adds == 1_076_634_144


# --------------------------------------------------------------- the printed arithmetic
def test_trace_prints_the_formula_with_numbers(capsys):
    model = Sequential(OrderedDict(conv1=nn.Conv2d(3, 2, 11, stride=4)))
    result = trace(model, (3, 227, 227))
    printed = capsys.readouterr().out
    assert "conv1" in printed and "Conv2d(3->2, k=11, s=4, p=0)" in printed
    assert "floor((227 + 2*0 - 11) / 4) + 1 = 55" in printed and "-> (N, 2, 55, 55)" in printed
    assert result["conv1"].notes == []
    assert result.lines()[0].startswith("input") and len(result) == 1


def test_non_integer_division_is_flagged(capsys):
    model = Sequential(OrderedDict(conv1=nn.Conv2d(3, 2, 11, stride=4)))
    result = trace(model, (3, 224, 224), print=False)
    assert capsys.readouterr().out == ""
    record = result["conv1"]
    assert record.arithmetic == "floor((224 + 2*0 - 11) / 4) + 1 = floor(53.25) + 1 = 54"
    assert record.output_shape == (2, 54, 54)
    # 213 = 4 * 53 + 1: the windows end one pixel short of the border
    assert record.notes == ["not an integer: 53.25, floored: the last row and column of the "
                            "input are never seen"]
    assert result.notes == [("conv1", record.notes[0])]


@pytest.mark.parametrize("module, size, arithmetic, note", [
    # (10 + 2 - 3) / 2 = 4.5: the skipped column is padding
    (nn.Conv2d(1, 1, 3, stride=2, padding=1), 10, "floor((10 + 2*1 - 3) / 2) + 1 = floor(4.5) "
     "+ 1 = 5", "only padding is skipped"),
    # (11 - 2) / 3 = 3: exact
    (nn.MaxPool2d(2, 3), 11, "floor((11 + 2*0 - 2) / 3) + 1 = 4", None),
    # (12 - 3) / 4 = 2.25: 1 pixel left over
    (nn.MaxPool2d(3, 4), 12, "floor((12 + 2*0 - 3) / 4) + 1 = floor(2.25) + 1 = 3",
     "the last row and column of the input are never seen"),
    # (13 - 3) / 4 = 2.5: 2 pixels left over
    (nn.MaxPool2d(3, 4), 13, "floor((13 + 2*0 - 3) / 4) + 1 = floor(2.5) + 1 = 3",
     "the last 2 rows and columns of the input are never seen"),
    (nn.MaxPool2d(3, 2, ceil_mode=True), 54, "ceil((54 + 2*0 - 3) / 2) + 1 = ceil(25.5) + 1 = 27",
     "rounded up (ceil_mode): the last window runs 1 pixel past the edge"),
    # PyTorch's rule: a last window that would start in the right padding is dropped (-> 3)
    (nn.MaxPool2d(2, 2, 1, ceil_mode=True), 5, "ceil((5 + 2*1 - 2) / 2) + 1 = ceil(2.5) + 1 = 4 "
     "-> 3 (a window starting in the padding is dropped)", "the extra window would start in"),
    # keras-bn's pool5 with 3x3/2 and ceil_mode: a window larger than the 2x2 input still fits
    (nn.MaxPool2d(3, 2, ceil_mode=True), 2, "ceil((2 + 2*0 - 3) / 2) + 1 = ceil(-0.5) + 1 = 1",
     "runs 1 pixel past the edge"),
])
def test_arithmetic_and_notes(module, size, arithmetic, note):
    out, text, notes = layer_arithmetic(module, (1, size, size))
    assert text == arithmetic
    assert (notes == []) if note is None else (note in notes[0])


def test_non_square_inputs_show_both_axes():
    out, text, notes = layer_arithmetic(nn.MaxPool2d(3, 2), (1, 9, 8))
    assert out == (1, 4, 3)
    assert text == "H: floor((9 + 2*0 - 3) / 2) + 1 = 4, W: floor((8 + 2*0 - 3) / 2) + 1 = " \
                   "floor(2.5) + 1 = 3"
    assert notes == ["W: not an integer: 2.5, floored: the last column of the input is never seen"]


@pytest.mark.torch
@given(n=st.integers(1, 40), k=st.integers(1, 7), s=st.integers(1, 5), p_frac=st.integers(0, 3),
       ceil=st.booleans())
def test_pool_arithmetic_matches_pytorch(torch, n, k, s, p_frac, ceil):
    """PyTorch's output size (or its refusal) is the oracle, ceil_mode's last-window rule too."""
    p = min(p_frac, k // 2)  # PyTorch allows padding up to half the window
    try:
        expected = torch.nn.functional.max_pool2d(torch.zeros(1, 1, n, n), k, s, p,
                                                  ceil_mode=ceil).shape[-1]
    except RuntimeError:
        expected = None
    module = nn.MaxPool2d(k, s, p, ceil_mode=ceil)
    if expected is None:
        with pytest.raises(ValueError, match="does not fit"):
            layer_arithmetic(module, (1, n, n))
        return
    out, _, notes = layer_arithmetic(module, (1, n, n))
    assert out == (1, expected, expected)
    assert bool(notes) == ((n + 2 * p - k) % s != 0)


@pytest.mark.torch
@given(n=st.integers(1, 30), k=st.integers(1, 7), s=st.integers(1, 4), p=st.integers(0, 3))
def test_conv_arithmetic_matches_pytorch(torch, n, k, s, p):
    if n + 2 * p < k:
        with pytest.raises(ValueError, match="does not fit"):
            layer_arithmetic(nn.Conv2d(2, 3, k, s, p), (2, n, n))
        return
    expected = torch.nn.functional.conv2d(torch.zeros(1, 2, n, n), torch.zeros(3, 2, k, k),
                                          stride=s, padding=p).shape
    out, _, _ = layer_arithmetic(nn.Conv2d(2, 3, k, s, p), (2, n, n))
    assert out == tuple(expected[1:])


# --------------------------------------------------------------- errors
def test_a_layer_that_cannot_fit_is_named(capsys):
    model = small_net()
    with pytest.raises(LayerError) as info:
        trace(model, (3, 1, 1))
    assert str(info.value).startswith("pool (MaxPool2d(k=2, s=2)) cannot take input "
                                      "(N, 4, 1, 1)")
    assert info.value.layer == "pool"
    assert [r.name for r in info.value.records] == ["conv", "relu"]
    printed = capsys.readouterr().out
    assert "conv " in printed and "error: pool" in printed  # the trace up to the failure


def test_channel_and_feature_mismatches_are_named():
    with pytest.raises(ValueError, match=r"^conv .*expects 3 input channels, got 1"):
        trace(small_net(), (1, 8, 8), print=False)
    with pytest.raises(ValueError, match=r"^fc .*expects 64 input features, got 144"):
        trace(small_net(), (3, 12, 12), print=False)
    with pytest.raises(ValueError, match=r"^pool"):
        infer_shape(small_net(), (3, 1, 1))
    assert infer_shape(small_net(), (3, 8, 8)) == (5,)


def test_adaptive_pool_size_in_the_arithmetic():
    # None keeps that input size: 9x6 -> (9, 3), bins of 1x2 (hand arithmetic)
    keep_h = Sequential(OrderedDict(pool=nn.AdaptiveAvgPool2d((None, 3))))
    assert infer_shape(keep_h, (4, 9, 6)) == (4, 9, 3)
    assert infer_shape(Sequential(nn.AdaptiveAvgPool2d(2)), (4, 5, 7)) == (4, 2, 2)
    # an empty output is a named error, as in the functional op (it used to divide by zero)
    bad = Sequential(OrderedDict(pool=nn.AdaptiveAvgPool2d((0, 3))))
    with pytest.raises(LayerError, match=r"^pool .*output size must be at least \(1, 1\), "
                                         r"got \(0, 3\)"):
        infer_shape(bad, (4, 9, 6))


def test_trace_checks_the_layer_against_the_formula():
    class LazyPool(nn.MaxPool2d):
        def forward(self, x):  # a broken layer: forgets to pool
            return x

    model = Sequential(OrderedDict(pool=LazyPool(2, 2)))
    with pytest.raises(RuntimeError, match=r"pool .*formula gives \(N, 1, 2, 2\).*\(N, 1, 4, 4\)"):
        trace(model, (1, 4, 4), print=False)


def test_trace_leaves_the_model_as_it_was():
    model = small_net(batch_norm=True)
    before = model.bn.running_mean.data.copy()
    trace(model, (3, 8, 8), print=False)
    with pytest.raises(ValueError):
        trace(model, (3, 1, 1), print=False)
    assert all(m.training for m in model.modules())  # eval() only during the trace
    assert not any("forward" in m.__dict__ for m in model.modules())
    np.testing.assert_array_equal(model.bn.running_mean.data, before)  # eval: no update
    model.eval()
    trace(model, (3, 8, 8), print=False)
    assert not any(m.training for m in model.modules())


def test_layers_without_a_rule_are_traced_by_running_them():
    class Double(Module):
        def forward(self, x):
            return x * 2.0

    model = Sequential(OrderedDict(conv=nn.Conv2d(1, 2, 3), double=Double()))
    result = trace(model, (1, 5, 5), print=False)
    assert result["double"].output_shape == (2, 3, 3) and result["double"].type == "Double"


def test_package_exports_the_functions():
    assert minialex.trace is trace and minialex.summary is summary
    assert callable(minialex.summary)
