"""The result tables of benchmarks/README.md, generated from the JSON of record.

    python benchmarks/report.py                 # rewrite README.md's tables from results/*.json
    python benchmarks/report.py --check         # exit 1 if README.md differs from what they give
    python benchmarks/report.py --measure       # re-measure everything first (a quiet machine,
                                                # about 20 minutes), then rewrite the tables

Each table sits between ``<!-- report:NAME -->`` and ``<!-- /report:NAME -->`` in README.md
and is rebuilt whole from ``results/cpu-Nthread-{conv,layers,network,before-after}.json`` and
``results/cpu-Nthread-train.json`` (written by the benchmarks' ``--record``): no number in those
tables is typed by hand. ``--measure --threads 1 --timer cpu`` records the one-thread CPU-time
set instead (the method for a busy machine).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
RESULTS = BENCH_DIR / "results"
README = BENCH_DIR / "README.md"
MAIN_README = BENCH_DIR.parent / "README.md"  # its speed sentence, from the same records
SCRIPTS = {"conv": "conv_layers.py", "layers": "layers.py", "network": "network.py",
           "before-after": "before_after.py"}
TRAIN_COMMAND = [sys.executable, "-m", "minialex", "train", "--no-progress"]
MARKER = re.compile(r"(<!-- report:(?P<name>[\w-]+) -->\n)(?P<body>.*?)"
                    r"(<!-- /report:(?P=name) -->)", re.S)


# ---------------------------------------------------------------- reading the records
def load(threads: int, name: str) -> dict[str, Any] | None:
    """results/cpu-Nthread-NAME.json as data, or None when it is not there."""
    path = RESULTS / f"cpu-{threads}thread-{name}.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text())


def ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1e3:.1f}"


def ratio(a: float | None, b: float | None) -> str:
    return "-" if not a or not b else f"{a / b:.2f}x"


# A run is "quiet" when other processes kept less than this many cores busy at its start.
QUIET_CORES = 0.2


def table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def how_measured(data: dict[str, Any]) -> str:
    """One line: the machine, the versions, the thread settings and the method of a record."""
    info, settings = data.get("machine_info"), data.get("settings", {})
    if info is None:  # a record from before issue 16: the machine as one line of text
        return f"_{data.get('machine', 'machine not recorded')}._\n\n"
    load_avg = info.get("load_average_1_5_15min")
    cores = info.get("cores") or 1
    timer = ("median wall-clock time" if settings.get("timer", "wall") == "wall"
             else "best process CPU time")
    line = (f"{info.get('date', data.get('date'))}, {info.get('cpu')}, {cores} cores; "
            f"numpy {info.get('numpy')} ({info.get('blas')}, {info.get('blas_threads')} BLAS "
            f"threads, {info.get('minialex_copy_threads')} minialex copy threads), torch "
            f"{info.get('torch')} ({info.get('torch_threads')} threads); {timer}")
    if settings.get("rounds"):
        line += f" of {settings['rounds']} interleaved rounds"
    others = info.get("other_cores_busy")
    if others is not None:  # sampled in the second before the run: the machine right then
        line += f"; other processes busy on {others:.2f} of the {cores} cores at the start"
        busy = others > QUIET_CORES
    elif load_avg is not None:  # older records: the load average (it lags by a minute)
        line += f"; load average {load_avg[0]:.2f} at the start"
        busy = load_avg[0] > 0.5 * cores
    else:
        busy = False
    if busy and settings.get("timer", "wall") == "wall":
        line += (" (**a busy machine**: wall-clock ratios are unreliable, re-measure on a "
                 "quiet one)")
    elif busy:
        line += (" (a busy machine: CPU time leaves out the waiting, but the other jobs "
                 "still share the caches and the memory bandwidth)")
    return f"_{line}._\n\n"


def missing(threads: int, name: str) -> str:
    return (f"_Not measured yet: `python benchmarks/report.py --measure"
            f"{'' if threads == 2 else f' --threads {threads} --timer cpu'}` writes "
            f"`results/cpu-{threads}thread-{name}.json`._\n")


# ---------------------------------------------------------------- the tables
def conv_table(data: dict[str, Any]) -> str:
    rows = [[r["layer"], r.get("shape", ""), ms(r["minialex_s"]), ms(r.get("serial_copies_s")),
             ms(r["torch_s"]), ms(r["gemm_s"]), ms(r.get("copy_s")),
             ratio(r["minialex_s"], r["torch_s"]), ratio(r["minialex_s"], r["gemm_s"])]
            for r in data["results"]]
    return how_measured(data) + table(
        ["layer", "shape", "minialex ms", "1-thread copies ms", "torch ms", "GEMM ms",
         "copies ms", "vs torch", "vs GEMM"], rows)


def conv_profile(data: dict[str, Any]) -> str:
    rows = []
    for r in data["results"]:
        copy_s, gemm_s = r.get("copy_s") or 0.0, r.get("gemm_as_run_s") or 0.0
        rows.append([r["layer"], ms(r["minialex_s"]), ms(copy_s), ms(gemm_s),
                     ms(r["minialex_s"] - copy_s - gemm_s), ms(r["gemm_s"]),
                     ratio(gemm_s, r["gemm_s"]), f"{100 * copy_s / r['minialex_s']:.0f}%"])
    return how_measured(data) + table(
        ["layer", "minialex ms", "copies ms", "GEMMs as run ms", "other ms", "bare GEMMs ms",
         "as run / bare", "copies share"], rows)


def layers_table(data: dict[str, Any]) -> str:
    rows = [[r["layer"], "x".join(map(str, r["input"])), ms(r["minialex_s"]),
             ms(r.get("serial_copies_s")), ms(r["torch_s"]), ratio(r["minialex_s"], r["torch_s"])]
            for r in data["results"]]
    return how_measured(data) + table(
        ["layer", "input", "minialex ms", "1 thread ms", "torch ms", "vs torch"], rows)


def network_table(data: dict[str, Any]) -> str:
    rows = []
    for r in data["results"]:
        mem = r.get("peak_step_bytes") or {}

        def mb(framework: str, mem: dict[str, Any] = mem) -> str:
            return "-" if mem.get(framework) is None else f"{mem[framework] / 2**20:.0f}"

        rows.append([r["variant"], r["batch"], f"{r['batch'] / r['minialex_s']:.1f}",
                     "-" if not r["torch_s"] else f"{r['batch'] / r['torch_s']:.1f}",
                     ratio(r["minialex_s"], r["torch_s"]), mb("minialex"), mb("torch"),
                     ms(r.get("copy_s")), ms(r.get("conv_gemm_s"))])
    return how_measured(data) + table(
        ["variant", "batch", "minialex img/s", "torch img/s", "time vs torch", "minialex MB",
         "torch MB", "conv copies ms", "conv GEMMs ms"], rows)


def network_profile(data: dict[str, Any]) -> str:
    rows = []
    for r in data["results"]:
        copy_s, gemm_s = r.get("copy_s") or 0.0, r.get("conv_gemm_s") or 0.0
        kernel = r.get("kernel_s") or {}
        rows.append([r["variant"], r["batch"], ms(r["minialex_s"]), ms(copy_s), ms(gemm_s),
                     ms(r["minialex_s"] - copy_s - gemm_s), ms(kernel.get("minialex")),
                     ms(r["torch_s"]), ms(kernel.get("torch"))])
    return how_measured(data) + table(
        ["variant", "batch", "minialex ms", "conv copies ms", "conv GEMMs ms", "other ms",
         "kernel ms", "torch ms", "torch kernel ms"], rows)


def network_memory(data: dict[str, Any]) -> str:
    def mb(value: Any) -> str:
        return "-" if value is None else f"{value / 2**20:.0f}"

    rows = []
    for r in data["results"]:
        held, peak = r.get("held_for_backward_bytes") or {}, r.get("peak_step_bytes") or {}
        if not held:
            continue
        outputs, saved = held.get("minialex_outputs"), held.get("minialex_saved")
        rows.append([r["variant"], r["batch"], mb(outputs), mb(saved), mb(outputs + saved),
                     mb(held.get("torch_saved")), mb(peak.get("minialex")), mb(peak.get("torch")),
                     ratio(peak.get("minialex"), peak.get("torch"))])
    return how_measured(data) + table(
        ["variant", "batch", "minialex op outputs MB", "minialex saved by closures MB",
         "minialex held MB", "torch saved tensors MB", "minialex peak MB", "torch peak MB",
         "peak vs torch"], rows)


def before_after_table(data: dict[str, Any]) -> str:
    rows = [[r["group"], r["name"], ms(r["before_s"]), ms(r["after_s"]), ms(r["torch_s"]),
             ratio(r["before_s"], r["torch_s"]), ratio(r["after_s"], r["torch_s"]),
             ratio(r["before_s"], r.get("gemm_s")), ratio(r["after_s"], r.get("gemm_s")),
             ratio(r["after_s"], r["before_s"])]
            for r in data["results"]]
    baseline = data.get("settings", {}).get("baseline", "?")
    return how_measured(data) + f"Before: commit `{baseline}`; after: this checkout.\n\n" + table(
        ["group", "case", "before ms", "after ms", "torch ms", "before vs torch",
         "after vs torch", "before vs GEMM", "after vs GEMM", "after / before"], rows)


def _span(values: list[float]) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    lo, hi = min(values), max(values)
    return f"{lo:.2f}x" if f"{lo:.2f}" == f"{hi:.2f}" else f"{lo:.2f}-{hi:.2f}x"


def round_ratios(r: dict[str, Any], a: str, b: str) -> list[float]:
    """A record row's one-round ratios of ``a`` to ``b`` (keys such as "minialex_s"): the
    rounds were interleaved, so round k of each ran side by side (``rounds_s``). A row
    without rounds gives its median ratio alone."""
    rounds = r.get("rounds_s") or {}
    per = [x / y for x, y in zip(rounds.get(a.removesuffix("_s")) or [],
                                 rounds.get(b.removesuffix("_s")) or [], strict=False) if y]
    return per or [r[a] / r[b]]


VERDICTS = ("met: every row's median within the goal; within noise: a median above it, but "
            "every row had a round within it; missed: some row above the goal in every round")


def verdict(target: float, rows: list[tuple[float, float, float]]) -> str:
    """The verdict (see VERDICTS) of rows of (median, lowest round, highest round) ratios."""
    if not rows:
        return "not measured"
    if max(m for m, _, _ in rows) <= target:
        return "met"
    return "missed" if any(lo > target for _, lo, _ in rows) else "within noise"


def targets_table(threads: int) -> str:
    """Issue 16's targets, each with the measured values (after; before where recorded)."""
    conv, layers, net = load(threads, "conv"), load(threads, "layers"), load(threads, "network")
    before, train = load(threads, "before-after"), load(threads, "train")

    def rows_of(data: dict[str, Any] | None, keep: Callable[[dict[str, Any]], bool]) -> list:
        return [r for r in (data or {}).get("results", []) if keep(r)]

    def noisy(rows: list, a: str, b: str) -> list[tuple[float, float, float]]:
        """(median ratio, lowest and highest one-round ratio) of each row."""
        found = []
        for r in rows:
            if r.get(a) and r.get(b):
                per = round_ratios(r, a, b)
                found.append((r[a] / r[b], min(per), max(per)))
        return found

    def ratios(rows: list, a: str, b: str) -> list[float]:
        return [m for m, _, _ in noisy(rows, a, b)]

    five = {"conv1", "conv2", "conv3", "conv4", "conv5"}
    pools = lambda r: r.get("layer", r.get("name", "")).startswith("max_pool2d 3/2")  # noqa: E731
    norms = lambda r: r.get("layer", r.get("name", "")).startswith("batch_norm")  # noqa: E731
    checks = [
        ("each conv layer vs its bare GEMMs, batch 32", 1.15,
         noisy(rows_of(conv, lambda r: r["layer"] in five), "minialex_s", "gemm_s"),
         ratios(rows_of(before, lambda r: r["name"] in five), "before_s", "gemm_s")),
        ("conv2 (5x5, groups=2) vs PyTorch", 1.2,
         noisy(rows_of(conv, lambda r: r["layer"] == "conv2"), "minialex_s", "torch_s"),
         ratios(rows_of(before, lambda r: r["name"] == "conv2"), "before_s", "torch_s")),
        ("max pool 3/2 vs PyTorch, 55x55 and 13x13", 1.3,
         noisy(rows_of(layers, pools), "minialex_s", "torch_s"),
         ratios(rows_of(before, pools), "before_s", "torch_s")),
        ("batch norm (train and eval) vs PyTorch", 1.3,
         noisy(rows_of(layers, norms), "minialex_s", "torch_s"),
         ratios(rows_of(before, norms), "before_s", "torch_s")),
    ]
    for variant, target in (("torchvision", 1.1), ("paper", 1.0)):
        checks.append((f"`{variant}` training step vs PyTorch, batch 8 / 32 / 128", target,
                       noisy(rows_of(net, lambda r, v=variant: r["variant"] == v
                                     and r["batch"] in (8, 32, 128)), "minialex_s", "torch_s"),
                       ratios(rows_of(before, lambda r, v=variant: r["name"].startswith(v + " ")),
                              "before_s", "torch_s")))
    memory = [(m, m, m) for m in (
        r["peak_step_bytes"]["minialex"] / r["peak_step_bytes"]["torch"]
        for r in rows_of(net, lambda r: r["batch"] == 32)
        if (r.get("peak_step_bytes") or {}).get("minialex")
        and (r.get("peak_step_bytes") or {}).get("torch"))]  # one measurement each
    checks.append(("peak memory of one step vs PyTorch, batch 32", 1.0, memory, []))
    rows = []
    for what, target, after, was in checks:
        medians = [m for m, _, _ in after]
        rows.append([what, f"<= {target:.2f}x", _span(was), _span(medians),
                     _span([lo for _, lo, _ in after] + [hi for _, _, hi in after]),
                     verdict(target, after)])
    if train is None:
        rows.append(["default `python -m minialex train` wall time", "report; < 90 s", "-", "-",
                     "-", "not measured"])
    else:
        wall = train["results"][0]["wall_s"]
        rows.append(["default `python -m minialex train` wall time", "report; < 90 s", "-",
                     f"{wall:.0f} s", "-", "met" if wall < 90 else "missed"])
    sources = ", ".join(f"`results/cpu-{threads}thread-{n}.json`"
                        for n in ("conv", "layers", "network", "before-after", "train"))
    return (f"From {sources} (ranges over the rows that the target covers; \"before\" from the "
            f"side-by-side before/after run; \"after, one round\": the lowest and highest ratio "
            f"of a single round, the noise of the run; {VERDICTS}).\n\n"
            + table(["target (issue 16)", "goal", "before", "after", "after, one round",
                     "verdict"], rows))


