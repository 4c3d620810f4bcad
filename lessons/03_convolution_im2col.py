"""Convolution: loops, the textbook im2col + GEMM (conv2d_reference), then what conv2d changes.

A convolution layer slides each of its C_out kernels (C_in x KH x KW numbers) over the input
and takes a dot product at every position. Written as loops that is six nested indices; written
as im2col it is one matrix product (GEMM), the operation BLAS libraries and GPUs run near their
peak. This lesson writes the loops, then reads minialex.functional.conv2d_reference, the
textbook method with its backward on one screen, and checks it against the loops and col2im by
hand. Last, it measures one at a time the four changes that make minialex.functional.conv2d
faster with the same numbers: a batch-last input copy, the phase split for strided windows,
cache-sized blocks of columns and matmul(out=).

Run: python lessons/03_convolution_im2col.py [--quick]
"""

# %%
from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from common import Timer, lesson_args, save_figure, say, section

import minialex
import minialex.functional as F
from minialex import viz

args = lesson_args(__doc__)
np = minialex.backend.np
rng = np.random.default_rng(args.seed)


def best_of(fn: Callable[[], Any], repeats: int) -> float:
    """Seconds of the fastest of ``repeats`` calls: the one least disturbed by other work."""
    times = []
    for _ in range(repeats):
        with Timer() as t:
            fn()
        times.append(t.seconds)
    return min(times)


def conv_loops(x: Any, w: Any, b: Any, stride: int, padding: int) -> Any:
    """Direct convolution: one dot product per (image, kernel, output row, output column).

    x: (N, C_in, H, W), w: (C_out, C_in, KH, KW), b: (C_out,) -> (N, C_out, OH, OW).
    The innermost three loops (over C_in, KH, KW) are the elementwise product and sum of
    a patch with a kernel, written with NumPy so that the lesson finishes.
    """
    n, c_in, h, wd = x.shape
    c_out, _, kh, kw = w.shape
    xpad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    oh = (h + 2 * padding - kh) // stride + 1
    ow = (wd + 2 * padding - kw) // stride + 1
    out = np.zeros((n, c_out, oh, ow), dtype=x.dtype)
    for i in range(n):
        for o in range(c_out):
            for r in range(oh):
                for c in range(ow):
                    patch = xpad[i, :, r * stride:r * stride + kh, c * stride:c * stride + kw]
                    out[i, o, r, c] = np.sum(patch * w[o]) + b[o]
    return out


def one_pixel_scalar(xs: list, ws: list, bias: float, r: int, c: int, stride: int) -> float:
    """The same dot product with plain Python scalar loops (no NumPy arithmetic).

    xs: one image as nested lists [C_in][H][W]; ws: one kernel as nested lists [C_in][KH][KW].
    """
    total = bias
    for ch in range(len(ws)):
        for i in range(len(ws[0])):
            for j in range(len(ws[0][0])):
                total += xs[ch][r * stride + i][c * stride + j] * ws[ch][i][j]
    return total


# %% [markdown]
# ## 1. AlexNet's conv1 by loops
# One dot product per output number: easy to read, and slow, because every one of them is a
# separate trip through the Python interpreter.

# %%
section("1. AlexNet's conv1 by loops")
size = 99 if args.quick else 227
stride, k, c_out = 4, 11, 96
# float64 throughout, so that the comparisons below show algorithmic agreement (~1e-15);
# in float32 two summation orders differ by rounding.
x = rng.standard_normal((1, 3, size, size))
w = rng.standard_normal((c_out, 3, k, k)) * 0.01
b = rng.standard_normal(c_out)
oh = (size - k) // stride + 1
macs = c_out * oh * oh * 3 * k * k
say(f"""
Input 3x{size}x{size}, 96 kernels of 3x11x11, stride 4, no padding: the output is
{c_out}x{oh}x{oh}, {c_out * oh * oh:,} dot products of length {3 * k * k}, i.e. {macs:,}
multiply-adds for one image.
""")
x_lists, w_lists = x[0].tolist(), w[0].tolist()
reps = 50
with Timer() as t_scalar:
    for r in range(reps):
        one_pixel_scalar(x_lists, w_lists, float(b[0]), 0, r % oh, stride)
