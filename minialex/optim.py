"""Optimisers (SGD with the paper's momentum and weight decay, Adam) and learning-rate schedules.

The paper's update rule (Krizhevsky, Sutskever, Hinton 2012, section 5), for a weight w with
gradient g of the loss averaged over the batch, momentum 0.9, weight decay 0.0005::

    v <- 0.9 * v - 0.0005 * lr * w - lr * g
    w <- w + v

PyTorch's ``torch.optim.SGD`` keeps a learning-rate-free buffer instead::

    b <- momentum * b + (g + weight_decay * w)
    w <- w - lr * b

By induction ``v = -lr * b`` at every step as long as lr is constant, so the two produce the
same weights. They differ right after the learning rate changes: the paper's velocity still
carries steps scaled by the old rate and decays into the new one, PyTorch's buffer is
rescaled by the new rate at once. ``SGD`` here follows the paper. Weight decay of this kind is
L2 regularisation folded into the gradient (it is not AdamW's decoupled decay).

All updates happen in place on ``p.data`` under ``no_grad``, so the model, any views of its
arrays and the optimiser stay in sync, and dtypes are kept: hyper-parameters are Python floats,
which never promote a float32 array to float64.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from minialex import backend
from minialex.functional._checks import check_positive_int
from minialex.tensor import Tensor, no_grad

ParamsT = Iterable[Tensor] | Iterable[dict[str, Any]]


class Optimizer:
    """Base class: parameter groups, ``zero_grad``, ``step`` and (de)serialisable state.

    params: an iterable of Parameters, or of dicts ``{"params": [...], "lr": ...}`` (parameter
    groups with their own hyper-parameters, as in PyTorch).
    """

    def __init__(self, params: ParamsT, defaults: dict[str, Any]) -> None:
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        self.defaults = defaults
        self.param_groups: list[dict[str, Any]] = []
        self._params: list[Tensor] = []
        for group in groups:
            unknown = set(group) - set(defaults) - {"params"}
            if unknown:
                raise ValueError(f"{type(self).__name__}: unknown option(s) {sorted(unknown)} "
                                 f"in a parameter group; expected {sorted(defaults)}")
            full = {k: group.get(k, v) for k, v in defaults.items()}
            full["params"] = list(group["params"])
            for p in full["params"]:
                if not isinstance(p, Tensor):
                    raise TypeError(f"{type(self).__name__}: parameters must be Tensors, got "
                                    f"{type(p).__name__}")
                if any(p is q for q in self._params):
                    raise ValueError(f"{type(self).__name__}: a parameter appears twice")
                self._params.append(p)
            self._check_hyper(full)
            self.param_groups.append(full)
        self.state: dict[int, dict[str, Any]] = {}  # parameter index -> its buffers

    def _check_hyper(self, group: dict[str, Any]) -> None:
        if not group["lr"] >= 0.0:
            raise ValueError(f"{type(self).__name__}: lr must be >= 0, got {group['lr']}")
        if not group.get("weight_decay", 0.0) >= 0.0:
            raise ValueError(f"{type(self).__name__}: weight_decay must be >= 0, got "
                             f"{group['weight_decay']}")

    @property
    def lr(self) -> float:
        """The learning rate of the first parameter group."""
        return self.param_groups[0]["lr"]

    @lr.setter
    def lr(self, value: float) -> None:
        for group in self.param_groups:
            group["lr"] = float(value)

    def zero_grad(self) -> None:
        for p in self._params:
            p.grad = None

    def step(self) -> None:
        """Update every parameter that has a gradient, in place."""
        with no_grad():
            i = 0
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        if p.grad.shape != p.data.shape or p.grad.dtype != p.data.dtype:
                            raise ValueError(
                                f"{type(self).__name__}: gradient {p.grad.dtype}{p.grad.shape} "
                                f"does not match parameter {p.data.dtype}{p.data.shape}")
                        state = self.state.setdefault(i, {})
                        self._check_buffers(i, p, state)
                        self._update(p, group, state)
                    i += 1

    def _check_buffers(self, i: int, p: Tensor, state: dict[str, Any]) -> None:
        """Buffers must have their parameter's dtype and device: never promote silently.

        They do not once the model was cast (``model.double()``) or moved (``model.to``)
        after the optimiser took its first step.
        """
        for name, value in state.items():
            if not backend.is_array(value) or value.ndim == 0:
                continue
            have = (value.dtype, backend.device_of(value))
            want = (p.data.dtype, backend.device_of(p.data))
            if have != want:
                raise TypeError(
                    f"{type(self).__name__}: buffer {name!r} of parameter {i} {p.shape} is "
                    f"{have[0]} on {have[1]}, the parameter is {want[0]} on {want[1]}; cast or "
                    "move the model before the first step, or carry the state over with "
                    "opt.load_state_dict(opt.state_dict()), which converts the buffers")

    def _update(self, p: Tensor, group: dict[str, Any], state: dict[str, Any]) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """{"param_groups": hyper-parameters per group, "state": {index: {name: host array}}}."""
        groups = [{k: v for k, v in g.items() if k != "params"} for g in self.param_groups]
        state = {i: {k: backend.to_host(v).copy() if backend.is_array(v) else v
                     for k, v in s.items()} for i, s in self.state.items()}
        return {"param_groups": groups, "state": state}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore hyper-parameters and buffers; buffers go to each parameter's device/dtype.

        Everything is checked (``check_state_dict``) before anything changes.
        """
        groups, new_state = self._converted_state(state_dict)
        for group, saved in zip(self.param_groups, groups, strict=True):
            for k in self.defaults:
                if k in saved:
                    value = saved[k]
                    group[k] = tuple(value) if isinstance(value, (list, tuple)) else value
        self.state = new_state

    def check_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Raise ValueError if ``load_state_dict(state_dict)`` would fail; change nothing."""
        self._converted_state(state_dict)

    def _converted_state(self, state_dict: dict[str, Any]
                         ) -> tuple[list[dict[str, Any]], dict[int, dict[str, Any]]]:
        """(saved groups, new state with buffers on each parameter's device and dtype)."""
        name = f"{type(self).__name__}.load_state_dict"
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(f"{name}: {len(groups)} parameter groups saved, optimiser has "
                             f"{len(self.param_groups)}")
        new_state: dict[int, dict[str, Any]] = {}
        for key, buffers in state_dict["state"].items():
            i = int(key)
            if not 0 <= i < len(self._params):
                raise ValueError(f"{name}: state for parameter {i}, optimiser has "
                                 f"{len(self._params)} parameters")
            p = self._params[i]
            xp = backend.get_array_module(p.data)
            restored = {}
            for buf, value in buffers.items():
                if backend.is_array(value) and value.ndim > 0:
                    if tuple(value.shape) != p.shape:
                        raise ValueError(f"{name}: {buf} of parameter {i} has shape "
                                         f"{tuple(value.shape)}, parameter has {p.shape}")
                    value = xp.asarray(value, dtype=p.dtype).copy()
                elif backend.is_array(value):
                    value = value.item()
                restored[buf] = value
            new_state[i] = restored
        return groups, new_state

    def __repr__(self) -> str:
        hyper = ", ".join(f"{k}={v}" for k, v in self.param_groups[0].items() if k != "params")
        return f"{type(self).__name__}({len(self._params)} parameters, {hyper})"


class SGD(Optimizer):
    """Stochastic gradient descent with the paper's momentum and weight decay.

    v <- momentum * v - weight_decay * lr * w - lr * grad;  w <- w + v.
    The paper: lr 0.01, momentum 0.9, weight_decay 0.0005, batch 128. Matches
    ``torch.optim.SGD`` (same arguments) exactly while lr is constant; see the module docstring.
    """

    buffers_per_param = 1  # the velocity (checkpoint size estimates)

    def __init__(self, params: ParamsT, lr: float, momentum: float = 0.0,
                 weight_decay: float = 0.0) -> None:
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"SGD: momentum must be in [0, 1), got {momentum}")
        super().__init__(params, {"lr": float(lr), "momentum": float(momentum),
                                  "weight_decay": float(weight_decay)})

    def _update(self, p: Tensor, group: dict[str, Any], state: dict[str, Any]) -> None:
        lr, mu, wd = group["lr"], group["momentum"], group["weight_decay"]
        step = lr * p.grad
        if wd:
            step += (wd * lr) * p.data
        if mu == 0.0:
            p.data -= step
            return
        v = state.get("velocity")
        if v is None:
            v = state["velocity"] = -step
        else:
            v *= mu
            v -= step
        p.data += v


