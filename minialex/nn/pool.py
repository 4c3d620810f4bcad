from minialex.nn.module import Module
class MaxPool2d(Module): pass
class AvgPool2d(Module): pass
class AdaptiveAvgPool2d(Module): pass
