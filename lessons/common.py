"""Helpers shared by the lessons: arguments, printed prose, claims, figures, timing.

Each lesson starts with::

    from common import Timer, claim, lesson_args, save_figure, say, section

    args = lesson_args(__doc__)

``--quick`` shrinks every experiment so the lesson finishes in seconds (CI runs that);
``--out`` picks the folder for figures; ``--seed`` seeds minialex's global generator;
``--data-dir`` points the lesson that can use real data (06, CIFAR-10) at it.
Lessons that train also take ``--epochs`` and ``--lr`` (``lesson_args(__doc__, epochs=...,
lr=...)``).

The lessons are also notebooks (jupytext "percent" cells, ``# %%``). In Jupyter the
command line belongs to the kernel (``-f kernel-*.json``), so there the options come from
``lesson_args(..., argv=[...])`` or the environment variable MINIALEX_LESSON_ARGS
(e.g. ``"--seed 1"``); ``MINIALEX_QUICK=1`` selects quick mode in a notebook or a script.
Figures are saved as files in both cases, and shown in the notebook as well.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import sys
import textwrap
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
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


def lesson_args(description: str | None,
                extra: Callable[[argparse.ArgumentParser], Any] | None = None, *,
                epochs: int | None = None, quick_epochs: int | None = None,
                lr: float | None = None, argv: Sequence[str] | None = None,
                reads_data_dir: bool = False) -> argparse.Namespace:
    """Parse the standard lesson options; ``extra(parser)`` may add lesson-specific ones.

    A lesson that trains passes its default ``epochs`` (``quick_epochs`` under --quick) and
    ``lr``; it then accepts ``--epochs N`` and ``--lr X``, and ``args.epochs`` / ``args.lr``
    hold the values to use. ``argv`` replaces the command line (a notebook's way to pass
    options); without it a Jupyter kernel reads MINIALEX_LESSON_ARGS, since its own
    ``sys.argv`` is the kernel's. ``description`` may be None (``__doc__`` in a kernel).
    ``--data-dir`` exists only where the lesson reads it (``reads_data_dir=True``): elsewhere
    it is an error rather than silently ignored.

    Side effects: seeds ``minialex.backend.manual_seed(args.seed)``, selects matplotlib's
    non-interactive Agg backend (figures are saved, not opened in a window; a notebook shows
    the saved file) and creates ``args.out``.
    """
    global _LESSON_NUMBER
    # The calling lesson's globals say which lesson runs: __file__ for a script, the
    # notebook's path (JupyterLab, VS Code) in a kernel. Figures are named after it.
    caller = sys._getframe(1).f_globals
    _LESSON_NUMBER = _number_in(caller.get("__file__"), caller.get("__vsc_ipynb_file__"),
                                caller.get("__session__"), os.environ.get("JPY_SESSION_NAME"),
                                sys.argv[0])
    if argv is None:
        if in_jupyter() and "__file__" not in caller:  # a notebook, not %run script.py
            argv = shlex.split(os.environ.get("MINIALEX_LESSON_ARGS", ""))
        else:
            argv = sys.argv[1:]

    summary = (description or "").strip()
    parser = argparse.ArgumentParser(
        description=summary.splitlines()[0] if summary else None,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    quick_env = os.environ.get("MINIALEX_QUICK", "").strip().lower()
    parser.add_argument("--quick", action="store_true",
                        default=quick_env not in ("", "0", "false", "no", "off"),
                        help="tiny sizes, finishes in a few seconds (what CI runs; "
                             "also MINIALEX_QUICK=1)")
    parser.add_argument("--out", type=Path, default=_HERE / "out",
                        help="folder for figures (default: lessons/out)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    if reads_data_dir:
        parser.add_argument("--data-dir", type=Path, default=None,
                            help="optional real data (CIFAR-10 python batches); the default "
                                 "is the generated shapes dataset")
    if epochs is not None:
        quick_note = f", {quick_epochs} with --quick" if quick_epochs is not None else ""
        parser.add_argument("--epochs", type=positive_int, default=None,
                            help=f"training epochs (default {epochs}{quick_note})")
    if lr is not None:
        parser.add_argument("--lr", type=float, default=lr,
                            help=f"learning rate (default {lr:g})")
    if extra is not None:
        extra(parser)
    args = parser.parse_args(list(argv))
    if epochs is not None and args.epochs is None:
        args.epochs = quick_epochs if args.quick and quick_epochs is not None else epochs
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
    _RUN["args"] = args  # the settings claim() records beside each result
    return args


def positive_int(text: str) -> int:
    """argparse type for counts (epochs, batch sizes): an integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def in_jupyter() -> bool:
    """True when running inside a Jupyter kernel (IPython with a kernel attached)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return getattr(shell, "kernel", None) is not None


def section(title: str) -> None:
    """Print a heading."""
    print()
    print(title)
    print("=" * min(len(title), WIDTH))


def say(text: str) -> None:
    """Print a paragraph wrapped at 88 columns (blank lines in ``text`` separate paragraphs).

    A paragraph whose lines are all indented (a formula, commands to copy) prints as written.
    """
    paragraphs = [p for p in textwrap.dedent(text).strip("\n").split("\n\n") if p.strip()]
    for i, paragraph in enumerate(paragraphs):
        if i:
            print()
        lines = [line for line in paragraph.splitlines() if line.strip()]
        if all(line.startswith(" ") for line in lines):
            print("\n".join(line.rstrip() for line in lines))
        else:
            print(textwrap.fill(" ".join(paragraph.split()), width=WIDTH))


def chance_range(rate: float, n: int) -> float:
    """About the 95% range of the difference of two rates ``rate`` each measured on ``n``
    samples by chance alone: 2 standard deviations of a difference of two binomial means."""
    return 2 * (2 * rate * (1 - rate) / n) ** 0.5


def gap_chance_range(train_rate: float, n_train: int, test_rate: float, n_test: int) -> float:
    """About the 95% range, by chance alone, of the difference of two networks' train/test
    gaps: the train and the test chance ranges added in quadrature."""
    return (chance_range(train_rate, n_train) ** 2 + chance_range(test_rate, n_test) ** 2) ** 0.5


def noise_verdict(delta: float, noise: float) -> str:
    """The ledger verdict on a measured difference beside a claim made at full scale.

    Inside the noise the lesson measured (``|delta| < noise``) it decides nothing:
    "inconclusive within noise". Outside, "re-measured at small scale", whichever the sign:
    a small net trained for minutes on shapes is not the source's setting, so an opposite
    sign here does not show the source wrong (the lesson's text says which way it went).
    """
    return "inconclusive within noise" if abs(delta) < noise else "re-measured at small scale"


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


def claim(what: str, claimed: Any, measured: Any, why: str = "",
          verdict: str | None = None) -> None:
    """Print a literature claim beside the number measured just now, and record it.

    ``  ReLU speed-up to 25% error   claimed 6x   measured 3.1x   (why they differ: ...)``

    ``verdict`` (optional) is one of the ledger's verdicts, e.g. "inconclusive within noise"
    when the measured difference is inside the noise the lesson measured; it is printed and
    recorded. Each claim is recorded with the run's settings in OUT/results/NN.json
    (NN.quick.json with --quick), which ``python -m minialex claims`` reads.
    """
    line = f"  {what:<34} claimed {claimed!s:<10} measured {measured!s:<10}".rstrip()
    notes = [f"verdict: {verdict}"] if verdict else []
    if why:  # a reproduced claim needs a note, not a reason for a difference
        notes.append(f"{'note' if verdict == 'reproduced' else 'why they differ'}: {why}")
    note = f"({'; '.join(notes)})" if notes else ""
    if not note:
        print(line)
    elif len(line) + 2 + len(note) <= WIDTH:
        print(f"{line}  {note}")
    else:
        print(line)
        print(textwrap.fill(note, width=WIDTH, initial_indent=" " * 6,
                            subsequent_indent=" " * 7))
    _record_claim({"what": what, "claimed": str(claimed), "measured": str(measured),
                   "why": why, "verdict": verdict,
                   "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds")})


# What claim() has recorded in this run, and the parsed arguments lesson_args stored.
_RUN: dict[str, Any] = {}


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    """The run's options as JSON values (paths as text)."""
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
            if v is None or isinstance(v, (bool, int, float, str, Path))}