class Adam(Optimizer):
    """Adam (Kingma and Ba), as ``torch.optim.Adam``: weight decay is added to the gradient.

    m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2;
    w <- w - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
    """

    buffers_per_param = 2  # m and v (checkpoint size estimates)

    def __init__(self, params: ParamsT, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0) -> None:
        if not all(0.0 <= b < 1.0 for b in betas) or len(betas) != 2:
            raise ValueError(f"Adam: betas must be two numbers in [0, 1), got {betas}")
        if not eps > 0.0:
            raise ValueError(f"Adam: eps must be > 0, got {eps}")
        super().__init__(params, {"lr": float(lr), "betas": (float(betas[0]), float(betas[1])),
                                  "eps": float(eps), "weight_decay": float(weight_decay)})

    def _update(self, p: Tensor, group: dict[str, Any], state: dict[str, Any]) -> None:
        lr, (b1, b2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        xp = backend.get_array_module(p.data)
        g = p.grad + wd * p.data if wd else p.grad
        if "m" not in state:
            state["step"] = 0
            state["m"] = xp.zeros_like(p.data)
            state["v"] = xp.zeros_like(p.data)
        state["step"] += 1
        t, m, v = state["step"], state["m"], state["v"]
        m *= b1
        m += (1.0 - b1) * g
        v *= b2
        v += (1.0 - b2) * (g * g)
        denom = xp.sqrt(v)
        denom /= math.sqrt(1.0 - b2**t)
        denom += eps
        p.data -= (lr / (1.0 - b1**t)) * (m / denom)


class LRScheduler:
    """Base class of learning-rate schedules; ``step()`` once per epoch."""

    needs_metric = False  # True when step() takes the validation metric

    def __init__(self, optimizer: Optimizer) -> None:
        self.optimizer = optimizer
        self.last_epoch = 0

    def get_last_lr(self) -> list[float]:
        return [g["lr"] for g in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if k != "optimizer"}

    def check_state_dict(self, state: dict[str, Any]) -> None:
        """Raise ValueError if ``load_state_dict(state)`` would fail; change nothing."""
        unknown = set(state) - set(vars(self))
        if unknown:
            raise ValueError(f"{type(self).__name__}.load_state_dict: unknown keys "
                             f"{sorted(unknown)}")

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.check_state_dict(state)
        for k, v in state.items():
            setattr(self, k, list(v) if isinstance(v, tuple) else v)


class StepLR(LRScheduler):
    """lr = base_lr * gamma ** (epoch // step_size), as ``torch.optim.lr_scheduler.StepLR``."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        step_size = check_positive_int("StepLR", "step_size", step_size)
        super().__init__(optimizer)
        self.step_size, self.gamma = step_size, float(gamma)
        self.base_lrs = [g["lr"] for g in optimizer.param_groups]

    def step(self, metric: float | None = None) -> None:
        self.last_epoch += 1
        factor = self.gamma ** (self.last_epoch // self.step_size)
        for group, base in zip(self.optimizer.param_groups, self.base_lrs, strict=True):
            group["lr"] = base * factor


class PlateauDivider(LRScheduler):
    """The paper's schedule: divide lr by 10 when the validation error stops improving.

    ``step(error)`` once per epoch with the validation error (lower is better). An epoch
    improves when ``error < best * (1 - threshold)``; after more than ``patience`` epochs in a
    row without improvement lr is multiplied by ``factor`` (never below ``min_lr``) and the
    count restarts. Same rule as ``torch.optim.lr_scheduler.ReduceLROnPlateau`` in "min" mode
    with a relative threshold. The paper divided three times in about 90 epochs.
    """

    needs_metric = True

    def __init__(self, optimizer: Optimizer, factor: float = 0.1, patience: int = 2,
                 threshold: float = 1e-4, min_lr: float = 0.0) -> None:
        if not 0.0 < factor < 1.0:
            raise ValueError(f"PlateauDivider: factor must be in (0, 1), got {factor}")
        if not isinstance(patience, int) or patience < 0:
            raise ValueError(f"PlateauDivider: patience must be an int >= 0, got {patience!r}")
        super().__init__(optimizer)
        self.factor, self.patience = float(factor), patience
        self.threshold, self.min_lr = float(threshold), float(min_lr)
        self.best: float | None = None
        self.bad_epochs = 0

    def step(self, metric: float | None = None) -> None:
        if metric is None:
            raise ValueError("PlateauDivider.step needs the validation error (lower is better)")
        metric = float(metric)
        self.last_epoch += 1
        if self.best is None or metric < self.best * (1.0 - self.threshold):
            self.best, self.bad_epochs = metric, 0
            return
        self.bad_epochs += 1
        if self.bad_epochs > self.patience:
            for group in self.optimizer.param_groups:
                group["lr"] = max(group["lr"] * self.factor, self.min_lr)
            self.bad_epochs = 0
