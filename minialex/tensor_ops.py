"""The arithmetic of Tensor: operators, reductions, reshapes and indexing, each op's forward
value beside its ``_backward(g)`` closure (micrograd style).

``Tensor`` (minialex/tensor.py) inherits these methods; the graph machinery they call
(``from_op``, ``accumulate_grad``, ``_viewing``) lives there. Kept apart so each file reads on
its own: tensor.py is how autograd works, this file is what each op's gradient is.
"""

from __future__ import annotations

from typing import Any

from minialex import backend

__all__ = ["TensorOps", "unbroadcast"]


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


class TensorOps:
    """Operators and array methods of ``Tensor`` (a mixin: every method returns a Tensor)."""

    # Provided by Tensor: data, shape, dtype, ndim, size, from_op, accumulate_grad, _viewing.
    data: Any
    shape: tuple[int, ...]
    dtype: Any
    ndim: int
    size: int

    # ------------------------------------------------------------------ operand handling
    def _lift(self, other: Any, op: str) -> TensorOps:
        """Turn ``other`` into a Tensor; scalars take this tensor's dtype, dtypes must match."""
        if not isinstance(other, TensorOps):
            if backend.is_array(other):
                other = type(self)(other)
            else:
                xp = backend.get_array_module(self.data)
                floating = xp.issubdtype(self.dtype, xp.floating)
                other = type(self)(xp.asarray(other, dtype=self.dtype if floating else None))
        if other.dtype != self.dtype:
            raise TypeError(f"{op}: mixed dtypes {self.dtype} and {other.dtype}; cast one "
                            f"explicitly (.float() / .double()), minialex never promotes silently")
        if other.device != self.device:
            raise ValueError(f"{op}: operands on different devices ({self.device} {self.shape} "
                             f"and {other.device} {other.shape}); move one with .to('cpu') or "
                             ".to('gpu')")
        return other

    # ------------------------------------------------------------------ arithmetic
    def __add__(self, other: Any) -> TensorOps:
        other = self._lift(other, "add")

        def _backward(g: Any) -> None:
            self.accumulate_grad(unbroadcast(g, self.shape))
            other.accumulate_grad(unbroadcast(g, other.shape))
        return self.from_op(self.data + other.data, (self, other), _backward, op="+", saved=())

    def __mul__(self, other: Any) -> TensorOps:
        other = self._lift(other, "mul")

        def _backward(g: Any) -> None:
            if self.requires_grad:
                self.accumulate_grad(unbroadcast(g * other.data, self.shape))
            if other.requires_grad:
                other.accumulate_grad(unbroadcast(g * self.data, other.shape))
        return self.from_op(self.data * other.data, (self, other), _backward, op="*")

    def __truediv__(self, other: Any) -> TensorOps:
        other = self._lift(other, "div")

        def _backward(g: Any) -> None:
            if self.requires_grad:
                self.accumulate_grad(unbroadcast(g / other.data, self.shape))
            if other.requires_grad:
                other.accumulate_grad(unbroadcast(-g * self.data / other.data**2, other.shape))
        return self.from_op(self.data / other.data, (self, other), _backward, op="/")

    def __pow__(self, exponent: float) -> TensorOps:
        if isinstance(exponent, TensorOps) or backend.is_array(exponent):
            raise TypeError("Tensor ** x supports a Python number exponent only")
        if isinstance(exponent, backend.np.generic):
            exponent = exponent.item()  # an np.float64 exponent would promote float32 data

        def _backward(g: Any) -> None:
            if exponent == 0:  # x**0 is constant: gradient 0, also at x = 0 (0 * 0**-1 = NaN)
                self.accumulate_grad(backend.get_array_module(g).zeros_like(g), owned=True)
                return
            self.accumulate_grad(g * exponent * self.data ** (exponent - 1))
        return self.from_op(self.data**exponent, (self,), _backward, op=f"**{exponent}")

    def __neg__(self) -> TensorOps:
        def _backward(g: Any) -> None:
            self.accumulate_grad(-g)
        return self.from_op(-self.data, (self,), _backward, op="neg", saved=())

    def __matmul__(self, other: Any) -> TensorOps:
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
        return self.from_op(out_data, (self, other), _backward, op="@")

    def __sub__(self, other: Any) -> TensorOps:
        return self + (-self._lift(other, "sub"))

    def __radd__(self, other: Any) -> TensorOps:
        return self + other

    def __rmul__(self, other: Any) -> TensorOps:
        return self * other

    def __rsub__(self, other: Any) -> TensorOps:
        return self._lift(other, "sub") - self

    def __rtruediv__(self, other: Any) -> TensorOps:
        return self._lift(other, "div") / self

    def __rmatmul__(self, other: Any) -> TensorOps:
        return self._lift(other, "matmul") @ self

    # ------------------------------------------------------------------ elementwise
    def exp(self) -> TensorOps:
        xp = backend.get_array_module(self.data)
        out_data = xp.exp(self.data)

        def _backward(g: Any) -> None:
            self.accumulate_grad(g * out_data)
        return self.from_op(out_data, (self,), _backward, op="exp")

    def log(self) -> TensorOps:
        xp = backend.get_array_module(self.data)

        def _backward(g: Any) -> None:
            self.accumulate_grad(g / self.data)
        return self.from_op(xp.log(self.data), (self,), _backward, op="log")

    # ------------------------------------------------------------------ reductions
    def sum(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> TensorOps:
        xp = backend.get_array_module(self.data)

        def _backward(g: Any) -> None:
            if not keepdims and axis is not None:
                g = xp.expand_dims(g, _normalise_axes(axis, self.ndim))
            self.accumulate_grad(xp.broadcast_to(g, self.shape).copy())
        return self.from_op(self.data.sum(axis=axis, keepdims=keepdims), (self,), _backward,
                              op="sum", saved=())

    def mean(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> TensorOps:
        count = self.size if axis is None else _count(self.shape, axis)
        return self.sum(axis=axis, keepdims=keepdims) / float(count)

    def max(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> TensorOps:
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
        return self.from_op(out_data, (self,), _backward, op="max")

    # ------------------------------------------------------------------ shape ops
    def reshape(self, *shape: Any) -> TensorOps:
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        src = self.shape

        def _backward(g: Any) -> None:
            self.accumulate_grad(g.reshape(src))
        return self.from_op(self.data.reshape(shape), (self,), _backward, op="reshape",
                              saved=())._viewing(self)

    def transpose(self, *axes: Any) -> TensorOps:
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        axes = tuple(int(a) % self.ndim for a in axes) or tuple(reversed(range(self.ndim)))
        inverse = tuple(int(i) for i in backend.np.argsort(axes))

        def _backward(g: Any) -> None:
            self.accumulate_grad(g.transpose(inverse))
        return self.from_op(self.data.transpose(axes), (self,), _backward, op="transpose",
                              saved=())._viewing(self)

    @property
    def T(self) -> TensorOps:
        return self.transpose()

    def __getitem__(self, index: Any) -> TensorOps:
        """NumPy indexing; Tensors in the index (alone or inside a tuple) act as their arrays."""
        if isinstance(index, TensorOps):
            index = index.data
        elif isinstance(index, tuple):
            index = tuple(i.data if isinstance(i, TensorOps) else i for i in index)
        xp = backend.get_array_module(self.data)

        def _backward(g: Any) -> None:
            full = xp.zeros_like(self.data)
            backend.scatter_add(full, index, g)  # repeated indices add up
            self.accumulate_grad(full)
        return self.from_op(self.data[index], (self,), _backward, op="getitem",
                              saved=())._viewing(self)


def _normalise_axes(axis: int | tuple[int, ...], ndim: int) -> tuple[int, ...]:
    axes = axis if isinstance(axis, tuple) else (axis,)
    return tuple(sorted(a % ndim for a in axes))


def _count(shape: tuple[int, ...], axis: int | tuple[int, ...]) -> int:
    count = 1
    for a in _normalise_axes(axis, len(shape)):
        count *= shape[a]
    return count
