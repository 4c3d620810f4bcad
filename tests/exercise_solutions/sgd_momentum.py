"""Reference solution of exercises/sgd_momentum.py (used by tests/test_exercises.py)."""


def sgd_momentum_step(w, dw, v, lr, momentum=0.9, weight_decay=0.0005):
    v = momentum * v - weight_decay * lr * w - lr * dw
    return w + v, v
