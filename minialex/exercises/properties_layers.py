"""Properties of the layer exercises: lrn, max_pool, dropout.

Oracles: ``minialex.functional.local_response_norm`` (the paper's formula) and ``max_pool2d``,
central differences of them for the backward passes, and the statistics inverted dropout must
have (a fraction p dropped, the mean kept), bounded at five standard deviations.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from hypothesis import strategies as st

import minialex.functional as F
from minialex.backend import np
from minialex.exercises.helpers import (
    central_differences,
    compare,
    random_arrays,
    returned_array,
    returned_tuple,
)
from minialex.exercises.runner import Mismatch, Property
from minialex.tensor import Tensor, no_grad

__all__ = ["LrnCase", "PoolCase", "DropoutCase", "PROPERTIES"]

_seeds = st.integers(0, 999)


# ---------------------------------------------------------------- lrn
class LrnCase(NamedTuple):
    """x (N, C, H, W) = scale * standard normal, and the LRN constants."""

    n: int
    c: int
    h: int
    w: int
    size: int
    alpha: float
    beta: float
    k: float
    scale: float = 1.0
    seed: int = 0

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (self.n, self.c, self.h, self.w)

    @property
    def constants(self) -> tuple[int, float, float, float]:
        return (self.size, self.alpha, self.beta, self.k)

    def arrays(self) -> tuple[Any, Any]:
        """x and an upstream gradient dout."""
        x, dout = random_arrays(self.seed, self.shape, self.shape)
        return self.scale * x, dout

    def __str__(self) -> str:
        return (f"x {self.shape} (scale {self.scale:g}), size={self.size}, alpha={self.alpha:g}, "
                f"beta={self.beta:g}, k={self.k:g}, seed={self.seed}")


@st.composite
def lrn_cases(draw: Any, edge: bool = False) -> LrnCase:
    """LRN constants from a range wide enough that a wrong formula shows (the paper's
    alpha = 1e-4 on unit inputs changes the output by only ~1e-4); ``edge``: at most
    ``size`` channels, so every window is clipped."""
    size = draw(st.sampled_from((5, 3, 1, 7) if not edge else (5, 3, 7)))
    channels = draw(st.integers(1, size) if edge else st.integers(1, 8))
    return LrnCase(draw(st.integers(1, 2)), channels, draw(st.integers(1, 3)),
                   draw(st.integers(1, 3)), size,
                   draw(st.sampled_from((0.1, 1e-4, 1e-3, 0.01, 0.5, 1.0))),
                   draw(st.sampled_from((0.75, 0.5, 1.0))), draw(st.sampled_from((2.0, 1.0))),
                   draw(st.sampled_from((1.0, 3.0, 10.0))), draw(_seeds))


def _lrn_reference(case: LrnCase, x: Any) -> Any:
    with no_grad():
        return F.local_response_norm(Tensor(x), *case.constants).data


def lrn_forward_matches(fns: Any, case: LrnCase) -> float:
    x, _ = case.arrays()
    out = returned_array(fns.lrn_forward(x, *case.constants), "lrn_forward", case.shape)
    return compare(out, _lrn_reference(case, x))


def lrn_backward_matches_differences(fns: Any, case: LrnCase) -> float:
    x, dout = case.arrays()
    dx = returned_array(fns.lrn_backward(dout, x, *case.constants), "lrn_backward", case.shape)
    (numeric,) = central_differences(lambda: float((_lrn_reference(case, x) * dout).sum()), x,
                                     eps=1e-5 * case.scale)
    return compare(dx, numeric)


# The paper's constants (size 5, alpha 1e-4, beta 0.75, k 2) on activations of scale 100,
# where the sum of squares matters; 3 channels for a window of 5 (clipped at both ends).
LRN_EXAMPLES = (
    LrnCase(1, 8, 3, 3, 5, 1e-4, 0.75, 2.0, scale=100.0, seed=1),
    LrnCase(2, 3, 2, 2, 5, 0.1, 0.75, 2.0, scale=3.0, seed=2),
    LrnCase(1, 6, 2, 2, 3, 1.0, 0.5, 1.0, scale=1.0, seed=3),
)


# ---------------------------------------------------------------- max_pool
class PoolCase(NamedTuple):
    """x (N, C, H, W), a square window ``kernel`` moved by ``stride``, no padding."""

    n: int
    c: int
    h: int
    w: int
    kernel: int
    stride: int
    seed: int = 0

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (self.n, self.c, self.h, self.w)

    @property
    def out_shape(self) -> tuple[int, int, int, int]:
        oh = (self.h - self.kernel) // self.stride + 1
        ow = (self.w - self.kernel) // self.stride + 1
        return (self.n, self.c, oh, ow)

    def distinct(self) -> Any:
        """Every element different, 0.1 apart: no ties, and a step of 1e-3 never changes
        which element is a window's maximum."""
        rng = np.random.default_rng(self.seed)
        size = int(np.prod(self.shape))
        return (rng.permutation(size) - size / 2).reshape(self.shape) * 0.1

    def tied(self) -> Any:
        """Integers 0..2: most windows hold several equal maxima."""
        return np.random.default_rng(self.seed).integers(0, 3, self.shape).astype(np.float64)

    def dout(self) -> Any:
        """Upstream gradient, positive so that sums cannot cancel."""
        return np.random.default_rng(self.seed + 1).uniform(0.5, 1.5, self.out_shape)

    def __str__(self) -> str:
        oh, ow = self.out_shape[2:]
        return (f"x {self.shape}, kernel={self.kernel}, stride={self.stride} "
                f"(output {oh}x{ow}), seed={self.seed}")