RENDERERS = {"conv": conv_table, "conv_layers": conv_table, "layers": layers_table,
             "network": network_table, "before-after": before_after_table}


def speed_sentence(threads: int) -> str:
    """The main README's one-line summary of the whole-network steps at ``threads`` threads."""
    net = load(threads, "network")
    rows = [r for r in (net or {}).get("results", [])
            if r["variant"] in ("torchvision", "paper") and r["batch"] >= 8 and r.get("torch_s")]
    if not rows:
        return missing(threads, "network")
    medians = [r["minialex_s"] / r["torch_s"] for r in rows]
    rounds = [q for r in rows for q in round_ratios(r, "minialex_s", "torch_s")]
    info = net.get("machine_info") or {}
    return (f"Speed: on {info.get('cores', '?')} CPU cores ({info.get('cpu', 'a CPU')}, "
            f"{info.get('date', '?')}) a whole AlexNet training step takes {_span(medians)} "
            f"PyTorch's time (median of interleaved rounds; single rounds {_span(rounds)}), "
            f"for the `torchvision` and `paper` variants at batch 8 to 128, measured side by "
            f"side in [benchmarks/README.md](benchmarks/README.md), which also explains where "
            f"and why the per-layer targets are missed.\n")


def render(name: str) -> str:
    """The text between the markers ``report:NAME``: ``targets-N`` (the targets at N threads),
    ``profile-STEM`` (where the time of results/STEM.json goes: conv layers or network),
    ``memory-STEM`` (the network's memory held for backward) or ``STEM`` (its table)."""
    found = re.fullmatch(r"targets-(\d+)", name)
    if found:
        return targets_table(int(found.group(1)))
    found = re.fullmatch(r"speed-(\d+)", name)
    if found:
        return speed_sentence(int(found.group(1)))
    kind, _, stem = name.partition("-") if name.startswith(("profile-", "memory-")) else (
        "", "", name)
    path = RESULTS / f"{stem}.json"
    if not path.is_file():
        found = re.fullmatch(r"cpu-(\d+)thread-([\w-]+)", stem)
        if not found:
            raise SystemExit(f"report.py: README.md marker report:{name} names no file "
                             f"results/{stem}.json")
        return missing(int(found.group(1)), found.group(2))
    data = json.loads(path.read_text())
    if kind == "memory":
        return network_memory(data)
    if kind == "profile":
        return network_profile(data) if data["benchmark"] == "network" else conv_profile(data)
    return RENDERERS[data["benchmark"]](data)


