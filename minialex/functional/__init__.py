"""Stateless ops with forward and backward, one module per layer family (NCHW).

Use as ``import minialex.functional as F``.
"""

from minialex.functional.activation import log_softmax, relu, sigmoid, softmax, tanh
from minialex.functional.conv import conv2d
from minialex.functional.dropout import dropout
from minialex.functional.linear import flatten, linear
from minialex.functional.loss import cross_entropy
from minialex.functional.norm import batch_norm, local_response_norm
from minialex.functional.pool import adaptive_avg_pool2d, avg_pool2d, max_pool2d

__all__ = [
    "conv2d",
    "max_pool2d",
    "avg_pool2d",
    "adaptive_avg_pool2d",
    "local_response_norm",
    "batch_norm",
    "dropout",
    "relu",
    "tanh",
    "sigmoid",
    "softmax",
    "log_softmax",
    "linear",
    "flatten",
    "cross_entropy",
]
