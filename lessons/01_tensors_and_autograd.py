# %% [markdown]
"""Tensors and autograd: a graph built by hand, topological order, backward, accumulation.

Everything AlexNet learns, it learns from gradients, and every gradient in minialex comes from
one small idea: record each operation as a node that knows its inputs and how to send a
gradient back to them, then visit the nodes from the output backwards. This lesson builds that
idea from scratch on scalars (in the spirit of Karpathy's micrograd), checks it against
derivatives worked out by hand, and then shows minialex's Tensor doing the same on arrays.

Run: python lessons/01_tensors_and_autograd.py [--quick]
"""

# %%
from __future__ import annotations

import math

from common import Timer, lesson_args, save_figure, say, section

import minialex
import minialex.functional as F
from minialex import viz

args = lesson_args(__doc__)
np = minialex.backend.np  # host NumPy, for plotting data only


# %%
section("1. A scalar autograd engine in a few dozen lines")
say("""
Each Value holds a number, the Values it was computed from, the name of the operation, and a
small function that, given d(output)/d(this), adds the right amount to each parent's gradient
(the chain rule, one operation at a time). Gradients are ADDED (+=), never assigned: a Value
used twice receives a contribution from each use.
""")


class Value:
    """A scalar that remembers how it was made."""

    def __init__(self, data: float, parents: tuple = (), op: str = "", name: str = "") -> None:
        self.data, self.grad = float(data), 0.0
        self.parents, self.op, self.name = parents, op, name
        self.backward_step = lambda: None

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other, name=str(other))
        out = Value(self.data + other.data, (self, other), "+")

        def step():
            self.grad += out.grad           # d(a+b)/da = 1
            other.grad += out.grad          # d(a+b)/db = 1
        out.backward_step = step
        return out

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other, name=str(other))
        out = Value(self.data * other.data, (self, other), "*")

        def step():
            self.grad += other.data * out.grad   # d(ab)/da = b
            other.grad += self.data * out.grad   # d(ab)/db = a
        out.backward_step = step
        return out

    def exp(self):
        out = Value(math.exp(self.data), (self,), "exp")

        def step():
            self.grad += out.data * out.grad     # d(e^a)/da = e^a
        out.backward_step = step
        return out

    def topological_order(self) -> list:
        """Every node after all of its parents (depth-first, recursive as in micrograd)."""
        order, seen = [], set()

        def visit(node):
            if id(node) not in seen:
                seen.add(id(node))
                for parent in node.parents:
                    visit(parent)
                order.append(node)
        visit(self)
        return order

    def backward(self) -> None:
        order = self.topological_order()
        for node in order:
            node.grad = 0.0
        self.grad = 1.0                           # d(out)/d(out)
        for node in reversed(order):              # outputs first, inputs last
            node.backward_step()

    def label(self) -> str:
        return self.name or f"({self.op})"


# %%
section("2. The graph of f(a, b) = (a*b + a) * exp(b)")
a_val, b_val = 2.0, -0.5
a, b = Value(a_val, name="a"), Value(b_val, name="b")
ab = a * b
ab.name = "ab"
s = ab + a
s.name = "s = ab + a"
e = b.exp()
e.name = "e = exp(b)"
f = s * e
f.name = "f = s * e"
say("""
Note that a is used twice (in a*b and in + a) and b twice (in a*b and in exp(b)). The
topological order lists every node after the nodes it depends on; backward walks it in
reverse so that a node's gradient is complete before it is passed on.
""")
order = f.topological_order()
for i, node in enumerate(order):
    parents = ", ".join(p.label() for p in node.parents) or "leaf"
    print(f"  {i}: {node.label():<12} = {node.data:+.6f}   from: {parents}")

f.backward()
# Hand derivatives: f = (ab + a) e^b
#   df/da = (b + 1) e^b                       (a appears twice: b from ab, 1 from + a)
#   df/db = a e^b + (ab + a) e^b = (a + ab + a) e^b
hand_da = (b_val + 1) * math.exp(b_val)
hand_db = (a_val + a_val * b_val + a_val) * math.exp(b_val)
print()
print("  gradient   by our engine      by hand            |difference|")
print(f"  df/da      {a.grad:+.12f}   {hand_da:+.12f}   {abs(a.grad - hand_da):.1e}")
print(f"  df/db      {b.grad:+.12f}   {hand_db:+.12f}   {abs(b.grad - hand_db):.1e}")
say(f"""
The contribution of each use of a is visible if we split it: through a*b it gets
b*e^b = {b_val * math.exp(b_val):+.6f}, through + a it gets e^b = {math.exp(b_val):+.6f}; the
sum is {a.grad:+.6f}. Had the engine assigned (=) instead of added (+=), df/da would be
whichever contribution arrived last, and wrong.
""")
assert abs(a.grad - hand_da) < 1e-12 and abs(b.grad - hand_db) < 1e-12


