"""The widget package: the class (:mod:`.model`) and its controllers, one module each."""

from .model import KontextWidget
from .runs import MAX_ROWS

__all__ = ["MAX_ROWS", "KontextWidget"]
