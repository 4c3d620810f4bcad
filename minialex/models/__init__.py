"""The AlexNet variants: ``minialex.models.alexnet(variant, ...)``; ``VARIANTS`` lists them."""

from minialex.models.alexnet import VARIANTS, AlexNet, VariantSpec, alexnet

__all__ = ["alexnet", "AlexNet", "VARIANTS", "VariantSpec"]
