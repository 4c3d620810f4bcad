"""Ablations after Waghmare's RIT report: 3 vs 4 vs 5 conv layers, dropout or none, epochs.

Waghmare, "AlexNet for Deep Convolutional Neural Networks" (RIT report, 2021), trained a
Keras AlexNet with BatchNorm on a 20-class image-folder dataset (14,000 training and 3,000
test images) with Adam, and asked three questions: does the network need all five conv
layers, does dropout help, and how does accuracy grow with epochs. This lesson repeats the
three experiments with the same kind of model (BatchNorm after each block, dropout 0.4, Adam)
scaled down to 32x32 shapes images, and prints its measurements beside the report's.

The report's ablation runs stop after a "predefined" number of epochs it does not state; its
5-conv ablation numbers equal its own third-epoch numbers, so it was most likely 3 epochs.
"""

from __future__ import annotations

from common import Timer, claim, lesson_args, save_figure, say, section

from minialex import backend
from minialex.data import DataLoader, Normalize, Shapes
from minialex.models import alexnet
from minialex.optim import Adam
from minialex.train import evaluate, fit
from minialex.viz import plot_curves

np = backend.np
args = lesson_args(__doc__)


# The report's kind of model, lesson-sized: cifar-small at 1/8 width with BatchNorm after
# every block and hidden FC layer, and the report's dropout of 0.4 unless a run overrides it.
BASE = {"width": 1 / 8, "batch_norm": True, "dropout": 0.4}
size = 32
n_train, n_test, epochs = (300, 200, 2) if args.quick else (3000, 600, 4)
train_set = Shapes(n_train, size, seed=args.seed, train=True)
test_set = Shapes(n_test, size, seed=args.seed, train=False)
normalise = Normalize([0.5, 0.5, 0.5], [0.25, 0.25, 0.25])


def run(label: str, seed: int | None = None, **options: object) -> dict:
    """Train one configuration from the same seed; return its history and test metrics."""
    seed = args.seed if seed is None else seed
    backend.manual_seed(seed)
    model = alexnet("cifar-small", num_classes=train_set.num_classes,
                    input_shape=(3, size, size), **{**BASE, **options})
    loader = DataLoader(train_set, batch_size=32, shuffle=True, seed=seed, transform=normalise)
    test_loader = DataLoader(test_set, batch_size=200, transform=normalise)
    with Timer() as t:
        history = fit(model, loader, Adam(model.parameters(), lr=1e-3), epochs,
                      val_loader=test_loader, progress=False, log=None)
    test = evaluate(model, test_loader)
    last = history.epochs[-1]
    params = sum(p.size for p in model.parameters())
    print(f"  {label:<26} {params:>8,} params  train {last['train_top1']:.3f}  "
          f"test {test['top1']:.3f}  test loss {test['loss']:.3f}  ({t.seconds:.1f} s)")
    return {"history": history, "train": last["train_top1"], "test": test["top1"],
            "loss": test["loss"]}


section("1. The setup")
print("  model: alexnet(\"cifar-small\", width=1/8, batch_norm=True, dropout=0.4)")
print(f"  shapes: {n_train} training / {n_test} test images, {size}x{size}, "
      f"{train_set.num_classes} classes; {epochs} epoch(s) per run, Adam lr 1e-3, batch 32")
say("""
Every run starts from the same seed, so the models differ only in the option under test.
num_conv=4 drops conv5 and num_conv=3 drops conv4 and conv5; the last block keeps its
max-pool, so fc6 sees the same spatial size. 'train' is the accuracy averaged over the last
epoch while training (dropout on), as Keras reports it; 'test' is measured afterwards.
""")

section("2. Runs")
results = {}
results["5 conv, dropout"] = run("5 conv, dropout 0.4")
results["4 conv"] = run("4 conv, dropout 0.4", num_conv=4)
results["3 conv"] = run("3 conv, dropout 0.4", num_conv=3)
results["5 conv, no dropout"] = run("5 conv, no dropout", dropout=0.0)
if not args.quick:
    results["5 conv, dropout, seed+1"] = run("5 conv, dropout (seed + 1)", seed=args.seed + 1)

