"""Before and after: conv2d, max_pool2d and batch_norm of an earlier commit against this
checkout's, side by side in one run (interleaved rounds), PyTorch timed alongside.

The baseline's ``minialex/functional/{conv,pool,norm}.py`` are read with ``git show`` and loaded
as separate modules (they use the rest of minialex from this checkout); for the whole-network
rows they are swapped into ``minialex.nn`` while the "before" step runs. The conv rows also
time the bare GEMMs with the same M, N, K (see conv_layers.py).

    python benchmarks/before_after.py [--baseline REV] [--quick] [--rounds N] [--threads N]
        [--timer cpu] [--record | --json FILE]
"""

from __future__ import annotations

import contextlib
import importlib.util
import subprocess
import sys
import tempfile
from pathlib import Path
from unittest import mock

from harness import (
    bare_gemms,
    bench_args,
    fmt_ms,
    fmt_ratio,
    layer_inputs,
    machine_description,
    print_table,
    time_interleaved,
    timer_description,
    torch_for,
    torch_layer_inputs,
    write_json,
)

import minialex
import minialex.functional as F
import minialex.nn.conv
import minialex.nn.norm
import minialex.nn.pool
from minialex import backend
from minialex.functional._checks import output_size

# main just before issue 16 (copies on every core, max pool and batch norm restructured)
BASELINE = "1de4949"
REPO = Path(__file__).resolve().parent.parent
CONV_LAYERS = [  # the paper's two-tower shapes, as in conv_layers.py
    ("conv1", 3, 96, 11, 4, 0, 1, 227),
    ("conv2", 96, 256, 5, 1, 2, 2, 27),
    ("conv3", 256, 384, 3, 1, 1, 1, 13),
    ("conv4", 384, 384, 3, 1, 1, 2, 13),
    ("conv5", 384, 256, 3, 1, 1, 2, 13),
]


def load_baseline(rev: str, folder: Path) -> dict[str, object]:
    """The baseline's conv, pool and norm modules, loaded from ``git show REV:path``."""
    modules = {}
    for name in ("conv", "pool", "norm"):
        path = f"minialex/functional/{name}.py"
        done = subprocess.run(["git", "-C", str(REPO), "show", f"{rev}:{path}"],
                              capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"before_after.py: cannot read {path} at {rev!r} with git "
                     f"({done.stderr.strip() or 'git failed'}); give --baseline REV of this "
                     f"repository's history")
        file = folder / f"baseline_{name}.py"
        file.write_text(done.stdout)
        spec = importlib.util.spec_from_file_location(f"baseline_{name}", file)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        modules[name] = module
    return modules


@contextlib.contextmanager
def baseline_layers(old: dict[str, object]):
    """minialex.nn's Conv2d, MaxPool2d and BatchNorm call the baseline's functions."""
    with mock.patch.object(minialex.nn.conv, "conv2d", old["conv"].conv2d), \
            mock.patch.object(minialex.nn.pool, "max_pool2d", old["pool"].max_pool2d), \
            mock.patch.object(minialex.nn.norm, "batch_norm", old["norm"].batch_norm):
        yield