per_pixel = t_scalar.seconds / reps
print(f"  pure-Python scalar loops: {per_pixel * 1e6:.0f} us per output pixel -> "
      f"~{per_pixel * c_out * oh * oh:.0f} s for one image (estimated, not run)")
with Timer() as t_loops:
    y_loops = conv_loops(x, w, b, stride, 0)
print(f"  loops over outputs, NumPy dot product inside: {t_loops.seconds:.2f} s")


# %% [markdown]
# ## 2. The textbook method: `conv2d_reference`
# `minialex.functional.conv2d_reference` is the whole method, forward and backward, on one
# screen; `F.im2col` and `F.col2im`, right above it in `minialex/functional/conv.py`, are one
# strided copy (or add) per kernel offset.

# %%
section("2. The textbook method: F.conv2d_reference")
cols = F.im2col(x, k, stride, 0)
say(f"""
im2col copies each 3x{k}x{k} input patch into one column of a matrix. For conv1 it has
{cols.shape[0]} rows (3*11*11) and {cols.shape[1]:,} columns ({oh}*{oh} positions x 1 image):
shape {cols.shape}. The 96 kernels, reshaped to a ({c_out}, {cols.shape[0]}) matrix, times
this matrix give all outputs at once: one GEMM (one per group when the channels are split into
groups, as in AlexNet's two towers). Here is minialex's textbook version, as it is in the
library:
""")
for line in inspect.getsource(F.conv2d_reference).splitlines():
    print(f"    | {line}")
print(f"  input holds {x.size:,} numbers, the im2col matrix {cols.size:,}: "
      f"{cols.size / x.size:.1f}x\n  (each pixel is copied into every patch that contains it)")

y_by_hand = (w.reshape(c_out, -1) @ cols).reshape(c_out, oh, oh, 1)
y_by_hand = y_by_hand.transpose(3, 0, 1, 2) + b.reshape(1, c_out, 1, 1)
tx, tw, tb = minialex.tensor(x), minialex.tensor(w), minialex.tensor(b)
with minialex.no_grad():
    y_ref = F.conv2d_reference(tx, tw, tb, stride=stride)
    t_ref = best_of(lambda: F.conv2d_reference(tx, tw, tb, stride=stride), 5)
print(f"  conv2d_reference vs loops:          rel_error = {minialex.rel_error(y_ref, y_loops):.1e}")
print(f"  conv2d_reference vs the GEMM above: rel_error = "
      f"{minialex.rel_error(y_ref, y_by_hand):.1e}")
speedup = t_loops.seconds / t_ref
print(f"  time (timings vary with machine load): loops {t_loops.seconds * 1e3:.0f} ms, "
      f"im2col + GEMM {t_ref * 1e3:.1f} ms -> {speedup:.0f}x faster")
say("""
The loops spend their time in the Python interpreter, one small NumPy call per output number;
the GEMM spends it in an optimised BLAS kernel that keeps data in cache and uses every vector
lane. The price of im2col is memory: the matrix repeats each overlapped pixel.
""")


# %% [markdown]
# ## 3. Backward: two more GEMMs, and col2im
# Read `_backward` in the listing above: `dW = dout @ cols.T`, `dcols = W.T @ dout`, and
# `col2im` adds each column entry back to the pixel it was copied from.

# %%
section("3. Backward: col2im adds gradients back where they came from")
say("""
Forward: out = W @ cols. Backward: dW = dout @ cols^T and dcols = W^T @ dout, two more matrix
products. dcols has one entry per (patch, position); a pixel that was copied into several
patches gets the SUM of their gradients. col2im does that adding: it is the transpose (adjoint)
of im2col, which the dot-product test checks: <im2col(x), C> = <x, col2im(C)> for any x, C.
""")
xs = rng.standard_normal((2, 3, 23, 23))
c_rand = rng.standard_normal(F.im2col(xs, k, stride, 0).shape)
lhs = float(np.sum(F.im2col(xs, k, stride, 0) * c_rand))
rhs = float(np.sum(xs * F.col2im(c_rand, xs.shape, k, stride, 0)))
print(f"  <im2col(x), C> = {lhs:.10f}\n  <x, col2im(C)> = {rhs:.10f}   "
      f"rel_error {minialex.rel_error(lhs, rhs):.1e}")
