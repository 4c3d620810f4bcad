# %% [markdown]
"""Looking inside: learned conv1 filters, feature maps, initialisation and depth, 5x5 vs two 3x3s.

After a short training run on the shapes dataset this lesson shows what the first layer
learned, measures how much structure it has compared with its random start, and shows what
one image looks like as it passes through the network. It then measures two drawbacks that
Sarkar and Tambat list in their notes on the AlexNet paper: gradients that fade in deeper
stacks unless the weights are initialised with the right scale (the paper's N(0, 0.01)
versus Xavier/Glorot and He), and the large 5x5 kernel of conv2, which two stacked 3x3
kernels replace with fewer parameters and the same receptive field (as VGGNet did).

Run: python lessons/15_looking_inside.py [--quick] [--epochs N] [--lr X] [--decay D]
"""

# %%
from __future__ import annotations

import argparse

from common import Timer, claim, lesson_args, save_figure, say, section

import minialex
from minialex import backend, nn
from minialex.data import DataLoader, Normalize, Shapes
from minialex.models import alexnet
from minialex.optim import Adam
from minialex.train import evaluate, fit
from minialex.viz import feature_maps, filter_grid, image_grid, plot_curves


def options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--epochs", type=int, default=None,
                        help="epochs of the conv1 run (default 4, 1 with --quick)")
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (1e-3)")
    parser.add_argument("--decay", type=float, default=1e-2,
                        help="weight decay on conv1's weights (default 1e-2; 0 turns it off)")


args = lesson_args(__doc__, extra=options)
np = backend.np
rng = np.random.default_rng(args.seed)


def low_frequency_share(weights: object, radius: int = 1) -> object:
    """Per kernel, the share of its energy at the lowest spatial frequencies.

    weights: (F, C, K, K). The 2-D Fourier transform of each channel splits a kernel into
    waves; the bins with at most ``radius`` cycles across the kernel in both directions
    (constant, and the slowest ramps) hold the smooth part: colour blobs and broad edges.
    White noise spreads its energy evenly, so it puts ((2 radius + 1) / K)^2 there.
    Returns (F,) fractions in [0, 1].
    """
    energy = np.abs(np.fft.fft2(np.asarray(weights, dtype=np.float64), axes=(2, 3))) ** 2
    k = energy.shape[-1]
    low = [i for i in range(k) if min(i, k - i) <= radius]
    return energy[:, :, low][:, :, :, low].sum(axis=(1, 2, 3)) / energy.sum(axis=(1, 2, 3))


# %%
section("1. What conv1 learns")
say(f"""
The paper's figure 3 shows the 96 conv1 kernels after training: oriented edges, stripes of
several frequencies and colour blobs, split between the towers (one tower learned mostly
colour-agnostic kernels, the other colour-specific ones). A CPU lesson cannot train for 90
epochs on ImageNet, so this is a short run of a lesson-sized AlexNet (cifar-small at 1/8
width as in lesson 12: 8 conv1 kernels of 11x11, the paper's kernel size) on shapes images.
Three choices let structure appear within a minute. The images are 64x64, so that an 11x11
kernel covers an edge, not a third of the picture. conv1 starts small, from the paper's own
N(0, 0.01) instead of He's N(0, {(2 / (3 * 11 * 11)) ** 0.5:.3f}): a random start is noise at
every frequency, and the less of it there is, the sooner what the data adds dominates. And
weight decay on conv1 pulls back to zero whatever the gradients do not keep reinforcing (the
paper used 5e-4 on every weight for 90 epochs; a few hundred steps need a stronger pull).
""")
size = 64
n_train, epochs = (300, 1) if args.quick else (1500, args.epochs or 4)
if args.quick and args.epochs:
    epochs = args.epochs
model = alexnet("cifar-small", width=1 / 8, num_classes=8, input_shape=(3, size, size),
                dropout=0.0)
