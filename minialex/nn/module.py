"""Module, Parameter and Sequential: the containers every layer and model is built from.

Follows PyTorch's conventions: assigning a Parameter or a Module as an attribute registers
it; buffers (e.g. BatchNorm running statistics) are registered with ``register_buffer`` and
travel with ``to()`` / ``state_dict()`` but are not trained.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import Any

from minialex import backend
from minialex.tensor import Tensor


class Parameter(Tensor):
    """A Tensor that is a trainable weight of a Module (``requires_grad=True``).

    Like ``torch.nn.Parameter`` it wraps ``data`` without copying: two Parameters made from one
    array are the same weight. ``Parameter(minialex.tensor(a))`` gives an independent copy.
    """

    def __init__(self, data: Any, requires_grad: bool = True) -> None:
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return f"Parameter(shape={self.shape}, dtype={self.dtype})"


class Module:
    """Base class of layers and models: override ``forward``; call the module to run it."""

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # -------------------------------------------------------------- registration
    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}.__init__ must call super().__init__() "
                                 f"before assigning {name!r}")
        if isinstance(value, Parameter):
            target = self._parameters
        elif isinstance(value, Module):
            target = self._modules
        elif name in self._buffers:  # reassigning a registered buffer keeps it a buffer
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign {type(value).__name__} to buffer {name!r} of "
                                f"{type(self).__name__} (a Tensor or None is required)")
            target = self._buffers
        else:
            target = None
        for registry in (self._parameters, self._modules, self._buffers):
            if registry is not target:
                registry.pop(name, None)
        if target is None:
            object.__setattr__(self, name, value)
        else:
            self.__dict__.pop(name, None)  # a plain attribute would shadow the registry
            target[name] = value  # an existing name keeps its place in the order

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails: look in the registries.
        for registry in ("_parameters", "_modules", "_buffers"):
            items = self.__dict__.get(registry)
            if items is not None and name in items:
                return items[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name: str) -> None:
        for registry in (self._parameters, self._modules, self._buffers):
            if name in registry:
                del registry[name]
                return
        object.__delattr__(self, name)

    def _check_new_name(self, kind: str, name: Any, registry: dict[str, Any]) -> None:
        """PyTorch's rules for a registered name: a non-empty str without ".", and not an
        existing attribute (method, plain attribute or entry of another registry) that
        registering would shadow or silently replace."""
        if not isinstance(name, str):
            raise TypeError(f"{kind} name must be a str, got {type(name).__name__}")
        if name == "":
            raise KeyError(f'{kind} name can\'t be empty string ""')
        if "." in name:
            raise KeyError(f'{kind} name can\'t contain ".", got: {name}')
        if name not in registry and hasattr(self, name):
            raise KeyError(f"attribute {name!r} already exists on {type(self).__name__}")

    def register_buffer(self, name: str, value: Tensor | None) -> None:
        """A non-trained state tensor (moved by ``to()``, saved by ``state_dict()``).

        ``name``: a new name (not a method, attribute, parameter or submodule); ``value``:
        a Tensor or None.
        """
        self._check_new_name("buffer", name, self._buffers)
        if value is not None and not isinstance(value, Tensor):
            raise TypeError(f"cannot register {type(value).__name__} as buffer {name!r} "
                            "(a Tensor or None is required)")
        self._buffers[name] = value

    def add_module(self, name: str, module: Module) -> None:
        """Register ``module`` under ``name`` (a new name, or an existing submodule's)."""
        self._check_new_name("module", name, self._modules)
        if not isinstance(module, Module):
            raise TypeError(f"add_module({name!r}): expected a Module, got "
                            f"{type(module).__name__}")
        setattr(self, name, module)

    # -------------------------------------------------------------- running
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # -------------------------------------------------------------- traversal
    # A module registered twice (Sequential(l, ReLU(), l)) is one module: like PyTorch, every
    # traversal lists it once, under its first name.
    def named_children(self) -> Iterator[tuple[str, Module]]:
        seen: set[int] = set()
        for name, child in self._modules.items():
            if id(child) not in seen:
                seen.add(id(child))
                yield name, child

    def children(self) -> Iterator[Module]:
        for _, m in self.named_children():
            yield m

    def named_modules(self, memo: set[int] | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Module]]:
        """(dotted name, module) for this module and every submodule, depth first.

        ``remove_duplicate=False`` lists a shared module under each of its names.
        """
        if memo is None:
            memo = set()
        if id(self) in memo:
            return
        if remove_duplicate:
            memo.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(memo, f"{prefix}.{name}" if prefix else name,
                                           remove_duplicate)

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_parameters(self) -> Iterator[tuple[str, Parameter]]:
        seen: set[int] = set()  # a shared (tied) Parameter is listed once, under its first name
        for prefix, module in self.named_modules():
            for name, p in module._parameters.items():
                if id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{prefix}.{name}" if prefix else name), p

    def parameters(self) -> Iterator[Parameter]:
        for _, p in self.named_parameters():
            yield p

    def named_buffers(self) -> Iterator[tuple[str, Tensor]]:
        seen: set[int] = set()  # a shared buffer is listed once, as parameters are
        for prefix, module in self.named_modules():
            for name, b in module._buffers.items():
                if b is not None and id(b) not in seen:
                    seen.add(id(b))
                    yield (f"{prefix}.{name}" if prefix else name), b

    def buffers(self) -> Iterator[Tensor]:
        for _, b in self.named_buffers():
            yield b

    def num_parameters(self, trainable_only: bool = False) -> int:
        return sum(p.size for p in self.parameters() if p.requires_grad or not trainable_only)

    # -------------------------------------------------------------- modes and devices
    def train(self, mode: bool = True) -> Module:
        """Training mode (``mode=True``) or evaluation mode for this module and all below."""
        if not isinstance(mode, (bool, backend.np.bool_)):
            raise TypeError(f"train(mode): mode must be True or False, got {mode!r}")
        mode = bool(mode)
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    def _apply(self, convert: Any) -> Module:
        """Convert every parameter and buffer array in place (keeps optimiser references)."""
        for t in list(self.parameters()) + list(self.buffers()):
            t.data = convert(t.data)
            if t.grad is not None:
                t.grad = convert(t.grad)
        return self

    def to(self, device: str) -> Module:
        """Move parameters and buffers to "cpu" or "gpu", in place."""
        return self._apply(lambda a: backend.to_device(a, device))

    def double(self) -> Module:
        return self._apply(lambda a: _cast_float(a, backend.np.float64))

    def float(self) -> Module:
        return self._apply(lambda a: _cast_float(a, backend.np.float32))

    # -------------------------------------------------------------- state
    def state_dict(self) -> OrderedDict[str, Any]:
        """Names to host NumPy copies of every parameter and buffer."""
        state: OrderedDict[str, Any] = OrderedDict()
        for name, p in self.named_parameters():
            state[name] = backend.to_host(p.data).copy()
        for name, b in self.named_buffers():
            state[name] = backend.to_host(b.data).copy()
        return state

    def load_state_dict(self, state: dict[str, Any], strict: bool = True) -> None:
        """Copy arrays into parameters and buffers, checking names, shapes and dtype kinds first.

        ``strict=True`` requires exactly the module's keys (KeyError otherwise). Every shape
        must match (ValueError). A value keeps to the target's dtype kind: floating values are
        cast to the target's floating dtype (float64 into a float32 model is rounded, as
        ``torch`` does), but a change of kind (an int64 array into a float32 weight, a float
        into an integer step counter) is a TypeError naming the key and both dtypes. Nothing
        is copied unless every check passes.
        """
        if not isinstance(state, Mapping):
            raise TypeError(f"load_state_dict for {type(self).__name__}: expected a dict of "
                            f"names to arrays (such as state_dict()), got {type(state).__name__}")
        own = dict(self.named_parameters())
        own.update(dict(self.named_buffers()))
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        if strict and (missing or unexpected):
            raise KeyError(f"load_state_dict for {type(self).__name__}: missing keys {missing}, "
                           f"unexpected keys {unexpected}")
        for name, value in state.items():
            if name not in own:
                continue
            target = own[name]
            if isinstance(value, Tensor):
                value = value.data
            value_shape = tuple(getattr(value, "shape", ()))
            if value_shape != target.shape:
                raise ValueError(f"load_state_dict: {name!r} expected shape {target.shape}, "
                                 f"got {value_shape}")
            value_dtype = getattr(value, "dtype", None)
            if value_dtype is None:
                value_dtype = backend.np.asarray(value).dtype
            if _dtype_kind(value_dtype) != _dtype_kind(target.dtype):
                raise TypeError(f"load_state_dict: {name!r} is {target.dtype}, got "
                                f"{value_dtype}; refusing to cast between "
                                f"{_dtype_kind(value_dtype)} and {_dtype_kind(target.dtype)}")
        for name, value in state.items():
            if name in own:
                target = own[name]
                if isinstance(value, Tensor):
                    value = value.data
                xp = backend.get_array_module(target.data)
                target.data = xp.asarray(value, dtype=target.dtype).copy()

    # -------------------------------------------------------------- printing
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        children = list(self._modules.items())
        if not children:
            return lines[0] + ")"
        for name, child in children:
            child_text = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {child_text}")
        return "\n".join(lines) + "\n)"