counts = F.col2im(np.ones(cols.shape), x.shape, k, stride, 0)[0, 0]
print(f"  col2im(ones) counts the patches each pixel is in: max {counts.max():.0f} "
      f"(= ceil(11/4)^2 = 9), min {counts.min():.0f}")

xt = minialex.tensor(x, requires_grad=True)
wt = minialex.tensor(w, requires_grad=True)
F.conv2d_reference(xt, wt, stride=stride).sum().backward()
dcols = w.reshape(c_out, -1).T @ np.ones((c_out, cols.shape[1]))  # W^T @ dout, dout = 1
by_hand = F.col2im(dcols, x.shape, k, stride, 0)
print(f"  autograd's d sum(conv1(x))/dx vs col2im(W^T @ ones) by hand: "
      f"rel_error {minialex.rel_error(xt.grad, by_hand):.1e}")
dw_by_hand = (np.ones((c_out, cols.shape[1])) @ cols.T).reshape(w.shape)  # dout @ cols^T
print(f"  autograd's d sum(conv1(x))/dW vs ones @ cols^T by hand:     "
      f"rel_error {minialex.rel_error(wt.grad, dw_by_hand):.1e}")


# %% [markdown]
# ## 4. What `F.conv2d` changes, one change at a time
# `F.conv2d` gives the same numbers (a test holds it equal to `conv2d_reference`, forward and
# gradients, over random shapes, strides, paddings and groups). Each experiment below isolates
# one of its four changes in a few lines of NumPy, checks that it builds the same columns as
# `F.im2col`, and times it against the version without it, in float32 as networks train.

# %%
section("4. What F.conv2d changes, one change at a time")
batch = 4 if args.quick else 8
repeats = 3
f32 = np.float32


def batch_last(x: Any, pad: int) -> Any:
    """(N, C, H, W) -> zero-padded (C, H + 2 pad, W + 2 pad, N): one copy of the input."""
    n, c, h, w = x.shape
    xc = np.zeros((c, h + 2 * pad, w + 2 * pad, n), dtype=x.dtype)
    xc[:, pad:pad + h, pad:pad + w] = x.transpose(1, 2, 3, 0)
    return xc


def patches(xc: Any, k: int, s: int, oh: int, ow: int, rows: range | None = None,
            out: Any = None) -> Any:
    """im2col columns (C, K, K, R, OW, N) of output rows ``rows`` from a batch-last input.

    One copy per kernel offset. With s == 1 each copy reads runs of OW*N contiguous numbers;
    with s > 1 the window's columns are s apart and a run is only N long.
    """
    rows = range(oh) if rows is None else rows
    c, n = xc.shape[0], xc.shape[-1]
    cols = np.empty((c, k, k, len(rows), ow, n), xc.dtype) if out is None else out
    top = rows.start * s
    for i in range(k):
        for j in range(k):
            cols[:, i, j] = xc[:, top + i:top + i + s * len(rows):s, j:j + s * ow:s]
    return cols


def phase_split(xc: Any, s: int) -> list[Any]:
    """Phase r holds input columns r, r + s, r + 2s, ... contiguously: a window's columns
    j, j + s, j + 2s, ... are neighbours in phase j % s, starting at j // s."""
    return [np.ascontiguousarray(xc[:, :, r::s]) for r in range(s)]


