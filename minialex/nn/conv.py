from minialex.nn.module import Module
class Conv2d(Module): pass
