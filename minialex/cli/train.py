"""``python -m minialex train``: train a variant (default cifar-small on the shapes data) with
a progress bar, write checkpoints, the history and a loss curve, report the test accuracy."""

from __future__ import annotations

import argparse
import os
import time

from minialex import backend
from minialex.checkpoint import read_checkpoint
from minialex.cli import _runs
from minialex.cli._args import add_device, non_negative_int, positive_int
from minialex.metrics import percent_text
from minialex.train import evaluate, fit


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train", help="train a variant (default: cifar-small on shapes)",
        description="Train an AlexNet variant; checkpoints (last.npz, best.npz), history and "
                    "loss curve go to --out, and --resume continues an interrupted run.")
    p.add_argument("--variant", default="cifar-small")
    p.add_argument("--dataset", choices=("shapes", "cifar10", "folder"), default="shapes",
                   help="folder: DATA_DIR/train and DATA_DIR/test with one sub-folder per class")
    p.add_argument("--data-dir", default=None, help="root of CIFAR-10 batches or image folder")
    p.add_argument("--epochs", type=positive_int, default=None)
    p.add_argument("--batch-size", type=positive_int, default=None)
    p.add_argument("--optimizer", choices=("sgd", "adam"), default=None)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--seed", type=non_negative_int, default=0)
    p.add_argument("--out", default="runs/latest", help="folder for checkpoints and logs")
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.npz")
    p.add_argument("--image-size", type=positive_int, default=None)
    p.add_argument("--train-size", type=positive_int, default=None,
                   help="images in the shapes train set")
    p.add_argument("--test-size", type=positive_int, default=None,
                   help="images in the shapes test set")
    p.add_argument("--augment", choices=("none", "flip-crop", "paper"), default=None,
                   help="paper = random crops, flips and PCA colour augmentation")
    p.add_argument("--schedule", choices=("none", "plateau", "step"), default=None,
                   help="plateau = divide lr by 10 when test error stops improving")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--dropout", type=float, default=None,
                   help="dropout of fc6/fc7 (default 0: a short run learns faster without)")
    add_device(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    out = args.out
    last = os.path.join(out, "last.npz")
    last_read = None
    if getattr(args, "resume", False) and os.path.exists(last):
        last_read = read_checkpoint(last)  # read once: fit restores from it
        cfg = dict(last_read[1]["config"])
        if args.epochs is not None:
            cfg["epochs"] = args.epochs
        print(f"resuming {last} with the settings recorded in it (epochs: {cfg['epochs']})")
    else:
        cfg = _runs.run_config(args)
    backend.manual_seed(cfg["seed"])
    t0 = time.perf_counter()
    train_set, val_set, test_set = _runs.datasets(cfg)
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
          f"{cfg['augment']}, seed {cfg['seed']}, device {device}; output in {out}")
    t1 = time.perf_counter()
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
