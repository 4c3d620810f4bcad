"""Helpers shared by the lessons: arguments, printed prose, claims, figures, timing.

Each lesson starts with::

    from common import Timer, claim, lesson_args, save_figure, say, section

    args = lesson_args(__doc__)

``--quick`` shrinks every experiment so the lesson finishes in seconds (CI runs that);
``--out`` picks the folder for figures; ``--seed`` seeds minialex's global generator;
``--data-dir`` points lessons that can use real data (CIFAR-10, an image folder) at it.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# The lessons train small networks whose matrix products are too small to split across
# threads: OpenBLAS's worker threads then spin for most of the run (lesson 09 measured 73 s
# with two threads, 9 s with one, on 2 cores). Every lesson imports this module before numpy,
# so one BLAS thread is set here; export OPENBLAS_NUM_THREADS yourself to override it.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

WIDTH = 88
_HERE = Path(__file__).resolve().parent


def lesson_args(description: str,
                extra: Callable[[argparse.ArgumentParser], Any] | None = None
                ) -> argparse.Namespace:
    """Parse the standard lesson options; ``extra(parser)`` may add lesson-specific ones.

    Side effects: seeds ``minialex.backend.manual_seed(args.seed)``, selects matplotlib's
    non-interactive Agg backend (figures are saved, never shown) and creates ``args.out``.
    """
    summary = (description or "").strip()
    parser = argparse.ArgumentParser(
        description=summary.splitlines()[0] if summary else None,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes, finishes in a few seconds (what CI runs)")
    parser.add_argument("--out", type=Path, default=_HERE / "out",
                        help="folder for figures (default: lessons/out)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="optional real data (e.g. CIFAR-10 python batches) for lessons "
                             "that can use it; the default is the generated shapes dataset")
    if extra is not None:
        extra(parser)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    os.environ.setdefault("MPLBACKEND", "Agg")
    try:
        import matplotlib
    except ImportError:
        pass  # save_figure explains what to install
    else:
        matplotlib.use("Agg")

    from minialex import backend

    backend.manual_seed(args.seed)
    return args


def section(title: str) -> None:
    """Print a heading."""
    print()
    print(title)
    print("=" * min(len(title), WIDTH))


def say(text: str) -> None:
    """Print a paragraph wrapped at 88 columns (blank lines in ``text`` separate paragraphs)."""
    paragraphs = [p for p in textwrap.dedent(text).strip().split("\n\n") if p.strip()]
    for i, paragraph in enumerate(paragraphs):
        if i:
            print()
        print(textwrap.fill(" ".join(paragraph.split()), width=WIDTH))


def chance_range(rate: float, n: int) -> float:
    """About the 95% range of the difference of two rates ``rate`` each measured on ``n``
    samples by chance alone: 2 standard deviations of a difference of two binomial means."""
    return 2 * (2 * rate * (1 - rate) / n) ** 0.5


def flat_features(layers: Any, side: int, channels: int = 3) -> int:
    """Numbers per image after ``layers`` (a Sequential or a list of layers ending in Flatten)
    on a ``channels x side x side`` input, from ``minialex.nn.infer_shape``: shape
    arithmetic only, no data, so fc sizes follow the convolutions and pools automatically."""
    from minialex import nn
    from minialex.nn import infer_shape

    model = layers if isinstance(layers, nn.Module) else nn.Sequential(*layers)
    n = 1
    for d in infer_shape(model, (channels, side, side)):  # one sample's shape, no batch axis
        n *= d
    return n


def two_conv_blocks(side: int, pool: int = 3,
                    lrn: Callable[[], Any] | None = None) -> tuple[dict[str, Any], int]:
    """The feature extractor of lessons 07-10 for ``3 x side x side`` images.

    conv1 5x5 (3 -> 16 channels, padding 2), ReLU, [LRN], max-pool ``pool``/2, then conv2
    5x5 (16 -> 32), ReLU, [LRN], max-pool ``pool``/2, Flatten. The layers are named
    (conv1, relu1, lrn1, pool1, ..., flatten) so that a lesson appends its own classifier
    and state_dicts of two variants line up. ``lrn`` makes one normalisation layer per call.
    Returns the layers and the number of features the Flatten produces.
    """
    from minialex import nn

    layers: dict[str, Any] = {}
    for i, (cin, cout) in enumerate(((3, 16), (16, 32)), start=1):
        layers[f"conv{i}"] = nn.Conv2d(cin, cout, 5, padding=2)
        layers[f"relu{i}"] = nn.ReLU()
        if lrn is not None:
            layers[f"lrn{i}"] = lrn()
        layers[f"pool{i}"] = nn.MaxPool2d(pool, 2)
    layers["flatten"] = nn.Flatten()
    return layers, flat_features(nn.Sequential(layers), side)


def claim(what: str, claimed: Any, measured: Any, why: str = "") -> None:
    """Print a literature claim beside the number measured just now.

    ``  ReLU speed-up to 25% error   claimed 6x   measured 3.1x   (why they differ: ...)``
    """
    line = f"  {what:<34} claimed {claimed!s:<10} measured {measured!s:<10}".rstrip()
    if not why:
        print(line)
        return
    note = f"(why they differ: {why})"
    if len(line) + 2 + len(note) <= WIDTH:
        print(f"{line}  {note}")
    else:
        print(line)
        print(textwrap.fill(note, width=WIDTH, initial_indent=" " * 6,
                            subsequent_indent=" " * 7))


def _lesson_number() -> str:
    """``NN`` from the running script's file name (``03_convolution.py`` -> ``03``)."""
    match = re.match(r"(\d+)_", Path(sys.argv[0]).name)
    return match.group(1) if match else "00"


def save_figure(fig: Any, args: argparse.Namespace, name: str) -> Path:
    """Save ``fig`` as OUT/<NN>_<name>.png, close it, print where it went."""
    path = Path(args.out) / f"{_lesson_number()}_{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    try:
        shown = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        shown = str(path)
    print(f"saved figure: {shown}")
    return path


class Timer:
    """``with Timer() as t: ...`` then ``t.seconds`` (wall clock, perf_counter)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._start = 0.0

    def __enter__(self) -> Timer:
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.seconds = time.perf_counter() - self._start
