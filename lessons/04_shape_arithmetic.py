# %% [markdown]
"""Shape arithmetic: floor((n + 2p - f)/s) + 1, 224 vs 227, why 9216, a summary that cannot be.

Every spatial size in AlexNet follows from one formula. This lesson applies it by hand, layer
by layer, to explain three things that confuse readers of the paper and of the tutorials built
on it: why an input of 224x224 (the number in the paper) cannot give conv1's 55x55 output, why
fc6 receives 9216 = 6*6*256 values (and not 6400 or 4096), and why the model summary printed in
Dutta's "AlexNet in a Nutshell" cannot come from the code printed above it. minialex.trace then
does the same arithmetic on real models and flags every division that does not come out even.

Run: python lessons/04_shape_arithmetic.py [--quick]
"""

# %%
from __future__ import annotations

import math

from common import claim, lesson_args, save_figure, say, section

import minialex
from minialex import viz
from minialex.models import alexnet

args = lesson_args(__doc__)


# %%
def out_size(n: int, f: int, s: int, p: int = 0, ceil: bool = False) -> tuple[int, float]:
    """Output length of a conv/pool window: (rounded result, exact value before rounding).

    floor((n + 2p - f) / s) + 1, or ceil(...) + 1 with ceil_mode. The exact value shows
    when the stride does not divide evenly (the last rows are then skipped, or padded).
    """
    exact = (n + 2 * p - f) / s + 1
    rounded = (math.ceil if ceil else math.floor)((n + 2 * p - f) / s) + 1
    return rounded, exact


def chain(n: int, layers: list[tuple[str, int, int, int, bool]]) -> list[tuple[str, int, float]]:
    """Apply out_size layer after layer; stop (size 0) when a window no longer fits.

    Rounding down, a window must fit inside the padded input. Rounding up (ceil mode, as
    Caffe and PyTorch define it) the last window may hang over the edge, as long as it
    starts inside the input.
    """
    sizes = []
    for name, f, s, p, ceil in layers:
        m, exact = out_size(n, f, s, p, ceil)
        if ceil and (m - 1) * s >= n + p:
            m -= 1  # that last window would start in the padding: dropped
        if m < 1 or (not ceil and n + 2 * p < f):
            sizes.append((name, 0, float("nan")))
            break
        n = m
        sizes.append((name, n, exact))
    return sizes


def show(title: str, n: int, sizes: list[tuple[str, int, float]]) -> None:
    cells = [f"{n}"]
    for name, m, exact in sizes:
        if m == 0:
            cells.append(f"{name}: window does not fit")
        elif abs(exact - m) > 1e-9:
            cells.append(f"{name} {m} ({exact:g})")
        else:
            cells.append(f"{name} {m}")
    print(f"  {title:<28} " + " -> ".join(cells))


# (name, kernel, stride, padding, ceil_mode) along the spatial path of the paper's AlexNet
PAPER = [("conv1", 11, 4, 0, False), ("pool1", 3, 2, 0, False), ("conv2", 5, 1, 2, False),
         ("pool2", 3, 2, 0, False), ("conv3", 3, 1, 1, False), ("conv4", 3, 1, 1, False),
         ("conv5", 3, 1, 1, False), ("pool5", 3, 2, 0, False)]


# %%
section("1. One formula")
say("""
A window of size f moved with stride s over n inputs padded by p on each side starts at
positions 0, s, 2s, ... as long as it fits in n + 2p, which gives the output size
""")
print("\n      out = floor((n + 2p - f) / s) + 1\n")
say("""
(the "AlexNet" Keras notebook states it in this form). When s does not divide n + 2p - f,
the floor drops the remainder: the last few input rows are never covered. Conv1 of AlexNet has
f = 11, s = 4, p = 0:
""")
for n in (227, 224):
    m, exact = out_size(n, 11, 4)
    print(f"  n = {n}: ({n} + 0 - 11) / 4 + 1 = {exact:g} -> {m}")
unseen = (224 - 11) % 4  # rows past the last conv1 window at 224
say(f"""
With 227 the division is exact and the output is 55x55, the size drawn in the paper's
figure. With 224 (the number written in the paper) it is {out_size(224, 11, 4)[1]:g}: the
stride does not divide evenly, the floor gives {out_size(224, 11, 4)[0]}, and the last
{unseen} row{'s' * (unseen != 1)} and column{'s' * (unseen != 1)} of the image are never
seen by any conv1 window. Which inputs give exactly 55 for each padding?
""")
for p in range(4):
    exact_n = 4 * 54 + 11 - 2 * p
    print(f"  padding {p}: n = 4*54 + 11 - 2*{p} = {exact_n} gives exactly 55")
