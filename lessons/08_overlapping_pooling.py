# %% [markdown]
"""Overlapping pooling: 3/2 versus 2/2 windows, the 1-D picture, output sizes, overfitting.

AlexNet max-pools with 3x3 windows moved 2 pixels at a time, so neighbouring windows share a
row or column (Krizhevsky, Sutskever and Hinton, section 3.4). This lesson shows in 1-D which
inputs each window reads, checks that 3/2 and 2/2 give the same output sizes at every
AlexNet pooling layer (55 -> 27 -> 13 -> 6), and trains one small network both ways to
compare training accuracy, test accuracy and the gap between them.

Run: python lessons/08_overlapping_pooling.py [--quick]
"""

# %%
from __future__ import annotations

from common import (
    Timer,
    chance_range,
    claim,
    gap_chance_range,
    lesson_args,
    noise_verdict,
    save_figure,
    say,
    section,
    two_conv_blocks,
)

import minialex
import minialex.functional as F
from minialex import nn, optim, viz
from minialex.data import DataLoader, Normalize, Shapes
from minialex.nn import infer_shape
from minialex.train import evaluate, fit

args = lesson_args(__doc__, epochs=20, quick_epochs=2, lr=1e-3)
np = minialex.backend.np


# %%
def windows(n: int, kernel: int, stride: int) -> list[range]:
    """The input indices each pooling window reads, valid windows only (floor mode)."""
    count = (n - kernel) // stride + 1
    return [range(i * stride, i * stride + kernel) for i in range(count)]


def pool1d(values: list[float], kernel: int, stride: int) -> list[float]:
    """1-D max pooling through minialex's max_pool2d on a (1, 1, 1, n) tensor."""
    x = minialex.tensor(np.asarray(values, dtype=np.float32).reshape(1, 1, 1, -1))
    return F.max_pool2d(x, (1, kernel), (1, stride)).numpy().ravel().tolist()


# %%
section("1. One dimension: which inputs each window covers")
say("""
A pooling window of size z moved by stride s reads inputs i*s .. i*s + z - 1. With s = z
(2/2, traditional pooling) every input belongs to exactly one window. With z > s (3/2,
AlexNet) the windows overlap by z - s = 1: the inputs on a shared border (2, 4, 6, ...) are
read by two windows. (With 2/2 and an odd length the last input is never read at all.)
""")
n1 = 9
for kernel, stride in ((2, 2), (3, 2)):
    wins = windows(n1, kernel, stride)
    reads = [sum(j in w for w in wins) for j in range(n1)]
    print(f"kernel {kernel}, stride {stride}: " +
          "  ".join(f"[{w.start}..{w.stop - 1}]" for w in wins))
    print(f"    times each of the {n1} inputs is read: {reads}")

say("""
Dutta ("AlexNet in a Nutshell") illustrates the point with lists that 2/2 pooling cannot
tell apart. Here are three inputs that differ only in which element of a pair holds the
larger value; minialex's max_pool2d gives:
""")
signals = {
    "a": [1, 2, 9, 3, 1, 2, 1, 3, 1],
    "b": [1, 2, 3, 9, 1, 2, 1, 3, 1],
    "c": [1, 2, 3, 9, 2, 1, 3, 1, 1],
}
distinct = {}
for kernel, stride in ((2, 2), (3, 2)):
    outs = {name: pool1d(v, kernel, stride) for name, v in signals.items()}
    for name, out in outs.items():
        print(f"  {kernel}/{stride} pooling of {name} = {signals[name]} -> "
              f"{[int(o) for o in out]}")
    distinct[(kernel, stride)] = len({tuple(o) for o in outs.values()})
print(f"distinct outputs among the 3 inputs: 2/2 -> {distinct[(2, 2)]}, "
      f"3/2 -> {distinct[(3, 2)]}")
say("""
Non-overlapping windows throw away where in the window the maximum was, so different
inputs collapse to the same output; overlapping windows keep a little of that position
information (a large value on a shared border shows up in two outputs).
""")


# %%
section("2. Output sizes: floor((n - z) / s) + 1, the same for 3/2 and 2/2 in AlexNet")
x = minialex.tensor(np.zeros((1, 1, 55, 55), dtype=np.float32))
for kernel, stride in ((3, 2), (2, 2)):
    sizes = [55]
    y = x
    for _ in range(3):
        y = F.max_pool2d(y, kernel, stride)
        sizes.append(y.shape[-1])
    steps = "  ".join(f"floor(({a} - {kernel}) / {stride}) + 1 = {b}"
                      for a, b in zip(sizes[:-1], sizes[1:], strict=True))
    print(f"{kernel}/{stride}: {steps}")
