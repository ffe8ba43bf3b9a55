"""SymPy functions of diffkit's own: σ, σ′, relu, step, softplus.

σ and σ′ are functions in their own right (not ``1/(1+exp(-z))``), so that derivatives read as
the lecture writes them, e.g. ``(σ(wx+b) − y)·σ′(wx+b)·x + 2λw``.  ``expr.rewrite(sp.exp)``
(or :func:`expand_sigmoid`) writes them with exponentials.

Derivatives away from kinks follow the usual almost-everywhere convention:
relu′ = step, step′ = 0, sign′ = 0.

Examples
--------
>>> import sympy as sp
>>> z = sp.Symbol("z", real=True)
>>> sp.diff(sigmoid(z), z)
sigmoid_prime(z)
>>> sp.diff(sigmoid_prime(z), z)
(1 - 2*sigmoid(z))*sigmoid_prime(z)
>>> sigmoid(z).rewrite(sp.exp)
1/(1 + exp(-z))
>>> sp.diff(softplus(z), z)
sigmoid(z)
>>> sp.diff(relu(z), z)
step(z)
"""

from __future__ import annotations

import sympy as sp


def _real_arg(self) -> bool | None:
    return self.args[0].is_extended_real


class sigmoid(sp.Function):
    """The logistic function σ(z) = 1 / (1 + e^(−z))."""

    nargs = 1

    @classmethod
    def eval(cls, z):
        if z.is_zero:
            return sp.Rational(1, 2)
        if z.is_Float:
            return sp.Float(1) / (1 + sp.exp(-z))
        return None

    def fdiff(self, argindex=1):
        if argindex != 1:
            raise sp.ArgumentIndexError(self, argindex)
        return sigmoid_prime(self.args[0])

    def _eval_rewrite_as_exp(self, z, **kwargs):
        return 1 / (1 + sp.exp(-z))

    def _eval_evalf(self, prec):
        return (1 / (1 + sp.exp(-self.args[0]))).evalf(prec)

    _eval_is_extended_real = _real_arg

    def _eval_is_positive(self):
        return True if self.args[0].is_extended_real else None

    def _latex(self, printer, exp=None):
        s = r"\sigma\left(%s\right)" % printer._print(self.args[0])
        return s if exp is None else r"\sigma^{%s}\left(%s\right)" % (exp, printer._print(self.args[0]))


class sigmoid_prime(sp.Function):
    """σ′(z) = σ(z)(1 − σ(z)), the derivative of the logistic function."""

    nargs = 1

    @classmethod
    def eval(cls, z):
        if z.is_zero:
            return sp.Rational(1, 4)
        if z.is_Float:
            s = sp.Float(1) / (1 + sp.exp(-z))
            return s * (1 - s)
        return None

    def fdiff(self, argindex=1):
        if argindex != 1:
            raise sp.ArgumentIndexError(self, argindex)
        z = self.args[0]
        return sigmoid_prime(z) * (1 - 2 * sigmoid(z))

    def _eval_rewrite_as_exp(self, z, **kwargs):
        return sp.exp(-z) / (1 + sp.exp(-z)) ** 2

    def _eval_rewrite_as_sigmoid(self, z, **kwargs):
        return sigmoid(z) * (1 - sigmoid(z))

    def _eval_evalf(self, prec):
        return self._eval_rewrite_as_exp(self.args[0]).evalf(prec)

    _eval_is_extended_real = _real_arg

    def _eval_is_positive(self):
        return True if self.args[0].is_extended_real else None

    def _latex(self, printer, exp=None):
        arg = printer._print(self.args[0])
        if exp is None:
            return r"\sigma'\left(%s\right)" % arg
        return r"\sigma'\left(%s\right)^{%s}" % (arg, exp)


class step(sp.Function):
    """The hard threshold: step(z) = 1 for z > 0, else 0 (the lecture's step)."""

    nargs = 1

    @classmethod
    def eval(cls, z):
        if z.is_extended_positive:
            return sp.Integer(1)
        if z.is_extended_nonpositive:
            return sp.Integer(0)
        return None

    def fdiff(self, argindex=1):
        return sp.Integer(0)  # zero almost everywhere; the kink at 0 is reported by the analyzer

    def _eval_rewrite_as_Heaviside(self, z, **kwargs):
        return sp.Heaviside(z, 0)

    def _eval_rewrite_as_Piecewise(self, z, **kwargs):
        return sp.Piecewise((1, z > 0), (0, True))

    _eval_is_extended_real = _real_arg

    def _latex(self, printer, exp=None):
        s = r"\operatorname{step}\left(%s\right)" % printer._print(self.args[0])
        return s if exp is None else r"%s^{%s}" % (s, exp)


class relu(sp.Function):
    """The rectified linear unit relu(z) = max(0, z)."""

    nargs = 1

    @classmethod
    def eval(cls, z):
        if z.is_extended_nonnegative:
            return z
        if z.is_extended_negative:
            return sp.Integer(0)
        return None

    def fdiff(self, argindex=1):
        return step(self.args[0])

    def _eval_rewrite_as_Max(self, z, **kwargs):
        return sp.Max(0, z)

    def _eval_rewrite_as_Piecewise(self, z, **kwargs):
        return sp.Piecewise((z, z > 0), (0, True))

    _eval_is_extended_real = _real_arg

    def _latex(self, printer, exp=None):
        s = r"\operatorname{relu}\left(%s\right)" % printer._print(self.args[0])
        return s if exp is None else r"%s^{%s}" % (s, exp)


class softplus(sp.Function):
    """softplus(z) = log(1 + e^z); its derivative is σ(z)."""

    nargs = 1

    @classmethod
    def eval(cls, z):
        if z.is_zero:
            return sp.log(2)
        return None

    def fdiff(self, argindex=1):
        return sigmoid(self.args[0])

    def _eval_rewrite_as_exp(self, z, **kwargs):
        return sp.log(1 + sp.exp(z))

    _eval_rewrite_as_log = _eval_rewrite_as_exp

    def _eval_evalf(self, prec):
        return sp.log(1 + sp.exp(self.args[0])).evalf(prec)

    _eval_is_extended_real = _real_arg

    def _latex(self, printer, exp=None):
        s = r"\operatorname{softplus}\left(%s\right)" % printer._print(self.args[0])
        return s if exp is None else r"%s^{%s}" % (s, exp)


#: diffkit's own function classes, by the name used in expression strings.
CUSTOM_FUNCTIONS = {
    "sigmoid": sigmoid,
    "sigmoid_prime": sigmoid_prime,
    "relu": relu,
    "step": step,
    "softplus": softplus,
}


def expand_sigmoid(expr: sp.Expr) -> sp.Expr:
    """Write σ, σ′ and softplus with exponentials (the "expanded" view).

    >>> z = sp.Symbol("z", real=True)
    >>> expand_sigmoid(sigmoid_prime(z) + softplus(z))
    log(exp(z) + 1) + exp(-z)/(1 + exp(-z))**2
    """
    return expr.replace(
        lambda e: isinstance(e, (sigmoid, sigmoid_prime, softplus)),
        lambda e: e._eval_rewrite_as_exp(*e.args),
    )


def is_kinked(f: sp.Basic) -> bool:
    """True for functions with a kink or jump (relu, step, sign, Abs, Max, Min, Heaviside)."""
    return isinstance(f, (relu, step, sp.sign, sp.Abs, sp.Max, sp.Min, sp.Heaviside))
