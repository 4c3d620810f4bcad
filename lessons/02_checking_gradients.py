"""Checking gradients: central differences, rel_error, why float64, a wrong backward caught.

A backward function is hand-written code, and a wrong one does not crash: the network just
learns badly. The standard defence (CS231n's "gradient check") compares each analytic gradient
with a numerical one from central differences. This lesson measures how accurate central
differences are in float32 and float64 (the V-shaped error curve), defines rel_error, writes an
op with a deliberately wrong backward and watches minialex.gradcheck catch it, and then checks
a full-size AlexNet convolution in a few forward passes with the directional mode.

Run: python lessons/02_checking_gradients.py [--quick]
"""

# %%
from __future__ import annotations

from typing import Any

from common import Timer, claim, lesson_args, save_figure, say, section

import minialex
import minialex.functional as F
from minialex import viz

args = lesson_args(__doc__)
np = minialex.backend.np


def f(x: minialex.Tensor) -> minialex.Tensor:
    """f(x) = tanh(x) * exp(x), written with minialex ops (runs in x's dtype)."""
    return F.tanh(x) * x.exp()


def f_prime(x: Any) -> Any:
    """Hand derivative in float64: (1 - tanh^2 x) e^x + tanh(x) e^x."""
    t = np.tanh(x)
    return (1 - t * t) * np.exp(x) + t * np.exp(x)


# %% [markdown]
# ## 1. Central differences and their two errors
# The step eps trades truncation error (large eps) against rounding error (small eps); the
# curve of the total error against eps is a V whose bottom depends on the dtype.

# %%
section("1. Central differences and their two errors")
say(f"""
The derivative is the limit of a difference quotient. Central differences,
(f(x + eps) - f(x - eps)) / (2 eps), have a truncation error proportional to eps^2 (the
forward difference (f(x + eps) - f(x)) / eps only to eps). But f is computed in floating
point: each value carries a rounding error of about u*|f| (u = unit roundoff,
{float(np.finfo(np.float32).eps) / 2:.1g} in float32, {float(np.finfo(np.float64).eps) / 2:.2g} in
float64), and dividing by eps amplifies it to u/eps. Total error ~ eps^2 + u/eps: a V on a
log-log plot, lowest near eps ~ u^(1/3).
""")
n_eps = 13 if args.quick else 37
epsilons = np.logspace(-1, -13, n_eps)
xs = np.linspace(0.2, 1.5, 64 if args.quick else 512)
exact = f_prime(xs)


def median_error(dtype: Any, eps: float, central: bool = True) -> float:
    x = minialex.tensor(xs.astype(dtype))
    with minialex.no_grad():
        plus = f(x + float(eps)).numpy().astype(np.float64)
        if central:
            minus = f(x - float(eps)).numpy().astype(np.float64)
            # divide by the step actually taken in this dtype: (x+eps)-(x-eps) after rounding
            step = (xs.astype(dtype) + dtype(eps)) - (xs.astype(dtype) - dtype(eps))
        else:
            minus = f(x).numpy().astype(np.float64)
            step = (xs.astype(dtype) + dtype(eps)) - xs.astype(dtype)
    step = step.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        approx = (plus - minus) / step
    err = np.abs(approx - exact) / np.abs(exact)
    err[~np.isfinite(err)] = 1.0  # the step vanished in this dtype: no information at all
    return float(np.median(err))


curves = {}
best = {}
for label, dtype, central in (("float32, central", np.float32, True),
                              ("float64, central", np.float64, True),
                              ("float64, forward", np.float64, False)):
    errors = np.array([median_error(dtype, e, central) for e in epsilons])
    curves[label] = (epsilons, errors)
    i = int(np.argmin(errors))
    best[label] = (epsilons[i], errors[i])
    print(f"  {label}: best eps = {epsilons[i]:.0e}, median relative error there = "
          f"{errors[i]:.1e};  at eps = 1e-6: {errors[np.argmin(abs(epsilons - 1e-6))]:.1e}")

u32, u64 = float(np.finfo(np.float32).eps) / 2, float(np.finfo(np.float64).eps) / 2
claim("best eps, float32 central", f"~{u32 ** (1 / 3):.0e}", f"{best['float32, central'][0]:.0e}",
      "the theory gives an order of magnitude; constants depend on f''' and |f|")
