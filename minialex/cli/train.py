"""``python -m minialex train``: train a variant (default cifar-small on the shapes data) with
a progress bar, write checkpoints, the history and a loss curve, report the test accuracy."""

from __future__ import annotations

import argparse
import contextlib
import os
import time

from minialex import backend
from minialex.atomic import check_output_folder
from minialex.checkpoint import read_checkpoint, read_checkpoint_meta
from minialex.cli import _runs
from minialex.cli._args import (
    add_device,
    allocating,
    folder_name,
    non_negative_int,
    positive_int,
    positive_real,
    probability,
    real_in,
)
from minialex.memory import check_budget
from minialex.metrics import percent_text
from minialex.train import evaluate, fit, training_bytes

OUT_FILES = ("last.npz", "best.npz", "history.json", "history.csv", "loss_curve.png")


def register(subparsers: argparse._SubParsersAction) -> None:
    d = _runs.TRAIN_DEFAULTS
    p = subparsers.add_parser(
        "train", help="train a variant (default: cifar-small on shapes)",
        description="Train an AlexNet variant; checkpoints (last.npz, best.npz), history and "
                    "loss curve go to --out, and --resume continues an interrupted run. The "
                    "validation split (never the test set) drives the plateau schedule and "
                    "picks best.npz: shapes generates its own, for CIFAR-10 and image folders "
                    "--val-fraction of the training images are held out. The test set is "
                    "evaluated once, at the end.")
    p.add_argument("--variant", default="cifar-small",
                   help="see `python -m minialex variants`")
    p.add_argument("--dataset", choices=_runs.DATASETS, default="shapes",
                   help="folder: DATA_DIR/train and DATA_DIR/test with one sub-folder per class")
    p.add_argument("--data-dir", default=None,
                   help="root of the CIFAR-10 batches or the image folder (cifar10, folder)")
    p.add_argument("--epochs", type=positive_int, default=None,
                   help=f"default: {d['epochs']}")
    p.add_argument("--batch-size", type=positive_int, default=None,
                   help=f"default: {d['batch_size']}")
    p.add_argument("--optimizer", choices=tuple(_runs.DEFAULT_LR), default=None,
                   help=f"default: {d['optimizer']}")
    p.add_argument("--lr", type=positive_real, default=None,
                   help="learning rate, a finite number > 0 (default: " + ", ".join(
                       f"{v:g} for {k}" for k, v in _runs.DEFAULT_LR.items()) + ")")
    p.add_argument("--seed", type=non_negative_int, default=0,
                   help="seeds the data, the initial weights and the shuffling")
    p.add_argument("--out", type=folder_name, default="runs/latest",
                   help="folder for checkpoints and logs, checked to be writable first")
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.npz")
    p.add_argument("--image-size", type=positive_int, default=None,
                   help="default: the variant's input size")
    p.add_argument("--train-size", type=positive_int, default=None,
                   help=f"images in the shapes train set (default: {d['train_size']})")
    p.add_argument("--test-size", type=positive_int, default=None,
                   help=f"images in the shapes validation and test sets (default: "
                        f"{d['test_size']} each)")
    p.add_argument("--val-fraction", type=real_in(0.0, 1.0, low_open=True, high_open=True),
                   default=None, help="share of each class's training images held out for "
                   f"validation with cifar10 and folder (default: {d['val_fraction']})")
    p.add_argument("--augment", choices=("none", "flip-crop", "paper"), default=None,
                   help="paper = random crops, flips and PCA colour augmentation (default: "
                        f"{d['augment']})")
    p.add_argument("--schedule", choices=("none", "plateau", "step"), default=None,
                   help="plateau = divide lr by 10 when the validation error stops improving "
                        f"(default: {d['schedule']})")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--dropout", type=probability, default=None,
                   help=f"dropout of fc6/fc7 (default: {d['dropout']}: a short run learns "
                        "faster without)")
    add_device(p)
    p.set_defaults(run=run)


_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def blas_threads() -> tuple[contextlib.AbstractContextManager[object], str]:
    """(context, description) for the BLAS threads training uses: the library's own default
    (every core for OpenBLAS), unless one of _THREAD_VARIABLES says otherwise. Measured on an
    idle 2-core machine (benchmarks/results/cpu-2thread-train.json and its README), the default
    run took 77 s with two threads and 102 s with one; on a machine busy with other work a
    single thread wastes less CPU time, so export OPENBLAS_NUM_THREADS=1 there."""
    chosen = next((f"{v}={os.environ[v]}" for v in _THREAD_VARIABLES if os.environ.get(v)), "")
    if chosen:
        return contextlib.nullcontext(), f"BLAS threads from {chosen}"
    return contextlib.nullcontext(), "BLAS threads: the library default"


def run(args: argparse.Namespace) -> int:
    limit, threads = blas_threads()
    with limit:
        return _train(args, threads)


