# %% [markdown]
"""Ablations after Waghmare's RIT report: 3 vs 4 vs 5 conv layers, dropout or none, epochs.

Waghmare, "AlexNet for Deep Convolutional Neural Networks" (RIT report, 2021), trained a
Keras AlexNet with BatchNorm on a 20-class image-folder dataset (14,000 training and 3,000
test images) with Adam, and asked three questions: does the network need all five conv
layers, does dropout help, and how does accuracy grow with epochs. This lesson repeats the
three experiments with the same kind of model (BatchNorm after each block, dropout 0.4, Adam)
scaled down to 32x32 shapes images, trains every configuration from two seeds to measure
the run-to-run noise, and calls a difference a result only when it is larger than that noise.

The report's ablation runs stop after a "predefined" number of epochs it does not state; its
5-conv ablation numbers equal its own third-epoch numbers, so it was most likely 3 epochs,
which is what this lesson runs by default.

Run: python lessons/13_ablations.py [--quick] [--epochs N] [--lr X] [--seeds K]
"""

# %%
from __future__ import annotations

import argparse

from common import Timer, claim, lesson_args, save_figure, say, section

from minialex import backend
from minialex.data import DataLoader, Normalize, Shapes
from minialex.models import alexnet
from minialex.optim import Adam
from minialex.train import evaluate, fit
from minialex.viz import pyplot


def options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--epochs", type=int, default=None,
                        help="epochs per run (default 3, 2 with --quick)")
    parser.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate (2e-3)")
    parser.add_argument("--seeds", type=int, default=None,
                        help="runs per configuration, seeds SEED, SEED+1, ... (default 2)")


args = lesson_args(__doc__, extra=options)
np = backend.np

# The report's kind of model, lesson-sized: cifar-small at 1/8 width with BatchNorm after
# every block and hidden FC layer, and the report's dropout of 0.4 unless a run overrides it.
BASE = {"width": 1 / 8, "batch_norm": True, "dropout": 0.4}
size = 32
n_train, n_test = (300, 200) if args.quick else (2000, 500)
epochs = args.epochs or (2 if args.quick else 3)
seeds = [args.seed + i for i in range(max(1, args.seeds or 2))]
train_set = Shapes(n_train, size, seed=args.seed, train=True)
test_set = Shapes(n_test, size, seed=args.seed, train=False)
normalise = Normalize([0.5, 0.5, 0.5], [0.25, 0.25, 0.25])
CONFIGS = {"5 conv, dropout": {}, "4 conv": {"num_conv": 4}, "3 conv": {"num_conv": 3},
           "5 conv, no dropout": {"dropout": 0.0}}


def run(label: str, seed: int, **choices: object) -> dict:
    """Train one configuration from ``seed``; return its history and test metrics."""
    backend.manual_seed(seed)
    model = alexnet("cifar-small", num_classes=train_set.num_classes,
                    input_shape=(3, size, size), **{**BASE, **choices})
    loader = DataLoader(train_set, batch_size=64, shuffle=True, seed=seed, transform=normalise)
    test_loader = DataLoader(test_set, batch_size=250, transform=normalise)
    with Timer() as t:
        history = fit(model, loader, Adam(model.parameters(), lr=args.lr), epochs,
                      val_loader=test_loader, progress=False, log=None)
    test = evaluate(model, test_loader)
    last = history.epochs[-1]
    params = sum(p.size for p in model.parameters())
    print(f"  {label:<20} seed {seed}  {params:>7,} params  train {last['train_top1']:.3f}  "
          f"test {test['top1']:.3f}  test loss {test['loss']:.3f}  ({t.seconds:.1f} s)")
    return {"history": history, "train": last["train_top1"], "test": test["top1"],
            "loss": test["loss"]}


# %%
section("1. The setup")
print("  model: alexnet(\"cifar-small\", width=1/8, batch_norm=True, dropout=0.4)")
print(f"  shapes: {n_train} training / {n_test} test images, {size}x{size}, "
      f"{train_set.num_classes} classes; {epochs} epoch(s) per run, Adam lr {args.lr:g}, "
      f"batch 64; {len(seeds)} seed(s) per configuration")