nn.init.normal_(model.conv1.weight, 0.0, 0.01)  # the paper's initialisation, conv1 only
train_set = Shapes(n_train, size, seed=args.seed, train=True)
test_set = Shapes(400, size, seed=args.seed, train=False)
normalise = Normalize([0.5, 0.5, 0.5], [0.25, 0.25, 0.25])
start = model.conv1.weight.numpy().copy()
conv1 = [model.conv1.weight, model.conv1.bias]
rest = [p for p in model.parameters() if all(p is not q for q in conv1)]
optimizer = Adam([{"params": conv1, "weight_decay": args.decay}, {"params": rest}], lr=args.lr)
with Timer() as t_train:
    fit(model, DataLoader(train_set, batch_size=32, shuffle=True, seed=args.seed,
                          transform=normalise),
        optimizer, epochs, progress=False, log=None)
result = evaluate(model, DataLoader(test_set, batch_size=200, transform=normalise))
learned = model.conv1.weight.numpy()
print(f"  {epochs} epoch(s) on {n_train} images of {size}x{size} in {t_train.seconds:.1f} s: "
      f"test top-1 {result['top1']:.3f} (chance {1 / train_set.num_classes:.3f})")
share_init, share_trained = low_frequency_share(start), low_frequency_share(learned)
k = start.shape[-1]
white = (3 / k) ** 2
difference = float(share_trained.mean() - share_init.mean())
spread = float(max(share_init.std(), share_trained.std()))
above = int((share_trained > share_init.max()).sum())
print(f"  share of each kernel's energy in the lowest frequencies (at most 1 cycle across the "
      f"{k}x{k} kernel; white noise: (3/{k})^2 = {white:.3f}):")
print(f"    at init : {share_init.mean():.3f} +- {share_init.std():.3f} (mean +- std over the "
      f"{len(share_init)} kernels)   " + " ".join(f"{v:.2f}" for v in share_init))
print(f"    trained : {share_trained.mean():.3f} +- {share_trained.std():.3f}"
      f"{' ' * 33}" + " ".join(f"{v:.2f}" for v in share_trained))
print(f"  difference {difference:+.3f} = {difference / spread:.1f} times the larger spread; "
      f"{above} of {len(share_trained)} trained kernels are smoother than the smoothest at init")
claim("conv1 kernels: low-frequency share", "edges, colour blobs",
      f"{share_init.mean():.2f} -> {share_trained.mean():.2f}",
      verdict=("re-measured at small scale" if difference > 2 * spread
               else "inconclusive within noise"),
      why=(f"the kernels gained smooth structure, {difference / spread:.0f} spreads above "
           "their random start; shapes have edges and flat colours, not ImageNet's textures"
           if difference > 2 * spread else
           "the change is within twice the spread between kernels: train longer (--epochs)"))
both = np.concatenate([start, learned])
fig = filter_grid(both, ncols=len(start),
                  title=f"conv1: {len(start)} RGB kernels of {k}x{k}, at init (top) and after "
                        f"{epochs} epoch(s) (bottom)")
for i, (share, when) in enumerate(((share_init, "init"), (share_trained, "trained"))):
    for j, value in enumerate(share):
        fig.axes[i * len(start) + j].set_title(f"{when} {value:.2f}" if j == 0 else
                                               f"{value:.2f}", fontsize=7)
save_figure(fig, args, "conv1_filters")
say(f"""
Each kernel is drawn on its own colour scale (as in the paper's figure); the number above it
is its low-frequency share. At init the kernels are speckle ({share_init.mean():.2f}, close
to white noise's {white:.2f}); after training (figure, bottom row) they are smooth colour
ramps and edges between two colours ({share_trained.mean():.2f}): detectors of a colour
boundary at some orientation, what the shapes on their backgrounds are made of. Run with
--decay 0 to see how much of the speckle survives without the pull towards zero.
""")

# %%
section("2. One image through the network")
image, label = test_set[0]
x = normalise(image[None], None)
shown = {}
model.eval()
with minialex.no_grad():
    h = minialex.tensor(np.ascontiguousarray(x, dtype=np.float32))
    for name, layer in model.named_children():
        h = layer(h)
        if name in ("relu1", "relu2", "relu5"):
            shown[name] = h.numpy()
