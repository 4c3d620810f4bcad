# %% [markdown]
"""Data augmentation: random crops, flips, PCA colour shifts, and 10-crop testing.

AlexNet fought overfitting with two label-preserving augmentations (Krizhevsky, Sutskever
and Hinton, section 4.1): random 224x224 crops of the 256x256 images with random horizontal
flips, and "PCA colour augmentation", which adds to each image a random multiple of the
principal components of the training set's RGB colours. At test time it averaged the
predictions over ten crops. This lesson shows each transform as an image grid, prints the
eigen-decomposition of the shapes dataset's RGB covariance, and trains a small network
without and with augmentation, comparing centre-crop and 10-crop test accuracy.

Run: python lessons/10_data_augmentation.py [--quick]
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
from minialex.data import (
    CenterCrop,
    Compose,
    DataLoader,
    Normalize,
    PCAColorAugmentation,
    RandomCrop,
    RandomHorizontalFlip,
    Shapes,
    pca_color_stats,
    ten_crop,
)
from minialex.train import evaluate, fit

args = lesson_args(__doc__, epochs=12, quick_epochs=2, lr=1e-3)
np = minialex.backend.np
rng = np.random.default_rng(args.seed)


# %%
section("1. Crops and flips")
img, crop = (16, 12) if args.quick else (20, 16)
n_train, n_test = (256, 128) if args.quick else (1500, 1000)
train_set = Shapes(n_train, image_size=img, seed=args.seed, train=True)
test_set = Shapes(n_test, image_size=img, seed=args.seed, train=False)
classes = train_set.num_classes
positions = (img - crop + 1) ** 2
say(f"""
The paper cut random 224x224 windows out of 256x256 images: it counts 32 x 32 = 1024
positions (strictly 33 x 33), times 2 for the mirror image, a 2048-fold larger training set,
though the crops are of course highly correlated. Scaled down here: {crop}x{crop} crops of
{img}x{img} shapes images, {positions} positions x 2 flips = {2 * positions} variants of each
image. At test time the network sees the centre crop, or the paper's ten crops (four corners
and the centre, each also mirrored) with their softmax outputs averaged.
""")
sample, sample_labels = train_set.get_batch(np.arange(6))
names = [train_set.classes[i] for i in sample_labels]
crops_flips = Compose([RandomCrop(crop), RandomHorizontalFlip()])
variants = [CenterCrop(crop)(sample)] + [crops_flips(sample, rng) for _ in range(5)]
grid = np.stack(variants, axis=1).reshape((-1,) + variants[0].shape[1:])
fig = viz.image_grid(grid, ncols=6, labels=[n if j == 0 else "" for n in names for j in range(6)],
                     title="centre crop, then five random crops + flips of each image")
save_figure(fig, args, "crops_flips")
tens = ten_crop(sample[:1], crop)[:, 0]
fig = viz.image_grid(tens, ncols=5, labels=["top-left", "top-right", "bottom-left",
                                            "bottom-right", "centre"] + ["mirrored"] * 5,
                     title=f"the ten test crops of one {names[0]} image")
save_figure(fig, args, "ten_crops")


# %%
section("2. PCA colour augmentation: the eigen-decomposition of RGB")
eigvals, eigvecs = pca_color_stats(train_set.images, seed=args.seed)
pixels = train_set.images.transpose(1, 0, 2, 3).reshape(3, -1).astype(np.float64)
cov = np.cov(pixels)
print("RGB covariance of the training pixels (values in [0, 1]):")
for row in cov:
    print("   " + "  ".join(f"{v:8.5f}" for v in row))
print("eigenvalues (largest first) and eigenvectors (columns: R, G, B weights):")
for i in range(3):
    print(f"  lambda_{i + 1} = {eigvals[i]:.5f} ({eigvals[i] / eigvals.sum():5.1%} of the "
          f"variance)   p_{i + 1} = [{', '.join(f'{v:+.3f}' for v in eigvecs[:, i])}]")
rebuilt = eigvecs @ np.diag(eigvals) @ eigvecs.T
print(f"check: P diag(lambda) P^T reproduces the covariance to "
      f"{np.abs(rebuilt - cov).max():.1e}")
same_sign = bool(np.all(eigvecs[:, 0] > 0.2) or np.all(eigvecs[:, 0] < -0.2))
share = eigvals / eigvals.sum()
if same_sign and share[0] > 0.5:
    say("""
The first component has weights of the same sign on R, G and B: it is brightness, and the
others are colour contrasts, as for natural images.
""")
else:
    say(f"""
