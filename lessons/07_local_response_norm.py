# %% [markdown]
"""Local response normalisation: the formula, what it damps, alpha conventions, a training run.

AlexNet divides every ReLU output by a power of the summed squares of the same position in
its neighbouring channels (Krizhevsky, Sutskever and Hinton, section 3.3), with k = 2, n = 5,
alpha = 1e-4, beta = 0.75 (the paper's constants; Sarkar and Tambat's notes and the "AlexNet"
Keras notebook reproduce the formula without them). This lesson applies that formula to a
real feature map and shows which channels get damped, checks minialex against a loop written
here and against PyTorch (whose alpha means something else), shows why alpha = 1e-4 only
matters when activations are large (the paper fed raw 0-255 pixels), and trains a small
network with and without it.

Run: python lessons/07_local_response_norm.py [--quick] [--epochs N] [--lr X]
"""

# %%
from __future__ import annotations

import argparse
from typing import Any

from common import (
    Timer,
    chance_range,
    claim,
    lesson_args,
    save_figure,
    say,
    section,
    two_conv_blocks,
)

import minialex
import minialex.functional as F
from minialex import nn, optim, viz
from minialex.data import ArrayDataset, DataLoader, Shapes
from minialex.nn import init
from minialex.train import fit


def options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--epochs", type=int, default=None,
                        help="epochs of the training run (default 6, 1 with --quick)")
    parser.add_argument("--lr", type=float, default=3e-3,
                        help="SGD learning rate of the training run (default 3e-3)")


args = lesson_args(__doc__, extra=options)
np = minialex.backend.np
K, N, ALPHA, BETA = 2.0, 5, 1e-4, 0.75