for name, acts in shown.items():
    alive = float((acts > 0).mean())
    print(f"  after {name}: {acts.shape[1]} maps of {acts.shape[2]}x{acts.shape[3]}, "
          f"{alive:.0%} of the values nonzero")
fig = image_grid(image[None], labels=[f"input: {test_set.classes[label]}"])
save_figure(fig, args, "input_image")
fig = feature_maps(shown["relu1"], ncols=8, title="after conv1 + ReLU: edges and colours")
save_figure(fig, args, "feature_maps_conv1")
fig = feature_maps(shown["relu2"], ncols=8, title="after conv2 + ReLU (pooled once)")
save_figure(fig, args, "feature_maps_conv2")
say("""
The first maps still look like the image: each kernel lights up where its colour or edge
appears. After each pooling the maps are coarser, and each value summarises a larger patch of
the input, so the deeper maps no longer trace the outline: they mark whether some part or
pattern is present in a region.
""")


# %%
def init_experiment(depth: int, width: int, batch: int) -> dict:
    """Per-layer output rms and norm of the gradient arriving at each layer's output, for a
    plain stack of fully connected layers, per init and activation.
    Returns {(activation, init): (rms per layer, gradient norm per layer)}."""
    inits = {
        "N(0, 0.01)": lambda w, act: nn.init.normal_(w, 0.0, 0.01),
        "Xavier": lambda w, act: nn.init.xavier_normal_(w),
        "He": lambda w, act: nn.init.kaiming_normal_(w, nonlinearity="relu"),
    }
    x0 = rng.standard_normal((batch, width)).astype(np.float32)
    upstream = rng.standard_normal((batch, width)).astype(np.float32)
    results = {}
    for act_name, act in (("tanh", minialex.functional.tanh), ("relu", minialex.functional.relu)):
        for init_name, init in inits.items():
            backend.manual_seed(args.seed)
            convs = [nn.Linear(width, width) for _ in range(depth)]
            for conv in convs:
                init(conv.weight, act_name)
                nn.init.zeros_(conv.bias)
            h = minialex.tensor(x0)
            stds, outputs = [], []
            for conv in convs:
                h = act(conv(h)).retain_grad()
                outputs.append(h)
                stds.append(float(np.sqrt((h.numpy() ** 2).mean())))  # RMS: what He keeps
            # A fixed-size gradient arrives at the top, whatever the output's scale, so the
            # numbers below show only how the stack itself carries it back down.
            (h * minialex.tensor(upstream)).sum().backward()
            grads = [float(np.linalg.norm(out.grad)) for out in outputs]
            results[(act_name, init_name)] = (stds, grads)
    return results


section("3. Vanishing signals and initialisation")
say("""
Sarkar and Tambat note that as layers are added the gradient of the loss can shrink towards
zero, and that Xavier initialisation is the usual cure. The mechanism is the scale of the
weights. A layer with fan-in n and weights of standard deviation s multiplies the standard
deviation of its signal by about s * sqrt(n) (times 1/sqrt(2) after a ReLU, which zeroes half
of it); backpropagation multiplies the gradient by the same factor on the way down. Below a
factor of 1 both decay geometrically with depth. Xavier (s = sqrt(2 / (n_in + n_out))) makes
the factor about 1 for tanh; He (s = sqrt(2 / n_in)) makes it 1 for ReLU.
""")
depth = 6 if args.quick else 12
width = 128 if args.quick else 512
with Timer() as t_init:
    results = init_experiment(depth, width, batch=256)
fan_in = width
print(f"\n  a stack of {depth} fully connected layers, {width} -> {width} "
      f"(fan-in {fan_in}), no biases, 256 random inputs; {t_init.seconds:.1f} s")
print(f"  N(0, 0.01) factor per layer: 0.01 * sqrt({fan_in}) = {0.01 * fan_in ** 0.5:.3f} "
      f"(tanh), {0.01 * (fan_in / 2) ** 0.5:.3f} (ReLU)")
