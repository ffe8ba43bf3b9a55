"""diffkit: symbolic (SymPy) and reverse-mode automatic differentiation, side by side."""

from .builtins import BUILTINS, builtin
from .errors import BadInput, ComputationError, DiffkitError, ParseError
from .functions import relu, sigmoid, sigmoid_prime, softplus, step
from .model import MatrixForm, Model

__all__ = [
    "BUILTINS", "builtin", "Model", "MatrixForm",
    "DiffkitError", "BadInput", "ParseError", "ComputationError",
    "sigmoid", "sigmoid_prime", "relu", "step", "softplus",
]
__version__ = "0.1.0"
