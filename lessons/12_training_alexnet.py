"""Training AlexNet end to end with the paper's recipe: SGD, momentum, weight decay, lr steps.

Krizhevsky, Sutskever and Hinton trained with stochastic gradient descent on batches of 128,
momentum 0.9 and weight decay 0.0005, starting at a learning rate of 0.01 and dividing it by 10
whenever the validation error stopped improving (three times in about 90 epochs, five to six
days on two GPUs). This lesson runs the same recipe, scaled down to fit a minute on a CPU:

  paper                                   here
  ImageNet, 1.2 M images, 1000 classes    generated shapes, a few thousand images, 8 classes
  227x227 input                           32x32 (the input cifar-small is sized for)
  96/256/384/384/256 filters, FC 4096     cifar-small at 1/8 width: 8/24/48/32/32, FC 48-24
  N(0, 0.01) weights                      He initialisation (lesson 15 shows why)
  90 epochs, batch 128                    a few epochs, batch 32

The loss is logged every N iterations, as Sahu et al. ("Tweaking the AlexNet") logged theirs
every 100, and top-1 / top-5 accuracy are printed per epoch.
"""

from __future__ import annotations

from common import Timer, claim, lesson_args, save_figure, say, section

from minialex import backend
from minialex.data import Compose, DataLoader, Normalize, RandomHorizontalFlip, Shapes
from minialex.models import alexnet
from minialex.optim import SGD, PlateauDivider
from minialex.train import evaluate, fit
from minialex.viz import plot_curves

np = backend.np
args = lesson_args(__doc__)


section("1. Data and model")
size = 32
n_train, n_test, epochs = (600, 200, 2) if args.quick else (3000, 800, 8)
with Timer() as t_data:
    train_set = Shapes(n_train, size, seed=args.seed, train=True)
    test_set = Shapes(n_test, size, seed=args.seed, train=False)
print(f"  shapes: {len(train_set)} training and {len(test_set)} test images of "
      f"{size}x{size}, {train_set.num_classes} classes ({', '.join(train_set.classes)}); "
      f"generated in {t_data.seconds:.1f} s")
normalise = Normalize([0.5, 0.5, 0.5], [0.25, 0.25, 0.25])
train_loader = DataLoader(train_set, batch_size=32, shuffle=True, seed=args.seed,
                          transform=Compose([RandomHorizontalFlip(), normalise]))
test_loader = DataLoader(test_set, batch_size=200, transform=normalise)
# cifar-small's layers, strides and He initialisation with 1/8 of its filters and FC units
model = alexnet("cifar-small", width=1 / 8, num_classes=train_set.num_classes,
                input_shape=(3, size, size))
n_params = sum(p.size for p in model.parameters())
print(f"  model: alexnet(\"cifar-small\", width=1/8): {n_params:,} parameters "
      f"(the paper's: 60,965,224)")
for name, layer in model.named_children():
    if hasattr(layer, "weight") and layer.weight is not None:
        print(f"    {name:<6} {type(layer).__name__:<8} weight {layer.weight.shape}")
say("""
The flips are the paper's horizontal reflections; the crops are left out because at 32x32
pixels a crop in the paper's proportion (224 of 256) would cut off parts of the shapes
(lesson 10 shows both).
""")

section("2. The recipe")
optimizer = SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
scheduler = PlateauDivider(optimizer, factor=0.1, patience=1)
print(f"  {optimizer!r}")
say("""
The update the paper writes down is v <- 0.9 v - 0.0005 lr w - lr g, then w <- w + v: the
velocity v remembers earlier steps (momentum), and the small pull of every weight towards 0
(weight decay) is, in the paper's words, not merely a regulariser: it lowered the training
error too. The schedule divides the learning rate by 10 when the validation error has not
improved for more than one epoch (the paper: "when the validation error rate stopped
improving"; patience 1 here because the run is short).
""")

section("3. Training")
log_every = 10 if args.quick else 20
with Timer() as t_fit:
    history = fit(model, train_loader, optimizer, epochs, val_loader=test_loader,
                  scheduler=scheduler, progress=False, log=print)
losses = np.asarray(history.iteration_loss)
print(f"\n  loss every {log_every} iterations (mean over the last {log_every}):")
logged = []
for end in range(log_every, len(losses) + 1, log_every):
    logged.append((end, float(losses[end - log_every:end].mean())))
for chunk in range(0, len(logged), 8):
    print("   " + "  ".join(f"{it:>4}: {v:.3f}" for it, v in logged[chunk:chunk + 8]))
final = history.epochs[-1]
chance = 1.0 / train_set.num_classes
print(f"\n  {len(losses)} iterations in {t_fit.seconds:.1f} s "
      f"({1000 * t_fit.seconds / len(losses):.0f} ms per iteration of 32 images)")
rates = [e["lr"] for e in history.epochs]
print(f"  learning rate per epoch: {rates}")
if len(set(rates)) == 1:
    print("  (the validation error never went more than one epoch without improving, so the "
          "divide-by-10 rule never fired in this short run)")
test = evaluate(model, test_loader)
print(f"  test top-1 {test['top1']:.3f}, top-5 {test['top5']:.3f} "
      f"(chance: {chance:.3f} and {min(1.0, 5 * chance):.3f})")
claim("paper's top-1 / top-5 error (ImageNet)", "37.5% / 17.0%",
      f"{100 * (1 - test['top1']):.1f}% / {100 * (1 - test['top5']):.1f}%",
      "a different task (8 generated classes, not 1000 photographs), a network 1/1000 the "
      "size and seconds instead of days of training")
say(f"""
Top-5 is generous with only {train_set.num_classes} classes (5 of 8 guesses), which is why
the paper's top-5 number is the headline for 1000 classes and top-1 is the stricter one here.
Training accuracy in the log above is measured with dropout on, so it can sit below the test
accuracy early on.
""")

section("4. Figure: the loss curve")
its = np.asarray([it for it, _ in logged], dtype=float)
curves = {f"train loss, mean of {log_every} iterations": (its, [v for _, v in logged])}
per_epoch = len(losses) / len(history.epochs)
ends = np.arange(1, len(history.epochs) + 1) * per_epoch
curves["test loss (end of epoch)"] = (ends, [e["val_loss"] for e in history.epochs])
fig = plot_curves(curves, xlabel="iteration", ylabel="cross-entropy loss",
                  title="Scaled-down AlexNet on shapes, paper recipe",
                  hline=float(np.log(train_set.num_classes)))
save_figure(fig, args, "loss_curve")