@st.composite
def pool_cases(draw: Any, max_side: int = 7) -> PoolCase:
    # AlexNet's overlapping 3/2 first (hypothesis shrinks towards it), then the others.
    kernel, stride = draw(st.sampled_from(((3, 2), (2, 2), (2, 1), (3, 1), (1, 1), (3, 3),
                                           (4, 2), (2, 3))))
    return PoolCase(draw(st.integers(1, 2)), draw(st.integers(1, 3)),
                    draw(st.integers(kernel, max_side)), draw(st.integers(kernel, max_side)),
                    kernel, stride, draw(_seeds))


def _pool_reference(case: PoolCase, x: Any) -> Any:
    with no_grad():
        return F.max_pool2d(Tensor(x), case.kernel, case.stride).data


def _learner_pool_backward(fns: Any, case: PoolCase, dout: Any, x: Any) -> Any:
    return returned_array(fns.max_pool_backward(dout, x, case.kernel, case.stride),
                          "max_pool_backward", case.shape)


def pool_forward_matches(fns: Any, case: PoolCase) -> float:
    for x in (case.distinct(), case.tied()):
        out = returned_array(fns.max_pool_forward(x, case.kernel, case.stride),
                             "max_pool_forward", case.out_shape)
        err = compare(out, _pool_reference(case, x))
        if err > 0:
            return err
    return 0.0


def pool_backward_matches_differences(fns: Any, case: PoolCase) -> float:
    x, dout = case.distinct(), case.dout()
    dx = _learner_pool_backward(fns, case, dout, x)
    (numeric,) = central_differences(lambda: float((_pool_reference(case, x) * dout).sum()), x,
                                     eps=1e-3)
    return compare(dx, numeric)


def pool_backward_one_input_per_window(fns: Any, case: PoolCase) -> float:
    x, dout = case.tied(), case.dout()
    dx = _learner_pool_backward(fns, case, dout, x)
    got, expected = float(dx.sum()), float(dout.sum())
    err = compare(got, expected)
    if err > 1e-12:
        raise Mismatch(f"with tied maxima sum(dx) = {got:.6g} but sum(dout) = {expected:.6g}: "
                       "each window must send its gradient to ONE input", err)
    return err