say("""
num_conv=4 drops conv5 and num_conv=3 drops conv4 and conv5; the last block keeps its
max-pool, so fc6 sees the same spatial size. For one seed, every configuration starts from
the same random stream and sees the same batches, so they differ only in the option under
test. 'train' is the accuracy averaged over the last epoch while training (dropout on), as
Keras reports it; 'test' is measured afterwards.
""")

# %%
section("2. Runs")
runs = {name: [run(name, seed, **choices) for seed in seeds] for name, choices in CONFIGS.items()}
mean = {name: float(np.mean([r["test"] for r in rs])) for name, rs in runs.items()}
train_mean = {name: float(np.mean([r["train"] for r in rs])) for name, rs in runs.items()}

# %%
section("3. How large is the noise?")
# Seed-to-seed spread: the pooled standard deviation of a configuration's test accuracy
# around its own mean. A difference of two means of k runs each has a standard error
# sd * sqrt(2 / k) from that, plus the test set's own binomial error for n_test images.
k = len(seeds)
if k > 1:
    residuals = [r["test"] - mean[name] for name, rs in runs.items() for r in rs]
    seed_sd = float(np.sqrt(np.sum(np.square(residuals)) / (len(CONFIGS) * (k - 1))))
else:
    seed_sd = float("nan")
p = float(np.mean(list(mean.values())))
test_se = float(np.sqrt(2 * p * (1 - p) / n_test))
noise = 2 * float(np.sqrt((seed_sd ** 2 if k > 1 else 0.0) * 2 / k + test_se ** 2))
print("  seed-to-seed standard deviation of test accuracy: "
      + (f"{seed_sd:.3f} (pooled over {len(CONFIGS)} configurations x {k} seeds)" if k > 1
         else "not measured (one seed per configuration)"))
print(f"  test-set standard error of a difference ({n_test} images, accuracy ~{p:.2f}): "
      f"{test_se:.3f}")
print(f"  noise band for a difference of two configurations (2 standard errors): "
      f"+-{noise:.3f}")
say("""
A difference between two configurations is evidence only when it is larger than this band.
Two seeds give a rough estimate of the spread (run --seeds 4 for a better one); the report
gives one run per configuration, so its gaps carry the same caveat with an unknown band.
""")


def verdict(delta: float) -> str:
    return "inconclusive within noise" if abs(delta) < noise else "re-measured at small scale"


# %%
section("4. Measured beside the report")
report = {"3 conv": (0.7325, 0.6770), "4 conv": (0.7242, 0.5233),
          "5 conv, dropout": (0.6958, 0.3730), "5 conv, no dropout": (0.6779, 0.6153)}
print(f"  {'configuration':<22} {'report train':>12} {'report test':>12} "
      f"{'train here':>11} {'test here':>10}  (means over {k} seed(s))")
for name, (r_train, r_test) in report.items():
    print(f"  {name:<22} {r_train:>12.4f} {r_test:>12.4f} {train_mean[name]:>11.4f} "
          f"{mean[name]:>10.4f}")
depths = sorted(("3 conv", "4 conv", "5 conv, dropout"), key=lambda n: -mean[n])
best, runner_up = depths[0], depths[1]
gap = mean[best] - mean[runner_up]
best_text = best.replace(", dropout", "")
depth_verdict = verdict(gap)
claim("best depth (test accuracy)", "3 conv",
      f"{best_text} by {gap:.3f}", verdict=depth_verdict,
      why=(f"{best_text} leads {runner_up.replace(', dropout', '')} by less than the noise "
           f"band +-{noise:.3f}: this run cannot rank them") if depth_verdict.startswith("inc")
      else ("same winner, beyond the noise" if best == "3 conv" else
            f"another winner here, beyond the noise: on simple shapes at {size}x{size} the "
            f"extra layers cost little"))
drop_gain = mean["5 conv, dropout"] - mean["5 conv, no dropout"]
drop_verdict = verdict(drop_gain)
claim("dropout minus none (test acc)", f"{0.3730 - 0.6153:+.4f}", f"{drop_gain:+.4f}",
      verdict=drop_verdict,
      why=(f"inside the noise band +-{noise:.3f}" if drop_verdict.startswith("inc") else
           "same sign, beyond the noise: in a few epochs dropout mostly slows fitting"
           if drop_gain < 0 else "opposite sign, beyond the noise: dropout helped here"))