claim("best eps, float64 central", f"~{u64 ** (1 / 3):.0e}", f"{best['float64, central'][0]:.0e}")
say(f"""
The lesson for gradient checks: in float32 the best achievable relative error is about
{best['float32, central'][1]:.0e}, too coarse to tell a subtly wrong gradient from rounding
noise; at the usual eps = 1e-6 float32 is useless. In float64 the error bottoms out near
{best['float64, central'][1]:.0e}. That is why minialex.gradcheck insists on float64 inputs.
""")
fig = viz.plot_curves(curves, xlabel="eps", ylabel="median relative error of f'(x)",
                      title="Finite differences: truncation error (left) vs rounding (right)",
                      log=True)
fig.axes[0].set_xscale("log")
fig.axes[0].invert_xaxis()
save_figure(fig, args, "eps_v_shape")


# %% [markdown]
# ## 2. `rel_error`: how close is close?

# %%
section("2. rel_error: how close is close?")
say("""
Absolute differences depend on the scale of the gradient, so checks compare relative errors:
rel_error(a, b) = max |a - b| / max(1e-8, |a| + |b|). Rules of thumb for float64 checks:
below 1e-7 the gradient is right; 1e-4 to 1e-2 deserves a look (kinks such as ReLU at 0 can
cause it); above 1e-2 the backward is almost certainly wrong.
""")
a = np.array([1.0, -2.0, 3.0])
for label, other in (("identical", a.copy()), ("differs by 1e-9", a + 1e-9),
                     ("off by 0.1% in one entry", a * np.array([1, 1, 1.001])),
                     ("sign flipped in one entry", a * np.array([1, -1, 1]))):
    print(f"  {label:<28} rel_error = {minialex.rel_error(a, other):.1e}")


# %% [markdown]
# ## 3. Writing an op, with a bug, and catching it
# An op is a forward computation on arrays plus a `backward(g)` closure beside it, recorded
# with the public `Tensor.from_op(data, parents, backward, op="name")`; the closure hands each
# input its gradient with `input.accumulate_grad(...)`. `help(minialex.functional)` shows the
# same pattern as a template, checked with gradcheck and a hypothesis property.

# %%
section("3. Writing an op, with a bug, and catching it")
say("""
A minialex op computes its output and defines its backward beside it: backward receives the
upstream gradient g = dL/d(output) and hands dL/d(input) to input.accumulate_grad;
Tensor.from_op wires the result into the graph (this is how every op in minialex.functional
is written). The sigmoid
s = 1 / (1 + e^-x) has derivative s (1 - s); the buggy version forgets the (1 - s).
""")
Tensor = minialex.Tensor


def my_sigmoid(x: Tensor, buggy: bool = False) -> Tensor:
    s = 1.0 / (1.0 + np.exp(-x.data))

    def backward(g: Any) -> None:
        x.accumulate_grad(g * s if buggy else g * s * (1 - s))
    return Tensor.from_op(s, (x,), backward, op="my_sigmoid")


def my_leaky_relu(x: Tensor, slope: float = 0.1) -> Tensor:
    out = np.where(x.data > 0, x.data, slope * x.data)

    def backward(g: Any) -> None:
        x.accumulate_grad(np.where(x.data > 0, g, g))  # bug: forgot * slope for negative inputs
    return Tensor.from_op(out, (x,), backward, op="my_leaky_relu")


rng = np.random.default_rng(args.seed)
x = minialex.tensor(rng.standard_normal((4, 5)), requires_grad=True)
print(f"  correct sigmoid: gradcheck -> {minialex.gradcheck(my_sigmoid, [x])}")
try:
    minialex.gradcheck(lambda t: my_sigmoid(t, buggy=True), [x])
except minialex.GradcheckError as exc:
    say(f"buggy sigmoid: caught. {exc}")

positive = minialex.tensor(rng.uniform(0.1, 2.0, (4, 5)), requires_grad=True)
print(f"  buggy leaky ReLU on positive inputs only: gradcheck -> "
      f"{minialex.gradcheck(my_leaky_relu, [positive])}   (the bug is never exercised)")
try:
    minialex.gradcheck(my_leaky_relu, [x])
except minialex.GradcheckError as exc:
    say(f"buggy leaky ReLU on mixed-sign inputs: caught. {exc}")
