"""Tensor: an array plus the graph that produced it, and reverse-mode autograd.

Each op computes its forward value and defines a ``_backward(g)`` closure right beside it
(micrograd style): ``g`` is dL/d(output), and the closure hands each input its gradient with
``input.accumulate_grad``; ``Tensor.from_op`` records the node. Both are public, so your own
ops look like minialex's. Closures take ``g`` instead of reading ``out.grad``, so a node and
its closure do not reference each other: no cycles, activations are freed with the graph.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from minialex import backend

_grad_enabled = True


@contextlib.contextmanager
def no_grad() -> Iterator[None]:
    """Context in which ops record no graph (evaluation, optimiser updates)."""
    global _grad_enabled
    previous, _grad_enabled = _grad_enabled, False
    try:
        yield
    finally:
        _grad_enabled = previous


def is_grad_enabled() -> bool:
    return _grad_enabled


def _to_array(data: Any, dtype: Any = None) -> Any:
    """Arrays keep their dtype and device; Python numbers and lists become float32."""
    if isinstance(data, Tensor):
        data = data.data
    if backend.is_array(data):
        return data if dtype is None else data.astype(dtype, copy=False)
    if isinstance(data, backend.np.generic):  # a NumPy scalar is host data; keeps its dtype
        return backend.np.asarray(data, dtype=dtype)
    return backend.xp().asarray(data, dtype=dtype or backend.np.float32)


def unbroadcast(g: Any, shape: tuple[int, ...]) -> Any:
    """Sum ``g`` over the axes that broadcasting added or stretched, back to ``shape``."""
    if g.shape == tuple(shape):
        return g
    extra = g.ndim - len(shape)
    if extra > 0:
        g = g.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if stretched:
        g = g.sum(axis=stretched, keepdims=True)
    return g.reshape(shape)


class Tensor:
    """An n-dimensional array that records the ops applied to it.

    ``data`` is a numpy or cupy array; ``grad`` (same shape) is filled by ``backward()``
    for tensors with ``requires_grad=True``. Leaf gradients accumulate across backward
    calls (call ``zero_grad()`` between steps); intermediate gradients are freed once used
    unless ``retain_grad()`` was called.

    ``Tensor(array)`` wraps the array without copying it (like ``torch.from_numpy``): writes
    through either one show in the other, and two Tensors built from one array are tied.
    ``dtype`` casts only when it differs. Use ``minialex.tensor(...)`` for an independent copy.
    """

    __array_priority__ = 1000  # ndarray <op> Tensor defers to Tensor's reflected operator

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        self.data = _to_array(data, dtype)
        self.requires_grad = bool(requires_grad)
        self.grad: Any = None
        self.name: str | None = None
        self._prev: tuple[Tensor, ...] = ()
        self._backward: Callable[[Any], None] | None = None
        self._op = ""
        self._retain = False

    # ------------------------------------------------------------------ writing an op
    @staticmethod
    def from_op(data: Any, parents: tuple[Tensor, ...], backward: Callable[[Any], None],
                op: str = "") -> Tensor:
        """The output of an op: ``data`` wrapped in a Tensor that remembers how it was made.

        data: the forward result (an array); parents: the input Tensors it was computed from;
        backward(g): given g = dL/d(output), shaped like ``data``, calls
        ``parent.accumulate_grad(dL/d(parent))`` for each parent, and must not reference the
        output Tensor. ``op`` names the node. The graph is recorded only when a parent
        requires a gradient, outside ``no_grad()``. Template: ``help(minialex.functional)``.
        """
        if not isinstance(parents, (tuple, list)) or not all(isinstance(p, Tensor)
                                                             for p in parents):
            raise TypeError(f"from_op(op={op!r}): parents must be a tuple of Tensors, e.g. "
                            f"(x,) or (x, w), got {type(parents).__name__}")
        if not callable(backward):
            raise TypeError(f"from_op(op={op!r}): backward must be a function backward(g), "
                            f"got {type(backward).__name__}; the order is "
                            "from_op(data, parents, backward, op=name)")
        parents = tuple(parents)
        out = Tensor(data)
        if _grad_enabled and any(p.requires_grad for p in parents):
            out.requires_grad = True
            out._prev = parents
            out._backward = backward
            out._op = op
        return out

    def accumulate_grad(self, g: Any, *, owned: bool = False) -> None:
        """Add the gradient ``g`` (an array shaped like this tensor) to ``self.grad``.

        Ops call it from their backward closure; a tensor that does not require a gradient
        ignores it, and gradients add up when a tensor feeds several ops. ``owned=True``
        promises that ``g`` is a fresh array made for this input alone, so a leaf keeps it
        instead of copying it (for AlexNet's 61M parameters, 244 MB of copies per step).
        """
        if not self.requires_grad:
            return
        if g.shape != self.data.shape:
            made_by = f" (output of {self._op!r})" if self._op else ""
            raise RuntimeError(f"gradient shape {g.shape} does not match tensor shape "
                               f"{self.shape}{made_by}")
        if backend.device_of(g) != self.device:
            made_by = f" (output of {self._op!r})" if self._op else ""
            raise RuntimeError(f"gradient on {backend.device_of(g)} for a tensor on "
                               f"{self.device}{made_by}: a backward must return gradients on "
                               "its input's device")
        if self.grad is None:
            # Ops may hand the same array to several inputs (x + y); a leaf owns a copy so
            # an in-place update of one .grad (weight decay, clipping) cannot change another.
            self.grad = g.copy() if self.is_leaf and not owned else g
        elif self.is_leaf and self.grad.dtype == g.dtype:
            self.grad += g  # a leaf's .grad is its own array: add in place, as PyTorch does
        else:
            self.grad = self.grad + g

    @property
    def is_leaf(self) -> bool:
        return self._backward is None

    def retain_grad(self) -> Tensor:
        """Keep this intermediate tensor's ``.grad`` after backward (for inspection)."""
        self._retain = True
        return self

    def _topological_order(self) -> list[Tensor]:
        """Nodes that need a gradient, inputs before outputs; iterative, so depth is unlimited."""
        order: list[Tensor] = []
        visited: set[int] = set()
        stack: list[tuple[Tensor, bool]] = [(self, False)]
        while stack:
            node, children_done = stack.pop()
            if children_done:
                order.append(node)
                continue
            if id(node) in visited:
                continue
            visited.add(id(node))
            stack.append((node, True))
            for parent in node._prev:
                if parent.requires_grad and id(parent) not in visited:
                    stack.append((parent, False))
        return order

    def backward(self, grad: Any = None) -> None:
        """Backpropagate from this tensor; ``grad`` defaults to 1 for a scalar."""
        if not self.requires_grad:
            raise RuntimeError("backward() on a tensor that does not require grad "
                               "(no input had requires_grad=True, or it was made under no_grad)")
        xp = backend.get_array_module(self.data)
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(f"backward() without a gradient needs a scalar output, "
                                   f"got shape {self.shape}; pass grad= of that shape")
            grad = xp.ones_like(self.data)
        else:
            grad = _to_array(grad, self.dtype)
            if grad.shape != self.data.shape:
                raise ValueError(f"backward(grad): expected shape {self.shape}, got {grad.shape}")
        if self.is_leaf:
            self.accumulate_grad(grad)
            return
        order = self._topological_order()
        # A retained .grad from an earlier backward() must not be propagated again: this
        # pass collects fresh gradients and adds the kept ones back afterwards.
        kept: dict[int, Any] = {}
        for node in order:
            if not node.is_leaf:
                if node._retain and node.grad is not None:
                    kept[id(node)] = node.grad
                node.grad = None
        self.grad = grad
        for node in reversed(order):
            if node.is_leaf:
                continue
            g = node.grad
            if g is not None:
                node._backward(g)
            if not node._retain:
                node.grad = None  # intermediate gradients are transient
            elif id(node) in kept:
                node.grad = kept[id(node)] if g is None else kept[id(node)] + g

    # ------------------------------------------------------------------ conveniences
    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.data.shape)

    @property
    def dtype(self) -> Any:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return int(self.data.size)

    @property
    def device(self) -> str:
        return backend.device_of(self.data)

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        grad = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor({backend.to_host(self.data)!r}{grad})"

    def numpy(self) -> Any:
        """The data as a host NumPy array (copied from the GPU when needed)."""
        return backend.to_host(self.data)

    def item(self) -> float:
        return self.numpy().item()

    def detach(self) -> Tensor:
        """Same data, cut from the graph."""
        return Tensor(self.data)

    def zero_grad(self) -> None:
        self.grad = None

    def requires_grad_(self, flag: bool = True) -> Tensor:
        self.requires_grad = flag
        return self

    def astype(self, dtype: Any) -> Tensor:
        """Explicit dtype cast (ops never promote silently); differentiable."""
        src = self.dtype
        out_data = self.data.astype(dtype)

        def _backward(g: Any) -> None:
            self.accumulate_grad(g.astype(src))
        return Tensor.from_op(out_data, (self,), _backward, op="astype")

    def float(self) -> Tensor:
        return self.astype(backend.np.float32)

    def double(self) -> Tensor:
        return self.astype(backend.np.float64)

    def to(self, device: str) -> Tensor:
        """Copy to "cpu" (NumPy) or "gpu" (CuPy); gradients flow back across devices."""
        src = self.device
        out_data = backend.to_device(self.data, device)

        def _backward(g: Any) -> None:
            self.accumulate_grad(backend.to_device(g, src))
        return Tensor.from_op(out_data, (self,), _backward, op=f"to({device})")

    # ------------------------------------------------------------------ operand handling
    def _lift(self, other: Any, op: str) -> Tensor:
        """Turn ``other`` into a Tensor; scalars take this tensor's dtype, dtypes must match."""
        if not isinstance(other, Tensor):
            if backend.is_array(other):
                other = Tensor(other)
            else:
                xp = backend.get_array_module(self.data)
                floating = xp.issubdtype(self.dtype, xp.floating)
                other = Tensor(xp.asarray(other, dtype=self.dtype if floating else None))
        if other.dtype != self.dtype:
            raise TypeError(f"{op}: mixed dtypes {self.dtype} and {other.dtype}; cast one "
                            f"explicitly (.float() / .double()), minialex never promotes silently")
        if other.device != self.device:
            raise ValueError(f"{op}: operands on different devices ({self.device} {self.shape} "
                             f"and {other.device} {other.shape}); move one with .to('cpu') or "
                             ".to('gpu')")
        return other

    # ------------------------------------------------------------------ arithmetic
    def __add__(self, other: Any) -> Tensor:
        other = self._lift(other, "add")

        def _backward(g: Any) -> None:
            self.accumulate_grad(unbroadcast(g, self.shape))
            other.accumulate_grad(unbroadcast(g, other.shape))
        return Tensor.from_op(self.data + other.data, (self, other), _backward, op="+")

    def __mul__(self, other: Any) -> Tensor:
        other = self._lift(other, "mul")

        def _backward(g: Any) -> None:
            if self.requires_grad:
                self.accumulate_grad(unbroadcast(g * other.data, self.shape))
            if other.requires_grad:
                other.accumulate_grad(unbroadcast(g * self.data, other.shape))
        return Tensor.from_op(self.data * other.data, (self, other), _backward, op="*")

    def __truediv__(self, other: Any) -> Tensor:
        other = self._lift(other, "div")

        def _backward(g: Any) -> None:
            if self.requires_grad:
                self.accumulate_grad(unbroadcast(g / other.data, self.shape))
            if other.requires_grad:
                other.accumulate_grad(unbroadcast(-g * self.data / other.data**2, other.shape))
        return Tensor.from_op(self.data / other.data, (self, other), _backward, op="/")

    def __pow__(self, exponent: float) -> Tensor:
        if isinstance(exponent, Tensor) or backend.is_array(exponent):
            raise TypeError("Tensor ** x supports a Python number exponent only")
        if isinstance(exponent, backend.np.generic):
            exponent = exponent.item()  # an np.float64 exponent would promote float32 data

        def _backward(g: Any) -> None:
            self.accumulate_grad(g * exponent * self.data ** (exponent - 1))
        return Tensor.from_op(self.data**exponent, (self,), _backward, op=f"**{exponent}")

    def __neg__(self) -> Tensor:
        def _backward(g: Any) -> None:
            self.accumulate_grad(-g)
        return Tensor.from_op(-self.data, (self,), _backward, op="neg")

    def __matmul__(self, other: Any) -> Tensor:
        other = self._lift(other, "matmul")
        a, b = self.data, other.data
        # Treat 1-D operands as a row (left) / column (right) matrix, as numpy does.
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        out2 = a2 @ b2
        shape2 = out2.shape
        dropped = ((-2,) if a.ndim == 1 else ()) + ((-1,) if b.ndim == 1 else ())
        out_data = out2.squeeze(axis=dropped) if dropped else out2

        def _backward(g: Any) -> None:
            g2 = g.reshape(shape2)  # put back the axes that 1-D operands dropped
            if self.requires_grad:
                ga = g2 @ b2.swapaxes(-1, -2)
                self.accumulate_grad(unbroadcast(ga, a2.shape).reshape(a.shape))
            if other.requires_grad:
                gb = a2.swapaxes(-1, -2) @ g2
                other.accumulate_grad(unbroadcast(gb, b2.shape).reshape(b.shape))
        return Tensor.from_op(out_data, (self, other), _backward, op="@")

    def __sub__(self, other: Any) -> Tensor:
        return self + (-self._lift(other, "sub"))

    def __radd__(self, other: Any) -> Tensor:
        return self + other

    def __rmul__(self, other: Any) -> Tensor:
        return self * other

    def __rsub__(self, other: Any) -> Tensor:
        return self._lift(other, "sub") - self

    def __rtruediv__(self, other: Any) -> Tensor:
        return self._lift(other, "div") / self

    def __rmatmul__(self, other: Any) -> Tensor:
        return self._lift(other, "matmul") @ self

    # ------------------------------------------------------------------ elementwise
    def exp(self) -> Tensor:
        xp = backend.get_array_module(self.data)
        out_data = xp.exp(self.data)

        def _backward(g: Any) -> None:
            self.accumulate_grad(g * out_data)
        return Tensor.from_op(out_data, (self,), _backward, op="exp")

    def log(self) -> Tensor:
        xp = backend.get_array_module(self.data)

        def _backward(g: Any) -> None:
            self.accumulate_grad(g / self.data)
        return Tensor.from_op(xp.log(self.data), (self,), _backward, op="log")

    # ------------------------------------------------------------------ reductions
    def sum(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        xp = backend.get_array_module(self.data)

        def _backward(g: Any) -> None:
            if not keepdims and axis is not None:
                g = xp.expand_dims(g, _normalise_axes(axis, self.ndim))
            self.accumulate_grad(xp.broadcast_to(g, self.shape).copy())
        return Tensor.from_op(self.data.sum(axis=axis, keepdims=keepdims), (self,), _backward,
                              op="sum")

    def mean(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        count = self.size if axis is None else _count(self.shape, axis)
        return self.sum(axis=axis, keepdims=keepdims) / float(count)

    def max(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        """Maximum over ``axis``; tied maxima share the gradient equally (like torch.amax)."""
        xp = backend.get_array_module(self.data)
        peak = self.data.max(axis=axis, keepdims=True)

        def _backward(g: Any) -> None:
            if not keepdims and axis is not None:
                g = xp.expand_dims(g, _normalise_axes(axis, self.ndim))
            mask = self.data == peak
            share = mask / mask.sum(axis=axis, keepdims=True)
            self.accumulate_grad((g * share).astype(self.dtype, copy=False))
        out_data = peak if keepdims else self.data.max(axis=axis)
        return Tensor.from_op(out_data, (self,), _backward, op="max")

    # ------------------------------------------------------------------ shape ops
    def reshape(self, *shape: Any) -> Tensor:
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        src = self.shape

        def _backward(g: Any) -> None:
            self.accumulate_grad(g.reshape(src))
        return Tensor.from_op(self.data.reshape(shape), (self,), _backward, op="reshape")

    def transpose(self, *axes: Any) -> Tensor:
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        axes = tuple(int(a) % self.ndim for a in axes) or tuple(reversed(range(self.ndim)))
        inverse = tuple(int(i) for i in backend.np.argsort(axes))

        def _backward(g: Any) -> None:
            self.accumulate_grad(g.transpose(inverse))
        return Tensor.from_op(self.data.transpose(axes), (self,), _backward, op="transpose")

    @property
    def T(self) -> Tensor:
        return self.transpose()

    def __getitem__(self, index: Any) -> Tensor:
        """NumPy indexing; Tensors in the index (alone or inside a tuple) act as their arrays."""
        if isinstance(index, Tensor):
            index = index.data
        elif isinstance(index, tuple):
            index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
        xp = backend.get_array_module(self.data)

        def _backward(g: Any) -> None:
            full = xp.zeros_like(self.data)
            backend.scatter_add(full, index, g)  # repeated indices add up
            self.accumulate_grad(full)
        return Tensor.from_op(self.data[index], (self,), _backward, op="getitem")


def _normalise_axes(axis: int | tuple[int, ...], ndim: int) -> tuple[int, ...]:
    axes = axis if isinstance(axis, tuple) else (axis,)
    return tuple(sorted(a % ndim for a in axes))


def _count(shape: tuple[int, ...], axis: int | tuple[int, ...]) -> int:
    count = 1
    for a in _normalise_axes(axis, len(shape)):
        count *= shape[a]
    return count


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """Make a new leaf Tensor that owns a C-contiguous copy of ``data`` (like ``torch.tensor``).

    Arrays and Tensors keep their dtype and device unless ``dtype`` is given; Python numbers
    and lists become float32. The copy means that optimiser steps and gradcheck perturbations
    never write into the caller's array. ``Tensor(array)`` shares the array instead.
    """
    if isinstance(data, Tensor):
        data = data.data
    if backend.is_array(data):
        data = data.astype(data.dtype if dtype is None else dtype, order="C", copy=True)
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)