def _train(args: argparse.Namespace, threads: str) -> int:
    out = args.out
    # Before any work: the folder must take the files (a file named like it, last.npz being a
    # folder, a read-only file system all fail here, not after the first epoch).
    check_output_folder(out, OUT_FILES)
    last = os.path.join(out, "last.npz")
    resuming = getattr(args, "resume", False) and os.path.exists(last)
    if resuming:
        cfg = _runs.check_config(read_checkpoint_meta(last).get("config"), last, resume=True)
        if args.epochs is not None:
            cfg["epochs"] = args.epochs
        print(f"resuming {last} with the settings recorded in it (epochs: {cfg['epochs']})")
    else:
        cfg = _runs.run_config(args)
    backend.manual_seed(cfg["seed"])
    t0 = time.perf_counter()
    with allocating("the datasets"):
        train_set, val_set, test_set = _runs.datasets(cfg)
    if resuming and list(train_set.classes) != cfg.get("classes", list(train_set.classes)):
        raise ValueError(f"{last} was trained on the classes {cfg['classes']}, the data now "
                         f"has {list(train_set.classes)}: resuming would give labels other "
                         "meanings; restore the folder names or start a new run (--out)")
    if "mean" not in cfg:  # colour statistics of the training images
        from minialex.data.transforms import sample_images

        sample = sample_images(train_set, seed=cfg["seed"])
        cfg["mean"] = [float(v) for v in sample.mean(axis=(0, 2, 3))]
        cfg["std"] = [float(v) for v in sample.std(axis=(0, 2, 3)) + 1e-3]
        cfg["eigvals"], cfg["eigvecs"] = _runs.pca_stats(sample)
        cfg["num_classes"] = train_set.num_classes
        cfg["classes"] = list(train_set.classes)
        cfg["input_shape"] = [3, cfg["image_size"], cfg["image_size"]]
    data_seconds = time.perf_counter() - t0
    with allocating("the model"):
        model = _runs.build_model(cfg)
    device = getattr(args, "device", "cpu") or "cpu"
    model.to(device)  # also when the default backend (MINIALEX_BACKEND) is another one
    train_tf, test_tf = _runs.transforms(cfg)
    from minialex.data import DataLoader

    train_loader = DataLoader(train_set, cfg["batch_size"], shuffle=True, seed=cfg["seed"],
                              drop_last=True, transform=train_tf, device=device)
    val_loader = DataLoader(val_set, 200, transform=test_tf, device=device)
    test_loader = DataLoader(test_set, 200, transform=test_tf, device=device)
    optimizer, scheduler = _runs.optimizer(model, cfg)
    check_budget(f"training {cfg['variant']} at batch size {cfg['batch_size']}",
                 training_bytes(model, tuple(cfg["input_shape"]), cfg["batch_size"],
                                optimizer))
    last_read = read_checkpoint(last, model, optimizer) if resuming else None
    chance = 1.0 / cfg["num_classes"]
    print(f"training {cfg['variant']} ({model.num_parameters():,} parameters) on "
          f"{cfg['dataset']}: {len(train_set)} train / "
          + ("" if val_set is test_set else f"{len(val_set)} validation / ")
          + f"{len(test_set)} test images "
          f"{tuple(cfg['input_shape'])}, {cfg['num_classes']} classes (chance "
          f"{percent_text(chance)}); data ready in {data_seconds:.1f} s")
    print(f"settings: epochs {cfg['epochs']}, batch {cfg['batch_size']}, optimizer "
          f"{cfg['optimizer']} lr {cfg['lr']:g}" +
          (" momentum 0.9 weight decay 5e-4" if cfg["optimizer"] == "sgd" else "") +
          f", dropout {cfg['dropout']}, schedule {cfg['schedule']}, augment "
          f"{cfg['augment']}, seed {cfg['seed']}, device {device}, {threads}; output in "
          f"{out}")
    t1 = time.perf_counter()
    # fit stops with one clear error when the loss stops being finite: NumPy's overflow
    # warnings on the way there would only be noise above it
    with allocating(f"training at batch size {cfg['batch_size']}"), \
            backend.np.errstate(over="ignore", invalid="ignore"):
        history = fit(model, train_loader, optimizer, cfg["epochs"], val_loader=val_loader,
                      scheduler=scheduler, progress=not getattr(args, "no_progress", False),
                      checkpoint_dir=out, resume=getattr(args, "resume", False), config=cfg,
                      last_read=last_read, log=print)
    seconds = time.perf_counter() - t1
    history.save_json(os.path.join(out, "history.json"))
    history.save_csv(os.path.join(out, "history.csv"))
    try:
        fig = history.plot()
    except ImportError:
        pass
    else:
        fig.savefig(os.path.join(out, "loss_curve.png"), dpi=100)
        fig.clf()
    written = [name for name in ("last.npz", "best.npz", "history.json", "history.csv",
                                 "loss_curve.png") if os.path.isfile(os.path.join(out, name))]
    final = evaluate(model, test_loader)
    print(f"done in {seconds:.0f} s: test top-1 accuracy {percent_text(final['top1'])} "
          f"(chance {percent_text(chance)}), top-5 {percent_text(final['top5'])}, test loss "
          f"{final['loss']:.3f} ({len(test_set)} test images, last epoch's weights)")
    print(f"wrote {', '.join(written)} to {out}")
    return 0
