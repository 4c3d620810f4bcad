# %% [markdown]
"""Two towers: groups=2 convolution, which layers talk across GPUs, and the towers split apart.

Krizhevsky, Sutskever and Hinton trained AlexNet on two GTX 580 GPUs with 3 GB each. They cut
every layer in half along the channels and put one half on each GPU ("tower"). Most layers
only read the half that lives on their own GPU; a few read both halves, and those are the
only places where the GPUs exchange data. In a single-device framework that wiring is one
argument: ``groups=2`` on conv2, conv4 and conv5.

This lesson
  1. lists which layers talk across towers, read from the model itself;
  2. counts the parameters the grouping saves, beside the counts the sources give (the
     paper's "60 million", the Keras notebook's one-tower 62,369,152);
  3. shows numerically that a groups=2 convolution is two independent convolutions on the
     channel halves, concatenated;
  4. splits a trained-shape network into two towers that run as separate tensors (on CPU
     and, when CuPy sees a GPU, on two devices) and meet only where the paper's GPUs did;
  5. draws the weight connectivity matrices of conv2..conv5.

Run: python lessons/11_two_towers.py [--quick]
"""

# %%
from __future__ import annotations

from collections import OrderedDict

from common import Timer, claim, lesson_args, save_figure, say, section

import minialex
import minialex.functional as F
from minialex import backend, nn
from minialex.models import alexnet
from minialex.viz import pyplot

np = backend.np
args = lesson_args(__doc__)
rng = np.random.default_rng(args.seed)


def leaf_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The model's layers in forward order (containers skipped)."""
    return [(name, m) for name, m in model.named_modules() if not list(m.children())]


def short(name: str) -> str:
    return name.rsplit(".", 1)[-1]


# %%
section("1. Which layers talk across the towers")
say("""
A convolution with groups=g splits its input channels and its output channels into g equal
blocks and connects block i of the output only to block i of the input. With g=2 that is
exactly a layer whose two halves live on two GPUs and never look at each other. A layer with
groups=1 (or any fully connected layer) reads every input channel, so in the two-GPU version
each GPU needs the other GPU's half of the input first: that is where they communicate.
""")
with Timer() as t_build:
    paper = alexnet("paper")
    single = alexnet("single")
print(f"(built both 1000-class models in {t_build.seconds:.1f} s)")

print(f"\n  {'layer':<7} {'kind':<8} {'in -> out':<14} {'groups':>6}  reads")
cross = []
for name, m in leaf_layers(paper):
    if isinstance(m, nn.Conv2d):
        groups = m.groups
        io = f"{m.in_channels} -> {m.out_channels}"
        kind = "conv"
    elif isinstance(m, nn.Linear):
        groups = 1
        io = f"{m.in_features} -> {m.out_features}"
        kind = "linear"
    else:
        continue
    first = kind == "conv" and not cross and m.in_channels == 3
    if groups == 2:
        reads = "own tower only"
    elif first:
        reads = "the image (each GPU holds a copy): no exchange"
    else:
        reads = "BOTH towers (exchange)"
        cross.append(short(name))
    print(f"  {short(name):<7} {kind:<8} {io:<14} {groups:>6}  {reads}")
say(f"""
Read from the model: the towers exchange data before {', '.join(cross)}. conv1 also has
groups=1, but it reads the 3-channel image, of which each GPU simply holds a copy, so it
costs no exchange. As the paper puts it, the kernels of layer 3 take input from all kernel
maps of layer 2, while those of layers 4 and 5 only see their own GPU's half.
""")

# %%
section("2. What the grouping saves")
p_paper = sum(p.size for p in paper.parameters())
p_single = sum(p.size for p in single.parameters())
fc_biases = sum(m.bias.size for _, m in leaf_layers(single) if isinstance(m, nn.Linear))
claim("parameters, paper (two towers)", "60 million", f"{p_paper:,}",
      "the paper's abstract gives the round figure; this counts the two-tower network "
      "exactly", verdict="reproduced" if abs(p_paper / 60e6 - 1) < 0.05 else "shown wrong")
claim("parameters, one tower (Keras nb.)", "62,369,152", f"{p_single - fc_biases:,}",
      f"the notebook's table leaves out the {fc_biases:,} FC biases; with them "
      f"{p_single:,}", verdict="reproduced" if p_single - fc_biases == 62_369_152
      else "shown wrong")