say("""
The paper's three pooling layers see 55, 27 and 13 pixels (with the convolutions in
between keeping the size). For these odd sizes (n - 3) / 2 and (n - 2) / 2 floor to the
same integer, so 3/2 can replace 2/2 without changing any other layer: the comparison
below changes only the pooling windows.
""")


# %%
section("3. Does overlap make the network harder to overfit?")
n_train, n_test = (128, 128) if args.quick else (500, 1000)
epochs = args.epochs
img = 15 if args.quick else 23  # odd, so 3/2 and 2/2 pooling give the same sizes
classes = 8
train_set = Shapes(n_train, image_size=img, seed=args.seed, train=True)
test_set = Shapes(n_test, image_size=img, seed=args.seed, train=False)
norm = Normalize(train_set.images.mean(axis=(0, 2, 3)).tolist(),
                 train_set.images.std(axis=(0, 2, 3)).tolist())
train_loader = DataLoader(train_set, 50, shuffle=True, seed=args.seed, transform=norm)
test_loader = DataLoader(test_set, 250, transform=norm)
# Spatial sizes after one and two pools, by the shape arithmetic (no data).
after_one = infer_shape(nn.Sequential(nn.MaxPool2d(3, 2)), (1, img, img))[-1]
after_two = infer_shape(nn.Sequential(nn.MaxPool2d(3, 2), nn.MaxPool2d(3, 2)),
                        (1, img, img))[-1]
assert after_two == infer_shape(nn.Sequential(nn.MaxPool2d(2, 2), nn.MaxPool2d(2, 2)),
                                (1, img, img))[-1]


def net(kernel: int) -> nn.Module:
    """Two conv-ReLU-pool blocks (16, 32 channels), FC 128, FC classes; pools kernel/2."""
    layers, n_features = two_conv_blocks(img, pool=kernel)
    layers.update(fc1=nn.Linear(n_features, 128), relu3=nn.ReLU(),
                  fc2=nn.Linear(128, classes))
    return nn.Sequential(layers)


say(f"""
Two copies of a small network (two conv 5x5 + ReLU + max-pool blocks with 16 and 32
channels, a hidden layer of 128 units, {classes} outputs) with the same starting weights,
one pooling 3/2 and one 2/2. A training set of only {n_train} shapes images of {img}x{img}
pixels (odd, so that both poolings give {img} -> {after_one} -> {after_two}), {n_test}
test images, Adam (lr {args.lr:g}), {epochs} epochs, no dropout or augmentation: a setting built to
overfit, where the paper's claimed small regularising effect could show. The paper trained
AlexNet on 1.2 million ImageNet images.
""")
results = {}
init_state = None
for kernel in (2, 3):
    minialex.backend.manual_seed(args.seed)
    model = net(kernel)
    if init_state is None:
        init_state = model.state_dict()
    model.load_state_dict(init_state)  # pooling has no weights: identical start
    with Timer() as timer:
        history = fit(model, train_loader, optim.Adam(model.parameters(), lr=args.lr), epochs,
                      val_loader=test_loader, progress=False, log=None)
    train_eval = evaluate(model, DataLoader(train_set, 250, transform=norm))
    results[kernel] = (history, train_eval)
    test = history.epochs[-1]
    print(f"pool {kernel}/2: train top-1 error {1 - train_eval['top1']:.1%}, test top-1 error "
          f"{1 - test['val_top1']:.1%}, gap {train_eval['top1'] - test['val_top1']:.1%}, "
          f"test top-5 error {1 - test['val_top5']:.1%}  ({timer.seconds:.1f} s)")

err = {k: 1 - h.epochs[-1]["val_top1"] for k, (h, _) in results.items()}
err5 = {k: 1 - h.epochs[-1]["val_top5"] for k, (h, _) in results.items()}
gap = {k: e["top1"] - h.epochs[-1]["val_top1"] for k, (h, e) in results.items()}
noise = chance_range(err[2], n_test)
noise5 = chance_range(err5[2], n_test)
train_err = {k: 1 - e["top1"] for k, (_, e) in results.items()}
gap_noise = gap_chance_range(train_err[2], n_train, err[2], n_test)