say("""
Why the numbers differ: the report classifies 20 classes of real photographs with a network
of tens of millions of parameters; here 8 classes of generated shapes at 32x32 and a network
of about fifty thousand parameters. The report explains its depth result by data size (five
conv layers pay off with ImageNet-sized data, three are enough for 14,000 images) and
credits the dataset for the dropout result. In a run of a few epochs dropout also simply
slows fitting: it has no time to pay back the noise it adds. The report's 5-conv test
accuracy (0.373), far below its training accuracy (0.696) after three epochs, has another
possible cause: BatchNorm running statistics that have not settled after so few updates,
which hurts a deeper network more.
""")

# %%
section("5. Epochs")
hist = runs["5 conv, dropout"][0]["history"]
print(f"  {'epoch':>5} {'train acc':>10} {'test acc':>9}   (5 conv, dropout, seed {seeds[0]})")
for e in hist.epochs:
    print(f"  {e['epoch']:>5} {e['train_top1']:>10.3f} {e['val_top1']:>9.3f}")
claim("report: train acc, epoch 1 -> 3", "0.5043 -> 0.6958",
      f"{hist.epochs[0]['train_top1']:.4f} -> "
      f"{hist.epochs[min(2, len(hist.epochs) - 1)]['train_top1']:.4f}",
      "other data and model, see above")
claim("report: after 25 epochs train / test", "0.9296 / 0.7863",
      f"{hist.epochs[-1]['train_top1']:.4f} / {hist.epochs[-1]['val_top1']:.4f} "
      f"after {len(hist.epochs)}", "a lesson of under a minute cannot run 25 epochs")
loss_1, loss_3, loss_25 = 1.5002, 0.8336, 0.2046  # the report's losses, epochs 1, 3, 25
say(f"""
The report's curve rises fast in the first epochs and then slows (0.84 at epoch 15, 0.93 at
epoch 25), with the test accuracy (0.786) well below the final training accuracy: the
training set is being memorised. Its own arithmetic on these numbers slips twice (the
claims ledger, python -m minialex claims, redoes it): from {loss_1} to {loss_3} the loss
falls to {loss_3 / loss_1:.3f} of its value, not half, and from {loss_1} to {loss_25} it
falls by {1 - loss_25 / loss_1:.1%}, not 89%.
""")

# %%
plt = pyplot()
fig, ax = plt.subplots(figsize=(6.8, 4.2))
x = np.arange(1, epochs + 1)
for i, (name, rs) in enumerate(runs.items()):
    curves = np.array([[e["val_top1"] for e in r["history"].epochs] for r in rs])
    color = f"C{i}"
    ax.plot(x, curves.mean(axis=0), color=color, marker="o", label=f"{name}: test")
    if k > 1:
        ax.fill_between(x, curves.min(axis=0), curves.max(axis=0), color=color, alpha=0.15)
ax.plot(x, [e["train_top1"] for e in hist.epochs], color="C0", linestyle=":",
        label=f"5 conv, dropout: train (seed {seeds[0]})")
chance = 1.0 / train_set.num_classes
ax.axhline(chance, color="grey", linestyle="--", linewidth=1,
           label=f"chance (1/{train_set.num_classes} = {chance:.3f})")
ax.set_xticks(x)
ax.set_xlabel("epoch")
ax.set_ylabel("top-1 accuracy")
ax.set_title(f"Ablations on shapes {size}x{size}: mean of {k} seed(s), band = min..max")
ax.legend(fontsize=8)
ax.grid(alpha=0.3)
fig.tight_layout()
save_figure(fig, args, "ablations")

# %%
section("Try this")
say(f"""
1. More seeds shrink the noise band: with four per configuration, which of the depth
differences survive?

    python lessons/13_ablations.py --seeds 4

2. Train longer (the report's full run was 25 epochs): does dropout start to pay off once
the network without it overfits?

    python lessons/13_ablations.py --epochs 8

3. A learning rate {args.lr * 5:g} instead of {args.lr:g}: which configuration suffers most?

    python lessons/13_ablations.py --lr {args.lr * 5:g}

Next: lesson 14, the variants of "Tweaking the AlexNet":

    python lessons/14_variants.py
""")