On natural images such as ImageNet the first component has the same sign on R, G and B
(brightness) and carries most of the variance. Not here: the shapes generator draws its
colours at random, so the three variances are nearly equal ({share[0]:.0%}, {share[1]:.0%},
{share[2]:.0%}) and the directions are arbitrary. Colour augmentation has
little to teach a network that already sees every colour.
""")
say("""
The augmentation adds to every pixel of an image the same offset
p1*a1*l1 + p2*a2*l2 + p3*a3*l3 with a_i ~ N(0, 0.1) drawn once per image, so the
illumination's intensity and colour change but not the object. The typical size of the
offset, in pixel units:
""")
pca = PCAColorAugmentation(eigvals, eigvecs, std=0.1)
offsets = pca.offsets(10_000, rng)
print(f"  std of the RGB offset over 10,000 draws: "
      f"[{', '.join(f'{v:.4f}' for v in offsets.std(axis=0))}] (pixel std "
      f"{train_set.images.std():.3f})")
strong = PCAColorAugmentation(eigvals, eigvecs, std=1.0)
shown = [sample] + [np.clip(strong(sample, rng), 0, 1) for _ in range(4)]
# One row per image; normalize=False keeps the brightness shift that per-image rescaling
# would undo (the point of the figure).
fig = viz.image_grid(np.stack([version[i] for i in range(len(sample)) for version in shown]),
                     ncols=len(shown), normalize=False,
                     title="original, then 4 PCA colour shifts\n(std 1.0, ten times the "
                           "paper's, to make them visible)")
save_figure(fig, args, "pca_colour")


# %%
section("3. Training without and with augmentation; centre crop versus 10-crop")
epochs = args.epochs
mean = train_set.images.mean(axis=(0, 2, 3)).tolist()
std = train_set.images.std(axis=(0, 2, 3)).tolist()
norm = Normalize(mean, std)


def net() -> nn.Module:
    """Two conv-ReLU-pool3/2 blocks (16, 32 channels), FC 128, FC classes, on crop x crop."""
    layers, n_features = two_conv_blocks(crop)
    layers.update(fc1=nn.Linear(n_features, 128), relu3=nn.ReLU(),
                  fc2=nn.Linear(128, classes))
    return nn.Sequential(layers)


def ten_crop_accuracy(model: nn.Module, loader: DataLoader) -> float:
    """Top-1 accuracy of the softmax averaged over the ten crops of each image."""
    model.eval()
    hits = total = 0
    with minialex.no_grad():
        for images, labels in loader:
            crops = ten_crop(images.data, crop)  # (10, N, C, crop, crop)
            n = crops.shape[1]
            logits = model(minialex.tensor(crops.reshape((10 * n,) + crops.shape[2:])))
            probs = F.softmax(logits, dim=1).numpy().reshape(10, n, classes).mean(axis=0)
            hits += int((probs.argmax(axis=1) == labels.numpy()).sum())
            total += n
    return hits / total


# Normalising after the colour shift keeps the offset in pixel units, as in the paper.
recipes = {
    "none (centre crop)": Compose([CenterCrop(crop), norm]),
    "crop + flip": Compose([RandomCrop(crop), RandomHorizontalFlip(), norm]),
    "crop + flip + PCA colour": Compose([RandomCrop(crop), RandomHorizontalFlip(), pca, norm]),
}
say(f"""
The same small network (two conv + max-pool blocks with 16 and 32 channels, 128 hidden
units) from the same starting weights, {n_train} training images, {epochs} epochs of Adam
(lr {args.lr:g}), trained three ways: {", ".join(recipes)}. Each is then tested on {n_test}
images, with the centre crop and with the average over ten crops.
""")
test_loader = DataLoader(test_set, 250, transform=norm)  # full images; crops cut below
train_eval = DataLoader(train_set, 250, transform=Compose([CenterCrop(crop), norm]))
results = {}
init_state = None
library_gap = 0.0  # ten_crop_accuracy above vs minialex.train.evaluate(ten_crop=True)
for name, transform in recipes.items():
    minialex.backend.manual_seed(args.seed)
    model = net()
    if init_state is None:
        init_state = model.state_dict()
    model.load_state_dict(init_state)
    loader = DataLoader(train_set, 50, shuffle=True, seed=args.seed, transform=transform)
    with Timer() as timer:
        fit(model, loader, optim.Adam(model.parameters(), lr=args.lr), epochs, progress=False,
            log=None)
    centre = evaluate(model, DataLoader(test_set, 250,
                                        transform=Compose([CenterCrop(crop), norm])))
    tenc = ten_crop_accuracy(model, test_loader)
    library = evaluate(model, test_loader, ten_crop=True, crop_size=crop)["top1"]
    library_gap = max(library_gap, abs(library - tenc))
    train_acc = evaluate(model, train_eval)["top1"]
    results[name] = {"train": train_acc, "centre": centre["top1"], "ten": tenc}
    print(f"{name:>26}: train {train_acc:.1%}  test centre crop {centre['top1']:.1%}  "
          f"test 10-crop {tenc:.1%}  gap {train_acc - centre['top1']:+.1%}  "
          f"({timer.seconds:.1f} s)")

print(f"(minialex.train.evaluate(..., ten_crop=True) gives the same 10-crop accuracies: "
      f"largest difference {library_gap:.1e})")
none, flip, full = (results[k] for k in recipes)
noise = chance_range(none["centre"], n_test)
gap_none, gap_full = none["train"] - none["centre"], full["train"] - full["centre"]
gap_noise = gap_chance_range(1 - none["train"], n_train, 1 - none["centre"], n_test)
if abs(gap_full - gap_none) < gap_noise:
    why = (f"the gaps differ by {gap_full - gap_none:+.1%}, inside the chance range of a "
           f"difference of gaps (~{gap_noise:.1%})")
elif gap_full > gap_none:
    why = (f"in this short run augmentation widened the gap beyond the chance range "
           f"~{gap_noise:.1%}; try more epochs")
elif full["centre"] < none["centre"]:
    why = (f"the gap shrinks as claimed, beyond the chance range ~{gap_noise:.1%}, but after "
           f"only {epochs} epochs the augmented nets also fit less and test lower: harder "
           "training data needs longer training")
else:
    why = (f"the direction agrees, beyond the chance range ~{gap_noise:.1%}; the size depends "
           "on how small the training set is")
claim("augmentation reduces overfitting", "yes (gap)", f"gap {gap_none:+.1%} -> {gap_full:+.1%}",
      why=why, verdict=noise_verdict(gap_full - gap_none, gap_noise))
pca_delta = flip["centre"] - full["centre"]  # change in top-1 error from adding PCA colour
claim("PCA colour: change in top-1 error", "-1% or more", f"{pca_delta:+.1%}",
      verdict=noise_verdict(pca_delta, noise),
      why=(f"differences under ~{noise:.1%} are chance on {n_test} test images" if
           abs(pca_delta) < noise else
           f"beyond the chance range ~{noise:.1%}, same sign as the paper" if pca_delta < 0
           else f"opposite sign, beyond the chance range ~{noise:.1%}")
      + "; shapes have random colours already, so colour shifts teach little")
for key, label in (("full", "augmented net"), ("none", "no augmentation")):
    r = results[list(recipes)[-1 if key == "full" else 0]]
    delta = r["ten"] - r["centre"]
    inside = abs(delta) < noise
    claim(f"10-crop vs centre crop ({label})", "better (paper)", f"{delta:+.1%}",
          verdict=noise_verdict(delta, noise),
          why=(f"differences under ~{noise:.1%} are chance here; the paper gives no separate "
               "number for 10-crop") if inside else
          (f"same direction, beyond the chance range ~{noise:.1%}; the paper gives no "
           "separate number for 10-crop") if delta > 0 else
          ("no gain here, beyond the chance range: corner crops show the shape off-centre or "
           "cut, which a net trained on centre crops never saw") if key == "none" else
          f"10-crop is worse here, beyond the chance range ~{noise:.1%}")


# %%
plt = viz.pyplot()
fig, ax = plt.subplots(figsize=(7, 3.8))
xpos = np.arange(len(recipes))
for i, (key, label) in enumerate((("train", "train (centre)"), ("centre", "test, centre crop"),
                                  ("ten", "test, 10-crop"))):
    ax.bar(xpos + (i - 1) * 0.27, [results[k][key] for k in recipes], width=0.27, label=label)
ax.set_xticks(xpos, list(recipes))
ax.set_ylabel("top-1 accuracy")
ax.set_title("Augmentation and 10-crop testing on shapes")
ax.legend(fontsize=8)
fig.tight_layout()
save_figure(fig, args, "accuracy")


# %%
section("Try this")
say("""
1. Augmented data is harder to fit, so it needs longer training. With more epochs, does the
augmented network's centre-crop test accuracy overtake the plain one?

    python lessons/10_data_augmentation.py --epochs 30

2. Another seed draws other images, crops and weights; how much of each difference above
survives?

    python lessons/10_data_augmentation.py --seed 1

3. In section 3, add RandomHorizontalFlip alone as a fourth recipe: how much of the gain
(or loss) comes from the flips and how much from the crops?

Next: lesson 11, the paper's two GPU towers (python lessons/11_two_towers.py).
""")
