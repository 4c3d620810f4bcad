"""Reference solution of exercises/dropout.py (used by tests/test_exercises.py)."""


def dropout_forward(x, p, training, rng):
    if not training:
        return x, None
    mask = rng.random(x.shape) >= p
    return x * mask / (1 - p), mask


def dropout_backward(dout, mask, p):
    return dout * mask / (1 - p)
