"""Looking inside: learned conv1 filters, feature maps, initialisation and depth, 5x5 vs two 3x3s.

After a short training run on the shapes dataset this lesson shows what the first layer
learned and what one image looks like as it passes through the network. It then measures two
drawbacks that Sarkar and Tambat list in their notes on the AlexNet paper: gradients that fade
in deeper stacks unless the weights are initialised with the right scale (the paper's
N(0, 0.01) versus Xavier/Glorot and He), and the large 5x5 kernel of conv2, which two stacked
3x3 kernels replace with fewer parameters and the same receptive field (as VGGNet did).
"""

from __future__ import annotations

from common import Timer, claim, lesson_args, save_figure, say, section

import minialex
from minialex import backend, nn
from minialex.data import DataLoader, Normalize, Shapes
from minialex.models import alexnet
from minialex.optim import Adam
from minialex.train import evaluate, fit
from minialex.viz import feature_maps, filter_grid, image_grid, plot_curves

np = backend.np
args = lesson_args(__doc__)
rng = np.random.default_rng(args.seed)


# --------------------------------------------------------------------------------------
section("1. What conv1 learns")
say("""
The paper's figure 3 shows the 96 conv1 kernels after training: oriented edges, stripes of
several frequencies and colour blobs, split between the towers (one tower learned mostly
colour-agnostic kernels, the other colour-specific ones). A CPU lesson cannot train for 90
epochs on ImageNet, so this is a short run of a lesson-sized AlexNet (cifar-small at 1/8
width as in lesson 12: 8 conv1 kernels of 11x11, the paper's kernel size) on 32x32
shapes. Expect cruder kernels: after a few hundred updates they still carry much of their
random start (the printed change of their norm says how much); clean edge and colour
detectors take far longer to emerge. The feature maps below show that even these kernels
already respond to edges and colour regions.
""")
size = 32
n_train, epochs = (600, 1) if args.quick else (3000, 4)
model = alexnet("cifar-small", width=1 / 8, num_classes=8, input_shape=(3, size, size),
                dropout=0.0)
train_set = Shapes(n_train, size, seed=args.seed, train=True)
test_set = Shapes(400, size, seed=args.seed, train=False)
normalise = Normalize([0.5, 0.5, 0.5], [0.25, 0.25, 0.25])
start = model.conv1.weight.numpy().copy()
with Timer() as t_train:
    fit(model, DataLoader(train_set, batch_size=32, shuffle=True, seed=args.seed,
                          transform=normalise),
        Adam(model.parameters(), lr=1e-3), epochs, progress=False, log=None)
result = evaluate(model, DataLoader(test_set, batch_size=200, transform=normalise))
learned = model.conv1.weight.numpy()
change = float(np.linalg.norm(learned - start) / np.linalg.norm(start))
print(f"  {epochs} epoch(s) on {n_train} images in {t_train.seconds:.1f} s: test top-1 "
      f"{result['top1']:.3f} (chance {1 / train_set.num_classes:.3f})")
print(f"  conv1 weights moved by {change:.0%} of their initial norm")
fig = filter_grid(model.conv1.weight, ncols=8,
                  title=f"conv1: {learned.shape[0]} learned {learned.shape[2]}x{learned.shape[3]} "
                        "RGB kernels")
save_figure(fig, args, "conv1_filters")

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