tv_out, tv_exact = out_size(224, 11, 4, 2)
say(f"""
So 224 works with padding {(4 * 54 + 11 - 224) / 2:g} (impossible) but not with 0 or 1.
torchvision's AlexNet takes a 224 input with padding 2: ({224} + 4 - 11)/4 + 1 =
{tv_exact:g}, floored to {tv_out}, i.e. it also throws away a
fraction of a stride, on the padded side.
""")


# %%
section("2. Following the whole chain: why 9216")
n227 = chain(227, PAPER)
n224 = chain(224, PAPER)
show("paper, input 227", 227, n227)
show("paper, input 224", 224, n224)
last227, last224 = n227[-1][1], n224[-1][1]
say(f"""
At 227 every division is exact and pool5 leaves {last227}x{last227} maps of 256 channels:
fc6 receives {last227}*{last227}*256 = {last227 * last227 * 256} values. At 224 each
non-integer division loses a little more and pool5 leaves {last224}x{last224}:
{last224}*{last224}*256 = {last224 * last224 * 256}. That is one way to arrive at 6400. The
other is an arithmetic slip: forgetting the "+ 1" at pool5, (13 - 3)/2 = {(13 - 3) // 2} instead
of (13 - 3)/2 + 1 = {out_size(13, 3, 2)[0]} (Dutta's walk-through does exactly this, see section 4).
""")
fits = {}
for n in range(120, 300):
    sizes = chain(n, PAPER)
    if sizes[-1][1]:
        fits.setdefault(sizes[-1][1], []).append(n)
for final in (6, 5, 4):
    flat = final * final * 256
    ns = fits.get(final, [])
    print(f"  flatten {flat} = {final}*{final}*256 <- inputs {ns[0]}..{ns[-1]} "
          f"({len(ns)} sizes)" if ns else f"  flatten {flat}: no input size gives it")
say("""
4096 as a flatten size would need an input of those sizes; it turns up in tables because
4096 is fc6's OUTPUT width, which is easily mistaken for its input.
""")


# %%
section("3. A printed summary its own code cannot produce")
say("""
Dutta's "AlexNet in a Nutshell" (Analytics Vidhya, 2020) prints a Keras AlexNet with
BatchNorm for 17 flower classes at 224x224: conv1 96@11x11/4, conv2 256@11x11 (stride 1,
no padding), conv3-5 3x3 without padding, max-pool 3x3 stride 2 after blocks 1, 2 and 5. The
model summary printed below that code shows spatial sizes 54, 27, 17, 8, 6, 4, 2, 1. Follow
the code's own layers with the formula:
""")
KERAS = [("conv1", 11, 4, 0), ("pool1", None, 2, 0), ("conv2", 11, 1, 0), ("pool2", None, 2, 0),
         ("conv3", 3, 1, 0), ("conv4", 3, 1, 0), ("conv5", 3, 1, 0), ("pool5", None, 2, 0)]


def keras_chain(pool: int, ceil: bool) -> list[tuple[str, int, float]]:
    layers = [(name, pool if f is None else f, s, p, ceil and f is None)
              for name, f, s, p in KERAS]
    return chain(224, layers)


printed = [54, 27, 17, 8, 6, 4, 2, 1]
variants = {"3x3/2 (the code as printed)": keras_chain(3, False),
            "2x2/2 (the Keras notebook)": keras_chain(2, False),
            "3x3/2 with ceil_mode": keras_chain(3, True)}
print(f"  {'printed summary':<28} 224 -> " + " -> ".join(map(str, printed)))
for title, sizes in variants.items():
    show(title, 224, sizes)
    got = [m for _, m, _ in sizes]
    verdict = "matches the printed summary" if got == printed else "does NOT match"
    print(f"  {'':<28} {verdict}")
say("""
With 3x3/2 windows the sizes fall to 1 after conv5 and the last pool has nothing to fit in:
Keras would refuse to build that model. The printed sizes come out exactly with 2x2/2 pooling,
which is what the "AlexNet" Keras notebook's code uses (the article's summary was most likely
produced from that version), and also with 3x3/2 when sizes are rounded up (ceil mode).
""")