def lrn_by_loops(a: Any, size: int = N, alpha: float = ALPHA, beta: float = BETA,
                 k: float = K) -> Any:
    """The paper's sum written channel by channel (float64): the independent reference."""
    a = a.astype(np.float64)
    channels = a.shape[1]
    out = np.empty_like(a)
    for i in range(channels):
        lo, hi = max(0, i - size // 2), min(channels - 1, i + (size - 1) // 2)
        s = (a[:, lo:hi + 1] ** 2).sum(axis=1)
        out[:, i] = a[:, i] / (k + alpha * s) ** beta
    return out


# %%
section("1. The formula")
say(f"""
For the activity a[i] of channel i at one position (x, y), after the ReLU,

    b[i] = a[i] / (k + alpha * sum over j from i - n/2 to i + n/2 of a[j]^2) ^ beta,

the sum running over the n channels around i and clipped at the first and last channel.
The paper (section 3.3) sets k = {K:g}, n = {N}, alpha = {ALPHA:g}, beta = {BETA:g}, chosen
on a validation set; Sarkar and Tambat's notes give the formula but not these values. It is
"lateral inhibition" across channels: a channel that fires strongly quietens its neighbours
at the same pixel. Note two regimes. When every a is small, alpha * sum(a^2) is negligible
beside k and b = a / k^beta = {K ** -BETA:.4f} * a, a constant rescaling that the next
layer's weights absorb: LRN does nothing useful. Only when alpha * sum(a^2) is comparable to
k (sum(a^2) ~ k / alpha = {K / ALPHA:.0e}, i.e. {N} activations of about
{(K / ALPHA / N) ** 0.5:.0f} each) does it inhibit.
""")

# %%
section("2. Applied to a feature map: which channels get damped")
size = 24 if args.quick else 32
channels = 16 if args.quick else 32
images = Shapes(8, image_size=size, seed=args.seed, train=True)
x_img, _ = images.get_batch(np.arange(8))
# The paper's input: raw pixel values 0..255 with the mean image subtracted.
x_raw = (x_img * 255.0 - (x_img * 255.0).mean(axis=0, keepdims=True)).astype(np.float32)
rng = np.random.default_rng(args.seed)
# Random 5x5 filters with He scale, some channels made stronger than others (as trained
# filters are), so the map has loud and quiet channels next to each other.
gain = np.exp(rng.normal(0.0, 0.8, channels)).astype(np.float32)
w = rng.normal(0.0, np.sqrt(2.0 / 75), (channels, 3, 5, 5)).astype(np.float32)
w *= gain[:, None, None, None]
feat = F.relu(F.conv2d(minialex.tensor(x_raw), minialex.tensor(w), padding=2))
a = feat.numpy()
b = F.local_response_norm(feat, N, ALPHA, BETA, K).numpy()
# damping beyond the constant k^-beta: 1 = not inhibited, 0.5 = halved by its neighbours
active = a > 1e-3
extra = np.where(active, b / np.where(active, a, 1.0) / K ** -BETA, np.nan)
per_channel = np.nanmean(extra.transpose(1, 0, 2, 3).reshape(channels, -1), axis=1)
mean_a = a.mean(axis=(0, 2, 3))
print(f"feature map: conv 5x5 ({channels} random filters) + ReLU on {size}x{size} images "
      f"with 0..255 pixels, shape {a.shape}")
print(f"mean activation over channels: {mean_a.mean():.1f} (max channel {mean_a.max():.1f}, "
      f"min {mean_a.min():.2f})")
print(f"{'channel':>8} {'mean a':>9} {'neighbours mean a':>18} {'extra damping':>14}")
order = np.argsort(per_channel)
show = list(order[:4]) + list(order[-3:])
for c in show:
    lo, hi = max(0, c - N // 2), min(channels - 1, c + (N - 1) // 2)
    print(f"{c:>8} {mean_a[c]:>9.1f} {mean_a[lo:hi + 1].mean():>18.1f} {per_channel[c]:>14.3f}")
corr = np.corrcoef(np.array([mean_a[max(0, c - 2):c + 3].mean() for c in range(channels)]),
                   per_channel)[0, 1]
say(f"""
"Extra damping" is b / a divided by the constant k^-beta: 1.000 means no inhibition.
The most damped channels are those whose window of {N} channels is loud (correlation
between the window's mean activity and the extra damping: {corr:+.2f}); a quiet channel
next to a loud one is pushed down too, which is the lateral inhibition.
""")

plt = viz.pyplot()
fig, axes = plt.subplots(2, 1, figsize=(7.5, 5.0), sharex=True)
axes[0].bar(np.arange(channels) - 0.2, mean_a, width=0.4, label="a (after ReLU)")
axes[0].bar(np.arange(channels) + 0.2, b.mean(axis=(0, 2, 3)) / K ** -BETA, width=0.4,
            label="b / k^-beta (after LRN, constant removed)")
axes[0].set_ylabel("mean activation")
axes[0].legend(fontsize=8)
axes[0].set_title("LRN on a conv + ReLU feature map (raw 0-255 pixels)")
axes[1].bar(np.arange(channels), per_channel, color="tab:red")
axes[1].axhline(1.0, color="grey", linestyle="--", linewidth=1)
axes[1].set_ylabel("extra damping")
axes[1].set_xlabel("channel")
fig.tight_layout()
save_figure(fig, args, "damping_per_channel")

# %%
section("3. Checking it: a loop, and PyTorch's different alpha")
ref = lrn_by_loops(a)
print(f"minialex vs the loop above (float64 reference): max relative error "
      f"{minialex.rel_error(b.astype(np.float64), ref):.2e}")
say("""
PyTorch's LocalResponseNorm averages the squares instead of summing them: its denominator
is k + alpha/n * sum(a^2). So the paper's alpha = 1e-4 is torch's alpha = n * 1e-4 = 5e-4;
passing 1e-4 to torch gives a layer five times weaker than the paper's.
""")
try:
    import torch
except ImportError:
    torch = None
if torch is not None:
    ta = torch.from_numpy(a)
    same = torch.nn.functional.local_response_norm(ta, N, alpha=ALPHA * N, beta=BETA, k=K)
    naive = torch.nn.functional.local_response_norm(ta, N, alpha=ALPHA, beta=BETA, k=K)
    print(f"torch with alpha * n = {ALPHA * N:g}: max relative error "
          f"{minialex.rel_error(same.numpy().astype(np.float64), ref):.2e}  (the same layer)")
    print(f"torch with alpha     = {ALPHA:g}: max relative error "
          f"{minialex.rel_error(naive.numpy().astype(np.float64), ref):.2e}  (a different layer)")
else:
    print("PyTorch is not installed; its formula, k + alpha/n * sum(a^2), by hand instead:")
    for alpha_torch, verdict in ((ALPHA * N, "the same layer"), (ALPHA, "a different layer")):
        torch_like = lrn_by_loops(a, alpha=alpha_torch / N)
        print(f"torch convention, alpha = {alpha_torch:g}: max relative error "
              f"{minialex.rel_error(torch_like, ref):.2e}  ({verdict})")

# %%
section("4. Why alpha = 1e-4 needs large activations")
print(f"{'activation scale':>17} {'alpha*sum(a^2)':>15} {'mean extra damping':>19}")
scales = [0.1, 1.0, 10.0, 30.0, 100.0, 300.0]
for s in scales:
    z = np.maximum(rng.normal(0.0, s, (4, 32, 8, 8)), 0.0).astype(np.float32)
    out = F.local_response_norm(minialex.tensor(z), N, ALPHA, BETA, K).numpy()
    nz = z > 0
    damp = float((out[nz] / z[nz]).mean() / K ** -BETA)
    window = float(ALPHA * (z ** 2).mean() * N)
    print(f"{s:>17g} {window:>15.2e} {damp:>19.4f}")
say("""
With unit-scale activations (what a network gets from inputs normalised to [0, 1] or zero
mean and unit variance) the layer is a constant factor k^-beta and nothing else. The paper
subtracted the mean image from raw 0..255 pixels, so its conv1 ReLU outputs were in the
tens to hundreds, where the same alpha inhibits strongly. Copying alpha = 1e-4 into a network
with normalised inputs silently turns LRN into a no-op; that, and batch normalisation doing
the job better, is why later networks dropped it.
""")

# %%
section("5. A short training run with and without LRN")
n_train, n_test = (256, 256) if args.quick else (2000, 1000)
epochs = args.epochs or (1 if args.quick else 6)
img = 16 if args.quick else 24
train_set = Shapes(n_train, image_size=img, seed=args.seed, train=True)
test_set = Shapes(n_test, image_size=img, seed=args.seed, train=False)
xtr, ytr = train_set.get_batch(np.arange(n_train))
xte, yte = test_set.get_batch(np.arange(n_test))
mean_image = xtr.mean(axis=0, keepdims=True)
xtr = ((xtr - mean_image) * 255.0).astype(np.float32)  # paper-style raw pixel scale
xte = ((xte - mean_image) * 255.0).astype(np.float32)
classes = train_set.num_classes
LR = args.lr


def small_net(lrn: bool) -> nn.Module:
    """conv5-ReLU-[LRN]-pool3/2 twice, then a linear classifier (channels 16, 32).

    Layers are named, so the state_dict of the net without LRN loads into the one with it.
    """
    make_lrn = (lambda: nn.LocalResponseNorm(N, ALPHA, BETA, K)) if lrn else None
    layers, n_features = two_conv_blocks(img, lrn=make_lrn)
    layers["fc"] = nn.Linear(n_features, classes)
    return nn.Sequential(layers)


say(f"""
Two copies of one small network (two conv 5x5 + ReLU + max-pool 3/2 blocks with 16 and 32
channels, then a linear classifier), identical starting weights, one with LRN after each
ReLU as in the paper's conv1 and conv2 blocks. Inputs are in the paper's convention, raw
0..255 values minus the mean image, so that LRN is in its inhibiting regime. {n_train}
training and {n_test} test images of {img}x{img} pixels, {classes} classes, {epochs} epochs.
The paper's recipe otherwise: weights from N(0, 0.01), SGD with momentum 0.9, here lr
{LR:g} (below the paper's 0.01: nothing rescales these raw inputs). The paper's ImageNet
networks are about 10,000 times larger.
""")
train_loader = DataLoader(ArrayDataset(xtr, ytr), 64, shuffle=True, seed=args.seed)
test_loader = DataLoader(ArrayDataset(xte, yte), 250)
results = {}
init_state = None
for use_lrn in (False, True):
    minialex.backend.manual_seed(args.seed)
    model = small_net(use_lrn)
    if init_state is None:
        for name, param in model.named_parameters():  # the paper's initialisation
            if name.endswith("weight"):
                init.normal_(param, 0.0, 0.01)
            else:
                init.zeros_(param)
        init_state = model.state_dict()
    model.load_state_dict(init_state)  # LRN has no parameters: the same weights both times
    with Timer() as timer:
        history = fit(model, train_loader, optim.SGD(model.parameters(), lr=LR, momentum=0.9),
                      epochs,
                      val_loader=test_loader, progress=False, log=None)
    last = history.epochs[-1]
    results[use_lrn] = history
    print(f"{'with' if use_lrn else 'without':>7} LRN: test top-1 error "
          f"{1 - last['val_top1']:.1%}, "
          f"top-5 error {1 - last['val_top5']:.1%}, train top-1 error "
          f"{1 - last['train_top1']:.1%}  ({timer.seconds:.1f} s)")

d1 = (1 - results[True].epochs[-1]["val_top1"]) - (1 - results[False].epochs[-1]["val_top1"])
d5 = (1 - results[True].epochs[-1]["val_top5"]) - (1 - results[False].epochs[-1]["val_top5"])
base = 1 - results[False].epochs[-1]["val_top1"]
noise = chance_range(base, n_test)


def why_differ(delta: float, paper: str, noise: float) -> str:
    """One sentence on why a measured change in error differs from the paper's."""
    if abs(delta) < noise:
        return (f"on {n_test} test images differences under about {noise:.1%} are chance, "
                f"more than the paper's {paper}, measured on ImageNet with a net ~10^4 larger")
    if delta < 0:
        return ("same sign, larger size: at raw pixel scale LRN also keeps the activations of "
                "this unnormalised net in check, which matters more for a tiny, briefly "
                "trained net than for AlexNet")
    return ("opposite sign and beyond chance here; one run on one seed and one learning "
            "rate, try --seed to see how much it varies")


def verdict(delta: float, noise: float) -> str:
    """A difference inside the chance range of the test set decides nothing."""
    return "inconclusive within noise" if abs(delta) < noise else "re-measured at small scale"


noise5 = chance_range(1 - results[False].epochs[-1]["val_top5"], n_test)
claim("LRN: change in top-1 error", "-1.4%", f"{d1:+.1%}", why=why_differ(d1, "1.4%", noise),
      verdict=verdict(d1, noise))
claim("LRN: change in top-5 error", "-1.2%", f"{d5:+.1%}", why=why_differ(d5, "1.2%", noise5),
      verdict=verdict(d5, noise5))
claim("CIFAR-10 4-layer CNN test error", "13% -> 11%",
      f"{1 - results[False].epochs[-1]['val_top1']:.0%} -> "
      f"{1 - results[True].epochs[-1]['val_top1']:.0%}", verdict=verdict(d1, noise),
      why="different data (shapes, 8 classes) and a far shorter run; only the direction "
          "is comparable")

# %%
fig = viz.plot_curves(
    {f"{'with' if k else 'without'} LRN": (np.arange(1, epochs + 1),
                                          [1 - e["val_top1"] for e in h.epochs])
     for k, h in results.items()},
    xlabel="epoch", ylabel="test top-1 error", title="Small CNN with and without LRN")
fig.axes[0].set_xticks(np.arange(1, epochs + 1))
save_figure(fig, args, "training")

# %%
section("Try this")
say(f"""
1. One seed is one sample. How far do the two error rates move with another seed, next to
the chance range of the test set?

    python lessons/07_local_response_norm.py --seed 1

2. LRN matters at raw-pixel activation scales (section 4). Train longer, or with a smaller
step, and see whether its advantage shrinks as the plain network catches up:

    python lessons/07_local_response_norm.py --epochs 12
    python lessons/07_local_response_norm.py --lr {LR / 3:g}

3. In section 4, rerun the damping table with alpha = 5e-4 (torch's convention read as the
paper's): at which activation scale does the layer start to inhibit?

Next: lesson 08, overlapping pooling (python lessons/08_overlapping_pooling.py). The
exercise that goes with this lesson is LRN forward and backward, exercises/lrn.py:

    python -m minialex check lrn
""")