print(f"\n  {'layer':<7} {'weight shape (paper)':<22} {'single':>11} {'paper':>11} {'saved':>10}")
single_params = dict(single.named_parameters())
for name, p in paper.named_parameters():
    q = single_params[name]
    if p.size != q.size:
        print(f"  {short(name.rsplit('.', 1)[0]):<7} {str(p.shape):<22} {q.size:>11,} "
              f"{p.size:>11,} {q.size - p.size:>10,}")
saved = p_single - p_paper
layers = {short(n): m for n, m in leaf_layers(paper)}
fc_params = sum(m.weight.size + m.bias.size for m in layers.values() if isinstance(m, nn.Linear))
say(f"""
Only the weights of the grouped layers shrink, each to half: a kernel of conv2 spans
{layers['conv2'].weight.shape[1]} input channels instead of {layers['conv2'].in_channels}.
Total saved: {saved:,} parameters ({100 * saved / p_single:.1f}% of the single-tower model).
The saving is small because {100 * fc_params / p_paper:.0f}% of the paper model's parameters
sit in the fully connected layers, which are not grouped. The paper's motive was memory
(3 GB per GPU) and splitting the compute, not the parameter count.
""")
del single

# %%
section("3. groups=2 is two independent convolutions, concatenated")
x = minialex.tensor(rng.standard_normal((2, 8, 9, 9)).astype(np.float32))
w = minialex.tensor((0.1 * rng.standard_normal((6, 4, 3, 3))).astype(np.float32))
b = minialex.tensor(rng.standard_normal(6).astype(np.float32))
grouped = F.conv2d(x, w, b, padding=1, groups=2).numpy()
half_a = F.conv2d(x[:, :4], w[:3], b[:3], padding=1).numpy()
half_b = F.conv2d(x[:, 4:], w[3:], b[3:], padding=1).numpy()
two_convs = np.concatenate([half_a, half_b], axis=1)
diff = float(np.abs(grouped - two_convs).max())
print(f"  x: {x.shape}, w: {w.shape} (6 kernels, each over 8/2 = 4 channels), groups=2")
print(f"  max |conv(groups=2) - concat(conv(x[:, :4], w[:3]), conv(x[:, 4:], w[3:]))| = "
      f"{diff:.2e}")
# The same layer as an ordinary conv whose weight is zero off the diagonal blocks.
w_full = np.zeros((6, 8, 3, 3), dtype=np.float32)
w_full[:3, :4] = w.numpy()[:3]
w_full[3:, 4:] = w.numpy()[3:]
dense = F.conv2d(x, minialex.tensor(w_full), b, padding=1).numpy()
diff_dense = float(np.abs(grouped - dense).max())
print(f"  max |conv(groups=2) - conv(groups=1, block-diagonal weight)|              = "
      f"{diff_dense:.2e}")
say("""
Both differences are float32 rounding: a grouped convolution is a dense one whose weight is
block-diagonal. It stores only the diagonal blocks and skips the multiplications by zero,
which is why it needs half the parameters and half the multiply-adds.
""")

# %%
section("4. Running the towers apart")
gpu = backend.gpu_available()  # CuPy with a GPU, or the CuPy-rules emulator if selected
dev_a, dev_b = "cpu", ("gpu" if gpu else "cpu")
if gpu and backend.current() == "cupy-emulator":
    say("""
The CuPy-rules emulator stands in for a GPU (MINIALEX_BACKEND=cupy-emulator): tower A runs on
the CPU, tower B on the emulated device, whose arrays never mix with the CPU's, so every
crossing must be an explicit .to() (the times below are NumPy's, not a GPU's).
""")
elif gpu:
    say("CuPy sees a GPU: tower A runs on the CPU (NumPy), tower B on the GPU (CuPy).")
else:
    say("""
No GPU here (CuPy absent or no device), so the second device is simulated: tower B's
tensors are separate Tensors on the CPU, and every crossing is an explicit .to() call that
would be a GPU-to-GPU copy on the paper's hardware.
""")
say("""
The split follows the paper: each tower owns half of every layer's output channels. A
grouped layer (conv2, conv4, conv5) reads only its own half. A crossing layer (conv3, fc6,
fc7, fc8) needs the other tower's half as well; because convolution and matrix products are
sums over input channels, tower A computes W[A, A] * a + W[A, B] * b, where b is copied over
from tower B. LRN is left out here (lrn=False): the paper normalised each tower's channels on
their own, while the one-device model's window straddles the tower boundary (see below).
""")

