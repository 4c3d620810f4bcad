"""``python -m minialex classify IMAGE [IMAGE ...] --weights PATH [--top K] [--ten-crop]``.

Loads an ImageNet AlexNet (torchvision's layout) from a weights file without PyTorch and
prints each photo's most probable classes as a table.
"""

from __future__ import annotations

import argparse
import os
import sys

WEIGHTS_URL = "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth"
NO_WEIGHTS = f"""\
minialex classify: error: --weights PATH is required: the file with the trained network.
torchvision's pretrained AlexNet (the one this command expects) is published at
  {WEIGHTS_URL}
Download it once (for example: curl -LO {WEIGHTS_URL}), then run
  python -m minialex classify IMAGE --weights alexnet-owt-7be5be79.pth
PyTorch is not needed; .safetensors and .npz files with the same names work too."""


def _top_k(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if not 1 <= value <= 1000:
        raise argparse.ArgumentTypeError(f"expected 1 to 1000 (ImageNet has 1000 classes), "
                                         f"got {value}")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "classify", help="name what is in photos with torchvision's pretrained AlexNet",
        description="Classify photos into the 1000 ImageNet classes with AlexNet loaded from "
                    "a weights file (torchvision's alexnet-owt-7be5be79.pth, read without "
                    "PyTorch), using torchvision's preprocessing: shorter side 256, centre "
                    "224x224 crop, ImageNet mean/std.")
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="JPEG/PNG/... photos")
    parser.add_argument("--weights", default=None, metavar="PATH",
                        help=f"weights file (.pth zip or legacy, .safetensors, .npz), e.g. "
                             f"{WEIGHTS_URL}")
    parser.add_argument("--top", type=_top_k, default=5, metavar="K",
                        help="classes to show per image (default 5)")
    parser.add_argument("--ten-crop", action="store_true",
                        help="average the paper's ten crops (corners, centre, mirrored) of "
                             "the central 256x256 patch")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.weights is None:
        print(NO_WEIGHTS, file=sys.stderr)
        return 2
    from minialex.classify import classify
    from minialex.data.imagenet import probe_image
    from minialex.models import alexnet

    failed = []
    for path in args.images:  # read the headers first, before the weights file
        try:
            if not os.path.isfile(path):
                raise FileNotFoundError(f"{path}: no such file")
            probe_image(path)
        except (ValueError, OSError) as exc:
            print(f"minialex classify: error: {exc}", file=sys.stderr)
            failed.append(path)
    todo = [path for path in args.images if path not in failed]
    if not todo:
        return 2
    model = alexnet("torchvision", weights=args.weights)  # bad file: one line from main()
    for path in todo:
        try:
            (prediction,) = classify(model, [path], top=args.top, ten_crop=args.ten_crop)
        except (ValueError, OSError) as exc:
            print(f"minialex classify: error: {exc}", file=sys.stderr)
            failed.append(path)
            continue
        print(prediction)
        print()
    return 2 if failed else 0
