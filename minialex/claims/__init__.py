"""The claims ledger: checkable claims of the AlexNet literature, each re-measured.

``ledger()`` returns a :class:`Ledger` of :class:`Row` objects, one per claim: what a source
says, who says it, the command or lesson that measures it, the measured value and a verdict.

Two kinds of rows:

- arithmetic rows (``minialex.claims.arithmetic``) are computed on the spot from the
  library: parameter counts, shapes and mult-adds from ``minialex.models.alexnet`` by shape
  inference (no forward pass), and the sources' own arithmetic redone from their numbers;
- training rows (``minialex.claims.measured``) come from the results the lessons write:
  ``claim()`` in ``lessons/common.py`` records every claim a lesson prints, with the settings
  of the run, in ``lessons/out/results/NN.json`` (``NN.quick.json`` for ``--quick`` runs).
  Where no lesson has run yet, the row says which lesson to run; nothing is made up.

``python -m minialex claims`` prints the ledger.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["VERDICTS", "PENDING", "Row", "Ledger", "ledger", "default_results_dir"]

REPRODUCED = "reproduced"
SHOWN_WRONG = "shown wrong"
SMALL_SCALE = "re-measured at small scale"
INCONCLUSIVE = "inconclusive within noise"
NOT_HERE = "not reproducible here"
VERDICTS = (REPRODUCED, SHOWN_WRONG, SMALL_SCALE, INCONCLUSIVE, NOT_HERE)
# A training row whose lesson has not run (or not recorded it) yet: no verdict is invented.
PENDING = "measured by a lesson (not run yet)"


@dataclass(frozen=True)
class Row:
    """One claim of the ledger.

    key: a stable identifier (``"paper-params"``); claim: what the source says, with its
    number; source: author, title and where in it; measured_by: the command or lesson that
    measures it; measured: the value found; verdict: one of ``VERDICTS`` (or ``PENDING``);
    why: the reason for the verdict.
    """

    key: str
    claim: str
    source: str
    measured_by: str
    measured: str
    verdict: str
    why: str


@dataclass(frozen=True)
class Ledger:
    """The rows in order; ``counts()`` tallies them by verdict."""

    rows: tuple[Row, ...]
    results_dir: Path | None

    def __iter__(self) -> Iterator[Row]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, key: str) -> Row:
        for row in self.rows:
            if row.key == key:
                return row
        raise KeyError(f"no claim with key {key!r}; keys: {', '.join(r.key for r in self.rows)}")

    def counts(self) -> dict[str, int]:
        """{verdict: number of rows}, every verdict listed (PENDING only when present)."""
        tally = Counter(row.verdict for row in self.rows)
        counts = {v: tally.get(v, 0) for v in VERDICTS}
        if tally.get(PENDING):
            counts[PENDING] = tally[PENDING]
        return counts


def default_results_dir() -> Path | None:
    """``lessons/out/results`` of the repository checkout (None without the lessons)."""
    from minialex.lessons_index import lessons_dir

    folder = lessons_dir()
    return None if folder is None else folder / "out" / "results"


def ledger(results_dir: str | Path | None = None) -> Ledger:
    """All rows: the arithmetic ones computed now, the training ones read from
    ``results_dir`` (default: ``lessons/out/results``). Takes a few seconds (it builds the
    full-size models to count their parameters)."""
    from minialex.claims.arithmetic import arithmetic_rows
    from minialex.claims.measured import measured_rows

    folder = default_results_dir() if results_dir is None else Path(results_dir)
    return Ledger(tuple(arithmetic_rows()) + tuple(measured_rows(folder)), folder)