def patches_split(phases: list[Any], k: int, s: int, oh: int, ow: int) -> Any:
    """The columns of ``patches``, read from the phases: runs of OW*N numbers again."""
    c, n = phases[0].shape[0], phases[0].shape[-1]
    cols = np.empty((c, k, k, oh, ow, n), phases[0].dtype)
    for i in range(k):
        for j in range(k):
            cols[:, i, j] = phases[j % s][:, i:i + s * oh:s, j // s:j // s + ow]
    return cols


def same_columns(candidate: Any, x: Any, k: int, s: int, pad: int) -> bool:
    return bool(np.array_equal(candidate.reshape(-1), F.im2col(x, k, s, pad).reshape(-1)))


changes: dict[str, tuple[float, float]] = {}  # change -> (seconds without, seconds with)

# --- batch-last: conv3's input, 256 x 13 x 13, 3x3 kernel, stride 1, padding 1
x3 = rng.standard_normal((batch, 256, 13, 13)).astype(f32)
assert same_columns(patches(batch_last(x3, 1), 3, 1, 13, 13), x3, 3, 1, 1)
plain = best_of(lambda: F.im2col(x3, 3, 1, 1), repeats)
last = best_of(lambda: patches(batch_last(x3, 1), 3, 1, 13, 13), repeats)
changes["batch-last input"] = (plain, last)
say(f"""
Batch-last. The plain im2col reads each kernel offset's pixels from the NCHW input: along a
row they are contiguous for only OW = 13 numbers. Copying the input once to (C, H, W, N) makes
the pixels of all N images at one position neighbours, so each copy moves runs of OW*N =
{13 * batch} numbers. conv3 at batch {batch} (timings vary with load): plain im2col
{plain * 1e3:.1f} ms, batch-last copy + im2col {last * 1e3:.1f} ms: {plain / last:.1f}x.
""")

print()
# --- phase split: conv1, 3 x 227 x 227 (99 in --quick), 11x11 kernel, stride 4
x1 = rng.standard_normal((batch, 3, size, size)).astype(f32)
xc1 = batch_last(x1, 0)
assert same_columns(patches_split(phase_split(xc1, 4), 11, 4, oh, oh), x1, 11, 4, 0)
strided = best_of(lambda: patches(batch_last(x1, 0), 11, 4, oh, oh), repeats)
split = best_of(lambda: patches_split(phase_split(batch_last(x1, 0), 4), 11, 4, oh, oh),
                repeats)
changes["phase split (stride 4)"] = (strided, split)
say(f"""
Phase split. With stride 4, the window at output column ow reads input columns 4*ow + j: in
the batch-last input those are 4*N numbers apart, so a copy moves runs of only N = {batch}.
Splitting the input columns by their remainder mod 4 (one more cheap copy) puts 4*ow + j next
to 4*(ow + 1) + j, and the runs are OW*N long again. conv1 at batch {batch}: batch-last im2col
{strided * 1e3:.1f} ms, with the phase split {split * 1e3:.1f} ms: {strided / split:.1f}x.
""")

print()
# --- blocks and matmul(out=): conv2, 96 -> 256 channels in two towers, 5x5, padding 2, 27x27
x2 = rng.standard_normal((batch, 96, 27, 27)).astype(f32)
w2 = (rng.standard_normal((256, 48, 5, 5)) * 0.05).astype(f32)
xc2, wmat2 = batch_last(x2, 2), w2.reshape(256, -1)
tower_rows = [(slice(0, 128), slice(0, 1200)), (slice(128, 256), slice(1200, 2400))]
row_columns = 27 * batch  # GEMM columns per output row
block_rows = max(1, (4 << 20) // (96 * 25 * row_columns * 4), -(-2048 // row_columns))


def conv2_whole() -> Any:
    """The whole im2col matrix, then one GEMM per tower."""
    cols2 = patches(xc2, 5, 1, 27, 27).reshape(2400, -1)
    prod = np.empty((256, cols2.shape[1]), f32)
    for outs, ins in tower_rows:
        np.matmul(wmat2[outs], cols2[ins], out=prod[outs])
    return prod


def conv2_blocked(use_out: bool = True) -> Any:
    """The columns of ``block_rows`` output rows at a time, in one reused buffer."""
    buffer = np.empty(2400 * block_rows * row_columns, f32)
    prod = np.empty((256, 27 * row_columns), f32)
    for top in range(0, 27, block_rows):
        rows = range(top, min(top + block_rows, 27))
        block = buffer[:2400 * len(rows) * row_columns].reshape(96, 5, 5, len(rows), 27, batch)
        block = patches(xc2, 5, 1, 27, 27, rows, out=block).reshape(2400, -1)
        span = slice(top * row_columns, rows.stop * row_columns)
        for outs, ins in tower_rows:
            if use_out:  # the GEMM writes straight into its slice of the output
                np.matmul(wmat2[outs], block[ins], out=prod[outs, span])
            else:  # the GEMM makes a new array, which is then copied into the slice
                prod[outs, span] = wmat2[outs] @ block[ins]
    return prod


np.testing.assert_array_equal(conv2_whole(), conv2_blocked())
whole = best_of(conv2_whole, repeats)
blocked = best_of(conv2_blocked, repeats)
no_out = best_of(lambda: conv2_blocked(use_out=False), repeats)
changes["blocks of columns"] = (whole, blocked)
changes["matmul(out=)"] = (no_out, blocked)
full_mb = 2400 * 27 * 27 * batch * 4 / 1e6
block_mb = 2400 * block_rows * row_columns * 4 / 1e6
say(f"""
Blocks. conv2's im2col matrix is {full_mb:.0f} MB at batch {batch} in float32
({2400 * 27 * 27 * 32 * 4 / 1e6:.0f} MB at batch 32). Built {block_rows} output rows at a time
into one reused {block_mb:.1f} MB buffer (about 4 MB, but at least 2048 columns: narrower
GEMMs run below BLAS's best), each block is used by the GEMMs right after it is built (a
small one is still in the CPU cache), and the full matrix is never allocated; backward
rebuilds the blocks from the input instead of keeping them. im2col + GEMMs at batch
{batch}: whole matrix {whole * 1e3:.1f} ms, in blocks {blocked * 1e3:.1f} ms:
{whole / blocked:.2f}x, with {full_mb / block_mb:.1f}x less memory.

matmul(out=). Each GEMM writes into its slice of the output instead of making a new array
that is then copied there: blocks with `prod[...] = W @ block` {no_out * 1e3:.1f} ms, with
`matmul(..., out=prod[...])` {blocked * 1e3:.1f} ms: {no_out / blocked:.2f}x.
""")

# %%
print()
say("""
All four together, forward and backward, conv2d_reference against conv2d (float32, the
input needs a gradient in all three layers):
""")
layers = {  # name: (input shape, weight shape, stride, padding, groups)
    "conv1": ((batch, 3, size, size), (96, 3, 11, 11), 4, 0, 1),
    "conv2": ((batch, 96, 27, 27), (256, 48, 5, 5), 1, 2, 2),
    "conv3": ((batch, 256, 13, 13), (384, 256, 3, 3), 1, 1, 1),
}
totals: dict[str, tuple[float, float]] = {}


def forward_backward(conv: Callable[..., minialex.Tensor], *tensors: minialex.Tensor,
                     **options: int) -> None:
    conv(*tensors, **options).sum().backward()


print(f"  {'layer':<6} {'conv2d_reference':>17} {'conv2d':>9} {'speed-up':>9}   "
      f"rel_error (float64, one image)")
for name, (x_shape, w_shape, s, p, g) in layers.items():
    xl = minialex.tensor(rng.standard_normal(x_shape).astype(f32), requires_grad=True)
    wl = minialex.tensor((rng.standard_normal(w_shape) * 0.05).astype(f32), requires_grad=True)
    bl = minialex.tensor(rng.standard_normal(w_shape[0]).astype(f32), requires_grad=True)

    options = dict(stride=s, padding=p, groups=g)
    seconds = [best_of(functools.partial(forward_backward, conv, xl, wl, bl, **options), repeats)
               for conv in (F.conv2d_reference, F.conv2d)]
    totals[name] = (seconds[0], seconds[1])
    one = [minialex.tensor(t.data[:1] if t is xl else t.data, dtype=np.float64)
           for t in (xl, wl, bl)]
    agree = minialex.rel_error(F.conv2d(*one, **options), F.conv2d_reference(*one, **options))
    print(f"  {name:<6} {seconds[0] * 1e3:>14.1f} ms {seconds[1] * 1e3:>6.1f} ms "
          f"{seconds[0] / seconds[1]:>8.1f}x   {agree:.1e}")
fastest = max(totals, key=lambda n: totals[n][0] / totals[n][1])
say(f"""
The GEMMs are the same in both versions; what conv2d saves is copying and memory around them.
Here the largest gain was on {fastest} ({totals[fastest][0] / totals[fastest][1]:.1f}x).
These are timings on this machine as it is loaded right now: run the lesson again and they
move. benchmarks/ compares conv2d with PyTorch and with the GEMMs alone.
""")


# %% [markdown]
# ## 5. Figure
# The im2col matrix of a tiny input, the patch overlap counts of conv1, and the timings above.

# %%
section("5. Figure: the im2col matrix, patch overlap, what each change buys")
tiny = np.arange(25, dtype=np.float64).reshape(1, 1, 5, 5)
tiny_cols = F.im2col(tiny, 3, 1, 0)
say(f"""
A 5x5 input holding 0..24 with a 3x3 kernel, stride 1: im2col gives a {tiny_cols.shape} matrix.
Column j is the patch under output pixel j; the centre pixel 12 appears in all 9 columns.
""")
plt = viz.pyplot()
fig, axes = plt.subplots(2, 2, figsize=(13, 9))
ax = axes[0, 0]
ax.imshow(tiny_cols, cmap="viridis")
for (r, c), v in np.ndenumerate(tiny_cols):
    ax.text(c, r, f"{v:.0f}", ha="center", va="center", fontsize=7, color="white")
ax.set_title("im2col of a 5x5 input (0..24), 3x3 kernel")
ax.set_xlabel("column = output position")
ax.set_ylabel("row = kernel offset (i, j)")
ax = axes[0, 1]
im = ax.imshow(counts, cmap="magma")
fig.colorbar(im, ax=ax, fraction=0.046)
ax.set_title(f"conv1 (11x11, stride 4) on {size}x{size}:\npatches containing each pixel")
ax = axes[1, 0]
names = list(changes)
ratios = [changes[n][0] / changes[n][1] for n in names]
ax.bar(names, ratios, color=["tab:green" if r >= 1 else "tab:red" for r in ratios])
ax.axhline(1.0, color="black", linewidth=0.8)
for i, r in enumerate(ratios):
    ax.text(i, r, f"{r:.2f}x", ha="center", va="bottom")
ax.tick_params(axis="x", rotation=12)
ax.set_ylabel("time without / time with (above 1: faster)")
ax.set_title(f"each change alone, batch {batch}, float32 (timings vary with load)")
ax = axes[1, 1]
positions = np.arange(len(totals))
ax.bar(positions - 0.2, [v[0] * 1e3 for v in totals.values()], 0.4, label="conv2d_reference",
       color="tab:red")
ax.bar(positions + 0.2, [v[1] * 1e3 for v in totals.values()], 0.4, label="conv2d",
       color="tab:green")
ax.set_xticks(positions, list(totals))
ax.set_ylabel("ms, forward + backward")
ax.set_title(f"all together, batch {batch}, float32; loops vs GEMM (one image): {speedup:.0f}x")
ax.legend()
fig.tight_layout()
save_figure(fig, args, "im2col")


# %% [markdown]
# ## Try this

# %%
section("Try this")
say("""
1. Runs of OW*N numbers get longer with the batch N. Does the batch-last gain grow with it?
Compare its line in section 4 between `python lessons/03_convolution_im2col.py --quick`
(batch 4) and the default run (batch 8).

2. The lessons run BLAS on one thread. Give it two:
`OPENBLAS_NUM_THREADS=2 python lessons/03_convolution_im2col.py`. The GEMMs get a second
thread and NumPy's copies do not: do the copy-side changes (batch-last, phase split) now
weigh more in the conv2d_reference / conv2d ratios?

3. Break the reference on purpose: in minialex/functional/conv.py change col2im's `+=` to `=`
and run `python -m pytest tests/test_conv.py -q`. The adjoint and patch-count tests, the
gradient checks of conv2d_reference and the conv2d == conv2d_reference property fail, and
their messages say where. Undo the change afterwards.
""")
print()
say("""
Next: lesson 04 (`python lessons/04_shape_arithmetic.py`), where the output size
floor((H + 2p - k) / s) + 1 used above decides every shape in AlexNet. Or write the
convolution yourself: exercises/conv_forward.py, exercises/im2col.py and
exercises/conv_backward.py, checked with `python -m minialex check conv_forward` (and
`im2col`, `conv_backward`).
""")
