# %% [markdown]
"""Assembling AlexNet layer by layer: the trace, the summary, where parameters and compute go.

The paper's network (Krizhevsky, Sutskever and Hinton, 2012) is five convolution blocks and
three fully connected layers. This lesson builds its first block by hand from minialex.nn
layers, then prints the whole network's trace (every output size derived by the formula of
lesson 04) and its summary table. The numbers answer a question every AlexNet write-up
touches: the convolutions hold few of the parameters but do almost all of the arithmetic.
The "AlexNet" Keras notebook puts it at ~6% of parameters and ~95% of the computation; here
both are re-measured, for the notebook's one-tower table and for the paper's two towers.

Run: python lessons/05_assembling_alexnet.py [--quick]
"""

# %%
from __future__ import annotations

from common import Timer, claim, lesson_args, positive_int, save_figure, say, section

import minialex
from minialex import nn, viz
from minialex.models import alexnet

args = lesson_args(__doc__, extra=lambda parser: parser.add_argument(
    "--batch", type=positive_int, default=None,
    help="images per timed forward pass in section 5 (default 16, 2 with --quick)"))
np = minialex.backend.np
rng = np.random.default_rng(args.seed)


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


# %%
section("1. The first block, by hand")
say("""
Block 1 of the paper: 96 kernels of 11x11x3 with stride 4, ReLU, local response
normalisation (after the ReLU, as the paper does), then an overlapping 3x3 max-pool with
stride 2. Each layer is appended to a Sequential and a real image is pushed through at every
step, so each shape below is measured, not predicted.
""")
image = minialex.tensor(rng.standard_normal((1, 3, 227, 227)).astype(np.float32))
block = nn.Sequential()
print(f"  input                                     -> {image.shape}")
for name, layer in (("conv1", nn.Conv2d(3, 96, 11, stride=4)), ("relu1", nn.ReLU()),
                    ("lrn1", nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0)),
                    ("pool1", nn.MaxPool2d(3, 2))):
    block.append(layer, name)
    with minialex.no_grad():
        out = block(image)
    params = sum(p.size for p in layer.parameters())
    print(f"  + {name:<6} {type(layer).__name__:<18} {params:>9,} params -> {out.shape}")
    if name == "conv1":
        conv1_params, conv1_side = params, out.shape[-1]
say(f"""
conv1's {conv1_params:,} parameters are 96 x (11*11*3 weights + 1 bias). The same 96 kernels
are applied at all {conv1_side}*{conv1_side} positions: weight sharing is why a convolution has
few parameters yet much work.
""")


# %%
section("2. The whole network: trace, block by block")
paper = alexnet("paper")
traced = minialex.trace(paper, (3, 227, 227), print=False)
by_name = {r.name: r for r in traced}
for title, names in paper.stages:
    print(f"\n  {title[0].upper() + title[1:]}")
    for line in traced.lines([by_name[n] for n in names], header=False):
        print("    " + line)
print()
say(f"""
Output (N, {traced.output_shape[0]}): 1000 class scores per image. No size was typed in: fc6's input
width ({by_name['fc6'].input_shape[0]:,}) was computed by the same arithmetic.
""")


# %%
section("3. The summary table")
summary = minialex.summary(paper, (3, 227, 227))
print(summary)
t = summary.totals
claim("parameters (paper)", "60 million", f"{t.total_params / 1e6:.2f} M")
neurons = sum(int(np.prod(r.output_shape)) for r in summary.rows if r.kind in ("conv", "fc"))
claim("neurons (paper)", "650,000", f"{neurons:,}",
      "round number; this counts every conv and FC output value")


# %%
section("4. Conv vs fully connected: parameters and compute")
say("""
The "AlexNet" Keras notebook tabulates a single-tower AlexNet (every conv sees all channels),
counts conv biases but no FC biases, and counts a convolution's work as (fan-in + 1) x outputs,
i.e. including the bias add. From the summary rows of the one-tower variant, in the same
convention (an FC layer's weights are in x out, its mult-adds):
""")
single = alexnet("single")
summary_single = minialex.summary(single, (3, 227, 227))
s_single = summary_single.totals
conv_rows = [r for r in summary_single.rows if r.kind == "conv"]
fc_rows = [r for r in summary_single.rows if r.kind == "fc"]
conv_params = sum(r.params for r in conv_rows)
fc_weights = sum(r.mult_adds for r in fc_rows)  # in*out per FC layer: weights, no biases
conv_work = sum(r.mult_adds_bias for r in conv_rows)
fc_work = sum(r.mult_adds for r in fc_rows)
notebook_params = conv_params + fc_weights
claim("params, one tower, no FC bias", "62,369,152", f"{notebook_params:,}")
claim("conv share of parameters", "6%", pct(conv_params / notebook_params))
claim("conv share of compute", "95%", pct(conv_work / (conv_work + fc_work)))
claim("total forward computation", "1,135,906,176", f"{conv_work + fc_work:,}")
if not args.quick:  # the same count from a model built without FC biases
    no_fc_bias = minialex.summary(alexnet("single", fc_bias=False), (3, 227, 227)).totals
    print(f"  alexnet('single', fc_bias=False) has {no_fc_bias.total_params:,} parameters")
    assert no_fc_bias.total_params == notebook_params
