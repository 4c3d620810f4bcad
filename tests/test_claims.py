"""The claims ledger: rows, verdicts, the arithmetic redone by hand, lesson results read back.

Expected numbers are hand arithmetic from the layer formulas and the sources' own figures,
never the ledger's functions.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from minialex.claims import INCONCLUSIVE, NOT_HERE, PENDING, REPRODUCED, SHOWN_WRONG, VERDICTS
from minialex.claims import ledger as build_ledger
from minialex.claims.measured import measured_rows

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    """The ledger with an empty results folder: every lesson row is pending."""
    return build_ledger(tmp_path_factory.mktemp("no_results"))


def test_ledger_has_forty_rows_and_only_known_verdicts(book) -> None:
    assert len(book) >= 40
    assert len({row.key for row in book}) == len(book), "keys must be unique"
    for row in book:
        assert row.claim and row.source and row.measured_by and row.why, row
        if row.verdict == PENDING:  # a lesson measures it and has not run: nothing invented
            assert row.measured.startswith("run lesson "), row
        else:
            assert row.verdict in VERDICTS, row
    arithmetic = [row for row in book if row.verdict != PENDING]
    assert len(arithmetic) >= 30


def test_counts_by_verdict(book) -> None:
    counts = book.counts()
    assert sum(counts.values()) == len(book)
    for verdict in VERDICTS:
        assert counts[verdict] == sum(1 for row in book if row.verdict == verdict)
    assert counts[PENDING] == sum(1 for row in book if row.verdict == PENDING)
    assert counts[REPRODUCED] > 0 and counts[SHOWN_WRONG] > 0 and counts[NOT_HERE] > 0


def _check(book, key: str, verdict: str, *fragments: str) -> None:
    row = book[key]
    assert row.verdict == verdict, row
    for text in fragments:
        assert text in row.measured, (text, row.measured)


def conv(k: int, c_in: int, c_out: int) -> int:
    return (k * k * c_in + 1) * c_out


def test_parameter_counts_by_hand(book) -> None:
    paper = (conv(11, 3, 96) + conv(5, 48, 256) + conv(3, 256, 384) + conv(3, 192, 384)
             + conv(3, 192, 256) + 9217 * 4096 + 4097 * 4096 + 4097 * 1000)
    assert paper == 60_965_224
    _check(book, "paper-params", REPRODUCED, f"{paper:,}")
    # one tower, the notebook's table without FC biases
    one_tower = (conv(11, 3, 96) + conv(5, 96, 256) + conv(3, 256, 384) + conv(3, 384, 384)
                 + conv(3, 384, 256) + 9216 * 4096 + 4096 * 4096 + 4096 * 1000)
    _check(book, "nb-total", REPRODUCED, f"{one_tower:,}")
    assert round(one_tower / 1e6, 1) == 62.4
    _check(book, "nb-62.3", SHOWN_WRONG, "62.4 million")
    _check(book, "nb-conv2", REPRODUCED, f"{conv(5, 96, 256):,}")
    # Keras BN model at 224 with 2x2/2 pools: 1x1x256 after pool5; BN: 4 numbers per channel
    bn = [96, 256, 384, 384, 256, 4096, 4096, 1000]
    keras = (conv(11, 3, 96) + conv(11, 96, 256) + conv(3, 256, 384) + conv(3, 384, 384)
             + conv(3, 384, 256) + 257 * 4096 + 4097 * 4096 + 4097 * 1000 + 1001 * 17
             + 4 * sum(bn))
    _check(book, "dutta-totals", REPRODUCED, f"{keras:,}", f"{2 * sum(bn):,}")
    _check(book, "two-3x3", REPRODUCED, f"{2 * conv(3, 256, 256):,}", f"{conv(5, 256, 256):,}")


def test_shapes_and_compute_by_hand(book) -> None:
    _check(book, "input-224", SHOWN_WRONG, f"{(224 - 11) / 4 + 1:g}")
    neurons = (55 * 55 * 96 + 27 * 27 * 256 + 2 * 13 * 13 * 384 + 13 * 13 * 256
               + 2 * 4096 + 1000)
    _check(book, "paper-neurons", REPRODUCED, f"{neurons:,}")
    _check(book, "paper-neuron-list", SHOWN_WRONG, f"{55 * 55 * 96:,} vs 253,440")
    conv_ops = sum((k * k * c + 1) * f * s * s for k, c, f, s in (
        (11, 3, 96, 55), (5, 96, 256, 27), (3, 256, 384, 13), (3, 384, 384, 13),
        (3, 384, 256, 13)))
    fc_ops = 9216 * 4096 + 4096 * 4096 + 4096 * 1000
    assert conv_ops + fc_ops == 1_135_906_176
    _check(book, "nb-total-compute", REPRODUCED, f"{conv_ops + fc_ops:,}")
    _check(book, "nb-compute-share", REPRODUCED, f"{conv_ops / (conv_ops + fc_ops):.1%}")
    _check(book, "nb-same-padding", SHOWN_WRONG, f"= {math.ceil(227 / 4)}")
    _check(book, "sahu-48-kernels", SHOWN_WRONG, "(256, 48, 5, 5)")
    # Dutta's code: 224, conv1 11/4, pool 3/2, conv2 11 valid, pool 3/2, three 3x3 valid
    sizes, n = [], 224
    for k, s in ((11, 4), (3, 2), (11, 1), (3, 2), (3, 1), (3, 1), (3, 1)):
        n = (n - k) // s + 1
        sizes.append(n)
    assert sizes[-1] < 3  # the last 3x3 pool cannot fit
    _check(book, "dutta-pool", SHOWN_WRONG, ", ".join(map(str, sizes)))
    _check(book, "dutta-conv1", SHOWN_WRONG, f"is {(227 - 11) // 4}")
    _check(book, "towers", REPRODUCED, "conv3 groups=1", "conv4 groups=2")
    _check(book, "paper-init", REPRODUCED, "bias 1 in conv2, conv4, conv5, fc6, fc7",
           "0 in conv1, conv3, fc8")


def test_the_sources_own_arithmetic_by_hand(book) -> None:
    _check(book, "w-89pct", SHOWN_WRONG, f"{100 * (1 - 0.2046 / 1.5002):.1f}%")
    _check(book, "w-halves", SHOWN_WRONG, f"x{0.8336 / 1.5002:.3f}")
    _check(book, "w-half-loss", REPRODUCED, f"{1.1393 / 2.2425:.3f}")
    _check(book, "augment-2048", SHOWN_WRONG, f"{32 * 32 * 2:,}", f"{33 * 33 * 2:,}")
    per_second = [1.2e6 * 90 / (days * 24 * 3600) for days in (6, 5)]
    _check(book, "paper-budget", NOT_HERE, f"{1.2e6 * 90 / 128:,.0f} SGD steps",
           f"{per_second[0]:.0f}-{per_second[1]:.0f} images/s")
    _check(book, "ilsvrc-2012", NOT_HERE, f"{26.2 - 15.3:.1f} points")
    _check(book, "sahu-text-vs-table", SHOWN_WRONG, "original-AlexNet 0.852")


FAKE_LESSON = """
import sys
sys.path.insert(0, {lessons!r})
from common import claim, lesson_args
args = lesson_args("A fake lesson that records two claims.")
claim("LRN: change in top-1 error", "-1.4%", "+0.3%", why="tiny test", verdict={verdict!r})
claim("CIFAR-10 4-layer CNN test error", "13% -> 11%", "40% -> 38%")
"""


def lesson_rows(folder: Path) -> dict:
    """The rows the ledger builds from the lessons' results (its arithmetic part is slow)."""
    return {row.key: row for row in measured_rows(folder)}


