"""``python -m minialex evaluate --checkpoint PATH [--ten-crop]``: rebuild the model a
checkpoint describes and report its loss, top-1 and top-5 on the test set."""

from __future__ import annotations

import argparse
import os
import time

from minialex.checkpoint import read_checkpoint, restore_checkpoint
from minialex.cli import _runs
from minialex.cli._args import add_device
from minialex.metrics import percent_text
from minialex.train import evaluate


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "evaluate", help="evaluate a checkpoint (top-1/top-5, optional 10-crop)",
        description="Rebuild the model recorded in a checkpoint written by `train` and "
                    "report loss, top-1 and top-5 accuracy on the test set.")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--dataset", choices=("shapes", "cifar10", "folder"), default=None,
                   help="default: the dataset the checkpoint was trained on")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--ten-crop", action="store_true")
    add_device(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from minialex.data import DataLoader

    arrays, meta = read_checkpoint(args.checkpoint)
    cfg = dict(meta.get("config") or {})
    if "variant" not in cfg:
        raise ValueError(f"checkpoint {args.checkpoint} records no model configuration; "
                         "evaluate it from Python with load_checkpoint and evaluate")
    if getattr(args, "dataset", None) and args.dataset != cfg.get("dataset"):
        cfg["dataset"] = args.dataset
        cfg.pop("classes", None)  # the training data's class list says nothing about these
    if getattr(args, "data_dir", None):
        cfg["data_dir"] = args.data_dir
    model = _runs.build_model(cfg)
    restore_checkpoint(os.fspath(args.checkpoint), arrays, meta, model)  # read once, above
    device = getattr(args, "device", "cpu") or "cpu"
    model.to(device)  # also when the default backend (MINIALEX_BACKEND) is another one
    test_set = _runs.test_dataset(cfg)
    if test_set.num_classes != cfg["num_classes"]:
        raise ValueError(f"the checkpoint's model has {cfg['num_classes']} classes, the "
                         f"{cfg['dataset']} test set {test_set.num_classes}")
    _, test_tf = _runs.transforms(cfg)
    loader = DataLoader(test_set, 100, transform=test_tf, device=device)
    ten = bool(getattr(args, "ten_crop", False))
    t0 = time.perf_counter()
    result = evaluate(model, loader, ten_crop=ten, crop_size=cfg["image_size"],
                      padding=cfg["crop_padding"] if ten else 0)
    how = (f"10-crop (corners + centre of the image padded by {cfg['crop_padding']}, and "
           "mirrors)" if ten else "single centre view")
    pct = percent_text
    print(f"{args.checkpoint}: {cfg['variant']} after epoch {meta['epoch']}, "
          f"{cfg['dataset']} test set ({result['n']} images), {how}")
    print(f"loss {result['loss']:.4f}  top-1 {pct(result['top1'])} (error "
          f"{pct(1 - result['top1'])})  top-5 {pct(result['top5'])}"
          + ("  [top-5 n/a: 5 classes or fewer]" if result["top5"] is None else "")
          + f"  ({time.perf_counter() - t0:.1f} s)")
    return 0
