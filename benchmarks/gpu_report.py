"""Summarise a ``gpu_check.sh`` run in one JSON file and a few printed lines.

    python benchmarks/gpu_report.py --out FILE [--pytest-xml FILE] [--bench NAME=FILE ...]
        [--step NAME=STATUS ...] [--gpu TEXT] [--cuda X.Y] [--extra cuda12] [--seconds N]

Reads what the steps wrote (pytest's JUnit XML, the benchmarks' ``--json`` files) and records,
as numbers computed from them: the cupy-marked test counts, every minialex/PyTorch time ratio,
and the issue's target for the whole network, a training step within 1.5x of PyTorch CUDA at
batch 128, met or not per variant. Missing or unreadable inputs are recorded as such, never
guessed.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

NETWORK_TARGET = 1.5  # minialex step time / PyTorch CUDA step time, batch 128
TARGET_BATCH = 128


def test_counts(path: str | None) -> dict[str, Any]:
    """passed / failed / errors / skipped (xfail included) from pytest's JUnit XML."""
    if not path or not Path(path).is_file():
        return {"status": "missing"}
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        return {"status": f"unreadable ({exc})"}
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    total = {k: sum(int(s.get(k, 0)) for s in suites)
             for k in ("tests", "failures", "errors", "skipped")}
    passed = total["tests"] - total["failures"] - total["errors"] - total["skipped"]
    return {"status": "ok" if total["failures"] == total["errors"] == 0 else "failed",
            "passed": passed, "failed": total["failures"], "errors": total["errors"],
            "skipped": total["skipped"], "total": total["tests"]}


def _ratio(row: dict[str, Any]) -> float | None:
    mine, theirs = row.get("minialex_s"), row.get("torch_s")
    return mine / theirs if mine and theirs else None


def benchmark_summary(name: str, path: str) -> dict[str, Any]:
    """The rows of one benchmark's JSON with their minialex/PyTorch time ratio."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        return {"file": path, "status": f"missing or unreadable ({type(exc).__name__})"}
    rows = []
    for row in data.get("results", []):
        label = {k: row[k] for k in ("layer", "variant", "batch", "input") if k in row}
        rows.append({**label, "minialex_s": row.get("minialex_s"), "torch_s": row.get("torch_s"),
                     "ratio_vs_torch": _ratio(row)})
    summary: dict[str, Any] = {"file": path, "status": "ok", "machine": data.get("machine"),
                               "rows": rows}
    if name == "network":
        summary["target"] = network_target(rows)
    return summary


def network_target(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per variant at batch 128: the ratio to PyTorch CUDA and whether it is within 1.5x."""
    out = []
    for row in rows:
        if row.get("batch") != TARGET_BATCH:
            continue
        ratio = row["ratio_vs_torch"]
        out.append({"variant": row.get("variant"), "batch": TARGET_BATCH, "ratio": ratio,
                    "target": NETWORK_TARGET,
                    "met": None if ratio is None else ratio <= NETWORK_TARGET})
    return out


def _pairs(items: list[str], what: str) -> dict[str, str]:
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"gpu_report: expected {what} NAME=VALUE, got {item!r}")
        out[name] = value
    return out


def build_report(args: argparse.Namespace) -> dict[str, Any]:
    benches = _pairs(args.bench, "--bench")
    return {
        "check": "benchmarks/gpu_check.sh",
        "date": datetime.date.today().isoformat(),
        "gpu": args.gpu, "cuda": args.cuda, "extra": args.extra,
        "seconds": args.seconds, "budget_seconds": args.budget,
        "steps": _pairs(args.step, "--step"),
        "tests": test_counts(args.pytest_xml),
        "benchmarks": {name: benchmark_summary(name, path) for name, path in benches.items()},
    }


def summary_lines(report: dict[str, Any]) -> list[str]:
    lines = [f"gpu check {report['date']}: {report['gpu']} (CUDA {report['cuda']}, "
             f"extra {report['extra']}), {report['seconds']} s of a {report['budget_seconds']} s "
             "budget"]
    for step, status in report["steps"].items():
        lines.append(f"  {step}: {status}")
    tests = report["tests"]
    if "passed" in tests:
        lines.append(f"  cupy-marked tests on the GPU: {tests['passed']} passed, "
                     f"{tests['failed']} failed, {tests['errors']} errors, "
                     f"{tests['skipped']} skipped")
    for t in report["benchmarks"].get("network", {}).get("target", []):
        verdict = ("no PyTorch CUDA time" if t["met"] is None else
                   f"{t['ratio']:.2f}x, {'within' if t['met'] else 'NOT within'} "
                   f"{t['target']}x")
        lines.append(f"  whole-network step, {t['variant']} batch {t['batch']}: {verdict}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", required=True, help="the JSON file to write")
    parser.add_argument("--pytest-xml", default=None)
    parser.add_argument("--bench", action="append", default=[], help="NAME=FILE (repeat)")
    parser.add_argument("--step", action="append", default=[], help="NAME=STATUS (repeat)")
    parser.add_argument("--gpu", default="unknown")
    parser.add_argument("--cuda", default="unknown")
    parser.add_argument("--extra", default="unknown")
    parser.add_argument("--seconds", type=int, default=None)
    parser.add_argument("--budget", type=int, default=None)
    args = parser.parse_args(argv)
    report = build_report(args)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(report, indent=2) + "\n")
    tmp.replace(out)  # never a half-written report
    print("\n".join(summary_lines(report)))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