say("""
A check only tests the branches its inputs reach: draw inputs of both signs, several shapes,
strides and paddings (minialex's own tests draw them with hypothesis).
""")
try:
    minialex.gradcheck(my_sigmoid, [minialex.tensor(x.data.astype(np.float32),
                                                     requires_grad=True)])
except TypeError as exc:
    say(f"float32 input refused: {exc}")


# %% [markdown]
# ## 4. A full-size AlexNet convolution, checked in a few passes
# Element-by-element checks cost two forward passes per number; the directional mode costs
# three passes in all.

# %%
section("4. A full-size AlexNet convolution, checked in a few passes")
if args.quick:
    name, (c_in, size, c_out, k, pad, groups) = "conv5 at 7x7 (quick)", (384, 7, 256, 3, 1, 2)
else:
    name, (c_in, size, c_out, k, pad, groups) = "conv2 (paper)", (96, 27, 256, 5, 2, 2)
x = minialex.tensor(rng.standard_normal((1, c_in, size, size)), requires_grad=True)
w = minialex.tensor(rng.standard_normal((c_out, c_in // groups, k, k)) * 0.01,
                    requires_grad=True)
b = minialex.tensor(rng.standard_normal(c_out) * 0.01, requires_grad=True)


def conv(x: Tensor, w: Tensor, b: Tensor) -> Tensor:
    return F.conv2d(x, w, b, stride=1, padding=pad, groups=groups)


with Timer() as t_forward, minialex.no_grad():
    conv(x, w, b)
elements = x.size + w.size + b.size
estimate = 2 * elements * t_forward.seconds
say(f"""
{name}: input {x.shape}, weights {w.shape} (groups={groups}), {elements:,} numbers in all.
One float64 forward pass takes {t_forward.seconds:.3f} s, so an element-by-element check (two
passes per number) would take about {estimate / 3600:.1f} hours. The directional check picks one
random unit direction d over all inputs and compares backprop's dot product grad . d with the
central difference of f along d: one backward and three forward passes.
""")
with Timer() as t_check:
    ok = minialex.gradcheck(conv, [x, w, b], directional=True)
print(f"  directional gradcheck of {name}: {ok} in {t_check.seconds:.2f} s")
print(f"  (element by element: ~{estimate:,.0f} s, {estimate / t_check.seconds:,.0f}x longer)")
big = minialex.tensor(rng.standard_normal(200_000 if args.quick else 2_000_000),
                      requires_grad=True)
try:
    minialex.gradcheck(lambda t: my_sigmoid(t, buggy=True), [big], directional=True)
except minialex.GradcheckError:
    print(f"  ... and the buggy sigmoid on {big.size:,} inputs fails it, in the same few passes")
say("""
One random direction can in principle miss an error orthogonal to it, but a wrong backward
is almost never orthogonal to a random direction; the element-wise check on small shapes and
the directional one on full-size layers complement each other.
""")


# %% [markdown]
# ## Try this

# %%
section("Try this")
say("""
1. Make the sigmoid bug subtle: in my_sigmoid, multiply the correct gradient by 1.001 instead
of dropping (1 - s), and run `python lessons/02_checking_gradients.py --quick`. Does
gradcheck's default tolerance (atol=1e-5, rtol=1e-3) catch a 0.1% error? Find the rtol that
does, and check against section 1's float64 numbers that central differences are accurate
enough for it.

2. Run the full lesson, `python lessons/02_checking_gradients.py` (no --quick): it draws 512
points instead of 64 for the V and checks the paper's conv2 (96 -> 256 channels, 5x5,
groups=2) instead of conv5 on a 7x7 map. Compare the best eps and the directional check's
time with the --quick run; `--seed 1` draws other inputs for sections 3 and 4.

3. Write your own op with Tensor.from_op and accumulate_grad (the template is in
`python -c "import minialex.functional as F; help(F)"`), then run
`python examples/gradcheck_your_own_layer.py` to see a hypothesis property check a layer on
50 random shapes.
""")
print()
say("""
Next: lesson 03 (`python lessons/03_convolution_im2col.py`): the convolution as im2col and one
matrix product, with its backward checked the way this lesson checks gradients. Or start on
the exercises: `python -m minialex exercises` lists them.
""")