print(f"\n  {'activation':<10} {'init':<11} {'rms layer 1':>12} {f'rms layer {depth}':>13} "
      f"{f'|grad| layer {depth}':>16} {'|grad| layer 1':>15}")
for (act_name, init_name), (stds, grads) in results.items():
    print(f"  {act_name:<10} {init_name:<11} {stds[0]:>12.2e} {stds[-1]:>13.2e} "
          f"{grads[-1]:>16.2e} {grads[0]:>15.2e}")
paper_relu = results[("relu", "N(0, 0.01)")]
he_relu = results[("relu", "He")]
claim("N(0,0.01) ReLU stack: signal fades", "towards 0",
      f"rms x{paper_relu[0][-1] / paper_relu[0][0]:.0e} over {depth - 1} layers")
claim("He init keeps the scale (ReLU)", "about 1x",
      f"rms x{he_relu[0][-1] / he_relu[0][0]:.2f} over {depth - 1} layers")
claim("N(0,0.01) ReLU: gradient at layer 1", "vanishes",
      f"x{paper_relu[1][0] / paper_relu[1][-1]:.0e} of the top's")
say(f"""
With N(0, 0.01) and a fan-in of {fan_in} the signal shrinks by roughly the factor above at
every layer, so after {depth} layers it is many orders of magnitude smaller. The gradient
does the same on its way down: the same-sized gradient arrives at the top of every stack,
but with N(0, 0.01) only a tiny fraction of it reaches layer 1, whose weights then barely
move: the vanishing gradient.
Xavier keeps tanh stacks near a constant scale and He does the same for ReLU. Xavier
with ReLU still loses a factor of about sqrt(2) per layer, a gentle slope in the figures.
""")
layers_axis = list(range(1, depth + 1))
fig = plot_curves({f"{a}, {i}": (layers_axis, r[0]) for (a, i), r in results.items()},
                  xlabel="layer", ylabel="rms of the layer's output",
                  title="Forward signal through a deep stack", log=True)
save_figure(fig, args, "activation_std_by_init")
fig = plot_curves({f"{a}, {i}": (layers_axis, r[1]) for (a, i), r in results.items()},
                  xlabel="layer", ylabel="norm of the gradient at the layer's output",
                  title="Gradients flowing back through a deep stack", log=True)
save_figure(fig, args, "gradient_norm_by_init")

say("""
Why did AlexNet itself train with N(0, 0.01)? It is only eight layers deep, its layers have
large fan-ins, and the paper set the biases of conv2, conv4, conv5, fc6 and fc7 to 1 so that
the ReLUs start in their active region. The factors for the paper's own layers, computed from
the model's weight shapes:
""")
paper = alexnet("paper")
print(f"\n  {'layer':<6} {'fan-in':>7} {'0.01*sqrt(fan-in/2)':>20}  bias")
product = 1.0
for name, layer in paper.named_children():
    if isinstance(layer, (nn.Conv2d, nn.Linear)):
        w = layer.weight
        fan = w.size // w.shape[0]
        factor = 0.01 * (fan / 2) ** 0.5
        product *= factor
        print(f"  {name:<6} {fan:>7,} {factor:>20.3f}  {float(layer.bias.numpy().mean()):.0f}")
print(f"  product over the 8 layers: {product:.1e}")
if not args.quick:
    image = rng.standard_normal((1, 3, 227, 227)).astype(np.float32)
    paper.eval()
    with minialex.no_grad():
        h = minialex.tensor(image)
        stds = []
        for name, layer in paper.named_children():
            h = layer(h)
            if name.startswith("relu"):
                stds.append((name, float(h.numpy().std())))
    print("  measured std after each ReLU at the paper's initialisation, one random image:")
    print("   " + "  ".join(f"{n}: {v:.2g}" for n, v in stds))
say("""
Without the biases the signal would shrink by the product above. With them, every ReLU in
blocks 2, 4, 5 and in fc6, fc7 receives about +1 whatever arrives from below, so the network
starts alive but its outputs barely depend on the image at first. It trained because of
momentum, a learning rate of 0.01 and days of updates; Xavier and He initialisation get the
same start without relying on the biases.
""")