if args.quick:
    # A small network with the paper's wiring, so the split runs in a second.
    model = nn.Sequential(OrderedDict([
        ("conv1", nn.Conv2d(3, 16, 5, padding=2)), ("relu1", nn.ReLU()),
        ("pool1", nn.MaxPool2d(3, 2)),
        ("conv2", nn.Conv2d(16, 32, 5, padding=2, groups=2)), ("relu2", nn.ReLU()),
        ("pool2", nn.MaxPool2d(3, 2)),
        ("conv3", nn.Conv2d(32, 48, 3, padding=1)), ("relu3", nn.ReLU()),
        ("conv4", nn.Conv2d(48, 48, 3, padding=1, groups=2)), ("relu4", nn.ReLU()),
        ("conv5", nn.Conv2d(48, 32, 3, padding=1, groups=2)), ("relu5", nn.ReLU()),
        ("pool5", nn.MaxPool2d(3, 2)), ("flatten", nn.Flatten()),
        ("fc6", nn.Linear(32 * 3 * 3, 64)), ("relu6", nn.ReLU()),
        ("fc7", nn.Linear(64, 64)), ("relu7", nn.ReLU()), ("fc8", nn.Linear(64, 10))]))
    image_shape, label = (3, 32, 32), "a small paper-wired net at 32x32 (--quick)"
else:
    model = alexnet("paper", lrn=False)
    image_shape, label = (3, 227, 227), "the paper AlexNet at 227x227 (lrn=False)"
model.eval()  # dropout off, so both runs compute the same function
model.to("cpu")  # the one-device reference and tower A run on the CPU, whatever the default
images = minialex.tensor(rng.random((1,) + image_shape).astype(np.float32))


def halves(t: minialex.Tensor, axis: int) -> tuple[minialex.Tensor, minialex.Tensor]:
    n = t.shape[axis] // 2
    index_a = (slice(None),) * axis + (slice(0, n),)
    index_b = (slice(None),) * axis + (slice(n, None),)
    return t[index_a], t[index_b]


def apply(m: nn.Module, x: minialex.Tensor, w: minialex.Tensor,
          b: minialex.Tensor | None) -> minialex.Tensor:
    """Layer ``m``'s operation with the weight slice ``w`` and bias slice ``b``."""
    if isinstance(m, nn.Linear):
        return F.linear(x, w, b)
    return F.conv2d(x, w, b, stride=m.stride, padding=m.padding)


def run_towers(model: nn.Module, x: minialex.Tensor) -> tuple[object, dict, dict]:
    """Forward ``model`` as two towers; returns (logits on host, bytes moved, seconds/tower)."""
    moved: dict[str, int] = {}
    seconds = {"A": 0.0, "B": 0.0}
    a, b = x.to(dev_a), x.to(dev_b)  # each device holds a copy of the input image
    split = False  # False: a and b are copies of the whole input; True: channel halves
    for name, m in leaf_layers(model):
        weighted = isinstance(m, (nn.Linear, nn.Conv2d))
        crossing = isinstance(m, nn.Linear) or (isinstance(m, nn.Conv2d) and m.groups == 1)
        if crossing and split:
            # The exchange: each tower receives the other tower's half of the input.
            b_on_a, a_on_b = b.to(dev_a), a.to(dev_b)
            moved[short(name)] = (a.size + b.size) * a.data.itemsize // a.shape[0]
        outs = []
        for tower, own in enumerate((a, b)):
            dev = (dev_a, dev_b)[tower]
            with Timer() as t:
                if not weighted:  # ReLU, pooling, flatten, dropout: tower-local
                    out = m(own)
                else:
                    w = halves(m.weight, 0)[tower].to(dev)
                    bias = None if m.bias is None else halves(m.bias, 0)[tower].to(dev)
                    if not crossing or not split:
                        # grouped: only its own half; first layer: the whole image is here
                        out = apply(m, own, w, bias)
                    else:
                        other = b_on_a if tower == 0 else a_on_b
                        w_halves = halves(w, 1)  # input columns of tower A, of tower B
                        out = (apply(m, own, w_halves[tower], bias)
                               + apply(m, other, w_halves[1 - tower], None))
            seconds["AB"[tower]] += t.seconds
            outs.append(out)
        a, b = outs
        split = split or weighted
    logits = np.concatenate([a.numpy(), b.numpy()], axis=1)
    return logits, moved, seconds


