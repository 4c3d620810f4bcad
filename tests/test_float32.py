"""float32 stays float32: no op of a float32 AlexNet promotes anything to float64.

Every array an op produces (forward outputs) and every gradient handed to
``accumulate_grad`` (backward) is recorded while small AlexNets run one training step; all
must be float32.
A float64 leak (an np.float64 scalar, a float64 helper array) would double memory traffic
and silently change the numbers.
"""

from __future__ import annotations

import pytest

import minialex.functional as F
from minialex import Tensor, backend
from minialex.models import alexnet

np = backend.np


@pytest.fixture()
def recorded_dtypes(monkeypatch):
    """(what, op name, dtype) for every op output and every accumulated gradient."""
    seen: list[tuple[str, str, object]] = []
    from_op, accumulate_grad = Tensor.from_op, Tensor.accumulate_grad

    def spy_from_op(data, parents, backward, op=""):
        seen.append(("output", op, data.dtype))
        return from_op(data, parents, backward, op=op)

    def spy_accumulate_grad(self, g, *, owned=False):
        seen.append(("gradient", self._op or "leaf", g.dtype))
        return accumulate_grad(self, g, owned=owned)

    monkeypatch.setattr(Tensor, "from_op", staticmethod(spy_from_op))
    monkeypatch.setattr(Tensor, "accumulate_grad", spy_accumulate_grad)
    return seen


@pytest.mark.parametrize("variant, options, shape, batch", [
    ("cifar-small", dict(lrn=True), (3, 32, 32), 2),             # conv, pool, LRN, dropout, fc
    ("cifar-small", dict(activation="tanh"), (3, 32, 32), 2),
    ("keras-bn", dict(num_classes=5), (3, 224, 224), 2),          # BatchNorm 2-D and 1-D
    ("torchvision", dict(num_classes=5), (3, 64, 64), 2),         # adaptive average pool
    ("paper", dict(num_classes=5), (3, 227, 227), 1),             # groups=2, LRN
])
def test_float32_alexnet_step_has_only_float32_arrays(recorded_dtypes, variant, options, shape,
                                                     batch):
    backend.manual_seed(0)
    model = alexnet(variant, input_shape=shape, **options)
    x = Tensor(np.random.default_rng(0).standard_normal((batch, *shape)).astype(np.float32))
    target = np.arange(batch) % 5
    loss = F.cross_entropy(model(x), target)
    loss.backward()
    assert loss.dtype == np.float32
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None for g in grads)
    assert {g.dtype for g in grads} == {np.dtype(np.float32)}
    assert {b.dtype for b in model.buffers()} <= {np.dtype(np.float32)}
    leaks = {(what, op) for what, op, dtype in recorded_dtypes if dtype != np.float32}
    assert not leaks, f"float64 (or other) arrays from: {sorted(leaks)}"
    assert any(what == "gradient" for what, _, _ in recorded_dtypes)


def test_recorder_catches_a_float64_leak(recorded_dtypes):
    """The spy sees an op that returns float64 (so the test above can fail)."""
    x = Tensor(np.ones((2, 3), dtype=np.float32), requires_grad=True)
    leaked = Tensor.from_op(x.data.astype(np.float64), (x,), lambda g: None, op="leaky")
    assert ("output", "leaky", np.dtype(np.float64)) in recorded_dtypes
    assert leaked.dtype == np.float64
