"""Optimisers and schedules: hand-computed steps, torch.optim as an oracle, state round trips."""

from __future__ import annotations

import math

import pytest
from helpers import requires_cupy

from minialex import backend
from minialex.nn import Parameter
from minialex.optim import SGD, Adam, PlateauDivider, StepLR

np = backend.np


def _param(values, dtype=np.float32):
    return Parameter(np.asarray(values, dtype=dtype))


def _grad_fn(w):
    """A fixed nonlinear 'loss' gradient, so successive steps see different gradients."""
    return np.sin(3.0 * w) + 0.5 * w


# ---------------------------------------------------------------------------- SGD
def test_sgd_plain_step_by_hand():
    p = _param([1.0, -2.0])
    p.grad = np.array([0.5, 0.25], np.float32)
    SGD([p], lr=0.1).step()
    assert np.allclose(p.data, [0.95, -2.025])


def test_sgd_paper_rule_by_hand():
    # v <- 0.9 v - 0.0005 * lr * w - lr * g;  w <- w + v, lr = 0.01
    p = _param([2.0])
    opt = SGD([p], lr=0.01, momentum=0.9, weight_decay=0.0005)
    p.grad = np.array([1.0], np.float32)
    opt.step()
    v1 = -0.0005 * 0.01 * 2.0 - 0.01 * 1.0  # -0.01001
    assert p.data[0] == pytest.approx(2.0 + v1, abs=1e-7)
    w1 = 2.0 + v1
    p.grad = np.array([-3.0], np.float32)
    opt.step()
    v2 = 0.9 * v1 - 0.0005 * 0.01 * w1 - 0.01 * -3.0
    assert p.data[0] == pytest.approx(w1 + v2, abs=1e-7)
    assert opt.state[0]["velocity"][0] == pytest.approx(v2, abs=1e-8)


def test_sgd_skips_parameters_without_gradient_and_keeps_dtype():
    a, b = _param([1.0]), _param([1.0, 2.0], np.float64)
    a.grad = None
    b.grad = np.array([1.0, 1.0])
    SGD([a, b], lr=0.5, momentum=0.9, weight_decay=0.1).step()
    assert a.data[0] == 1.0 and a.dtype == np.float32
    assert b.dtype == np.float64 and np.allclose(b.data, [1.0 - 0.5 - 0.05, 2.0 - 0.5 - 0.1])
    c = _param([1.0])
    c.grad = np.array([1.0], np.float32)
    SGD([c], lr=0.1, momentum=0.9, weight_decay=5e-4).step()
    assert c.data.dtype == np.float32 and c.grad.dtype == np.float32


@pytest.mark.torch
def test_sgd_matches_torch_while_lr_is_constant_and_differs_after_a_change(torch):
    w0 = np.random.default_rng(0).normal(size=(4, 3))
    ours = _param(w0, np.float64)
    ref = torch.nn.Parameter(torch.tensor(w0))
    opt = SGD([ours], lr=0.05, momentum=0.9, weight_decay=0.0005)
    topt = torch.optim.SGD([ref], lr=0.05, momentum=0.9, weight_decay=0.0005)
    for _ in range(6):
        ours.grad = _grad_fn(ours.data)
        ref.grad = torch.tensor(_grad_fn(ref.detach().numpy()))
        opt.step()
        topt.step()
    assert np.allclose(ours.data, ref.detach().numpy(), rtol=0, atol=1e-12)
    # Divide lr by 10: the paper's velocity keeps the old scale, torch's buffer does not.
    opt.lr = 0.005
    topt.param_groups[0]["lr"] = 0.005
    v = opt.state[0]["velocity"].copy()
    w = ours.data.copy()
    ours.grad = _grad_fn(ours.data)
    ref.grad = torch.tensor(_grad_fn(ref.detach().numpy()))
    opt.step()
    topt.step()
    expected = w + (0.9 * v - 0.0005 * 0.005 * w - 0.005 * _grad_fn(w))  # paper, by hand
    assert np.allclose(ours.data, expected, atol=1e-12)
    assert not np.allclose(ours.data, ref.detach().numpy(), atol=1e-6)


# ---------------------------------------------------------------------------- Adam
def test_adam_first_step_by_hand():
    # Step 1: m_hat = g, v_hat = g^2, so w moves by lr * g / (|g| + eps): lr * sign(g).
    p = _param([1.0, -1.0, 0.5])
    p.grad = np.array([2.0, -0.001, 30.0], np.float32)
    Adam([p], lr=0.01, eps=1e-8).step()
    assert np.allclose(p.data, [0.99, -0.99, 0.49], atol=1e-6)


