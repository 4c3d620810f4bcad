"""The layer-rule table: every layer type has one rule, and one entry teaches the trace, the
summary and the PyTorch mirror a new layer."""

from __future__ import annotations

import pytest

import minialex
from minialex import Tensor, backend, nn
from minialex.interop import to_torch
from minialex.nn.rules import LAYER_RULES, LayerRule, describe, layer_kind, register_layer, rule_for

np = backend.np
LAYER_TYPES = [getattr(nn, name) for name in nn.__all__
               if isinstance(getattr(nn, name), type) and issubclass(getattr(nn, name), nn.Module)
               and name not in ("Module", "Sequential")]


def test_every_layer_type_has_a_rule_with_a_torch_twin():
    assert len(LAYER_TYPES) >= 13
    for cls in LAYER_TYPES:
        rule = LAYER_RULES.get(cls)
        assert rule is not None and rule.torch is not None, cls.__name__


class Square(nn.Module):
    """x -> x * x, a layer minialex has no rule for."""

    def forward(self, x):
        return x * x


class WideSquare(Square):
    """A subclass: it inherits the rule of its base class."""


def test_register_layer_is_one_entry(monkeypatch):
    model = nn.Sequential(nn.Conv2d(1, 2, 3), Square(), nn.Flatten())
    before = minialex.trace(model, (1, 5, 5), print=False)
    assert before["1"].arithmetic == "" and describe(model[1]) == "Square"
    monkeypatch.setitem(LAYER_RULES, Square, None)  # undone after the test
    register_layer(Square, LayerRule(lambda m, shape: (shape, "x * x", []),
                                     describe=lambda m: "Square()",
                                     mult_adds=lambda m, shape: (7, 7), kind="other"))
    after = minialex.trace(model, (1, 5, 5), print=False)
    assert after["1"].arithmetic == "x * x" and after["1"].description == "Square()"
    assert minialex.summary(model, (1, 5, 5))["1"].mult_adds == 7
    assert rule_for(WideSquare()) is LAYER_RULES[Square] and layer_kind(WideSquare()) == "other"


@pytest.mark.torch
def test_a_layer_without_a_torch_twin_is_named(torch):
    with pytest.raises(TypeError, match="no PyTorch equivalent known for Square"):
        to_torch(nn.Sequential(Square()))


@pytest.mark.torch
def test_the_torch_mirror_of_every_layer_type_computes_the_same(torch):
    """One model holding each layer type: same weights, same input -> the same output."""
    model = nn.Sequential(
        nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2), nn.BatchNorm2d(6), nn.ReLU(),
        nn.LocalResponseNorm(3, alpha=0.1), nn.MaxPool2d(2, ceil_mode=True),
        nn.AvgPool2d(2, stride=1, padding=1), nn.AdaptiveAvgPool2d((2, 3)), nn.Tanh(),
        nn.Flatten(), nn.Dropout(0.3), nn.Linear(36, 5), nn.BatchNorm1d(5), nn.Sigmoid())
    rng = np.random.default_rng(0)
    for t in list(model.parameters()) + list(model.buffers()):  # BatchNorm statistics too
        t.data = rng.uniform(0.5, 1.5, t.shape).astype(np.float32)
    model.eval()
    x = rng.standard_normal((3, 4, 11, 9)).astype(np.float32)
    mirror = to_torch(model).eval()  # float32, like the model
    with minialex.no_grad(), torch.no_grad():
        ours = model(Tensor(x)).data
        theirs = mirror(torch.from_numpy(x)).numpy()
    assert minialex.rel_error(ours, theirs) < 1e-5
