from minialex.nn.module import Module
class Linear(Module): pass
class Flatten(Module): pass