def why_differ(delta: float, paper: str, noise: float) -> str:
    """One sentence on why a measured change in error differs from the paper's."""
    if abs(delta) < noise:
        return (f"inside the chance range: on {n_test} test images differences under about "
                f"{noise:.1%} are chance, far more than the paper's {paper}, which needed "
                "ImageNet's large test set")
    if delta < 0:
        return ("same sign, larger size: a tiny net memorising a few hundred images overfits "
                "far more than AlexNet on ImageNet, so a regulariser has more to gain (3x3 "
                "windows also see a little more context)")
    return (f"opposite sign, beyond the chance range {noise:.1%} in this small setting, "
            "which is not the paper's; one run on one seed, try --seed to see how much it "
            "varies")


d1, d5 = err[3] - err[2], err5[3] - err5[2]
claim("3/2 vs 2/2: change in top-1 error", "-0.4%", f"{d1:+.1%}",
      why=why_differ(d1, "0.4%", noise), verdict=noise_verdict(d1, noise))
claim("3/2 vs 2/2: change in top-5 error", "-0.3%", f"{d5:+.1%}",
      why=why_differ(d5, "0.3%", noise5), verdict=noise_verdict(d5, noise5))
d_gap = gap[3] - gap[2]
if abs(d_gap) < gap_noise:
    why_gap = (f"the gaps differ by {d_gap:+.1%}, inside the chance range of a difference "
               f"of gaps (~{gap_noise:.1%}); the paper gives no number to compare")
elif d_gap < 0:
    why_gap = (f"agrees, beyond the chance range ~{gap_noise:.1%}: the 3/2 net fits its "
               f"training set less closely ({train_err[3]:.1%} vs {train_err[2]:.1%} "
               "training error); the paper gives no number to compare")
else:
    why_gap = (f"the 3/2 net overfits more here, beyond the chance range ~{gap_noise:.1%}; "
               "the paper gives no number, and one short run on a small set is not its "
               "setting")
claim("overlap makes overfitting harder", "smaller gap", f"gap {gap[3]:.1%} vs {gap[2]:.1%}",
      why=why_gap, verdict=noise_verdict(d_gap, gap_noise))

# %%
plt = viz.pyplot()
fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
ax = axes[0]
for kernel, (lo, hi) in (((2, 2), (0, 1)), ((3, 2), (0.35, 1.35))):
    for i, w in enumerate(windows(n1, *kernel)):
        ax.plot([w.start - 0.3, w.stop - 0.7], [lo + hi + 0.15 * (i % 2)] * 2, lw=4,
                color="tab:blue" if kernel[0] == 2 else "tab:orange")
for j in range(n1):
    ax.text(j, 0.5, str(j), ha="center", va="center", fontsize=9,
            bbox={"boxstyle": "square", "fc": "white"})
ax.text(-1.2, 1.07, "2/2", va="center")
ax.text(-1.2, 1.77, "3/2", va="center")
ax.set_xlim(-1.5, n1)
ax.set_ylim(0, 2.2)
ax.axis("off")
ax.set_title("1-D pooling windows over 9 inputs")
ax = axes[1]
ep = np.arange(1, epochs + 1)
for kernel, (h, _) in results.items():
    line, = ax.plot(ep, [1 - e["train_top1"] for e in h.epochs], "--",
                    label=f"{kernel}/2 train (running)")
    ax.plot(ep, [1 - e["val_top1"] for e in h.epochs], color=line.get_color(),
            label=f"{kernel}/2 test")
ax.set_xlabel("epoch")
ax.set_ylabel("top-1 error")
ax.legend(fontsize=8)
ax.grid(alpha=0.3)
ax.set_title("Overlapping (3/2) vs non-overlapping (2/2) pooling")
fig.tight_layout()
save_figure(fig, args, "pooling")


# %%
section("Try this")
say("""
1. One seed is one sample: other seeds draw other images and weights. How far does the
3/2 - 2/2 difference move, next to the chance range printed above?

    python lessons/08_overlapping_pooling.py --seed 1
    python lessons/08_overlapping_pooling.py --seed 2

2. Train longer: does the train/test gap keep growing for both poolings, and does overlap
still keep it smaller?

    python lessons/08_overlapping_pooling.py --epochs 40

3. In section 1, write two inputs that even 3/2 pooling maps to the same output (hint: move
the large value inside a window, away from the shared borders).

Next: lesson 09, dropout (python lessons/09_dropout.py). The exercise that goes with this
lesson is max-pooling forward and backward with overlapping 3/2 windows: fill in
exercises/max_pool.py, then

    python -m minialex check max_pool
""")
