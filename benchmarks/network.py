"""Whole AlexNet forward + backward: images per second and peak memory, minialex vs PyTorch.

The PyTorch model is a mirror of the minialex one (``minialex.interop.to_torch``): same layers,
same weights. Peak memory is the growth of the process's peak resident set (VmHWM, reset just
before the step) above its size before one training step, measured for each framework in a
fresh child process (Linux; "-" elsewhere). ``ru_maxrss`` would not do: a child inherits the
parent's high-water mark across fork and exec.

"copies" is the time a minialex step spends in conv2d's copies (im2col, col2im, the layout
transposes, the bias), "conv GEMMs" in conv2d's matrix products (``_parallel.profile``);
``--profile`` prints both with the rest of the step.

    python benchmarks/network.py [--quick] [--device gpu] [--threads N] [--timer cpu]
        [--profile] [--record | --json FILE]
"""

from __future__ import annotations

import json
import subprocess
import sys

from harness import (
    CopyTimes,
    KernelTimes,
    bench_args,
    fmt_ms,
    fmt_ratio,
    machine_description,
    print_table,
    time_interleaved,
    timer_description,
    torch_for,
    write_json,
)

import minialex
import minialex.functional as F
import minialex.interop
from minialex import backend
from minialex.models import alexnet

VARIANTS = ("torchvision", "paper", "cifar-small")


def build(variant: str, batch: int, seed: int = 0):
    """(minialex model, input Tensor, integer targets) on the default backend."""
    backend.manual_seed(seed)
    model = alexnet(variant)
    rng = backend.np.random.default_rng(seed)
    x = rng.standard_normal((batch, *model.input_shape)).astype("float32")
    y = rng.integers(0, model.num_classes, batch)
    return model, x, y


def minialex_step(model, x, y):
    xp = backend.xp()
    xt, yt = minialex.Tensor(xp.asarray(x)), xp.asarray(y)

    def step() -> None:
        model.zero_grad()
        F.cross_entropy(model(xt), yt).backward()
    return step


def torch_step(torch, model, x, y, device: str):
    mirror = minialex.interop.to_torch(model).to(device)
    xt, yt = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)

    def step() -> None:
        mirror.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(mirror(xt), yt).backward()
    return step


def graph_memory(torch, model, x, y) -> dict[str, int]:
    """Bytes held for backward after one forward pass: minialex's graph (the op outputs it
    keeps as nodes, and what backward closures keep beyond them) and PyTorch's saved tensors
    (``saved_tensors_hooks``), weights and input images left out of both."""
    from minialex.graph_memory import held_by_graph

    held = held_by_graph(F.cross_entropy(model(minialex.Tensor(x)), y))
    result = {"minialex_outputs": sum(h["outputs"] for h in held.values()),
              "minialex_saved": sum(h["saved"] for h in held.values())}
    if torch is not None:
        mirror = minialex.interop.to_torch(model)
        xt = torch.from_numpy(x)
        own = {p.untyped_storage().data_ptr() for p in mirror.parameters()}
        own.add(xt.untyped_storage().data_ptr())
        saved: dict[int, int] = {}

        def pack(t):
            storage = t.untyped_storage()
            if storage.data_ptr() not in own:
                saved[storage.data_ptr()] = storage.nbytes()
            return t
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            loss = torch.nn.functional.cross_entropy(mirror(xt), torch.from_numpy(y))
        result["torch_saved"] = sum(saved.values())
        del loss
    return result


_CHILD = """
import json, sys
sys.path.insert(0, {bench_dir!r})
from network import build, minialex_step, torch_step

def status_bytes(key):  # a line of /proc/self/status such as "VmHWM:  123 kB"
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024

variant, batch, framework = {variant!r}, {batch}, {framework!r}
model, x, y = build(variant, batch)
if framework == "torch":
    import torch
    torch.set_num_threads({threads})
    step = torch_step(torch, model, x, y, "cpu")
else:
    step = minialex_step(model, x, y)
before = status_bytes("VmRSS")
try:  # reset the peak (VmHWM) to the current size, so building the model does not count
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
except OSError:
    pass
step()
print(json.dumps(max(0, status_bytes("VmHWM") - before)))
"""