# %%
def receptive_field(convs: list[nn.Module], side: int) -> int:
    """Measured receptive field: how many input pixels per row reach one output pixel.

    Backpropagates from the centre output pixel of the stack (all-ones kernels, so nothing
    cancels) and measures the width of the nonzero input gradient.
    """
    for conv in convs:
        nn.init.ones_(conv.weight)
        nn.init.zeros_(conv.bias)
    x = minialex.tensor(np.ones((1, 1, side, side), dtype=np.float32), requires_grad=True)
    h = x
    for conv in convs:
        h = conv(h)
    c = h.shape[-1] // 2
    h[0, 0, c, c].backward()
    rows = np.nonzero(np.abs(x.grad[0, 0]).sum(axis=1))[0]
    return int(rows.max() - rows.min() + 1)


section("4. One 5x5 kernel or two 3x3 kernels")
say("""
conv2 of AlexNet uses 5x5 kernels; Sarkar and Tambat note that two stacked 3x3 kernels
could replace them. The stack sees the same 5x5 window of the layer below with fewer
weights and puts a second nonlinearity in between; VGGNet (2014) was built on that idea.
The parameter and multiply-add counts below are read from the layers, the receptive fields
are measured by backpropagating from one output pixel.
""")
channels = 64 if args.quick else 256  # conv2's 256 output channels; fewer with --quick
side_out = 27  # conv2's output is 27x27 at a 227 input
print(f"\n  {channels} -> {channels} channels, output {side_out}x{side_out}")
print(f"  {'stack':<14} {'parameters':>12} {'mult-adds':>15} {'receptive field':>16}")
counts = {}
for label, kernels in (("one 5x5", [5]), ("two 3x3", [3, 3]), ("one 7x7", [7]),
                       ("three 3x3", [3, 3, 3])):
    stack = [nn.Conv2d(channels, channels, k, padding=k // 2) for k in kernels]
    params = sum(p.size for conv in stack for p in conv.parameters())
    macs = sum(conv.weight.size for conv in stack) * side_out * side_out
    probe = [nn.Conv2d(1, 1, k) for k in kernels]
    rf = receptive_field(probe, side=15)
    counts[label] = (params, rf)
    print(f"  {label:<14} {params:>12,} {macs:>15,} {f'{rf}x{rf}':>16}")
ratio = counts["two 3x3"][0] / counts["one 5x5"][0]
claim("two 3x3 vs one 5x5: receptive field", "same (5x5)",
      f"{counts['two 3x3'][1]}x{counts['two 3x3'][1]} vs "
      f"{counts['one 5x5'][1]}x{counts['one 5x5'][1]}")
claim("two 3x3 vs one 5x5: parameters", "fewer", f"{ratio:.2f}x (18/25 = 0.72 of weights)")
say(f"""
Two 3x3 layers need {100 * (1 - ratio):.0f}% fewer parameters and multiply-adds than one
5x5 layer for the same 5x5 window, and three 3x3 layers replace a 7x7 with
{100 * (1 - counts['three 3x3'][0] / counts['one 7x7'][0]):.0f}% fewer. The price is one more
layer of activations to store for backpropagation.
""")

# %%
section("Try this")
say("""
1. Train conv1 without weight decay, then for longer: how much speckle is left, and does the
low-frequency share keep rising?

    python lessons/15_looking_inside.py --decay 0
    python lessons/15_looking_inside.py --epochs 8

2. Another seed draws other images and another start: do the same kinds of kernels (colour
boundaries at a few orientations) come back?

    python lessons/15_looking_inside.py --seed 1

3. In section 3, change the depth or the width of the stack (init_experiment(depth, width,
batch)) and find where N(0, 0.01) stops being usable for ReLU.

Next: lesson 16, the real AlexNet (pretrained weights, classifying photographs):

    python lessons/16_the_real_alexnet.py
""")
