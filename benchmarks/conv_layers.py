"""AlexNet's five conv layers, forward + backward: minialex vs PyTorch vs the bare GEMMs.

The GEMM ceiling is the time of the matrix products alone (one forward GEMM and two backward
GEMMs per group, same M, N, K, on ready-made contiguous arrays): the gap between it and
minialex is the im2col/col2im overhead.

conv1 is timed as a network trains it: its input (the images) needs no gradient, so backward
computes only dW and db (all three candidates skip the input gradient and the GEMM ceiling has
two products). The row "conv1 +dx" times it with the input gradient as well.

Two more columns show what the copies cost: "copies" is the time minialex's own calls spent in
im2col, col2im, the layout transposes and the bias (``_parallel.profile``), and "1-thread
copies" is minialex with those copies kept on one thread (the GEMMs still use every BLAS
thread), timed in the same rounds. ``--profile`` prints each layer's time as copies, GEMMs (as
minialex runs them, a block at a time) and the rest.

    python benchmarks/conv_layers.py [--quick] [--device gpu] [--threads N] [--timer cpu]
        [--profile] [--record | --json FILE]
"""

from __future__ import annotations

from harness import (
    CopyTimes,
    bare_gemms,
    bench_args,
    fmt_ms,
    fmt_ratio,
    per_op_setup,
    print_table,
    serial_copies,
    time_interleaved,
    torch_for,
    write_json,
)

import minialex
import minialex.functional as F
from minialex import backend
from minialex.functional._checks import output_size

# (name, C_in, C_out, kernel, stride, padding, groups, input side): the paper's two-tower net.
LAYERS = [
    ("conv1", 3, 96, 11, 4, 0, 1, 227),
    ("conv1 +dx", 3, 96, 11, 4, 0, 1, 227),
    ("conv2", 96, 256, 5, 1, 2, 2, 27),
    ("conv3", 256, 384, 3, 1, 1, 1, 13),
    ("conv4", 384, 384, 3, 1, 1, 2, 13),
    ("conv5", 384, 256, 3, 1, 1, 2, 13),
]


def main() -> None:
    args = bench_args(__doc__.splitlines()[0])
    batch, rounds = per_op_setup(args, full_rounds=5)
    xp = backend.xp()
    torch, tdev = torch_for(args.device)
    rng = backend.np.random.default_rng(0)

    rows, results, profile = [], [], []
    for name, cin, cout, k, s, p, g, side in LAYERS:
        out_side = output_size(side, k, s, p)
        host_x = rng.standard_normal((batch, cin, side, side)).astype("float32")
        host_w = (rng.standard_normal((cout, cin // g, k, k)) * 0.01).astype("float32")
        host_b = rng.standard_normal(cout).astype("float32")
        host_gy = rng.standard_normal((batch, cout, out_side, out_side)).astype("float32")
        dx = name != "conv1"  # the first layer's input needs no gradient
        x = minialex.Tensor(xp.asarray(host_x), requires_grad=dx)
        w = minialex.Tensor(xp.asarray(host_w), requires_grad=True)
        b = minialex.Tensor(xp.asarray(host_b), requires_grad=True)
        gy = xp.asarray(host_gy)

        def ours(x=x, w=w, b=b, gy=gy, s=s, p=p, g=g) -> None:
            x.grad = w.grad = b.grad = None
            F.conv2d(x, w, b, stride=s, padding=p, groups=g).backward(gy)

        m, kk, n = batch * out_side * out_side, cin // g * k * k, cout // g
        gemm = bare_gemms(xp, rng, g, m, kk, n, dx)

        ours_timed = CopyTimes(ours, args.timer)
        candidates = {"minialex": ours_timed, "gemm": gemm}
        one_thread = serial_copies(ours) if args.device == "cpu" else None
        if one_thread is not None:
            candidates["serial"] = one_thread
        if torch is not None:
            tx = torch.tensor(host_x, device=tdev, requires_grad=dx)
            tw = torch.tensor(host_w, device=tdev, requires_grad=True)
            tb = torch.tensor(host_b, device=tdev, requires_grad=True)
            tg = torch.tensor(host_gy, device=tdev)

            def theirs(tx=tx, tw=tw, tb=tb, tg=tg, s=s, p=p, g=g) -> None:
                tx.grad = tw.grad = tb.grad = None
                torch.nn.functional.conv2d(tx, tw, tb, stride=s, padding=p, groups=g).backward(tg)

            candidates["torch"] = theirs
        t = time_interleaved(candidates, rounds, device=args.device, timer=args.timer)
        t_torch, copy_s = t.get("torch"), ours_timed.median("copy")
        gemm_as_run = ours_timed.median("gemm")
        shape = f"{cin}->{cout} k{k} s{s} p{p} g{g} @{side}"
        rows.append([name, shape, fmt_ms(t["minialex"]), fmt_ms(t.get("serial")),
                     fmt_ms(t_torch), fmt_ms(t["gemm"]), fmt_ms(copy_s),
                     fmt_ratio(t["minialex"], t_torch), fmt_ratio(t["minialex"], t["gemm"])])
        profile.append([name, fmt_ms(t["minialex"]), fmt_ms(copy_s), fmt_ms(gemm_as_run),
                        fmt_ms(t["minialex"] - copy_s - gemm_as_run), fmt_ms(t["gemm"]),
                        fmt_ratio(gemm_as_run, t["gemm"])])
        results.append({"layer": name, "shape": shape, "batch": batch,
                        "minialex_s": t["minialex"], "torch_s": t_torch, "gemm_s": t["gemm"],
                        "serial_copies_s": t.get("serial"), "copy_s": copy_s,
                        "gemm_as_run_s": gemm_as_run, "rounds_s": t.rounds})
    print_table("conv2d forward+backward (ms)",
                ["layer", "shape", "minialex", "1-thread copies", "torch", "GEMM", "copies",
                 "vs torch", "vs GEMM"], rows)
    if args.profile:
        print_table("where minialex's time goes (ms; median round, best with --timer cpu)",
                    ["layer", "minialex", "copies", "GEMMs as run", "other", "bare GEMMs",
                     "as run / bare"], profile)
    write_json(args, "conv", results, batch=batch, rounds=rounds)


if __name__ == "__main__":
    main()
