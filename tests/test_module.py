"""Module, Parameter, Sequential: registration, naming order, modes, state dicts, casting."""

from __future__ import annotations

from collections import OrderedDict

import pytest
from helpers import BACKENDS

import minialex
from minialex import Tensor, backend
from minialex.nn import Module, Parameter, Sequential

np = backend.np


class Scale(Module):
    """y = x * weight + bias, with a step-counter buffer (int) and a running buffer (float)."""

    def __init__(self, n: int = 3, value: float = 2.0) -> None:
        super().__init__()
        self.weight = Parameter(np.full(n, value, dtype=np.float32))
        self.bias = Parameter(np.zeros(n, dtype=np.float32))
        self.register_buffer("running", Tensor(np.zeros(n, dtype=np.float32)))
        self.register_buffer("steps", Tensor(np.zeros((), dtype=np.int64)))
        self.note = "not registered"

    def forward(self, x: Tensor) -> Tensor:
        return x * self.weight + self.bias


class Net(Module):
    def __init__(self) -> None:
        super().__init__()
        self.first = Scale(3, 2.0)
        self.gain = Parameter(np.ones(1, dtype=np.float32))
        self.block = Sequential(Scale(3, 3.0), Sequential(Scale(3, 4.0)))

    def forward(self, x: Tensor) -> Tensor:
        return self.block(self.first(x)) * self.gain


# ------------------------------------------------------------------ registration
def test_parameters_modules_and_buffers_are_registered():
    m = Scale()
    assert [n for n, _ in m.named_parameters()] == ["weight", "bias"]
    assert [n for n, _ in m.named_buffers()] == ["running", "steps"]
    assert m.note == "not registered" and "note" not in dict(m.named_parameters())
    assert all(p.requires_grad for p in m.parameters())
    assert not any(b.requires_grad for b in m.buffers())


def test_named_parameters_order_and_nested_names():
    net = Net()
    # Own parameters first, then children in the order they were assigned (PyTorch's order).
    assert [n for n, _ in net.named_parameters()] == [
        "gain",
        "first.weight", "first.bias",
        "block.0.weight", "block.0.bias",
        "block.1.0.weight", "block.1.0.bias",
    ]
    assert [n for n, _ in net.named_buffers()][:4] == [
        "first.running", "first.steps", "block.0.running", "block.0.steps"]
    assert [n for n, _ in net.named_modules()] == [
        "", "first", "block", "block.0", "block.1", "block.1.0"]
    assert net.num_parameters() == 1 + 3 * 6
    assert net.block[1][0].weight is dict(net.named_parameters())["block.1.0.weight"]


def test_parameter_shares_its_array_and_tensor_copies_it():
    a = np.ones(3, dtype=np.float32)
    tied, also_tied = Parameter(a), Parameter(a)  # like torch.nn.Parameter: no copy
    tied.data[0] = 5.0
    assert also_tied.data[0] == 5.0 and a[0] == 5.0
    own, other = Parameter(minialex.tensor(a)), Parameter(minialex.tensor(a))
    own.data -= 1.0  # an optimiser step
    np.testing.assert_array_equal(other.data, [5.0, 1.0, 1.0])
    np.testing.assert_array_equal(a, [5.0, 1.0, 1.0])