def regenerate(text: str) -> str:
    return MARKER.sub(lambda m: m.group(1) + "\n" + render(m.group("name")) + "\n" + m.group(4),
                      text)


# ---------------------------------------------------------------- measuring
def measure(args: argparse.Namespace) -> None:
    """Run the benchmarks with --record (and time the default training run)."""
    extra = [] if args.threads is None else ["--threads", str(args.threads)]
    extra += ["--timer", args.timer]
    for name in args.only:
        if name == "train":
            time_training(args)
            continue
        command = [sys.executable, str(BENCH_DIR / SCRIPTS[name]), "--record", *extra]
        print("$", " ".join(command[1:]), flush=True)
        subprocess.run(command, check=True, cwd=BENCH_DIR)


def time_training(args: argparse.Namespace) -> None:
    """Wall time of ``python -m minialex train`` with its defaults (output in a temp folder)."""
    import tempfile

    sys.path.insert(0, str(BENCH_DIR))
    from harness import machine_info

    env = dict(os.environ)
    if args.threads is not None:
        env.update({v: str(args.threads) for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                                                   "MKL_NUM_THREADS")})
    info = machine_info("cpu")
    with tempfile.TemporaryDirectory() as folder:
        command = [*TRAIN_COMMAND, "--out", str(Path(folder) / "run")]
        print("$ python -m minialex train --no-progress --out TMP", flush=True)
        start = time.perf_counter()
        subprocess.run(command, check=True, env=env, cwd=BENCH_DIR.parent,
                       stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - start
    threads = args.threads or info["blas_threads"]
    payload = {"benchmark": "train", "date": info["date"], "machine_info": info,
               "settings": {"timer": "wall", "threads": args.threads},
               "results": [{"command": "python -m minialex train --no-progress",
                            "wall_s": wall}]}
    path = RESULTS / f"cpu-{threads}thread-train.json"
    path.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {path} ({wall:.1f} s)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if README.md's tables differ from the JSON")
    parser.add_argument("--measure", action="store_true", help="re-measure before rewriting")
    parser.add_argument("--only", type=lambda s: s.split(","),
                        default=[*SCRIPTS, "train"], help="with --measure: a subset of "
                        "conv,layers,network,before-after,train")
    parser.add_argument("--threads", type=int, default=None, help="with --measure")
    parser.add_argument("--timer", choices=("wall", "cpu"), default="wall", help="with --measure")
    args = parser.parse_args(argv)
    if args.measure:
        measure(args)
    stale = []
    for path in (README, MAIN_README):
        if not path.is_file():
            continue
        text = path.read_text()
        new = regenerate(text)
        if args.check:
            if new != text:
                stale.append(path.name if path == MAIN_README else f"benchmarks/{path.name}")
            continue
        if new != text:
            path.write_text(new)
        print(f"rewrote {len(MARKER.findall(new))} tables in {path}")
    if stale:
        print(f"report.py: {' and '.join(stale)} out of date with results/*.json; run "
              "python benchmarks/report.py", file=sys.stderr)
        return 1
    if args.check:
        print("the READMEs match results/*.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
