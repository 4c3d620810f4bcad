"""Exercise dropout: inverted dropout, forward and backward (lesson 09).

Build ``dropout_forward(x, p, training, rng)`` returning ``(out, mask)`` and
``dropout_backward(dout, mask, p)``.

AlexNet sets the output of each hidden unit of fc6 and fc7 to zero with probability 0.5 while
training, and multiplies all outputs by 0.5 at test time (Krizhevsky et al. 2012, section
4.2). Inverted dropout, what minialex and PyTorch do, moves the factor into training: kept
units are divided by (1 - p), so each unit's expected output equals its input and the test
network is the plain one, untouched.

    training:      mask = rng.random(x.shape) >= p      (True = kept, probability 1 - p)
                   out  = x * mask / (1 - p)
    not training:  out = x, mask = None
    backward:      dx = dout * mask / (1 - p)

Shapes
    x, dout: any shape; p: a float in [0, 1); training: bool;
    rng: a numpy.random.Generator (numpy.random.default_rng(seed)); draw the mask from it
    dropout_forward returns (out, mask) with out shaped like x and mask a boolean array
    shaped like x (None when not training); dropout_backward returns dx shaped like dout

Check it:  python -m minialex check dropout
On 100,000 units it checks that a fraction p is dropped and that the mean stays 1 (within
five standard deviations); that kept units are exactly x / (1 - p); that training=False
changes nothing; that the same seed gives the same mask; and dropout_backward against central
differences.

Hints (read them one at a time, only when stuck)
1. rng.random(shape) draws uniform numbers in [0, 1); each is >= p with probability 1 - p.
2. np.random.rand would ignore the generator you were given: same seed, different masks.

Next: lessons 10 to 12, then exercise sgd_momentum.
"""


def dropout_forward(x, p, training, rng):
    """x: any shape -> (out, mask), inverted dropout with drop probability p."""
    raise NotImplementedError("exercise dropout: write dropout_forward "
                              "(the docstring at the top says what it computes)")


def dropout_backward(dout, mask, p):
    """dout: any shape, mask from dropout_forward -> dx, shaped like dout."""
    raise NotImplementedError("exercise dropout: write dropout_backward "
                              "(the docstring at the top says what it computes)")