say("minialex builds the Keras-BN variant with either pooling; trace shows the arithmetic:")
print()
keras_bn = alexnet("keras-bn")
trace_22 = minialex.trace(keras_bn, (3, 224, 224))
print()
try:
    alexnet("keras-bn", pool="3x3/2")
except ValueError as exc:  # a LayerError names the layer that cannot fit
    say(f"alexnet('keras-bn', pool='3x3/2') refuses to build: {exc}")
print()
spatial_ceil = None
try:
    trace_ceil = minialex.trace(alexnet("keras-bn", pool="3x3/2", ceil_mode=True),
                                (3, 224, 224), print=False)
except ValueError as exc:
    say(f"""alexnet('keras-bn', pool='3x3/2', ceil_mode=True): {exc}. (PyTorch and Caffe
        accept a window hanging over the edge in ceil mode and give 1 here; this build of
        minialex does not, so the last size is the hand computation above.)""")
else:
    spatial_ceil = [r.output_shape[-1] for r in trace_ceil
                    if r.name.startswith(("conv", "pool"))]
    print("  3x3/2 with ceil_mode, per conv/pool layer: " + ", ".join(map(str, spatial_ceil)))

spatial_22 = [r.output_shape[-1] for r in trace_22 if r.name.startswith(("conv", "pool"))]
summary = minialex.summary(keras_bn, (3, 224, 224))
t = summary.totals
print()
claim("sizes (Dutta's summary), 2x2/2", ",".join(map(str, printed)),
      ",".join(map(str, spatial_22)))
claim("total params (Dutta's summary)", "28,096,769", f"{t.total_params:,}")
claim("non-trainable (BN running stats)", "21,136", f"{t.non_trainable_params:,}")
bn_channels = 96 + 256 + 384 + 384 + 256 + 4096 + 4096 + 1000
say(f"""
The non-trainable count is the BatchNorm running mean and variance: 2 numbers for each of
the 96 + 256 + 384 + 384 + 256 + 4096 + 4096 + 1000 = {bn_channels:,} normalised channels,
2 * {bn_channels:,} = {2 * bn_channels:,}. Keras counts them in "Total params"; PyTorch
calls them buffers and does not.
""")
assert spatial_22 == printed and spatial_ceil in (None, printed)


# %%
section("4. Arithmetic slips in the walk-throughs, recomputed")
say("""
Dutta's layer-by-layer text writes the rule as (n - f)/s + 2p, then in later layers as
(n - f)/s + 1 + 2p, and once without the + 1. The correct form puts the padding inside the
division: floor((n + 2p - f)/s) + 1. The two forms agree only when s = 1 (or p = 0 and the
+ 1 is kept). Recomputed:
""")
slips = [
    ("conv1", "(227 - 11)/4 + 0*2", (227 - 11) / 4 + 0 * 2, 55, out_size(227, 11, 4)[0]),
    ("conv2", "(27 - 5)/1 + 1 + 2*2", (27 - 5) / 1 + 1 + 2 * 2, 27, out_size(27, 5, 1, 2)[0]),
    ("conv3", "(13 - 3)/1 + 1 + 2*1", (13 - 3) / 1 + 1 + 2 * 1, 13, out_size(13, 3, 1, 1)[0]),
    ("pool5", "(13 - 3)/2 + 2*0", (13 - 3) / 2 + 2 * 0, 5, out_size(13, 3, 2)[0]),
]
print(f"  {'layer':<7}{'as written':<24}{'evaluates to':>13}{'article says':>14}"
      f"{'correct':>9}")
for layer, text, value, says, right in slips:
    flag = "" if value == says == right else "   <- slip"
    print(f"  {layer:<7}{text:<24}{value:>13g}{says:>14}{right:>9}{flag}")
wrong_s2 = (27 - 5) // 2 + 1 + 2 * 2
print(f"  with stride 2 the second form breaks: n=27, f=5, s=2, p=2 gives {wrong_s2}, "
      f"the correct size is {out_size(27, 5, 2, 2)[0]}")
slip = {layer: (value, says, right) for layer, _, value, says, right in slips}
say(f"""
So conv1's line evaluates to {slip["conv1"][0]:g} while claiming {slip["conv1"][1]}, and pool5's
evaluates to (and claims) {slip["pool5"][0]:g} where the network has {slip["pool5"][2]}: exactly
the {slip["pool5"][1] ** 2 * 256}-vs-{slip["pool5"][2] ** 2 * 256} confusion of section 2.
Two smaller points: the article's code gives its first Dense layer input_shape=(224*224*3,),
which Keras ignores for a layer that is not first; its printed parameter count
(256 + 1) * 4096 = {257 * 4096:,} shows the layer really receives the 256 values of the flatten.

The "AlexNet" Keras notebook describes conv1 as having 'same' padding, then computes its size
with no padding (valid), which is the right one: 'same' would give ceil(227/4) =
{math.ceil(227 / 4)}, not 55.
""")