say("""
Those match to the rounding. For the paper's two-tower network (groups=2 in conv2, conv4 and
conv5, all biases, multiply-adds without the bias adds) the shares move:
""")
claim("conv share of parameters, paper", "~6%", pct(t.conv_param_share),
      "groups=2 halves conv2/4/5's weights; FC biases add 9,192")
claim("conv share of mult-adds, paper", "~95%", pct(t.conv_mult_add_share),
      "halving conv2/4/5 halves their work too, the FC work stays")

cross = s_single.total_params - t.total_params
say(f"""
Paper (two towers): {t.total_params:,} parameters. One tower: {s_single.total_params:,}
({s_single.total_params - notebook_params:,} of them FC biases, which the notebook leaves
out). The difference, {cross:,}, is exactly the weights that would connect one tower's
channels to the other's in conv2, conv4 and conv5: 5*5*48*256 + 3*3*192*384 + 3*3*192*256 =
{5 * 5 * 48 * 256 + 3 * 3 * 192 * 384 + 3 * 3 * 192 * 256:,}.
""")
assert cross == 5 * 5 * 48 * 256 + 3 * 3 * 192 * 384 + 3 * 3 * 192 * 256


# %%
section("5. Does compute equal time? One forward pass, layer by layer")
batch = args.batch or (2 if args.quick else 16)
x = minialex.tensor(rng.standard_normal((batch, 3, 227, 227)).astype(np.float32))
paper.eval()
with minialex.no_grad():  # warm-up pass: first calls pay for memory allocation
    paper(x)
times: dict[str, float] = {}
for _ in range(1 if args.quick else 3):  # best of a few passes: the machine may be busy
    h = x
    with minialex.no_grad():
        for name, layer in paper.named_children():
            with Timer() as timer:
                h = layer(h)
            times[name] = min(timer.seconds, times.get(name, float("inf")))
weighted = [r for r in summary.rows if r.kind in ("conv", "fc")]
conv_time = sum(times[r.name] for r in weighted if r.kind == "conv")
fc_time = sum(times[r.name] for r in weighted if r.kind == "fc")
other_time = sum(times.values()) - conv_time - fc_time
total_time = sum(times.values())
print(f"  batch {batch}, float32, NumPy on this CPU: {total_time:.2f} s per forward pass "
      f"({batch * t.mult_adds / total_time / 1e9:.1f} G mult-adds/s overall)")
print(f"  time share: conv {pct(conv_time / total_time)}, FC {pct(fc_time / total_time)}, "
      f"everything else (ReLU, LRN, pooling, dropout) {pct(other_time / total_time)}")
claim("conv share of forward time", "~95% (compute)",
      pct(conv_time / total_time),
      "FC layers read 58 M weights for few MACs per weight (memory-bound at small batch); "
      "LRN and pooling cost time but no MACs")


# %%
section("6. Figure: parameters and compute per layer")
names = [r.name for r in weighted]
plt = viz.pyplot()
fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
colours = ["tab:blue" if r.kind == "conv" else "tab:orange" for r in weighted]
axes[0].bar(names, [r.params / 1e6 for r in weighted], color=colours)
axes[0].set_title(f"parameters (M): conv {pct(t.conv_param_share)}")
axes[1].bar(names, [r.mult_adds / 1e6 for r in weighted], color=colours)
axes[1].set_title(f"mult-adds per image (M): conv {pct(t.conv_mult_add_share)}")
axes[2].bar(names, [times[n] * 1e3 / batch for n in names], color=colours)
axes[2].set_title(f"measured ms per image (batch {batch}): conv {pct(conv_time / total_time)}")
for ax in axes:
    ax.tick_params(axis="x", rotation=45)
    ax.grid(axis="y", alpha=0.3)
fig.suptitle("AlexNet (paper, two towers): conv layers in blue, fully connected in orange")
fig.tight_layout()
save_figure(fig, args, "params_vs_compute")


# %%
section("Try this")
say("""
1. Time bigger batches. Each FC weight is read once per pass and used once per image, so
the FC layers' share of the time should fall as the batch grows; does it?

    python lessons/05_assembling_alexnet.py --batch 64

2. The same accounting for torchvision's AlexNet (64 filters in conv1, no LRN, 224 input):
where do its parameters and its mult-adds sit?

    python -m minialex summary --variant torchvision

3. The network of the later lessons, sized for 32x32 images: is the conv/FC split still the
same at that size?

    python -m minialex summary --variant cifar-small

Next: the paper's ingredients one at a time, starting with the ReLU in lesson 06:

    python lessons/06_relu_vs_tanh.py
""")
