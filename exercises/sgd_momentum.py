"""Exercise sgd_momentum: the paper's SGD step with momentum and weight decay (lesson 12).

Build ``sgd_momentum_step(w, dw, v, lr, momentum, weight_decay)`` returning ``(w, v)`` after
one step. Krizhevsky, Sutskever and Hinton (2012, section 5) train AlexNet with batch 128,
momentum 0.9 and weight decay 0.0005, using the update rule

    v_{i+1} = 0.9 * v_i - 0.0005 * eps * w_i - eps * <dL/dw>_i
    w_{i+1} = w_i + v_{i+1}

where eps is the learning rate and <dL/dw>_i the gradient of the loss averaged over batch i.
With the constants as arguments:

    v <- momentum * v - weight_decay * lr * w - lr * dw
    w <- w + v

This is minialex.optim.SGD's rule. torch.optim.SGD keeps a buffer without the learning rate
(b <- momentum * b + dw + weight_decay * w; w <- w - lr * b): the same weights as long as lr
stays constant, different right after lr changes.

Shapes
    w, dw, v: arrays of one shape (v starts as zeros); lr, momentum, weight_decay: floats
    returns (new w, new v), both shaped like w

Check it:  python -m minialex check sgd_momentum
It compares two steps with the numbers worked out by hand (w = 1, dL/dw = 0.5, the paper's
constants) and several steps with minialex.optim.SGD for drawn learning rates, momenta and
weight decays.

Hints (read them one at a time, only when stuck)
1. Compute the new v first: the weight decay term uses the OLD w.
2. The velocity already carries the minus sign: w + v descends.

Next: lessons 13 to 15. That is the course: every piece of AlexNet, written by you.
"""


def sgd_momentum_step(w, dw, v, lr, momentum=0.9, weight_decay=0.0005):
    """One step of the paper's rule -> (w, v)."""
    raise NotImplementedError("exercise sgd_momentum: write sgd_momentum_step "
                              "(the docstring at the top says what it computes)")
