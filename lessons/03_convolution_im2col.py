"""Convolution by loops, then im2col + one matrix product: same numbers, timed; col2im.

A convolution layer slides each of its C_out kernels (C_in x KH x KW numbers) over the input
and takes a dot product at every position. Written as loops that is six nested indices; written
as im2col it is one matrix product, the operation BLAS libraries (and GPUs) run near their peak
speed. This lesson writes the loops, compares them with minialex.functional.conv2d on AlexNet's
first layer (same numbers, very different time), looks at the im2col matrix, and shows how the
backward pass puts gradients back with col2im.

Run: python lessons/03_convolution_im2col.py [--quick]
"""

from __future__ import annotations

from typing import Any

from common import Timer, lesson_args, save_figure, say, section

import minialex
import minialex.functional as F
from minialex import viz
from minialex.functional.conv import col2im, im2col

args = lesson_args(__doc__)
np = minialex.backend.np
rng = np.random.default_rng(args.seed)


def conv_loops(x: Any, w: Any, b: Any, stride: int, padding: int) -> Any:
    """Direct convolution: one dot product per (image, kernel, output row, output column).

    x: (N, C_in, H, W), w: (C_out, C_in, KH, KW), b: (C_out,) -> (N, C_out, OH, OW).
    The innermost three loops (over C_in, KH, KW) are the elementwise product and sum of
    a patch with a kernel, written with NumPy so that the lesson finishes.
    """
    n, c_in, h, wd = x.shape
    c_out, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    oh = (h + 2 * padding - kh) // stride + 1
    ow = (wd + 2 * padding - kw) // stride + 1
    out = np.zeros((n, c_out, oh, ow), dtype=x.dtype)
    for i in range(n):
        for o in range(c_out):
            for r in range(oh):
                for c in range(ow):
                    patch = xp[i, :, r * stride:r * stride + kh, c * stride:c * stride + kw]
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


# ----------------------------------------------------------------------------------------
section("1. AlexNet's conv1 by loops")
size = 99 if args.quick else 227
stride, k, c_out = 4, 11, 96
# float64 throughout, so that the comparison below shows algorithmic agreement (~1e-15);
# in float32 the two summation orders differ by rounding.
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
with Timer() as t_scalar:
    reps = 50
    for r in range(reps):
        one_pixel_scalar(x_lists, w_lists, float(b[0]), 0, r % oh, stride)
per_pixel = t_scalar.seconds / reps
print(f"  pure-Python scalar loops: {per_pixel * 1e6:.0f} us per output pixel -> "
      f"~{per_pixel * c_out * oh * oh:.0f} s for one image (not run)")
with Timer() as t_loops:
    y_loops = conv_loops(x, w, b, stride, 0)
print(f"  loops over outputs, NumPy dot product inside: {t_loops.seconds:.2f} s")


# ----------------------------------------------------------------------------------------
section("2. im2col: every patch becomes one column")
cols = im2col(x, k, stride, 0)
say(f"""
im2col copies each {3}x{k}x{k} input patch into one column of a matrix. For conv1 it has
{cols.shape[0]} rows (3*11*11) and {cols.shape[1]:,} columns ({oh}*{oh} positions x 1 image):
shape {cols.shape}. The 96 kernels, reshaped to a ({c_out}, {cols.shape[0]}) matrix, times
this matrix give all outputs at once: one GEMM.
""")
x_numbers, col_numbers = x.size, cols.size
print(f"  input holds {x_numbers:,} numbers, the im2col matrix {col_numbers:,}: "
      f"{col_numbers / x_numbers:.1f}x")
y_gemm_by_hand = (w.reshape(c_out, -1) @ cols).reshape(c_out, oh, oh, 1)
y_gemm_by_hand = y_gemm_by_hand.transpose(3, 0, 1, 2) + b.reshape(1, c_out, 1, 1)

with minialex.no_grad():  # warm-up: first call pays for allocating the buffers
    F.conv2d(minialex.tensor(x), minialex.tensor(w), minialex.tensor(b), stride=stride)
with Timer() as t_gemm:
    reps = 10
    for _ in range(reps):
        with minialex.no_grad():
            y = F.conv2d(minialex.tensor(x), minialex.tensor(w), minialex.tensor(b),
                         stride=stride)
