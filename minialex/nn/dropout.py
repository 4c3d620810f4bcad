from minialex.nn.module import Module
class Dropout(Module): pass