def test_shared_parameter_is_listed_once():
    # Tied weights: an optimiser must see (and step) the shared Parameter only once.
    a, b = Scale(), Scale()
    b.weight = a.weight
    seq = Sequential(a, b)
    assert [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias", "1.bias"]
    assert seq.num_parameters() == 9


def test_reassigning_and_deleting_attributes():
    m = Scale()
    m.bias = None  # no longer a parameter
    assert [n for n, _ in m.named_parameters()] == ["weight"]
    m.bias = Parameter(np.ones(3, dtype=np.float32))
    assert [n for n, _ in m.named_parameters()] == ["weight", "bias"]
    assert isinstance(m.bias, Parameter)  # not shadowed by the earlier plain None
    m.weight = Parameter(np.ones(3, dtype=np.float32))  # replacing keeps the order
    assert [n for n, _ in m.named_parameters()] == ["weight", "bias"]
    m.running = Tensor(np.ones(3, dtype=np.float32))  # a buffer name stays a buffer
    assert [n for n, _ in m.named_buffers()] == ["running", "steps"]
    np.testing.assert_array_equal(m.running.data, np.ones(3))
    del m.weight
    assert [n for n, _ in m.named_parameters()] == ["bias"]
    with pytest.raises(AttributeError, match="weight"):
        _ = m.weight


def test_missing_super_init_is_explained():
    class Broken(Module):
        def __init__(self) -> None:
            self.w = Parameter(np.ones(2))

    with pytest.raises(AttributeError, match=r"super\(\).__init__\(\)"):
        Broken()


def test_forward_must_be_implemented():
    with pytest.raises(NotImplementedError, match="forward"):
        Module()(Tensor([1.0]))


def test_module_call_runs_forward_and_backprop_reaches_parameters():
    net = Net()
    x = Tensor(np.array([1.0, -1.0, 0.5], dtype=np.float32))
    out = net(x)
    # Hand arithmetic: ((x*2)*3)*4 * gain, biases 0.
    np.testing.assert_allclose(out.data, 24 * x.data)
    out.sum().backward()
    np.testing.assert_allclose(net.gain.grad, [24 * x.data.sum()], rtol=1e-6)
    np.testing.assert_allclose(net.first.weight.grad, 12 * x.data, rtol=1e-6)
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


# ------------------------------------------------------------------ modes
def test_train_eval_propagate_to_every_submodule():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.block.train()
    assert net.block[1][0].training and not net.first.training
    net.train()
    assert all(m.training for m in net.modules())


# ------------------------------------------------------------------ state dicts
def test_state_dict_round_trip():
    src = Net()
    for i, p in enumerate(src.parameters()):
        p.data[...] = np.arange(p.size, dtype=np.float32).reshape(p.shape) + i
    src.first.running.data[...] = 7.0
    src.first.steps.data[...] = 5
    state = src.state_dict()
    assert list(state)[:7] == [n for n, _ in src.named_parameters()]
    assert all(isinstance(v, np.ndarray) for v in state.values())
    state["gain"][...] = 100.0  # a copy: editing it leaves the model alone
    assert src.gain.data[0] == 0.0

    dst = Net()
    dst.load_state_dict(src.state_dict())
    for (name, a), (_, b) in zip(src.named_parameters(), dst.named_parameters(), strict=True):
        np.testing.assert_array_equal(a.data, b.data, err_msg=name)
    np.testing.assert_array_equal(dst.first.running.data, [7.0, 7.0, 7.0])
    assert int(dst.first.steps.item()) == 5 and dst.first.steps.dtype == np.int64
    assert dst.gain.dtype == np.float32


def test_load_state_dict_missing_and_unexpected_keys():
    net = Net()
    state = net.state_dict()
    del state["first.bias"]
    with pytest.raises(KeyError, match=r"missing keys \['first.bias'\]"):
        Net().load_state_dict(state)
    state = net.state_dict()
    state["extra.weight"] = np.zeros(2)
    with pytest.raises(KeyError, match=r"unexpected keys \['extra.weight'\]"):
        Net().load_state_dict(state)
    partial = {"gain": np.full(1, 9.0, dtype=np.float32)}
    target = Net()
    target.load_state_dict(partial, strict=False)
    assert target.gain.data[0] == 9.0


def test_load_state_dict_wrong_shape_names_key_and_both_shapes():
    net = Net()
    state = net.state_dict()
    state["block.0.weight"] = np.zeros((4, 3), dtype=np.float32)
    state["gain"] = np.full(1, 5.0, dtype=np.float32)
    before = net.gain.data.copy()
    with pytest.raises(ValueError, match=r"'block.0.weight'.*\(3,\).*\(4, 3\)"):
        net.load_state_dict(state)
    np.testing.assert_array_equal(net.gain.data, before)  # checked before anything is copied


def test_load_state_dict_refuses_a_change_of_dtype_kind():
    net = Net()
    state = net.state_dict()
    state["gain"] = np.full(1, 5, dtype=np.int64)  # an int array into a float32 weight
    with pytest.raises(TypeError, match=r"'gain' is float32, got int64"):
        net.load_state_dict(state)
    state = net.state_dict()
    state["first.steps"] = np.array(5.0)  # a float into the int64 step counter
    with pytest.raises(TypeError, match=r"'first.steps' is int64, got float64"):
        net.load_state_dict(state)
    assert net.gain.data[0] == 1.0 and net.first.steps.dtype == np.int64  # nothing copied


def test_load_state_dict_casts_within_a_kind():
    net = Net()
    state = {k: (v.astype(np.float64) + 0.1 if v.dtype == np.float32 else v.astype(np.int32))
             for k, v in net.state_dict().items()}
    state["gain"] = Tensor(np.array([1.0 / 3.0]))  # a float64 Tensor is accepted too
    net.load_state_dict(state)
    assert net.gain.dtype == np.float32 and net.gain.data[0] == np.float32(1.0 / 3.0)
    assert net.first.steps.dtype == np.int64
    np.testing.assert_array_equal(net.first.weight.data, np.full(3, 2.1, dtype=np.float32))


# ------------------------------------------------------------------ casting and devices
def test_double_and_float_cast_floating_parameters_and_buffers_in_place():
    net = Net()
    weight = net.first.weight
    net(Tensor(np.ones(3, dtype=np.float32))).sum().backward()
    assert net.double() is net
    assert net.first.weight is weight  # same objects: optimiser references stay valid
    assert all(p.dtype == np.float64 for p in net.parameters())
    assert all(p.grad.dtype == np.float64 for p in net.parameters())
    assert net.first.running.dtype == np.float64
    assert net.first.steps.dtype == np.int64  # integer buffers are not floats to cast
    out = net(Tensor(np.ones(3)))
    assert out.dtype == np.float64
    net.float()
    assert all(p.dtype == np.float32 for p in net.parameters())
    assert net.first.running.dtype == np.float32


@pytest.mark.parametrize("xp_name", BACKENDS)
def test_module_to_device(xp_name, xp):
    device = "gpu" if xp_name == "cupy" else "cpu"
    net = Net().to(device)
    assert all(backend.get_array_module(p.data) is xp for p in net.parameters())
    assert all(b.device == device for b in net.buffers())
    state = net.state_dict()
    assert all(isinstance(v, np.ndarray) for v in state.values())  # host copies
    x = Tensor(backend.to_device(np.ones(3, dtype=np.float32), device))
    np.testing.assert_allclose(net(x).numpy(), np.full(3, 24.0))


# ------------------------------------------------------------------ Sequential
def test_sequential_indexing_and_order():
    a, b, c = Scale(2, 2.0), Scale(2, 3.0), Scale(2, 5.0)
    seq = Sequential(a, b, c)
    assert len(seq) == 3
    assert seq[0] is a and seq[-1] is c and seq["1"] is b
    assert list(seq) == [a, b, c]
    assert [n for n, _ in seq.named_children()] == ["0", "1", "2"]
    x = Tensor(np.array([1.0, -2.0], dtype=np.float32))
    np.testing.assert_allclose(seq(x).data, 30 * x.data)
    with pytest.raises(IndexError):
        seq[3]


def test_sequential_from_ordered_dict_and_append():
    seq = Sequential(OrderedDict([("conv", Scale(2, 2.0)), ("fc", Scale(2, 3.0))]))
    assert [n for n, _ in seq.named_parameters()] == [
        "conv.weight", "conv.bias", "fc.weight", "fc.bias"]
    assert seq["fc"] is seq[1] and seq.fc is seq[1]
    seq.append(Scale(2, 1.0))
    assert [n for n, _ in seq.named_children()] == ["conv", "fc", "2"]
    text = repr(seq)
    assert "(conv): Scale" in text and "(2): Scale" in text
