"""Max pool, LRN, dropout and batch norm, forward + backward: minialex vs PyTorch.

Shapes are AlexNet's (batch 32 unless --quick): the feature maps of block 1 (96 x 55 x 55) and
block 2 (256 x 27 x 27), pool5's input (256 x 13 x 13), the FC input (9216) and the small maps
and FC widths where keras-bn applies BatchNorm (256 x 6 x 6, 4096), where per-call overheads
weigh most.

The column "1 thread" is minialex with its work kept on one thread (max pool and batch norm
split their planes or channels among the BLAS thread count), timed in the same rounds.

    python benchmarks/layers.py [--quick] [--device gpu] [--threads N] [--timer cpu]
        [--record | --json FILE]
"""

from __future__ import annotations

from harness import (
    bench_args,
    fmt_ms,
    fmt_ratio,
    layer_inputs,
    per_op_setup,
    print_table,
    serial_copies,
    time_interleaved,
    torch_for,
    torch_layer_inputs,
    write_json,
)

import minialex.functional as F
from minialex import backend


def cases(torch):
    """(name, input shape without the batch, minialex op, torch op or None) for each layer.

    Ops take (x, state), state = (running_mean, running_var, weight, bias) for batch norm.
    """
    tf = torch.nn.functional if torch is not None else None

    def pair(ours, theirs):
        return ours, (theirs if tf else None)

    def bn(training):
        return pair(lambda x, st: F.batch_norm(x, *st, training=training),
                    lambda x, st: tf.batch_norm(x, *st, training=training))

    return [
        ("max_pool2d 3/2", (96, 55, 55), *pair(lambda x, _: F.max_pool2d(x, 3, 2),
                                               lambda x, _: tf.max_pool2d(x, 3, 2))),
        ("max_pool2d 3/2", (256, 13, 13), *pair(lambda x, _: F.max_pool2d(x, 3, 2),
                                                lambda x, _: tf.max_pool2d(x, 3, 2))),
        ("max_pool2d 2/2", (96, 54, 54), *pair(lambda x, _: F.max_pool2d(x, 2, 2),
                                               lambda x, _: tf.max_pool2d(x, 2, 2))),
        ("local_response_norm", (96, 55, 55),
         *pair(lambda x, _: F.local_response_norm(x, 5, 1e-4, 0.75, 2.0),
               lambda x, _: tf.local_response_norm(x, 5, 5e-4, 0.75, 2.0))),
        ("local_response_norm", (256, 27, 27),
         *pair(lambda x, _: F.local_response_norm(x, 5, 1e-4, 0.75, 2.0),
               lambda x, _: tf.local_response_norm(x, 5, 5e-4, 0.75, 2.0))),
        ("dropout p=0.5", (9216,), *pair(lambda x, _: F.dropout(x, 0.5, training=True),
                                         lambda x, _: tf.dropout(x, 0.5, training=True))),
        ("batch_norm (train)", (96, 55, 55), *bn(True)),
        ("batch_norm (train)", (256, 6, 6), *bn(True)),
        ("batch_norm (train)", (4096,), *bn(True)),
        ("batch_norm (eval)", (96, 27, 27), *bn(False)),
    ]


def main() -> None:
    args = bench_args(__doc__.splitlines()[0])
    batch, rounds = per_op_setup(args, full_rounds=7)
    xp = backend.xp()
    torch, tdev = torch_for(args.device)
    rng = backend.np.random.default_rng(0)

    table, results = [], []
    for name, shape, ours_op, torch_op in cases(torch):
        host_x, x, state, grad_for = layer_inputs(rng, batch, shape, xp)
        gy = grad_for(ours_op(x, state))

        def ours(x=x, state=state, gy=gy, op=ours_op) -> None:
            x.grad = None
            op(x, state).backward(gy)

        candidates = {"minialex": ours}
        one_thread = serial_copies(ours) if args.device == "cpu" else None
        if one_thread is not None:
            candidates["serial"] = one_thread
        if torch_op is not None:
            tx, tstate, tg = torch_layer_inputs(torch, tdev, host_x, gy)

            def theirs(tx=tx, tstate=tstate, tg=tg, op=torch_op) -> None:
                tx.grad = None
                op(tx, tstate).backward(tg)

            candidates["torch"] = theirs
        t = time_interleaved(candidates, rounds, device=args.device, timer=args.timer)
        t_torch = t.get("torch")
        table.append([name, "x".join(map(str, (batch, *shape))), fmt_ms(t["minialex"]),
                      fmt_ms(t.get("serial")), fmt_ms(t_torch), fmt_ratio(t["minialex"], t_torch)])
        results.append({"layer": name, "input": [batch, *shape], "minialex_s": t["minialex"],
                        "serial_copies_s": t.get("serial"), "torch_s": t_torch,
                        "rounds_s": t.rounds})
    print_table("layer forward+backward (ms)",
                ["layer", "input", "minialex", "1 thread", "torch", "vs torch"], table)
    write_json(args, "layers", results, batch=batch, rounds=rounds)


if __name__ == "__main__":
    main()