t_conv = t_gemm.seconds / reps
err_loops = minialex.rel_error(y.numpy(), y_loops)
err_hand = minialex.rel_error(y.numpy(), y_gemm_by_hand)
print(f"  F.conv2d vs loops:              rel_error = {err_loops:.1e}")
print(f"  F.conv2d vs the GEMM above:     rel_error = {err_hand:.1e}")
speedup = t_loops.seconds / t_conv
print(f"  time: loops {t_loops.seconds * 1e3:.0f} ms, im2col + GEMM {t_conv * 1e3:.1f} ms "
      f"-> {speedup:.0f}x faster")
print(f"  im2col + GEMM runs at {macs / t_conv / 1e9:.1f} G multiply-adds per second")
x32, w32, b32 = (minialex.tensor(a.astype(np.float32)) for a in (x, w, b))
with Timer() as t32, minialex.no_grad():
    for _ in range(reps):
        F.conv2d(x32, w32, b32, stride=stride)
print(f"  the same conv in float32 (how networks train): {t32.seconds / reps * 1e3:.1f} ms")
say("""
The loops spend their time in the Python interpreter, one small NumPy call per output number;
the GEMM spends it in an optimised BLAS kernel that keeps data in cache and uses every vector
lane. The price of im2col is memory: the matrix repeats each overlapped pixel.
""")


# ----------------------------------------------------------------------------------------
section("3. Backward: col2im adds gradients back where they came from")
say("""
Forward: out = W @ cols. Backward: dW = dout @ cols^T and dcols = W^T @ dout, two more matrix
products. dcols has one entry per (patch, position); a pixel that was copied into several
patches gets the SUM of their gradients. col2im does that adding: it is the transpose (adjoint)
of im2col, which the dot-product test checks: <im2col(x), C> = <x, col2im(C)> for any x, C.
""")
xs = rng.standard_normal((2, 3, 23, 23))
c_rand = rng.standard_normal(im2col(xs, k, stride, 0).shape)
lhs = float(np.sum(im2col(xs, k, stride, 0) * c_rand))
rhs = float(np.sum(xs * col2im(c_rand, xs.shape, k, stride, 0)))
print(f"  <im2col(x), C> = {lhs:.10f}\n  <x, col2im(C)> = {rhs:.10f}   "
      f"rel_error {minialex.rel_error(lhs, rhs):.1e}")
counts = col2im(np.ones(cols.shape), x.shape, k, stride, 0)[0, 0]
print(f"  col2im(ones) counts the patches each pixel is in: max {counts.max():.0f} "
      f"(= ceil(11/4)^2 = 9), min {counts.min():.0f}")

xt = minialex.tensor(x, requires_grad=True)
wt = minialex.tensor(w, requires_grad=True)
F.conv2d(xt, wt, stride=stride).sum().backward()
dcols = wt.data.reshape(c_out, -1).T @ np.ones((c_out, cols.shape[1]))  # W^T @ dout
by_hand = col2im(dcols, x.shape, k, stride, 0)
print(f"  autograd's d sum(conv1(x))/dx vs col2im(W^T @ ones) by hand: "
      f"rel_error {minialex.rel_error(xt.grad, by_hand):.1e}")


# ----------------------------------------------------------------------------------------
section("4. Figure: the im2col matrix of a tiny input, patch overlap, timings")
tiny = np.arange(25, dtype=np.float64).reshape(1, 1, 5, 5)
tiny_cols = im2col(tiny, 3, 1, 0)
say(f"""
A 5x5 input holding 0..24 with a 3x3 kernel, stride 1: im2col gives a {tiny_cols.shape} matrix.
Column j is the patch under output pixel j; the centre pixel 12 appears in all 9 columns.
""")
plt = viz.pyplot()
fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
ax = axes[0]
ax.imshow(tiny_cols, cmap="viridis")
for (r, c), v in np.ndenumerate(tiny_cols):
    ax.text(c, r, f"{v:.0f}", ha="center", va="center", fontsize=7, color="white")
ax.set_title("im2col of a 5x5 input (0..24), 3x3 kernel")
ax.set_xlabel("column = output position")
ax.set_ylabel("row = kernel offset (i, j)")
ax = axes[1]
im = ax.imshow(counts, cmap="magma")
fig.colorbar(im, ax=ax, fraction=0.046)
ax.set_title(f"conv1 (11x11, stride 4) on {size}x{size}:\npatches containing each pixel")
ax = axes[2]
ax.bar(["loops", "im2col + GEMM"], [t_loops.seconds, t_conv], color=["tab:red", "tab:green"])
ax.set_yscale("log")
ax.set_ylabel("seconds (log)")
ax.set_title(f"conv1 forward, one image: {speedup:.0f}x")
fig.tight_layout()
save_figure(fig, args, "im2col")
