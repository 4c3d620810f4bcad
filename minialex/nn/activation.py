"""(TO BE IMPLEMENTED)"""
from minialex.nn.module import Module
class ReLU(Module): pass
class Tanh(Module): pass
class Sigmoid(Module): pass