section("3. Measured beside the report")
report = {"3 conv": (0.7325, 0.6770), "4 conv": (0.7242, 0.5233),
          "5 conv, dropout": (0.6958, 0.3730), "5 conv, no dropout": (0.6779, 0.6153)}
print(f"  {'configuration':<22} {'report train':>12} {'report test':>12} "
      f"{'train here':>11} {'test here':>10}")
for name, (r_train, r_test) in report.items():
    m = results[name]
    print(f"  {name:<22} {r_train:>12.4f} {r_test:>12.4f} {m['train']:>11.4f} {m['test']:>10.4f}")
ranking = sorted(("3 conv", "4 conv", "5 conv, dropout"), key=lambda k: -results[k]["test"])
claim("best depth (test accuracy)", "3 conv", ranking[0].replace(", dropout", ""),
      "" if ranking[0] == "3 conv" else
      f"on simple shapes at {size}x{size} the extra layers cost little; see below")
drop_gain = results["5 conv, dropout"]["test"] - results["5 conv, no dropout"]["test"]
claim("dropout minus none (test acc)", f"{0.3730 - 0.6153:+.4f}", f"{drop_gain:+.4f}",
      ("same sign, dropout hurt here too: in a few epochs it mostly slows fitting; the size "
       "of the gap depends on data, model and run length") if drop_gain < 0 else
      "here dropout helped: the short run overfits the small training set without it")
if not args.quick:
    noise = abs(results["5 conv, dropout"]["test"] - results["5 conv, dropout, seed+1"]["test"])
    say(f"""
The same 5-conv configuration trained from the next seed ends {noise:.3f} apart in test
accuracy. Differences between configurations smaller than that are not evidence of
anything; the report gives one run per configuration, so its gaps carry the same caveat.
""")
say("""
Why the numbers differ: the report classifies 20 classes of real photographs with a network
of tens of millions of parameters trained for a few epochs; here 8 classes of generated
shapes at 32x32 and a network of about fifty thousand parameters. The report explains
its depth result by data size (five conv layers pay off with ImageNet-sized data, three are
enough for 14,000 images) and credits the dataset for the dropout result. In a run of a few
epochs dropout also simply slows fitting: it has no time to pay back the noise it adds.
The report's 5-conv test accuracy (0.373), far below its training accuracy (0.696) after
only three epochs, has another possible cause: BatchNorm running statistics that have not
settled after so few updates, which hurts a deeper network more.
""")

section("4. Epochs")
hist = results["5 conv, dropout"]["history"]
print(f"  {'epoch':>5} {'train acc':>10} {'test acc':>9}")
for e in hist.epochs:
    print(f"  {e['epoch']:>5} {e['train_top1']:>10.3f} {e['val_top1']:>9.3f}")
claim("report: train acc, epoch 1 -> 3", "0.5043 -> 0.6958",
      f"{hist.epochs[0]['train_top1']:.4f} -> "
      f"{hist.epochs[min(2, len(hist.epochs) - 1)]['train_top1']:.4f}",
      "other data and model, see above")
claim("report: after 25 epochs train / test", "0.9296 / 0.7863",
      f"{hist.epochs[-1]['train_top1']:.4f} / {hist.epochs[-1]['val_top1']:.4f} "
      f"after {len(hist.epochs)}", "a one-minute lesson cannot run 25 epochs")
say("""
The report's curve rises fast in the first epochs and then slows (0.84 at epoch 15, 0.93 at
epoch 25), with the test accuracy (0.786) well below the final training accuracy: the
training set is being memorised. Running this lesson's loop for more epochs is the way to
see whether the scaled-down model flattens out the same way.
""")
x = np.arange(1, len(hist.epochs) + 1)
curves = {f"{name}: test": (x, [e["val_top1"] for e in r["history"].epochs])
          for name, r in results.items() if "seed" not in name}
curves["5 conv, dropout: train"] = (x, [e["train_top1"] for e in hist.epochs])
fig = plot_curves(curves, xlabel="epoch", ylabel="top-1 accuracy",
                  title=f"Ablations on shapes {size}x{size} (scaled-down Keras AlexNet)",
                  hline=1.0 / train_set.num_classes)
save_figure(fig, args, "ablations")
