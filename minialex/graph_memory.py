"""What a graph keeps alive until backward: the memory of every op's saved arrays.

After the forward pass, every array that backward will read is still held: by the graph
itself (each op's output Tensor is a parent of the next op, so its ``.data`` stays alive, as in
micrograd) and by the backward closures (an op may keep a mask, an index or a relaid copy of
its input). ``held_by_graph(loss)`` walks the graph and counts each piece of memory once, by
the op that holds it::

    loss = F.cross_entropy(model(x), y)
    for op, held in minialex.graph_memory.held_by_graph(loss).items():
        print(op, held["outputs"], held["saved"])   # bytes

PyTorch's autograd keeps only what each op saves for backward (``saved_tensors_hooks`` shows
it), so an output that no backward reads is freed as soon as the next op has run; here it is
held until the graph goes. ``benchmarks/network.py --profile`` prints both side by side.
"""

from __future__ import annotations

from typing import Any

from minialex import backend
from minialex.tensor import Tensor

__all__ = ["held_by_graph", "total_bytes"]


def _memory(array: Any) -> tuple[int, int]:
    """(identity, bytes) of the buffer an array lives in: a view counts as its whole base
    (also a strided view, whose base is a wrapper that holds the array)."""
    base = array
    while getattr(base, "base", None) is not None:
        base = base.base
        if backend.is_array(base):
            array = base
    return id(array), int(array.nbytes)


def _arrays_in(value: Any, seen: set[int], depth: int = 0) -> list[Any]:
    """The arrays a closure cell reaches: arrays, Tensors' data, sequences and dicts of them,
    and the cells of nested functions (conv2d's backward calls helpers that hold its buffers).
    Tensors are not followed into their graphs (the walk in ``held_by_graph`` does that)."""
    if depth > 4 or id(value) in seen:
        return []
    seen.add(id(value))
    if backend.is_array(value):
        return [value]
    if isinstance(value, Tensor):
        return [value.data]
    if isinstance(value, (list, tuple)):
        return [a for v in value for a in _arrays_in(v, seen, depth + 1)]
    if isinstance(value, dict):
        return [a for v in value.values() for a in _arrays_in(v, seen, depth + 1)]
    cells = getattr(value, "__closure__", None) or ()
    found = []
    for cell in cells:
        try:
            content = cell.cell_contents
        except ValueError:  # a cell not filled yet
            continue
        found += _arrays_in(content, seen, depth + 1)
    return found


def held_by_graph(output: Tensor) -> dict[str, dict[str, int]]:
    """Bytes the graph behind ``output`` holds, by op name: ``"outputs"`` (the op outputs
    kept as graph nodes) and ``"saved"`` (further arrays its backward closures hold). The
    leaves' own arrays (weights, input images) are not counted: they exist without a graph.
    Each buffer is counted once, for the first op (from the output back) that holds it."""
    order, stack, visited = [], [output], set()
    while stack:  # every node, output first
        node = stack.pop()
        if id(node) in visited:
            continue
        visited.add(id(node))
        order.append(node)
        stack.extend(node._prev)
    counted = {_memory(n.data)[0] for n in order if n.is_leaf}
    held: dict[str, dict[str, int]] = {}
    for node in order:
        if node.is_leaf:
            continue
        entry = held.setdefault(node._op or "op", {"outputs": 0, "saved": 0})
        key, nbytes = _memory(node.data)
        if key not in counted:
            counted.add(key)
            entry["outputs"] += nbytes
    for node in order:  # after every node output, so that closures add only what is extra
        if node.is_leaf:
            continue
        entry = held[node._op or "op"]
        for array in _arrays_in(node._backward, set()):
            key, nbytes = _memory(array)
            if key not in counted:
                counted.add(key)
                entry["saved"] += nbytes
    return held


def total_bytes(held: dict[str, dict[str, int]]) -> int:
    """The sum of ``held_by_graph``'s numbers."""
    return sum(h["outputs"] + h["saved"] for h in held.values())
