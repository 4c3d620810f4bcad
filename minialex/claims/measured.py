"""Ledger rows measured by the lessons: read from the results files their ``claim()`` writes.

A lesson's ``claim(what, claimed, measured, why, verdict=...)`` (``lessons/common.py``) prints
the comparison and records it in ``OUT/results/NN.json`` (``NN.quick.json`` for a
``--quick`` run) with the run's settings and a timestamp. Each row below names the lesson and
the start of the ``what`` it records. A default run's file is preferred to a quick one; a
quick result is flagged as such. With no file, the row says which lesson to run.

Where each quote is, by line of the source text copies (the paper by section): relu-6x:
Keras notebook 10 and 88-92, Dutta 118; w-depth: Waghmare 64-66; w-dropout: Waghmare 76;
w-epochs: Waghmare 45 and 56; sahu-losses: Sahu et al. 55-58; sahu-dead-relu: Sahu et al.
62; vanishing: Sarkar and Tambat 64; augment-overfit: Sarkar and Tambat 47.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from minialex.claims import (
    INCONCLUSIVE,
    NOT_HERE,
    PENDING,
    SMALL_SCALE,
    VERDICTS,
    Row,
)

__all__ = ["LessonClaim", "LESSON_CLAIMS", "measured_rows", "read_results", "MAX_RESULTS_BYTES"]

MAX_RESULTS_BYTES = 1_000_000  # a results file is a few kB; refuse anything far larger

PAPER = "Krizhevsky, Sutskever, Hinton 2012"
WAGHMARE = "Waghmare 2021 (RIT report)"
SAHU = "Sahu et al. 2016, \"Tweaking the AlexNet\""
SMALL = "shapes images and a network thousands of times smaller, trained for minutes"


@dataclass(frozen=True)
class LessonClaim:
    """A claim that a lesson measures: ``match`` is the start of the ``what`` it records;
    ``verdict`` applies when the lesson's record carries none."""

    key: str
    claim: str
    source: str
    lesson: str
    match: str
    why: str
    verdict: str = SMALL_SCALE


LESSON_CLAIMS: tuple[LessonClaim, ...] = (
    LessonClaim("relu-6x", "ReLU reaches 25% training error on CIFAR-10 six times faster than "
                "tanh (four-layer CNN)", f"{PAPER}, section 3.1 and figure 1; Keras "
                "notebook; Dutta", "06", "tanh / ReLU iterations", SMALL),
    LessonClaim("lrn-top1", "response normalisation reduces top-1 error by 1.4%",
                f"{PAPER}, section 3.3", "07", "LRN: change in top-1", SMALL),
    LessonClaim("lrn-top5", "response normalisation reduces top-5 error by 1.2%",
                f"{PAPER}, section 3.3", "07", "LRN: change in top-5", SMALL),
    LessonClaim("lrn-cifar", "on CIFAR-10 a four-layer CNN's test error goes from 13% to 11% "
                "with normalisation", f"{PAPER}, section 3.3", "07", "CIFAR-10 4-layer",
                "shapes instead of CIFAR-10 and a shorter run"),
    LessonClaim("overlap-top1", "overlapping pooling (z=3, s=2) reduces top-1 error by 0.4% "
                "against z=s=2", f"{PAPER}, section 3.4", "08", "3/2 vs 2/2: change in top-1",
                SMALL),
    LessonClaim("overlap-top5", "overlapping pooling reduces top-5 error by 0.3%",
                f"{PAPER}, section 3.4", "08", "3/2 vs 2/2: change in top-5", SMALL),
    LessonClaim("overlap-overfit", "with overlapping pooling the model is slightly harder to "
                "overfit", f"{PAPER}, section 3.4; Dutta", "08", "overlap makes overfitting",
                SMALL),
    LessonClaim("dropout-overfit", "without dropout the network overfits substantially",
                f"{PAPER}, section 4.2", "09", "train/test gap", SMALL),
    LessonClaim("pca-colour", "PCA colour augmentation reduces top-1 error by over 1%",
                f"{PAPER}, section 4.1", "10", "PCA colour", SMALL),
    LessonClaim("augment-overfit", "crop and flip augmentation reduces overfitting",
                f"{PAPER}, section 4.1; Sarkar and Tambat", "10",
                "augmentation reduces overfitting", SMALL),
    LessonClaim("ilsvrc-2010", "top-1 / top-5 test error 37.5% / 17.0% on ILSVRC-2010",
                f"{PAPER}, section 6", "12", "paper's top-1 / top-5",
                "ImageNet is not here; lesson 12 runs the paper's recipe on a lesson-sized "
                "AlexNet, so only its shape of training can be compared", NOT_HERE),
    LessonClaim("w-depth", "3 conv layers beat 4 and 5: test accuracy 0.6770 / 0.5233 / "
                "0.3730", f"{WAGHMARE}, research question 1", "13", "best depth",
                "8 shape classes at 32x32 instead of 20 photo classes"),
    LessonClaim("w-dropout", "dropout 0.4 lowers test accuracy: 0.3730 with, 0.6153 without",
                f"{WAGHMARE}, research question 2", "13", "dropout minus none",
                "8 shape classes at 32x32 instead of 20 photo classes"),
    LessonClaim("w-epochs", "after 25 epochs: training accuracy 0.9296, test 0.7863",
                f"{WAGHMARE}, evaluation", "13", "report: after 25 epochs",
                "a lesson runs a few epochs, not 25"),
    LessonClaim("sahu-losses", "test losses 0.852 / 0.891 / 0.883 for original- / tanh- / "
                "small-AlexNet", f"{SAHU}, discussion", "14", "ranking, lowest loss first",
                "1/8-width models for 1/100 of the iterations on shapes"),
    LessonClaim("sahu-dead-relu", "many ReLU units of small-AlexNet's second FC layer die "
                "during training", f"{SAHU}, discussion and figure 3", "14",
                "small-AlexNet fc7: dead", "1/100 of their training"),
    LessonClaim("vanishing", "deeper stacks lose their gradient; Xavier initialisation avoids "
                "it", "Sarkar and Tambat 2022 (notes), drawbacks", "15",
                "N(0,0.01) ReLU: gradient at layer 1",
                "a 12-layer fully connected stack stands in for a deep network"),
    LessonClaim("conv1-structure", "trained conv1 kernels are oriented edges and colour blobs "
                "(figure 3)", f"{PAPER}, section 6.1 and figure 3", "15",
                "conv1 kernels: low-frequency", "8 kernels trained for a few minutes on shapes"),
)