# %%
section("5. Figure: spatial size after each layer")
sizes_by_pooling = {title: [m for _, m, _ in sizes] for title, sizes in variants.items()}
_, two_by_two, ceil_mode = sizes_by_pooling.values()
say(f"""
Left, the paper's layers at 227 and at 224: the two lines differ by a few pixels per layer,
so each point carries its value. Right, Dutta's Keras-BN layers at 224 with the three
poolings and the sizes its summary prints (circles): 2x2/2 and 3x3/2 with ceil mode
{"give the same sizes, one line on top of the other" if two_by_two == ceil_mode else
 "give different sizes"}.
""")
plt = viz.pyplot()
fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.4), sharey=True)
xs = list(range(len(PAPER) + 1))
for ax, offset, (title, n, sizes, style) in (
        (left, -0.08, ("paper, input 227", 227, n227, dict(color="tab:blue", marker="o",
                                                           linestyle="-"))),
        (left, 0.08, ("paper, input 224 (no padding)", 224, n224,
                      dict(color="tab:orange", marker="s", linestyle="--")))):
    ys = [n] + [m for _, m, _ in sizes]
    ax.plot([x + offset for x in xs], ys, label=title, **style)
    for x, y in zip(xs, ys, strict=True):
        ax.annotate(str(y), (x + offset, y), textcoords="offset points", fontsize=7,
                    xytext=(0, 7 if offset < 0 else -12), ha="center", color=style["color"])
keras_styles = (dict(color="tab:green", marker="^", linestyle=":"),
                dict(color="tab:red", marker="D", linestyle="-", markersize=8),
                dict(color="tab:purple", marker="o", linestyle="--", markersize=4))
for (title, sizes), style in zip(variants.items(), keras_styles, strict=True):
    ys = [224] + [m for _, m, _ in sizes if m > 0]
    right.plot(range(len(ys)), ys, label=title, **style)
    if sizes[-1][1] == 0:  # the window that does not fit, drawn below the last size
        right.plot([len(ys)], [ys[-1] * 0.75], marker="x", color=style["color"],
                   markersize=12, linestyle="none")
        right.annotate("3x3/2: pool5 does not fit", (len(ys), ys[-1] * 0.75),
                       textcoords="offset points", xytext=(-150, -4), fontsize=8,
                       color=style["color"])
right.plot(xs[1:], printed, linestyle="none", marker="o", markersize=13, markerfacecolor="none",
           markeredgecolor="black", label="Dutta's printed summary")
for x, y in zip(xs[1:], printed, strict=True):
    right.annotate(str(y), (x, y), textcoords="offset points", xytext=(8, 5), fontsize=7)
left.set_title("The paper's layers: 227 vs 224 input")
right.set_title("Dutta's Keras-BN at 224: which pooling gives its summary")
left.set_ylabel("height = width (log scale)")
for ax in (left, right):
    ax.set_yscale("log")
    ax.set_xticks(xs)
    ax.set_xticklabels(["input"] + [name for name, *_ in PAPER], rotation=30)
    ax.set_xlabel("layer")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
fig.tight_layout()
save_figure(fig, args, "spatial_sizes")


# %%
section("Try this")
say("""
1. Let minialex flag the uneven divisions itself: at 224 the trace marks each one and stops
at fc6, whose input width no longer fits; compare with 227.

    python -m minialex summary --variant paper --input 3,224,224 --trace
    python -m minialex summary --variant paper --input 3,227,227 --trace

2. Build Dutta's code as printed: with 3x3/2 pooling the error names the layer that cannot
fit; with ceil mode the printed sizes come back.

    python -m minialex summary --variant keras-bn --pool 3x3/2
    python -m minialex summary --variant keras-bn --pool 3x3/2 --ceil-mode --trace

3. Give conv1 padding 2 in PAPER above (torchvision's choice) and run the lesson again: which
input sizes now end in 6x6x256?

Next: lesson 05, assembling AlexNet (python lessons/05_assembling_alexnet.py). The exercise
that goes with this lesson is the output-size formula through a whole network: fill in
exercises/output_size.py, then

    python -m minialex check output_size
""")
