"""diffkit: symbolic (SymPy) and reverse-mode automatic differentiation, side by side."""

from .builtins import BUILTINS, builtin
from .errors import BadInput, BudgetExceeded, ComputationError, DiffkitError, DomainError, OutputError, ParseError
from .functions import relu, sigmoid, sigmoid_prime, softplus, step
from .model import MatrixForm, Model
from .parse import parse
from .symbolic.derive import Derivation, derive, gradient, hessian
from .symbolic.numeric import to_numpy
from .usermodel import load_model, model_from_expr
from .analysis.compare import Comparison, compare
from .optim import study
from .report import write_report
from . import display  # noqa: F401,E402 — rich display in notebooks (gives Graph its _repr_svg_)

__all__ = [
    "BUILTINS", "builtin", "Model", "MatrixForm",
    "DiffkitError", "BadInput", "ParseError", "ComputationError", "DomainError", "BudgetExceeded", "OutputError",
    "sigmoid", "sigmoid_prime", "relu", "step", "softplus",
    "parse", "model_from_expr", "load_model", "derive", "Derivation", "gradient", "hessian", "to_numpy",
    "compare", "Comparison", "study", "write_report",
]
__version__ = "0.1.0"
