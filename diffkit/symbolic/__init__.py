"""The symbolic side: derivation with SymPy, views, rendering and conversion to NumPy."""

from .numeric import NUMPY_FUNCTIONS, to_numpy

__all__ = ["to_numpy", "NUMPY_FUNCTIONS"]