def pool_backward_ties_match(fns: Any, case: PoolCase) -> float:
    x, dout = case.tied(), case.dout()
    dx = _learner_pool_backward(fns, case, dout, x)
    t = Tensor(x, requires_grad=True)
    (F.max_pool2d(t, case.kernel, case.stride) * Tensor(dout)).sum().backward()
    return compare(dx, t.grad)


POOL_EXAMPLES = (
    PoolCase(1, 2, 7, 7, 3, 2, seed=1),    # AlexNet's overlapping pooling
    PoolCase(2, 1, 13, 13, 3, 2, seed=2),  # pool5's input size: 13 -> 6
    PoolCase(1, 3, 6, 6, 2, 2, seed=3),    # non-overlapping 2/2
)


# ---------------------------------------------------------------- dropout
class DropoutCase(NamedTuple):
    """x (rows, cols), drop probability p, and the seed of the generator handed over."""

    p: float
    rows: int
    cols: int
    seed: int = 0

    @property
    def shape(self) -> tuple[int, int]:
        return (self.rows, self.cols)

    def __str__(self) -> str:
        return f"x {self.shape}, p={self.p:g}, rng=numpy.random.default_rng({self.seed})"


def dropout_cases(rows: int = 6, cols: int = 9) -> Any:
    return st.builds(DropoutCase, st.sampled_from((0.5, 0.1, 0.25, 0.75, 0.9)),
                     st.integers(1, rows), st.integers(1, cols), _seeds)


def _learner_dropout(fns: Any, case: DropoutCase, x: Any, training: bool = True
                     ) -> tuple[Any, Any]:
    out, mask = returned_tuple(fns.dropout_forward(x, case.p, training,
                                                   np.random.default_rng(case.seed)),
                               "dropout_forward", ("out", "mask"))
    out = returned_array(out, "dropout_forward's out", case.shape)
    if training:
        mask = returned_array(mask, "dropout_forward's mask", case.shape)
        if not np.isin(mask, (0.0, 1.0)).all():
            raise Mismatch("the mask must say which units are kept (True) or dropped (False); "
                           f"it holds the values {np.unique(mask)[:5]}")
    return out, mask


def dropout_statistics(fns: Any, case: DropoutCase) -> None:
    x = np.ones(case.shape)
    out, _ = _learner_dropout(fns, case, x)
    n, p = x.size, case.p
    dropped, mean = float((out == 0).mean()), float(out.mean())
    # Five standard deviations: a binomial fraction, and the mean of n draws of value
    # 1/(1-p) with probability 1-p (variance p/(1-p) each).
    fraction_bound = 5 * math.sqrt(p * (1 - p) / n)
    mean_bound = 5 * math.sqrt(p / ((1 - p) * n))
    if abs(dropped - p) > fraction_bound:
        raise Mismatch(f"dropped a fraction {dropped:.4f} of {n:,} units, expected p = {p:g} "
                       f"+- {fraction_bound:.4f}")
    if abs(mean - 1) > mean_bound:
        raise Mismatch(f"on an input of ones the mean output is {mean:.4f}, expected 1 +- "
                       f"{mean_bound:.4f}: are the kept units scaled by 1 / (1 - p) = "
                       f"{1 / (1 - p):.4g}?", compare(mean, 1.0))
    return None


def dropout_survivors(fns: Any, case: DropoutCase) -> float:
    (x,) = random_arrays(case.seed + 1, case.shape)
    out, mask = _learner_dropout(fns, case, x)
    return compare(out, x * mask / (1 - case.p))


def dropout_eval_identity(fns: Any, case: DropoutCase) -> float:
    (x,) = random_arrays(case.seed + 1, case.shape)
    out, _ = _learner_dropout(fns, case, x, training=False)
    return compare(out, x)