def _run_fake_lesson(tmp_path: Path, *flags: str, verdict: str | None = None) -> None:
    script = tmp_path / "07_fake_lesson.py"
    script.write_text(FAKE_LESSON.format(lessons=str(ROOT / "lessons"), verdict=verdict))
    env = dict(os.environ, MPLBACKEND="Agg")
    proc = subprocess.run([sys.executable, str(script), "--out", str(tmp_path / "out"), *flags],
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    if verdict:  # claim() prints the verdict beside the numbers
        assert f"verdict: {verdict}" in proc.stdout


def test_recorder_writes_results_and_the_ledger_reads_them(tmp_path: Path) -> None:
    results = tmp_path / "out" / "results"
    _run_fake_lesson(tmp_path, "--seed", "3", verdict=INCONCLUSIVE)
    record = json.loads((results / "07.json").read_text())
    assert record["lesson"] == "07" and record["script"] == "07_fake_lesson.py"
    assert record["settings"]["seed"] == 3 and record["settings"]["quick"] is False
    assert [c["what"] for c in record["claims"]] == ["LRN: change in top-1 error",
                                                    "CIFAR-10 4-layer CNN test error"]
    assert record["claims"][0]["verdict"] == INCONCLUSIVE and record["claims"][0]["timestamp"]
    assert not list(results.glob(".*tmp")), "temporary file left behind"

    book = lesson_rows(results)
    top1 = book["lrn-top1"]
    assert top1.verdict == INCONCLUSIVE and "+0.3%" in top1.measured and "seed 3" in top1.measured
    lesson_07 = sorted((ROOT / "lessons").glob("07_*.py"))[0].name
    assert top1.measured_by == f"python lessons/{lesson_07}"
    assert book["lrn-cifar"].verdict == "re-measured at small scale"  # the row's default
    assert book["lrn-top5"].verdict == PENDING  # the file holds no such claim
    assert book["relu-6x"].verdict == PENDING and book["relu-6x"].measured == "run lesson 06"

    # A quick run goes to its own file; the default run's file wins while it exists.
    _run_fake_lesson(tmp_path, "--quick")
    assert json.loads((results / "07.quick.json").read_text())["settings"]["quick"] is True
    assert "seed 3" in lesson_rows(results)["lrn-top1"].measured
    (results / "07.json").unlink()
    quick = lesson_rows(results)["lrn-cifar"]
    assert "--quick run" in quick.measured and "quick-mode" in quick.why


def test_bad_results_files_are_reported_not_read(tmp_path: Path) -> None:
    (tmp_path / "07.json").write_text("{not json")
    (tmp_path / "13.json").write_bytes(b" " * 2_000_000)
    (tmp_path / "14.json").write_text(json.dumps({"claims": "nope"}))
    book = lesson_rows(tmp_path)
    assert book["lrn-top1"].verdict == PENDING and "unreadable" in book["lrn-top1"].measured
    assert book["w-depth"].verdict == PENDING and "bytes" in book["w-depth"].measured
    assert "list of recorded claims" in book["sahu-losses"].measured


def test_claims_command_prints_the_ledger(book, tmp_path: Path, capsys, monkeypatch) -> None:
    from minialex.cli import claims as command

    parser = argparse.ArgumentParser(prog="minialex")
    command.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["claims", "--results", str(tmp_path)])
    assert args.run(args) == 0
    out = capsys.readouterr().out
    assert "Claims by verdict:" in out and "AlexNet has 60 million parameters" in out
    assert "60,965,224" in out and "shown wrong" in out
    monkeypatch.setattr(command, "ledger", lambda results: book)  # built once is enough
    args = parser.parse_args(["claims", "--results", str(tmp_path), "--json",
                              "--verdict", "not reproducible here"])
    assert args.run(args) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["rows"] and all(r["verdict"] == NOT_HERE for r in data["rows"])
    assert sum(data["counts"].values()) >= 40


def test_readme_ledger_excerpt_and_counts_are_current(book) -> None:
    import re

    from minialex.cli.claims import format_row

    readme = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- claims-output:begin -->\n```text\n(.*?)```", readme, re.S)
    assert block, "README has no claims-output block"
    printed = [line for i, row in enumerate(book, start=1) for line in format_row(i, row)]
    for line in block.group(1).splitlines():
        assert line in printed, f"not printed any more: {line}"
    counts = re.search(r"<!-- claims-counts:begin -->\n(.*?)<!-- claims-counts:end -->",
                       readme, re.S).group(1)
    computed = [row for row in book if row.verdict != PENDING]
    expected = (f"{len(book)} claims: {len(computed)} computed on the spot "
                f"({book.counts()[REPRODUCED]} reproduced, {book.counts()[SHOWN_WRONG]} shown "
                f"wrong, {book.counts()[NOT_HERE]} not reproducible here) and "
                f"{len(book) - len(computed)} measured by the lessons.")
    assert " ".join(counts.split()) == expected