def peak_step_memory(variant: str, batch: int, framework: str, threads: int) -> int | None:
    """Bytes the peak RSS grows by during one training step, in a fresh process (CPU only)."""
    import os

    code = _CHILD.format(bench_dir=os.path.dirname(os.path.abspath(__file__)), variant=variant,
                         batch=batch, framework=framework, threads=threads)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if done.returncode != 0:
        print(f"  (memory probe failed for {framework} {variant} b{batch}: "
              f"{done.stderr.strip().splitlines()[-1:]})")
        return None
    return int(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    args = bench_args(__doc__.splitlines()[0])
    batches = (1, 2) if args.quick else (1, 8, 32, 128)
    variants = ("cifar-small",) if args.quick else VARIANTS
    torch, tdev = torch_for(args.device)
    print(f"machine: {machine_description(args.device)}")
    print(f"float32, one training step (forward, cross-entropy, backward), "
          f"{timer_description(args, args.rounds or 3)}")
    table, results, profile, memory = [], [], [], []
    for variant in variants:
        for batch in batches:
            model, x, y = build(variant, batch)
            ours = CopyTimes(minialex_step(model, x, y), args.timer)
            candidates = {"minialex": ours}
            if torch is not None:
                candidates["torch"] = KernelTimes(torch_step(torch, model, x, y, tdev))
            # three rounds at every batch: one round's ratio against another's is the noise
            rounds = args.rounds or (1 if args.quick else 3)
            t = time_interleaved(candidates, rounds, device=args.device, timer=args.timer)
            t_torch = t.get("torch")
            mem, held = {}, {}
            if args.device == "cpu" and (args.quick or batch in (8, 32)):
                held = graph_memory(torch, model, x, y)
            if args.device == "cpu" and not args.quick and batch in (8, 32):
                threads = torch.get_num_threads() if torch is not None else 1
                for framework in candidates:
                    mem[framework] = peak_step_memory(variant, batch, framework, threads)
            mb = {k: (f"{v / 2**20:.0f}" if v is not None else "-") for k, v in mem.items()}
            table.append([variant, batch, f"{batch / t['minialex']:.1f}",
                          f"{batch / t_torch:.1f}" if t_torch else "-",
                          fmt_ratio(t["minialex"], t_torch), mb.get("minialex", "-"),
                          mb.get("torch", "-")])
            copy_s, gemm_s = ours.median("copy"), ours.median("gemm")
            kernel = {"minialex": ours.median("kernel")}
            if "torch" in candidates:
                kernel["torch"] = candidates["torch"].median("kernel")
            results.append({"variant": variant, "batch": batch, "minialex_s": t["minialex"],
                            "torch_s": t_torch, "peak_step_bytes": mem, "copy_s": copy_s,
                            "conv_gemm_s": gemm_s, "kernel_s": kernel,
                            "held_for_backward_bytes": held, "rounds": rounds,
                            "rounds_s": t.rounds})
            profile.append([variant, batch, fmt_ms(t["minialex"]), fmt_ms(copy_s),
                            fmt_ms(gemm_s), fmt_ms(t["minialex"] - copy_s - gemm_s),
                            fmt_ms(kernel["minialex"]), fmt_ms(t_torch),
                            fmt_ms(kernel.get("torch"))])
            if held:
                memory.append([variant, batch, *(f"{held.get(k, 0) / 2**20:.1f}" for k in (
                    "minialex_outputs", "minialex_saved")),
                    "-" if "torch_saved" not in held else f"{held['torch_saved'] / 2**20:.1f}",
                    mb.get("minialex", "-"), mb.get("torch", "-")])
            print(f"  {variant} batch {batch}: done", flush=True)
    print_table("whole network forward+backward (images/s; time ratio; peak step memory MB)",
                ["variant", "batch", "minialex img/s", "torch img/s", "time vs torch",
                 "minialex MB", "torch MB"], table)
    if args.profile:
        print_table("where a minialex step's time goes (ms; median round, best with --timer cpu;"
                    " kernel: the process's system time, mostly first touches of fresh memory)",
                    ["variant", "batch", "step", "conv copies", "conv GEMMs", "other", "kernel",
                     "torch", "torch kernel"], profile)
        print_table("memory held for backward after the forward pass (MB) and the step's peak",
                    ["variant", "batch", "minialex op outputs", "minialex saved by closures",
                     "torch saved tensors", "minialex peak", "torch peak"], memory)
    write_json(args, "network", results)


if __name__ == "__main__":
    main()
