"""Exercise output_size: floor((n + 2p - k) / s) + 1 through a whole network (lesson 04).

Build ``conv_output_size(n, kernel, stride, padding)`` and ``network_output_sizes(n, layers)``.

A convolution or pooling window of size k, moved by s over an input of n pixels padded by p
on both sides, fits at floor((n + 2p - k) / s) + 1 positions:

    conv_output_size(227, 11, 4, 0) = floor(216 / 4) + 1 = 55      (AlexNet's conv1)
    conv_output_size(224, 11, 4, 0) = floor(53.25) + 1 = 54         (the paper's 224)

network_output_sizes(n, layers) applies that layer after layer. ``layers`` is a list of
(kernel, stride, padding) triples, pooling layers included (AlexNet's max-pool is (3, 2, 0)).
It returns the input size followed by the size after every layer, so for AlexNet

    network_output_sizes(227, [(11, 4, 0), (3, 2, 0), (5, 1, 2), (3, 2, 0),
                               (3, 1, 1), (3, 1, 1), (3, 1, 1), (3, 2, 0)])

is 227 -> 55 -> 27 -> 27 -> 13 -> 13 -> 13 -> 13 -> 6, and 6 * 6 * 256 = 9,216 is the input
of fc6. When a layer's kernel is larger than its padded input (kernel > size + 2*padding)
there is no output: raise ValueError, saying which layer (lesson 04 shows a published
network where this happens at pool5).

Shapes
    n, kernel, stride, padding: ints; layers: a list of (kernel, stride, padding)
    conv_output_size returns an int; network_output_sizes a list of len(layers) + 1 ints

Check it:  python -m minialex check output_size
It compares conv_output_size with the size minialex.functional.conv2d actually produces,
checks AlexNet's chain at 227 and 224, drawn networks, and layers that do not fit.

Hints (read them one at a time, only when stuck)
1. Python's // floors; / gives a float (and 55.0 is not a size).
2. Keep a list sizes = [n] and append one size per layer.

Next: lessons 05 to 07, then exercise lrn.
"""


def conv_output_size(n, kernel, stride, padding):
    """floor((n + 2*padding - kernel) / stride) + 1, as an int."""
    raise NotImplementedError("exercise output_size: write conv_output_size "
                              "(the docstring at the top says what it computes)")


def network_output_sizes(n, layers):
    """[n, size after layer 1, ..., size after the last layer]; ValueError if one cannot fit."""
    raise NotImplementedError("exercise output_size: write network_output_sizes "
                              "(the docstring at the top says what it computes)")