def read_results(folder: Path | None, lesson: str) -> tuple[dict[str, Any] | None, str]:
    """The results a lesson wrote in ``folder``: (record, "") or (None, why there is none).

    Prefers the default run's ``NN.json`` to the ``--quick`` run's ``NN.quick.json``. Files
    are size-checked before reading and must hold ``{"claims": [{"what": ..., ...}, ...]}``.
    """
    if folder is None:
        return None, "no lessons/ folder here"
    for name in (f"{lesson}.json", f"{lesson}.quick.json"):
        path = Path(folder) / name
        if not path.is_file():
            continue
        size = path.stat().st_size
        if size > MAX_RESULTS_BYTES:
            return None, f"{name} is {size:,} bytes, more than a results file can be"
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            return None, f"{name} is unreadable ({exc})"
        claims = record.get("claims") if isinstance(record, dict) else None
        if not isinstance(claims, list) or not all(
                isinstance(c, dict) and isinstance(c.get("what"), str) for c in claims):
            return None, f"{name} does not hold a list of recorded claims"
        return record, ""
    return None, ""


def _settings_of(record: dict[str, Any]) -> dict[str, Any]:
    settings = record.get("settings")
    return settings if isinstance(settings, dict) else {}


def _settings(record: dict[str, Any]) -> str:
    """'seed 0, 4 epochs, 2026-01-31 12:00' from a results record."""
    settings = _settings_of(record)
    parts = [f"{k} {settings[k]}" for k in ("seed", "epochs", "lr") if settings.get(k) is not None]
    when = str(record.get("written", ""))[:16].replace("T", " ")
    if settings.get("quick"):
        parts.insert(0, "--quick run (tiny sizes)")
    return ", ".join(parts + ([when] if when else []))


def _command(lesson: str) -> str:
    """``python lessons/NN_topic.py`` for lesson NN (``lesson NN`` without the lessons)."""
    from minialex.lessons_index import lessons_dir

    folder = lessons_dir()
    scripts = sorted(folder.glob(f"{lesson}_*.py")) if folder is not None else []
    return f"python lessons/{scripts[0].name}" if scripts else f"lesson {lesson}"


def _row(spec: LessonClaim, folder: Path | None) -> Row:
    command = _command(spec.lesson)
    record, problem = read_results(folder, spec.lesson)
    if record is None:
        todo = f"run lesson {spec.lesson}" + (f" ({problem})" if problem else "")
        return Row(spec.key, spec.claim, spec.source, command, todo, PENDING, spec.why)
    found = next((c for c in record["claims"]
                  if c["what"].lower().startswith(spec.match.lower())), None)
    if found is None:
        return Row(spec.key, spec.claim, spec.source, command,
                   f"run lesson {spec.lesson} (its results hold no claim '{spec.match}...')",
                   PENDING, spec.why)
    verdict = found.get("verdict") if found.get("verdict") in VERDICTS else spec.verdict
    measured = f"{found.get('measured', '?')} [{_settings(record)}]"
    why = "; ".join(w for w in (spec.why, str(found.get("why") or "")) if w)
    if _settings_of(record).get("quick") and verdict != INCONCLUSIVE:
        why = "quick-mode numbers, rerun the lesson without --quick; " + why
    return Row(spec.key, spec.claim, spec.source, command, measured, verdict, why)


def measured_rows(folder: Path | None) -> list[Row]:
    """One row per ``LESSON_CLAIMS`` entry, from the results files in ``folder``."""
    return [_row(spec, folder) for spec in LESSON_CLAIMS]
