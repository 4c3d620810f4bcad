"""Train an AlexNet variant on your own images, one sub-folder per class, with the Python API.

    python examples/train_image_folder.py DATA_DIR [--epochs 6] [--image-size 32] [--lr 1e-3]
    python examples/train_image_folder.py          # builds a demo folder first

DATA_DIR is laid out like the Intel scene-classification data of Waghmare's report "AlexNet for
Deep Convolutional Neural Networks" (RIT, 2021)::

    DATA_DIR/train/<class>/*.jpg   DATA_DIR/test/<class>/*.jpg   DATA_DIR/pred/*.jpg (optional)

The command-line counterpart (full width, no pred/ step) is
``python -m minialex train --dataset folder --data-dir DATA_DIR``; this script spells the
steps out: datasets, augmentation, model, optimiser, ``fit``, 10-crop ``evaluate``, and
predictions for the unlabelled ``pred/`` images.

The defaults are sized so that the demo clearly learns on two CPU cores. cifar-small has no
normalisation layers, so its loss sits at ln(classes) for the first hundred or so Adam steps
before it falls (the variant's docstring measures it); with dropout 0.5, 150 images per
class and 5 epochs (90 steps) an earlier version of this script never left that plateau and
ended at chance. Now: dropout off (as ``minialex train`` defaults), half the filters
(``--width 0.5``, about twice the steps per second) and 400 demo images per class, 6 epochs
of 50 steps: under a minute of CPU time on two cores.
"""

from __future__ import annotations

import argparse
import os
import tempfile

# One BLAS thread, set before NumPy loads (as lessons/common.py does): this network's matrix
# products are too small to split, and on a busy 2-core machine OpenBLAS's second thread
# spins while it waits, which multiplied this script's CPU time several times over when it
# was measured. Export OPENBLAS_NUM_THREADS yourself to override it.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from minialex import backend
from minialex.data import DataLoader, ImageFolder, Shapes
from minialex.data import transforms as T
from minialex.functional import softmax
from minialex.models import alexnet
from minialex.optim import Adam
from minialex.tensor import Tensor, no_grad
from minialex.train import evaluate, fit

np = backend.np


def make_demo_folder(root: str, per_class: int = 400, size: int = 48) -> None:
    """Write shapes images as PNG files in the train/ test/ pred/ layout."""
    from PIL import Image

    classes = ("circle", "square", "triangle", "cross")
    for split, n, train in (("train", per_class, True), ("test", per_class // 2, False)):
        data = Shapes(n * len(classes), size, seed=1, train=train, classes=classes)
        for i, (img, label) in enumerate(zip(data.images, data.labels, strict=True)):
            folder = os.path.join(root, split, classes[label])
            os.makedirs(folder, exist_ok=True)
            pixels = (img.transpose(1, 2, 0) * 255).round().astype(np.uint8)
            Image.fromarray(pixels).save(os.path.join(folder, f"{i:04d}.png"))
    os.makedirs(os.path.join(root, "pred"), exist_ok=True)
    extra = Shapes(6, size, seed=2, train=False, classes=classes)
    for i, img in enumerate(extra.images):
        pixels = (img.transpose(1, 2, 0) * 255).round().astype(np.uint8)
        Image.fromarray(pixels).save(os.path.join(root, "pred", f"unknown_{i}.png"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", nargs="?", help="folder with train/ and test/")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--image-size", type=int, default=32, help="images are resized to this")
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam's learning rate")
    parser.add_argument("--width", type=float, default=0.5,
                        help="fraction of cifar-small's filters and FC units (1: the full net)")
    parser.add_argument("--dropout", type=float, default=0.0,
                        help="dropout of fc6/fc7 (default 0: a short run learns faster without)")
    parser.add_argument("--per-class", type=int, default=400,
                        help="training images per class in the demo folder (test: half)")
    parser.add_argument("--quick", action="store_true", help="one epoch on a tiny demo set")
    args = parser.parse_args()
    backend.manual_seed(0)

    if args.data_dir is not None:
        run(args.data_dir, args)
        return
    with tempfile.TemporaryDirectory(prefix="minialex_folder_") as root:
        make_demo_folder(root, per_class=8 if args.quick else args.per_class)
        print(f"no DATA_DIR given: wrote a demo image folder to {root} (removed at the end)")
        run(root, args)


def run(root: str, args: argparse.Namespace) -> None:
    epochs = 1 if args.quick else args.epochs
    size = args.image_size

    # 1. Datasets: the test split uses the training class list, so label i means one class.
    train_set = ImageFolder(os.path.join(root, "train"), size)
    test_set = ImageFolder(os.path.join(root, "test"), size, classes=train_set.classes)
    print(f"{len(train_set)} training and {len(test_set)} test images, classes "
          f"{train_set.classes}")

    # 2. Augmentation, the paper's recipe: PCA colour noise on raw RGB values, then
    #    normalisation, then random crops (of the zero = mean-colour padded image) and flips.
    pick = np.sort(np.random.default_rng(0).permutation(len(train_set))[:500])
    sample, _ = train_set.get_batch(pick)  # colour statistics from up to 500 images
    mean, std = sample.mean(axis=(0, 2, 3)), sample.std(axis=(0, 2, 3)) + 1e-3
    eigvals, eigvecs = T.pca_color_stats(sample)
    normalize = T.Normalize(mean, std)
    augment = T.Compose([T.PCAColorAugmentation(eigvals, eigvecs, std=0.1), normalize,
                         T.RandomCrop(size, padding=size // 8), T.RandomHorizontalFlip()])
    train_loader = DataLoader(train_set, 32, shuffle=True, seed=0, drop_last=True,
                              transform=augment)
    test_loader = DataLoader(test_set, 100, transform=normalize)

    # 3. Model and optimiser: the small AlexNet of "Tweaking the AlexNet", resized input.
    model = alexnet("cifar-small", num_classes=train_set.num_classes, width=args.width,
                    dropout=args.dropout, input_shape=(3, size, size))
    optimizer = Adam(model.parameters(), lr=args.lr)
    print(f"cifar-small at width {args.width:g}: {model.num_parameters():,} parameters, "
          f"dropout {args.dropout:g}, Adam lr {args.lr:g}, {epochs} epochs of "
          f"{len(train_loader)} steps")

    # 4. Train, then test with one view and with the paper's ten crops.
    fit(model, train_loader, optimizer, epochs, val_loader=test_loader, progress=False)
    one = evaluate(model, test_loader)
    ten = evaluate(model, test_loader, ten_crop=True, padding=size // 8)
    print(f"test top-1: {100 * one['top1']:.1f}% with one view, {100 * ten['top1']:.1f}% with "
          f"ten crops (chance {100 / train_set.num_classes:.1f}%)")

    # 5. Predict the unlabelled images, if there are any.
    pred_dir = os.path.join(root, "pred")
    if os.path.isdir(pred_dir):
        pred = ImageFolder(pred_dir, size)
        images, _ = pred.get_batch(np.arange(len(pred)))
        model.eval()
        with no_grad():
            probs = softmax(model(Tensor(normalize(images))), dim=1).numpy()
        for path, p in zip(pred.files, probs, strict=True):
            k = int(p.argmax())
            print(f"  {os.path.basename(path)}: {train_set.classes[k]} ({100 * p[k]:.0f}%)")


if __name__ == "__main__":
    main()
