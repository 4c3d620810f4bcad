from minialex.nn.module import Module
class BatchNorm1d(Module): pass
class BatchNorm2d(Module): pass
class LocalResponseNorm(Module): pass