with minialex.no_grad():
    with Timer() as t_one:
        reference = model(images).numpy()
    logits, moved, seconds = run_towers(model, images)
err = float(np.abs(logits - reference).max() / (np.abs(reference).max() + 1e-12))
print(f"  network: {label}")
print(f"  one device, groups=2 model:      {t_one.seconds * 1000:7.0f} ms")
print(f"  tower A alone:                   {seconds['A'] * 1000:7.0f} ms")
print(f"  tower B alone:                   {seconds['B'] * 1000:7.0f} ms")
print(f"  max relative difference of the logits, towers vs one device: {err:.1e}")
print("  activations copied between the towers per image (both directions together):")
for layer, nbytes in moved.items():
    print(f"    before {layer:<6} {nbytes:>9,} bytes ({nbytes // 4:,} float32 values)")
total = sum(moved.values())
print(f"    total         {total:>9,} bytes")
say(f"""
The towers reproduce the one-device model to float32 rounding. One after the other on one
CPU they take {seconds['A'] + seconds['B']:.2f} s against {t_one.seconds:.2f} s for the grouped
model; on two devices they would run side by side, so the compute time would approach
max(A, B) = {max(seconds.values()):.2f} s plus the copies listed above. The copies are small
({total / 1e6:.2f} MB per image) next to the weights each GPU keeps to itself, which is why
splitting the model across two 3 GB GPUs paid off in 2012.
""")
if not args.quick:
    claim("exchange points", "conv3, fc6-fc8", ", ".join(moved))

say("""
The paper applies local response normalisation inside each tower. One device running the
grouped model normalises across all 96 channels, so channels next to the tower boundary
see neighbours from the other tower. How much does that change?
""")
acts = minialex.tensor(np.maximum(rng.standard_normal((1, 96, 13, 13)), 0).astype(np.float32)
                       * 20)  # ReLU outputs of a plausible size
whole = F.local_response_norm(acts).numpy()
per_tower = np.concatenate([F.local_response_norm(h).numpy() for h in halves(acts, 1)], axis=1)
changed = np.nonzero(np.abs(whole - per_tower).max(axis=(0, 2, 3)) > 0)[0]
rel = float(np.abs(whole - per_tower).max() / np.abs(whole).max())
print(f"  channels whose LRN output differs (window n=5 across 96 channels): "
      f"{changed.tolist()}, max relative change {rel:.1e}")
say(f"""
Only the {len(changed)} channels within n/2 = 2 of the boundary differ, so a one-device
'paper' model is the two-GPU network up to this edge effect.
""")

# %%
section("5. Figure: who reads whom")
plt = pyplot()
convs = [(short(n), m) for n, m in leaf_layers(paper) if isinstance(m, nn.Conv2d)][1:]
fig, axes = plt.subplots(1, len(convs), figsize=(3.2 * len(convs), 3.4))
for ax, (name, m) in zip(axes, convs, strict=True):
    wts = np.abs(m.weight.numpy()).sum(axis=(2, 3))  # (C_out, C_in / groups)
    cin = m.in_channels
    full = np.zeros((m.out_channels, cin))
    per_out, per_in = m.out_channels // m.groups, cin // m.groups
    for g in range(m.groups):
        full[g * per_out:(g + 1) * per_out, g * per_in:(g + 1) * per_in] = \
            wts[g * per_out:(g + 1) * per_out]
    ax.imshow(full > 0, cmap="Greys", vmin=0, vmax=1, interpolation="nearest", aspect="auto")
    ax.set_title(f"{name}: groups={m.groups}")
    ax.set_xlabel("input channel")
    ax.set_ylabel("output channel")
fig.suptitle("Nonzero weights between channels (black): grouped layers are block-diagonal")
fig.tight_layout()
save_figure(fig, args, "connectivity")

# %%
section("Try this")
say("""
1. Count what four towers would save: build conv2 with groups=4
(nn.Conv2d(96, 256, 5, padding=2, groups=4)) and compare its parameter count with the
groups=2 layer of alexnet("paper") and the groups=1 layer of alexnet("single").

2. Run the two-tower split on the small paper-wired network and check that the exchange
points and the logits' agreement do not depend on the size:

    python lessons/11_two_towers.py --quick

3. In section 4, normalise across the tower boundary as the one-device model does and count
how many logits change beyond float32 rounding.

Next: lesson 12, training AlexNet end to end:

    python lessons/12_training_alexnet.py
""")
