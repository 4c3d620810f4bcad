"""Layers as Modules wrapping minialex.functional, with PyTorch's names and arguments, plus
the rule of each layer type (``rules``: description, shape arithmetic, mult-adds, torch twin)
and shape inference from those rules alone (``shapes``: ``infer_shape``, ``LayerError``)."""

from minialex.nn import init
from minialex.nn.activation import ReLU, Sigmoid, Tanh
from minialex.nn.conv import Conv2d
from minialex.nn.dropout import Dropout
from minialex.nn.linear import Flatten, Linear
from minialex.nn.module import Module, Parameter, Sequential
from minialex.nn.norm import BatchNorm1d, BatchNorm2d, LocalResponseNorm
from minialex.nn.pool import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d
from minialex.nn.rules import LayerRule, register_layer
from minialex.nn.shapes import LayerError, infer_shape

__all__ = [
    "Module",
    "Parameter",
    "Sequential",
    "Conv2d",
    "Linear",
    "Flatten",
    "MaxPool2d",
    "AvgPool2d",
    "AdaptiveAvgPool2d",
    "LocalResponseNorm",
    "BatchNorm1d",
    "BatchNorm2d",
    "Dropout",
    "ReLU",
    "Tanh",
    "Sigmoid",
    "init",
    "LayerRule",
    "register_layer",
    "LayerError",
    "infer_shape",
]