def test_adam_second_step_by_hand():
    p = _param([0.0], np.float64)
    opt = Adam([p], lr=0.1, betas=(0.5, 0.75), eps=0.0 + 1e-12)
    p.grad = np.array([1.0])
    opt.step()
    p.grad = np.array([3.0])
    opt.step()
    m = 0.5 * 0.5 * 1.0 + 0.5 * 3.0  # 1.75
    v = 0.75 * 0.25 * 1.0 + 0.25 * 9.0  # 2.4375
    m_hat, v_hat = m / (1 - 0.5**2), v / (1 - 0.75**2)
    assert p.data[0] == pytest.approx(-0.1 - 0.1 * m_hat / math.sqrt(v_hat), rel=1e-9)


@pytest.mark.torch
def test_adam_matches_torch(torch):
    w0 = np.random.default_rng(1).normal(size=(5,))
    ours = _param(w0, np.float64)
    ref = torch.nn.Parameter(torch.tensor(w0))
    opt = Adam([ours], lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.01)
    topt = torch.optim.Adam([ref], lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.01)
    for _ in range(10):
        ours.grad = _grad_fn(ours.data)
        ref.grad = torch.tensor(_grad_fn(ref.detach().numpy()))
        opt.step()
        topt.step()
    assert np.allclose(ours.data, ref.detach().numpy(), rtol=0, atol=1e-12)


def test_adam_keeps_float32():
    p = _param(np.ones((2, 2)))
    p.grad = np.full((2, 2), 0.1, np.float32)
    opt = Adam([p], weight_decay=0.1)
    opt.step()
    assert p.dtype == np.float32 and opt.state[0]["m"].dtype == np.float32


# ---------------------------------------------------------------------------- state
@pytest.mark.parametrize("make", [lambda ps: SGD(ps, lr=0.1, momentum=0.9, weight_decay=1e-3),
                                  lambda ps: Adam(ps, lr=0.05)])
def test_optimizer_state_round_trip_continues_identically(make):
    w0 = np.random.default_rng(2).normal(size=(3,)).astype(np.float32)
    a = _param(w0)
    opt_a = make([a])
    for _ in range(3):
        a.grad = _grad_fn(a.data).astype(np.float32)
        opt_a.step()
    state = opt_a.state_dict()
    b = _param(a.data.copy())
    opt_b = make([b])
    opt_b.load_state_dict(state)
    for _ in range(3):
        a.grad = _grad_fn(a.data).astype(np.float32)
        b.grad = _grad_fn(b.data).astype(np.float32)
        opt_a.step()
        opt_b.step()
    assert np.array_equal(a.data, b.data)


def test_optimizer_state_mismatch_is_reported():
    a = _param([1.0, 2.0])
    opt = SGD([a], lr=0.1, momentum=0.9)
    a.grad = np.ones(2, np.float32)
    opt.step()
    other = SGD([_param([1.0, 2.0, 3.0])], lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match="shape"):
        other.load_state_dict(opt.state_dict())


@pytest.mark.parametrize("make, buffer", [
    (lambda ps: SGD(ps, lr=0.1, momentum=0.9), "velocity"),
    (lambda ps: Adam(ps, lr=0.1), "m")])
def test_state_of_a_model_cast_after_a_step_is_refused_not_promoted(make, buffer):
    from minialex.nn import Linear

    model = Linear(3, 2)
    opt = make(model.parameters())
    for p in model.parameters():
        p.grad = np.ones(p.shape, np.float32)
    opt.step()
    model.double()  # the weights become float64, the buffers are still float32
    w = model.weight.data.copy()
    for p in model.parameters():
        p.grad = np.ones(p.shape, np.float64)
    with pytest.raises(TypeError, match=rf"{buffer}.*parameter 0 \(2, 3\) is float32 on cpu.*"
                                        "parameter is float64 on cpu"):
        opt.step()
    assert np.array_equal(model.weight.data, w)  # refused before any update
    # the documented way out converts the buffers explicitly
    opt.load_state_dict(opt.state_dict())
    opt.step()
    assert opt.state[0][buffer].dtype == np.float64 and model.weight.data.dtype == np.float64
    assert not np.array_equal(model.weight.data, w)


