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
from minialex.tensor_ops import TensorOps, unbroadcast  # noqa: F401  (unbroadcast: public here too)

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


class Tensor(TensorOps):
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
        self._data = _to_array(data, dtype)
        self._versions = [0]  # counts assignments to .data; a view shares its base's list
        self._saved: tuple[tuple[Tensor, int], ...] = ()  # (input, its version) an op read
        self._saved_version: int | None = None  # this output's version when made, if watched
        self.requires_grad = bool(requires_grad)
        self.grad: Any = None
        self.name: str | None = None
        self._prev: tuple[Tensor, ...] = ()
        self._backward: Callable[[Any], None] | None = None
        self._op = ""
        self._retain = False

    @property
    def data(self) -> Any:
        """The array. Assigning to it, or updating it in place through the attribute
        (``x.data += 1``), counts as a new version: a backward pass through an op that used the
        old values then raises instead of computing gradients from the new ones (PyTorch's
        version counter). Writes through an index (``x.data[0] = 1``) reach the array directly
        and are not counted, as PyTorch's ``.data`` is not."""
        return self._data

    @data.setter
    def data(self, value: Any) -> None:
        self._data = value
        self._versions[0] += 1

    @property
    def _version(self) -> int:
        return self._versions[0]

    def _viewing(self, base: Tensor) -> Tensor:
        """This tensor's array is a view of ``base``'s (reshape, transpose, basic indexing,
        detach): one version counter for both, since a change through either is a change of
        both. Returns self."""
        xp = backend.get_array_module(self.data)
        if xp.may_share_memory(self.data, base.data):
            self._versions = base._versions
        return self

    # ------------------------------------------------------------------ writing an op
    @staticmethod
    def from_op(data: Any, parents: tuple[Tensor, ...], backward: Callable[[Any], None],
                op: str = "", saved: tuple[Tensor, ...] | None = None) -> Tensor:
        """The output of an op: ``data`` wrapped in a Tensor that remembers how it was made.

        data: the forward result (an array); parents: the input Tensors it was computed from;
        backward(g): given g = dL/d(output), shaped like ``data``, calls
        ``parent.accumulate_grad(dL/d(parent))`` for each parent, and must not reference the
        output Tensor. ``op`` names the node. The graph is recorded only when a parent
        requires a gradient, outside ``no_grad()``. Template: ``help(minialex.functional)``.
        saved: the inputs whose values backward reads; by default every parent and the output
        itself. Their versions are recorded here and checked before backward runs, so a
        ``.data`` changed in between raises; an op whose backward reads none (a sum, a
        reshape) passes ``saved=()``.
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
            watched = parents if saved is None else tuple(saved)
            out._saved = tuple((t, t._version) for t in watched)
            out._saved_version = out._version if saved is None else None
        return out

    def _check_saved_versions(self) -> None:
        """RuntimeError when an input this node's backward reads changed since the forward."""
        changed = [(i, t, v) for i, (t, v) in enumerate(self._saved) if t._version != v]
        if self._saved_version is not None and self._version != self._saved_version:
            changed.append((-1, self, self._saved_version))
        if changed:
            i, t, v = changed[0]
            which = "its output" if i < 0 else f"its input {i} (shape {t.shape})"
            raise RuntimeError(
                f"backward through {self._op or 'an op'!r}: {which} had its .data changed "
                f"after the forward pass used it (version {v}, now {t._version}), so the "
                "gradient would come from the new values; run the forward pass again after "
                "changing it, or change a copy")

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
        if isinstance(self.grad, backend.np.generic):  # NumPy makes 0-d results scalars
            self.grad = backend.np.asarray(self.grad)

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
                node._check_saved_versions()
                node._backward(g)
            if not node._retain:
                node.grad = None  # intermediate gradients are transient
            elif id(node) in kept:
                node.grad = kept[id(node)] if g is None else kept[id(node)] + g
                if isinstance(node.grad, backend.np.generic):
                    node.grad = backend.np.asarray(node.grad)

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
        """Same data, cut from the graph (and sharing its version counter)."""
        return Tensor(self.data)._viewing(self)

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
        return Tensor.from_op(out_data, (self,), _backward, op="astype", saved=())

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
        return Tensor.from_op(out_data, (self,), _backward, op=f"to({device})", saved=())

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