# %%
section("3. The same graph with minialex.Tensor")
say("""
minialex's Tensor is the same design on arrays: every operation computes its result and defines
its backward function right beside it. float64 here so the comparison is exact to ~1e-16.
""")
ta = minialex.tensor(np.array(a_val), requires_grad=True)
tb = minialex.tensor(np.array(b_val), requires_grad=True)
tf = (ta * tb + ta) * tb.exp()
tf.backward()
print(f"  minialex df/da = {ta.grad.item():+.12f}   (scalar engine {a.grad:+.12f})")
print(f"  minialex df/db = {tb.grad.item():+.12f}   (scalar engine {b.grad:+.12f})")
assert abs(ta.grad.item() - hand_da) < 1e-12 and abs(tb.grad.item() - hand_db) < 1e-12

say("""
Leaf gradients also accumulate ACROSS backward calls, as in PyTorch: calling backward twice
without zero_grad() doubles them. Training loops therefore clear gradients every step.
""")
tf2 = (ta * tb + ta) * tb.exp()
tf2.backward()
print(f"  after a second backward: df/da = {ta.grad.item():+.6f} "
      f"(= 2 x {hand_da:+.6f}: accumulated)")
ta.zero_grad()
tb.zero_grad()
tf3 = (ta * tb + ta) * tb.exp()
tf3.backward()
print(f"  after zero_grad + backward: df/da = {ta.grad.item():+.6f}")


# %%
section("4. Broadcasting: gradients are summed back to the input's shape")
say("""
A bias of shape (3,) added to a batch of shape (4, 3) is used 4 times, once per row, so its
gradient is the sum over the rows: the same rule as a reused node.
""")
x = minialex.tensor(np.arange(12, dtype=np.float64).reshape(4, 3), requires_grad=True)
bias = minialex.tensor(np.zeros(3), requires_grad=True)
((x + bias) * x).sum().backward()
print(f"  d/d bias of sum((x + bias) * x) = {bias.grad}   column sums of x: {x.data.sum(0)}")
assert np.allclose(bias.grad, x.data.sum(0))


# %%
section("5. Deep graphs: why minialex sorts iteratively")
depth = 3000 if args.quick else 20000
say(f"""
The recursive topological sort above needs one Python stack frame per node on the longest
path. A chain of {depth} operations overflows Python's default recursion limit
(~1000). minialex's sort uses an explicit stack instead, so depth is unlimited (a real
network with a long training graph, or an RNN unrolled over time, needs this).
""")
v = Value(1.0)
for _ in range(depth):
    v = v * 1.0
try:
    v.backward()
    print("  scalar engine: no error (the recursion limit on this Python is unusually high)")
except RecursionError:
    print(f"  scalar engine, chain of {depth}: RecursionError")
t0 = minialex.tensor(np.array(1.0), requires_grad=True)
tv = t0
with Timer() as timer:
    for _ in range(depth):
        tv = tv * 1.0001
    tv.backward()
expected = 1.0001 ** depth
print(f"  minialex, chain of {depth}: d/dx = {t0.grad.item():.6f} (exact 1.0001^{depth} = "
      f"{expected:.6f}) in {timer.seconds:.2f} s")
assert abs(t0.grad.item() - expected) < 1e-9 * expected


# %%
section("6. A function and its derivative, computed by autograd")
say("""
Autograd gives the derivative at every point of an array in one backward pass (each output
element depends only on its own input here, so backward of the sum returns all derivatives).
The figure plots g(x) = tanh(x) * exp(-x^2 / 2), its autograd derivative and the hand-derived
one, g'(x) = [(1 - tanh^2 x) - x tanh x] exp(-x^2 / 2).
""")
points = 101 if args.quick else 2001
xs = np.linspace(-4, 4, points)
tx = minialex.tensor(xs, requires_grad=True)
g = F.tanh(tx) * (tx * tx * -0.5).exp()
g.sum().backward()
hand = ((1 - np.tanh(xs) ** 2) - xs * np.tanh(xs)) * np.exp(-xs**2 / 2)
err = minialex.rel_error(tx.grad, hand)
print(f"  {points} points: max relative error autograd vs hand derivative = {err:.1e}")

fig = viz.plot_curves({"g(x)": (xs, g.numpy()), "g'(x) autograd": (xs, tx.grad),
                       "g'(x) by hand (dashed)": (xs, hand)},
                      xlabel="x", ylabel="value",
                      title="g(x) = tanh(x) exp(-x^2/2) and its derivative")
hand_line = fig.axes[0].lines[2]
hand_line.set_linestyle("--")
hand_line.set_color("black")
fig.axes[0].legend()  # redraw the legend with the dashed style
save_figure(fig, args, "derivative")


# %%
section("Summary")
say("""
A graph records operations; backward visits it in reverse topological order and each node adds
its share of gradient to its inputs. Reuse (and broadcasting) means several contributions add
up.
""")


# %%
section("Try this")
say("""
1. In Value.__mul__, change both "+=" to "=" and run the lesson again: df/da keeps only
the contribution that arrives last, and the check in section 2 stops the lesson. Then
restore __mul__ and make the same change in __add__ alone: the gradients stay right. Print
the reversed topological order to see why (which contribution reaches a first, while its
gradient is still 0?).

2. Give Value a tanh() method (forward math.tanh, backward (1 - t^2) times out.grad) and
check it against a hand derivative the way section 2 does.

3. Set depth in section 5 to 500, then 900: find the longest chain the recursive sort
survives on your Python (sys.getrecursionlimit() says where the limit is).

Next: lesson 02, checking gradients:

    python lessons/02_checking_gradients.py
""")