def _dtype_kind(dtype: Any) -> str:
    """'floating', 'integer', 'bool', 'complex' (else the dtype's name): never mixed on load."""
    dtype = backend.np.dtype(dtype)
    kinds = {"f": "floating", "i": "integer", "u": "integer", "b": "bool", "c": "complex"}
    return kinds.get(dtype.kind, dtype.name)


def _cast_float(a: Any, dtype: Any) -> Any:
    xp = backend.get_array_module(a)
    return a.astype(dtype) if xp.issubdtype(a.dtype, xp.floating) else a


class Sequential(Module):
    """Modules applied in order; built from modules (named "0", "1", ...) or an OrderedDict."""

    def __init__(self, *modules: Module | OrderedDict[str, Module]) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], (dict, OrderedDict)):
            for name, m in modules[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(modules):
                self.add_module(str(i), m)

    def forward(self, x: Any) -> Any:
        for m in self._modules.values():
            x = m(x)
        return x

    def __getitem__(self, key: int | slice | str) -> Module:
        """The module at a position or name; a slice is a Sequential of those (names kept)."""
        if isinstance(key, str):
            return self._modules[key]
        if isinstance(key, slice):
            return Sequential(OrderedDict(list(self._modules.items())[key]))
        if isinstance(key, bool) or not isinstance(key, (int, backend.np.integer)):
            raise TypeError(f"Sequential indices must be ints, slices or names, got "
                            f"{type(key).__name__}")
        items = list(self._modules.values())
        if not -len(items) <= key < len(items):
            raise IndexError(f"Sequential index {key} out of range for {len(items)} modules")
        return items[key]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def append(self, module: Module, name: str | None = None) -> Sequential:
        self.add_module(name or str(len(self)), module)
        return self