@requires_cupy
@pytest.mark.cupy
def test_state_of_a_model_moved_after_a_step_is_refused():
    from minialex.nn import Linear

    model = Linear(3, 2)
    opt = SGD(model.parameters(), lr=0.1, momentum=0.9)
    for p in model.parameters():
        p.grad = np.ones(p.shape, np.float32)
    opt.step()
    model.to("gpu")  # the weights move, the velocity stays on the host
    for p in model.parameters():
        p.grad = backend.to_device(np.ones(p.shape, np.float32), "gpu")
    with pytest.raises(TypeError, match="velocity.*float32 on cpu.*float32 on gpu"):
        opt.step()


def test_optimizer_argument_errors_and_zero_grad():
    p = _param([1.0])
    with pytest.raises(ValueError, match="empty"):
        SGD([], lr=0.1)
    with pytest.raises(ValueError, match="lr"):
        SGD([p], lr=-1.0)
    with pytest.raises(ValueError, match="momentum"):
        SGD([p], lr=0.1, momentum=1.0)
    with pytest.raises(ValueError, match="betas"):
        Adam([p], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="twice"):
        SGD([p, p], lr=0.1)
    p.grad = np.ones(1, np.float32)
    SGD([p], lr=0.1).zero_grad()
    assert p.grad is None


def test_parameter_groups():
    a, b = _param([1.0]), _param([1.0])
    opt = SGD([{"params": [a]}, {"params": [b], "lr": 1.0}], lr=0.1)
    a.grad = b.grad = np.ones(1, np.float32)
    opt.step()
    assert a.data[0] == pytest.approx(0.9) and b.data[0] == pytest.approx(0.0)


# ---------------------------------------------------------------------------- schedules
@pytest.mark.torch
def test_step_lr_by_hand_and_against_torch(torch):
    opt = SGD([_param([1.0])], lr=0.1)
    sched = StepLR(opt, step_size=3, gamma=0.1)
    ref_opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    ref = torch.optim.lr_scheduler.StepLR(ref_opt, step_size=3, gamma=0.1)
    lrs = []
    for _ in range(8):
        lrs.append(opt.lr)
        assert opt.lr == pytest.approx(ref_opt.param_groups[0]["lr"], rel=1e-12)
        sched.step()
        ref_opt.step()
        ref.step()
    assert lrs == pytest.approx([0.1] * 3 + [0.01] * 3 + [0.001] * 2)


def test_plateau_divider_by_hand():
    opt = SGD([_param([1.0])], lr=0.01)
    sched = PlateauDivider(opt, factor=0.1, patience=1)
    errors = [0.5, 0.4, 0.4, 0.41, 0.3, 0.35, 0.36, 0.2]
    # improves, improves, bad(1), bad(2 > 1: divide, reset), improves, bad(1), bad(2: divide)
    expected = [0.01, 0.01, 0.01, 0.001, 0.001, 0.001, 0.0001, 0.0001]
    got = []
    for e in errors:
        sched.step(e)
        got.append(opt.lr)
    assert got == pytest.approx(expected)
    with pytest.raises(ValueError, match="validation error"):
        sched.step()


@pytest.mark.torch
def test_plateau_divider_against_torch(torch):
    opt = SGD([_param([1.0])], lr=0.1)
    sched = PlateauDivider(opt, factor=0.5, patience=2, threshold=1e-3, min_lr=0.01)
    ref_opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    ref = torch.optim.lr_scheduler.ReduceLROnPlateau(ref_opt, mode="min", factor=0.5,
                                                     patience=2, threshold=1e-3,
                                                     threshold_mode="rel", min_lr=0.01)
    errors = np.random.default_rng(4).uniform(0.2, 0.6, 40)
    for e in errors:
        sched.step(e)
        ref.step(float(e))
        assert opt.lr == pytest.approx(ref_opt.param_groups[0]["lr"], rel=1e-12)
    assert opt.lr < 0.1  # the sequence did trigger divisions


def test_scheduler_state_round_trip():
    opt = SGD([_param([1.0])], lr=0.1)
    sched = PlateauDivider(opt, patience=0)
    sched.step(0.5)
    sched.step(0.6)
    state = sched.state_dict()
    opt2 = SGD([_param([1.0])], lr=opt.lr)
    sched2 = PlateauDivider(opt2, patience=0)
    sched2.load_state_dict(state)
    assert sched2.best == 0.5 and sched2.last_epoch == 2
    sched.step(0.7)
    sched2.step(0.7)
    assert opt.lr == opt2.lr == pytest.approx(0.001)