def dropout_same_seed_same_mask(fns: Any, case: DropoutCase) -> None:
    x = np.ones(case.shape)
    _, first = _learner_dropout(fns, case, x)
    _, second = _learner_dropout(fns, case, x)
    if not np.array_equal(first, second):
        raise Mismatch("two calls with numpy.random.default_rng(seed) of the same seed gave "
                       "different masks: draw the mask from the rng argument")
    return None


def dropout_backward_matches_differences(fns: Any, case: DropoutCase) -> float:
    (x, dout) = random_arrays(case.seed + 1, case.shape, case.shape)
    _, mask = _learner_dropout(fns, case, x)
    dx = returned_array(fns.dropout_backward(dout, mask.astype(bool), case.p),
                        "dropout_backward", case.shape)
    (numeric,) = central_differences(lambda: float((x * mask / (1 - case.p) * dout).sum()), x,
                                     eps=1e-3)
    return compare(dx, numeric)


BIG = (200, 500)  # 100,000 units: five standard deviations of the dropped fraction < 0.008
DROPOUT_STAT_EXAMPLES = tuple(DropoutCase(p, *BIG, seed=i) for i, p in enumerate((0.5, 0.1, 0.9)))
DROPOUT_EXAMPLES = (DropoutCase(0.5, 4, 8, seed=1), DropoutCase(0.2, 3, 5, seed=2))

PROPERTIES: dict[str, tuple[Property, ...]] = {
    "lrn": (
        Property("lrn_forward matches minialex.functional.local_response_norm (paper formula)",
                 lrn_forward_matches, LRN_EXAMPLES, lrn_cases()),
        Property("lrn_forward clips the window at the first and last channel",
                 lrn_forward_matches, LRN_EXAMPLES[1:], lrn_cases(edge=True)),
        Property("lrn_backward matches central differences of local_response_norm",
                 lrn_backward_matches_differences, LRN_EXAMPLES, lrn_cases(), tolerance=1e-5,
                 max_examples=15),
    ),
    "max_pool": (
        Property("max_pool_forward matches minialex.functional.max_pool2d", pool_forward_matches,
                 POOL_EXAMPLES, pool_cases(), tolerance=1e-12),
        Property("max_pool_backward matches central differences (no ties)",
                 pool_backward_matches_differences, POOL_EXAMPLES, pool_cases(), max_examples=15),
        Property("with ties each window sends its gradient to one input: sum(dx) = sum(dout)",
                 pool_backward_one_input_per_window, POOL_EXAMPLES, pool_cases(),
                 tolerance=1e-12),
        Property("with ties the first maximum of a window (row-major, as np.argmax) gets it all",
                 pool_backward_ties_match, POOL_EXAMPLES, pool_cases(), tolerance=1e-12),
    ),
    "dropout": (
        Property("drops a fraction p of 100,000 units and keeps their mean at 1",
                 dropout_statistics, DROPOUT_STAT_EXAMPLES,
                 st.builds(DropoutCase, st.sampled_from((0.5, 0.25, 0.75)), st.just(BIG[0]),
                           st.just(BIG[1]), _seeds), max_examples=5),
        Property("kept units are x / (1 - p), dropped ones 0, as the mask says",
                 dropout_survivors, DROPOUT_EXAMPLES, dropout_cases(), tolerance=1e-12),
        Property("with training=False the output is x itself", dropout_eval_identity,
                 DROPOUT_EXAMPLES, dropout_cases(), tolerance=0.0, max_examples=5),
        Property("the same seed gives the same mask (the mask comes from rng)",
                 dropout_same_seed_same_mask, DROPOUT_EXAMPLES[:1] + DROPOUT_STAT_EXAMPLES[:1],
                 dropout_cases(), max_examples=5),
        Property("dropout_backward matches central differences (the same mask, scaled)",
                 dropout_backward_matches_differences, DROPOUT_EXAMPLES, dropout_cases()),
    ),
}
