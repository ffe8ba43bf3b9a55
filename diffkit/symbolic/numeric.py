"""The one place where SymPy expressions become NumPy functions.

Everything in diffkit that needs numbers from a SymPy expression (the CLI, the analyzer, the
optimisers, the benchmarks) goes through :func:`to_numpy`, so the function mapping for diffkit's
own SymPy functions (σ, σ′, relu, step, softplus) lives here and nowhere else.

Examples
--------
>>> import sympy as sp
>>> from diffkit.functions import sigmoid
>>> z = sp.Symbol("z", real=True)
>>> f = to_numpy([sigmoid(z), sp.diff(sigmoid(z), z)], [z])
>>> [round(float(v), 6) for v in f(0.0)]
[0.5, 0.25]
>>> print(to_numpy(sigmoid(z) ** 2 + sigmoid(z), [z], cse=True).source)
def _lambdifygenerated(z):
    x0 = sigmoid(z)
    return x0**2 + x0
"""

from __future__ import annotations

import inspect
from typing import Callable, Sequence

import numpy as np
import sympy as sp
from sympy.core.symbol import Str
from sympy.matrices.expressions import MatrixExpr
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from .. import stable
from ..errors import BadInput
from .. import constraints as _cons


# σ, σ′ and softplus have one NumPy formula each, in diffkit.stable (the engine uses the same ones)
np_sigmoid = stable.sigmoid
np_sigmoid_prime = stable.sigmoid_prime
np_softplus = stable.softplus


def np_relu(z):
    return np.maximum(z, 0.0)


def np_step(z):
    """1 for z > 0, else 0 (diffkit's step; its value at the kink is 0)."""
    return np.where(np.real(z) > 0, 1.0, 0.0)


#: NumPy implementations of diffkit's own SymPy functions.
NUMPY_FUNCTIONS: dict[str, Callable] = {
    "sigmoid": np_sigmoid,
    "sigmoid_prime": np_sigmoid_prime,
    "softplus": np_softplus,
    "relu": np_relu,
    "step": np_step,
}


class _Apply(MatrixExpr):
    """An elementwise function of a matrix that NumPy's printer can print as ``f(A)``.

    SymPy's ``ElementwiseApplyFunction`` (``Z.applyfunc(σ)``) has no NumPy printer; this stands
    in for it so matrix forms such as logistic regression's Xᵀ(σ(Xw) − y) lambdify.
    """

    def __new__(cls, name: Str, arg: MatrixExpr):
        return sp.Basic.__new__(cls, name, arg)

    @property
    def shape(self):
        return self.args[1].shape

    def _numpycode(self, printer) -> str:
        return f"{self.args[0].name}({printer._print(self.args[1])})"

    _pythoncode = _numpycode


def np_heaviside(z, h0=0.5):
    """SymPy's Heaviside (½ at 0 unless given): printed as a call, not rewritten to a Piecewise."""
    return np.heaviside(np.real(z), h0)


NUMPY_FUNCTIONS["heaviside"] = np_heaviside
_HEAVISIDE = sp.Function("heaviside", real=True)


def printable(expr: sp.Basic) -> sp.Basic:
    """``expr`` with elementwise applications rewritten so :func:`to_numpy` can print them.

    Heaviside becomes a plain call: SymPy's printer would rewrite Heaviside(a − Max(b, c, d)) (the
    derivative of a max) into a Piecewise through ``simplify_logic``, about 0.7 s per term.
    """
    if isinstance(expr, sp.Basic) and expr.has(sp.Heaviside):
        expr = expr.replace(lambda e: isinstance(e, sp.Heaviside), lambda e: _HEAVISIDE(*e.args))

    def swap(a):
        fn = a.function
        body = getattr(fn, "expr", None)
        if isinstance(fn, sp.Lambda) and body is not None and body.args == fn.variables:
            return _Apply(Str(type(body).__name__), a.expr)
        raise BadInput(f"cannot turn the elementwise function {fn} into NumPy code")
    return expr.replace(lambda a: isinstance(a, ElementwiseApplyFunction), swap)


@_cons.validate_params(exprs=_cons.SYMPY_EXPRS, args=_cons.SYMPY_ARGS, cse=_cons.Boolean())
def to_numpy(exprs, args: Sequence, *, cse: bool = False) -> Callable:
    """Lambdify ``exprs`` (an expression, or a list of them) over ``args`` with NumPy.

    Parameters
    ----------
    exprs : sympy.Expr or sequence of sympy.Expr
        What to compute.  A list gives a function returning a list.
    args : sequence of sympy.Symbol or sympy.MatrixSymbol
        Positional arguments of the generated function, in order.
    cse : bool, default False
        Share common subexpressions in the generated code (``sympy.cse``).

    Returns
    -------
    callable
        The generated function; its readable source is in ``.source``.
    """
    if isinstance(exprs, (list, tuple)):
        exprs = [printable(e) for e in exprs]
    else:
        exprs = printable(exprs)
    f = sp.lambdify(list(args), exprs, modules=[NUMPY_FUNCTIONS, "numpy"], cse=cse)
    f.source = inspect.getsource(f).rstrip()
    return f


def _engine_functions() -> dict[str, Callable]:
    from .. import engine as dk

    def sigmoid_prime(z):  # σ(z)σ(−z): no cancellation in 1 − σ(z) for z ≫ 0
        return dk.sigmoid(z) * dk.sigmoid(-z)

    return {"sigmoid": dk.sigmoid, "sigmoid_prime": sigmoid_prime, "softplus": dk.softplus, "relu": dk.relu,
            "step": dk.step, "exp": dk.exp, "log": dk.log, "sqrt": dk.sqrt, "tanh": dk.tanh, "sin": dk.sin,
            "cos": dk.cos, "abs": dk.abs, "sign": dk.sign, "maximum": dk.maximum, "minimum": dk.minimum}


def to_engine(expr: sp.Expr, args: Sequence) -> Callable:
    """``expr`` as a Python function of ``args`` written with the engine's operations.

    The same printer as :func:`to_numpy`, with diffkit's engine operations in place of NumPy's,
    so the function can be traced by ``diffkit.engine`` (``grad``, ``jvp``, ``trace``): the
    model's loss as forward and reverse mode see it.

    >>> import sympy as sp
    >>> import diffkit.engine as dk
    >>> from diffkit.functions import sigmoid
    >>> z = sp.Symbol("z", real=True)
    >>> f = to_engine(sigmoid(z) ** 2, [z])
    >>> float(dk.grad(f)(0.0))
    0.25
    """
    from ..functions import step

    expr = expr.replace(lambda e: isinstance(e, sp.Heaviside), lambda e: step(e.args[0]))
    f = sp.lambdify(list(args), expr, modules=[_engine_functions(), "numpy"])
    f.source = inspect.getsource(f).rstrip()
    return f