def _record_claim(entry: dict[str, Any]) -> None:
    """Rewrite OUT/results/NN[.quick].json with every claim of this run so far, atomically
    (a temporary file renamed over the old one), so a reader never sees half a file."""
    args = _RUN.get("args")
    if args is None:  # claim() called outside a lesson run: print only
        return
    claims = _RUN.setdefault("claims", [])
    claims.append(entry)
    number = _lesson_number()
    folder = Path(args.out) / "results"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{number}{'.quick' if getattr(args, 'quick', False) else ''}.json"
    script = Path(sys.argv[0]).name
    record = {"lesson": number, "script": script if script.startswith(number) else None,
              "settings": _settings(args),
              "written": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "claims": claims}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


_LESSON_NUMBER: str | None = None  # set by lesson_args


def _number_in(*candidates: Any) -> str | None:
    """``NN`` from the first candidate path named like a lesson (``03_convolution.py``)."""
    for candidate in candidates:
        match = re.match(r"(\d+)_", Path(str(candidate)).name) if candidate else None
        if match:
            return match.group(1)
    return None


def _lesson_number() -> str:
    """``NN`` of the running lesson (``03_convolution.py`` -> ``03``), else ``00``."""
    return _LESSON_NUMBER or _number_in(sys.argv[0]) or "00"


def save_figure(fig: Any, args: argparse.Namespace, name: str) -> None:
    """Save ``fig`` as OUT/<NN>_<name>.png, close it, print where it went.

    Returns nothing, so that a notebook cell ending with it shows the figure and no value.
    """
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
    if in_jupyter():  # a notebook shows the saved file below the cell
        from IPython.display import Image, display

        display(Image(filename=str(path)))


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