def conv_candidates(old, torch, tdev, batch, layer, rng, xp):
    name, cin, cout, k, s, p, g, side = layer
    o = output_size(side, k, s, p)
    hx = rng.standard_normal((batch, cin, side, side)).astype("float32")
    hw = (rng.standard_normal((cout, cin // g, k, k)) * 0.01).astype("float32")
    hb = rng.standard_normal(cout).astype("float32")
    hg = rng.standard_normal((batch, cout, o, o)).astype("float32")
    dx = name != "conv1"  # the images need no gradient
    x = minialex.Tensor(xp.asarray(hx), requires_grad=dx)
    w = minialex.Tensor(xp.asarray(hw), requires_grad=True)
    b = minialex.Tensor(xp.asarray(hb), requires_grad=True)
    gy = xp.asarray(hg)

    def run(conv):
        def step() -> None:
            x.grad = w.grad = b.grad = None
            conv(x, w, b, stride=s, padding=p, groups=g).backward(gy)
        return step

    m, kk, n = batch * o * o, cin // g * k * k, cout // g
    gemm = bare_gemms(xp, rng, g, m, kk, n, dx)

    candidates = {"before": run(old["conv"].conv2d), "after": run(F.conv2d), "gemm": gemm}
    if torch is not None:
        tx = torch.tensor(hx, device=tdev, requires_grad=dx)
        tw = torch.tensor(hw, device=tdev, requires_grad=True)
        tb = torch.tensor(hb, device=tdev, requires_grad=True)
        tg = torch.tensor(hg, device=tdev)

        def theirs() -> None:
            tx.grad = tw.grad = tb.grad = None
            torch.nn.functional.conv2d(tx, tw, tb, stride=s, padding=p, groups=g).backward(tg)
        candidates["torch"] = theirs
    return name, candidates


def layer_cases(old, torch):
    tf = None if torch is None else torch.nn.functional
    return [
        ("max_pool2d 3/2", (96, 55, 55), lambda m: lambda x, _: m.max_pool2d(x, 3, 2),
         None if tf is None else (lambda x, _: tf.max_pool2d(x, 3, 2))),
        ("max_pool2d 3/2", (256, 13, 13), lambda m: lambda x, _: m.max_pool2d(x, 3, 2),
         None if tf is None else (lambda x, _: tf.max_pool2d(x, 3, 2))),
        *[(f"batch_norm ({'train' if train else 'eval'})", shape,
           lambda m, train=train: lambda x, st: m.batch_norm(x, *st, training=train),
           None if tf is None else (lambda x, st, train=train: tf.batch_norm(
               x, *st, training=train)))
          for shape, train in [((96, 55, 55), True), ((256, 6, 6), True), ((4096,), True),
                               ((96, 27, 27), False)]],
    ]


def layer_candidates(old, torch, tdev, batch, case, rng, xp):
    name, shape, make, torch_op = case
    host_x, x, state, grad_for = layer_inputs(rng, batch, shape, xp)
    module_of = {"max_pool2d": "pool", "batch_norm": "norm"}[name.split()[0]]
    gy = grad_for(make(F)(x, state))

    def run(op):
        def step() -> None:
            x.grad = None
            op(x, state).backward(gy)
        return step

    candidates = {"before": run(make(old[module_of])), "after": run(make(F))}
    if torch_op is not None:
        tx, tstate, tg = torch_layer_inputs(torch, tdev, host_x, gy)

        def theirs() -> None:
            tx.grad = None
            torch_op(tx, tstate).backward(tg)
        candidates["torch"] = theirs
    return f"{name} {'x'.join(map(str, (batch, *shape)))}", candidates


def network_candidates(old, torch, tdev, variant, batch):
    from network import build, minialex_step, torch_step

    model, x, y = build(variant, batch)
    after = minialex_step(model, x, y)

    def before() -> None:
        with baseline_layers(old):
            after()

    candidates = {"before": before, "after": after}
    if torch is not None:
        candidates["torch"] = torch_step(torch, model, x, y, tdev)
    return f"{variant} batch {batch}", candidates


def main() -> None:
    args = bench_args(__doc__.splitlines()[0], lambda p: p.add_argument(
        "--baseline", default=BASELINE, help=f"the commit to compare with (default {BASELINE})"))
    torch, tdev = torch_for(args.device)
    xp = backend.xp()
    rng = backend.np.random.default_rng(0)
    batch = 2 if args.quick else 32
    rounds = args.rounds or (1 if args.quick else 5)
    print(f"machine: {machine_description(args.device)}")
    print(f"baseline {args.baseline} vs this checkout; float32, forward + backward, "
          f"{timer_description(args, rounds)} (network: 3, 1 at batch 128)")
    with tempfile.TemporaryDirectory() as folder:
        old = load_baseline(args.baseline, Path(folder))
        jobs = [("conv", batch, rounds, lambda layer=layer: conv_candidates(
                    old, torch, tdev, batch, layer, rng, xp)) for layer in CONV_LAYERS]
        jobs += [("layers", batch, rounds, lambda case=case: layer_candidates(
                    old, torch, tdev, batch, case, rng, xp)) for case in layer_cases(old, torch)]
        nets = [("cifar-small", 2)] if args.quick else [
            (v, b) for v in ("torchvision", "paper") for b in (8, 32, 128)]
        jobs += [("network", b, args.rounds or (1 if args.quick or b >= 128 else 3),
                  lambda v=v, b=b: network_candidates(old, torch, tdev, v, b)) for v, b in nets]
        table, results = [], []
        for group, b, n_rounds, make in jobs:
            name, candidates = make()
            t = time_interleaved(candidates, n_rounds, device=args.device, timer=args.timer)
            t_torch, t_gemm = t.get("torch"), t.get("gemm")
            table.append([group, name, fmt_ms(t["before"]), fmt_ms(t["after"]), fmt_ms(t_torch),
                          fmt_ratio(t["before"], t_torch), fmt_ratio(t["after"], t_torch),
                          fmt_ratio(t["before"], t_gemm), fmt_ratio(t["after"], t_gemm),
                          fmt_ratio(t["after"], t["before"])])
            results.append({"group": group, "name": name, "batch": b, "rounds": n_rounds,
                            "before_s": t["before"], "after_s": t["after"], "torch_s": t_torch,
                            "gemm_s": t_gemm, "minialex_s": t["after"], "rounds_s": t.rounds})
            print(f"  {name}: done", flush=True)
    print_table("before and after (ms; ratios)",
                ["group", "case", "before", "after", "torch", "before vs torch",
                 "after vs torch", "before vs GEMM", "after vs GEMM", "after / before"], table)
    write_json(args, "before-after", results, baseline=args.baseline, rounds=rounds)


if __name__ == "__main__":
    main()
