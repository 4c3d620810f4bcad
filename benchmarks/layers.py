"""Max pool, LRN, dropout and batch norm, forward + backward: minialex vs PyTorch.

Shapes are AlexNet's first block at batch 32 (96 x 55 x 55 feature maps) and its FC input.

    python benchmarks/layers.py [--quick] [--device gpu]
"""

from __future__ import annotations

from harness import (
    bench_args,
    fmt_ms,
    fmt_ratio,
    machine_description,
    optional_torch,
    print_table,
    time_interleaved,
    write_json,
)

import minialex
import minialex.functional as F
from minialex import backend


def cases(torch):
    """(name, input shape, minialex op, torch op or None) for each layer."""
    tf = torch.nn.functional if torch is not None else None
    return [
        ("max_pool2d 3/2", (96, 55, 55),
         lambda x, _: F.max_pool2d(x, 3, 2),
         (lambda x, _: tf.max_pool2d(x, 3, 2)) if tf else None),
        ("local_response_norm", (96, 55, 55),
         lambda x, _: F.local_response_norm(x, 5, 1e-4, 0.75, 2.0),
         (lambda x, _: tf.local_response_norm(x, 5, 5e-4, 0.75, 2.0)) if tf else None),
        ("dropout p=0.5", (9216,),
         lambda x, _: F.dropout(x, 0.5, training=True),
         (lambda x, _: tf.dropout(x, 0.5, training=True)) if tf else None),
        ("batch_norm (train)", (96, 55, 55),
         lambda x, st: F.batch_norm(x, st[0], st[1], st[2], st[3], training=True),
         (lambda x, st: tf.batch_norm(x, st[0], st[1], st[2], st[3], training=True))
         if tf else None),
    ]


def main() -> None:
    args = bench_args(__doc__.splitlines()[0])
    batch = 2 if args.quick else 32
    rounds = args.rounds or (1 if args.quick else 7)
    xp = backend.xp()
    torch = optional_torch()
    tdev = "cuda" if args.device == "gpu" else "cpu"
    if torch is not None and tdev == "cuda" and not torch.cuda.is_available():
        torch = None
    rng = backend.np.random.default_rng(0)
    print(f"machine: {machine_description(args.device)}")
    print(f"batch {batch}, float32, median of {rounds} interleaved rounds, forward + backward")

    table, results = [], []
    for name, shape, ours_op, torch_op in cases(torch):
        host_x = rng.standard_normal((batch, *shape)).astype("float32")
        channels = shape[0]
        x = minialex.Tensor(xp.asarray(host_x), requires_grad=True)
        state = (minialex.Tensor(xp.zeros(channels, "float32")),
                 minialex.Tensor(xp.ones(channels, "float32")),
                 minialex.Tensor(xp.ones(channels, "float32"), requires_grad=True),
                 minialex.Tensor(xp.zeros(channels, "float32"), requires_grad=True))
        probe = ours_op(x, state)
        gy = xp.asarray(rng.standard_normal(probe.shape).astype("float32"))

        def ours(x=x, state=state, gy=gy, op=ours_op) -> None:
            x.grad = None
            op(x, state).backward(gy)

        candidates = {"minialex": ours}
        if torch_op is not None:
            tx = torch.tensor(host_x, device=tdev, requires_grad=True)
            tstate = (torch.zeros(channels, device=tdev), torch.ones(channels, device=tdev),
                      torch.ones(channels, device=tdev, requires_grad=True),
                      torch.zeros(channels, device=tdev, requires_grad=True))
            tg = torch.tensor(backend.to_host(gy), device=tdev)

            def theirs(tx=tx, tstate=tstate, tg=tg, op=torch_op) -> None:
                tx.grad = None
                op(tx, tstate).backward(tg)

            candidates["torch"] = theirs
        t = time_interleaved(candidates, rounds, device=args.device)
        t_torch = t.get("torch")
        table.append([name, "x".join(map(str, (batch, *shape))), fmt_ms(t["minialex"]),
                      fmt_ms(t_torch), fmt_ratio(t["minialex"], t_torch)])
        results.append({"layer": name, "minialex_s": t["minialex"], "torch_s": t_torch,
                        "batch": batch})
    print_table("layer forward+backward (ms)",
                ["layer", "input", "minialex", "torch", "vs torch"], table)
    write_json(args.json, "layers", args.device, results)


if __name__ == "__main__":
    main()
