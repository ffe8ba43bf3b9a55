"""Rendering SymPy expressions as a person writes them: plain text, Unicode, LaTeX.

:func:`lecture_order` puts an expression in the order the lecture writes it — terms with more
structure first, positive terms before negative ones (``σ(wx + b) − y``, not ``−y + σ(b + wx)``),
factors as coefficient · parenthesised sums · functions · powers · symbols — and pulls a leading
minus into a sum (``−x(y − σ)`` becomes ``x(σ − y)``).  The value is unchanged; only the
printed form is.

Examples
--------
>>> from diffkit import builtin
>>> from diffkit.symbolic.derive import gradient
>>> g = gradient(builtin("ridge-sigmoid"))
>>> text(g["w"])
'(sigmoid(w*x + b) - y)*sigmoid_prime(w*x + b)*x + 2*lam*w'
>>> pretty(g["w"])
'(σ(wx + b) − y)·σ′(wx + b)·x + 2λw'
>>> latex(g["b"])
"\\\\left(\\\\sigma\\\\left(w x + b\\\\right) - y\\\\right) \\\\sigma'\\\\left(w x + b\\\\right)"
"""

from __future__ import annotations

import re

import sympy as sp
from sympy.matrices.expressions import MatAdd, MatMul
from sympy.printing.latex import LatexPrinter
from sympy.printing.str import StrPrinter

#: Symbol names shown as Greek letters (text keeps the ASCII name, so it can be parsed back).
GREEK = {"lam": "λ", "lmbda": "λ", "lambda_": "λ", "alpha": "α", "beta": "β", "gamma": "γ",
         "gamma0": "γ₀", "mu": "μ", "eta": "η", "theta": "θ", "sigma": "σ", "tau": "τ", "rho": "ρ"}
_LATEX_GREEK = {"λ": r"\lambda", "α": r"\alpha", "β": r"\beta", "γ": r"\gamma", "γ₀": r"\gamma_0",
                "μ": r"\mu", "η": r"\eta", "θ": r"\theta", "σ": r"\sigma", "τ": r"\tau", "ρ": r"\rho"}


def _ops(e: sp.Basic) -> int:
    return sp.count_ops(e, visual=False) if not e.is_Atom else 0


def _add_key(term: sp.Expr):
    negative = term.could_extract_minus_sign() if hasattr(term, "could_extract_minus_sign") else False
    return (bool(negative), -_ops(term), sp.default_sort_key(term))


def is_adjoint(e: sp.Basic) -> bool:
    """Adjoint symbols are named ``d_<node>`` and shown as ∂_<node> L."""
    return isinstance(e, sp.Symbol) and e.name.startswith("d_") and len(e.name) > 2


def _mul_key(f: sp.Expr):
    if is_adjoint(f):
        cat = -1  # the lecture writes ∂_r L·2w: the adjoint first
    elif f.is_Number:
        cat = 0
    elif f.is_Add or isinstance(f, MatAdd):
        cat = 1
    elif isinstance(f, sp.Function):
        cat = 2
    elif f.is_Pow and not f.base.is_Symbol:
        cat = 3
    else:
        cat = 4
    # among sums, prediction minus target first: (σ − y)·(1 − σ), as the lecture writes it
    first = 0 if cat == 1 and not isinstance(f, MatAdd) and _target_last(f) else 1
    return (cat, first, sp.default_sort_key(f))


def _normalise_sign(e: sp.Expr) -> sp.Expr:
    """Signs and numeric content as the lecture writes them; the value is unchanged.

    * A rational coefficient absorbs the numeric content of a sum factor:
      ½·(2·tanh² − 2) → tanh² − 1.
    * −c·(a − b)·rest → c·(b − a)·rest: a negative coefficient is absorbed by a sum factor,
      preferably one that then reads prediction minus target, (σ − y) rather than (y − σ).
    * (y − t)·(t² − 1) → (t − y)·(1 − t²): two flips cancel, so a factor that reads better
      flipped (a number subtracted, as in tanh′ = 1 − tanh²) is flipped together with another.
    """
    if not e.is_Mul:
        return e
    coeff, factors = e.as_coeff_mul()
    factors = list(factors)
    if coeff.is_Rational:
        for i, f in enumerate(factors):
            if f.is_Add:
                k, prim = f.as_content_primitive()
                if k.is_Rational and k != 1 and k > 0:
                    coeff, factors[i] = coeff * k, prim
    flippable = [i for i, f in enumerate(factors) if f.is_Add and _negatives(-f) <= _negatives(f)]
    flippable.sort(key=lambda i: (not _target_last(-factors[i]), i))
    if coeff < 0 and flippable:
        i = flippable[0]
        factors[i] = _neg(factors[i])
        coeff = -coeff
    elif coeff > 0 and len(flippable) >= 2:
        reads_flipped = [i for i in flippable if _number_subtracted(factors[i])]
        # the partner must not then read worse itself ((1 − x) stays, it would become x − 1)
        partners = [k for k in flippable if k not in reads_flipped and not _number_subtracted(_neg(factors[k]))]
        if reads_flipped and partners:
            i, j = reads_flipped[0], partners[0]
            factors[i], factors[j] = _neg(factors[i]), _neg(factors[j])
    if coeff == 1:
        return sp.Mul(*factors, evaluate=False) if len(factors) > 1 else factors[0]
    return sp.Mul(coeff, *factors, evaluate=False)


def _neg(add: sp.Expr) -> sp.Expr:
    return sp.Add(*[-t for t in add.args])


def _target_last(add: sp.Expr) -> bool:
    """True for a sum like σ(z) − y: every subtracted term an atom, some added term not."""
    neg = [t for t in add.args if t.could_extract_minus_sign()]
    pos = [t for t in add.args if not t.could_extract_minus_sign()]
    return bool(neg) and all((-t).is_Symbol for t in neg) and any(not t.is_Atom for t in pos)


def _number_subtracted(add: sp.Expr) -> bool:
    """True for t² − 1: the only subtracted terms are numbers, the added ones are not."""
    neg = [t for t in add.args if t.could_extract_minus_sign()]
    pos = [t for t in add.args if not t.could_extract_minus_sign()]
    return bool(neg) and all(t.is_Number for t in neg) and bool(pos) and not any(t.is_Number for t in pos)


def _negatives(add: sp.Expr) -> int:
    return sum(1 for t in add.args if t.could_extract_minus_sign())


def lecture_order(e: sp.Basic) -> sp.Basic:
    """An unevaluated copy of ``e`` whose argument order is the lecture's (see module doc)."""
    if e.is_Atom or isinstance(e, sp.MatrixSymbol):
        return e
    if isinstance(e, sp.MatrixExpr):  # non-commutative: keep the factor order
        args = [lecture_order(a) for a in e.args]
        if isinstance(e, MatAdd):
            return MatAdd(*sorted(args, key=_add_key), evaluate=False)
        if isinstance(e, MatMul):
            return MatMul(*args, evaluate=False)
        return e
    if e.is_Mul:
        e = _normalise_sign(e)
        if not e.is_Mul:
            return lecture_order(e)
    args = [lecture_order(a) for a in e.args]
    if e.is_Add:
        return sp.Add(*sorted(args, key=_add_key), evaluate=False)
    if e.is_Mul:
        return sp.Mul(*sorted(args, key=_mul_key), evaluate=False)
    if e.is_Pow:
        return sp.Pow(*args, evaluate=False)
    try:
        return e.func(*args, evaluate=False)
    except TypeError:
        return e.func(*args)


def _elementwise_name(expr) -> str:
    body = expr.function.expr
    return type(body).__name__ if isinstance(body, sp.Function) else str(expr.function)


class _TextPrinter(StrPrinter):
    def __init__(self, unicode: bool = False):
        super().__init__({"order": "none"})
        self.unicode = unicode

    def _print_Abs(self, expr):
        inner = self._print(expr.args[0])
        return f"|{inner}|" if self.unicode else f"abs({inner})"

    def _print_Max(self, expr):
        return "max(%s)" % ", ".join(self._print(a) for a in expr.args)

    def _print_Min(self, expr):
        return "min(%s)" % ", ".join(self._print(a) for a in expr.args)

    def _print_ElementwiseApplyFunction(self, expr):  # σ applied to each entry: sigmoid(X*w)
        return f"{_elementwise_name(expr)}({self._print(expr.expr)})"

    def _print_OneMatrix(self, expr):
        return "1"


def text(e: sp.Basic) -> str:
    """Plain ASCII in lecture order; parseable back by :func:`diffkit.parse.parse`."""
    return _TextPrinter().doprint(lecture_order(e))


_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def pretty(e: sp.Basic) -> str:
    """Unicode in lecture order: σ, σ′, λ, ·, −, superscript integer powers.

    >>> import sympy as sp
    >>> x, lam = sp.symbols("x lam", real=True)
    >>> pretty(lam * x**2 - 3 * x)
    'λx² − 3x'
    """
    s = _TextPrinter(unicode=True).doprint(lecture_order(e))
    s = s.replace("sigmoid_prime(", "σ′(").replace("sigmoid(", "σ(")
    s = re.sub(r"\*\*(?:\((-?\d+)\)|(-?\d+))", lambda m: (m.group(1) or m.group(2)).translate(_SUPERSCRIPT), s)
    s = s.replace(".T", "ᵀ")
    for name, g in sorted(GREEK.items(), key=lambda kv: -len(kv[0])):
        s = re.sub(rf"\b{name}\b", g, s)
    s = s.replace(" - ", " − ").replace("*", "·")
    s = re.sub(r"^-", "−", s)
    s = re.sub(r"([(\s,])-", r"\1−", s)
    # juxtapose a number or a one-letter symbol with a following one-letter symbol: 2λw, wx
    single = r"[A-Za-zλαβγμηθστρ]"
    for _ in range(2):
        s = re.sub(rf"(?<![A-Za-z0-9_′])(\d+|{single})·(?={single}(?![A-Za-z0-9_(′]))", r"\1", s)
    s = re.sub(r"\bd_([A-Za-z][A-Za-z0-9_]*)", lambda m: f"∂_{_greek(m.group(1))} L", s)
    return s


def _greek(name: str) -> str:
    return GREEK.get(name, name)


class _LatexPrinter(LatexPrinter):
    def __init__(self):
        super().__init__({"order": "none", "mul_symbol": None})

    def _print_ElementwiseApplyFunction(self, expr):
        name = _elementwise_name(expr)
        head = {"sigmoid": r"\sigma", "sigmoid_prime": r"\sigma'"}.get(name, r"\operatorname{%s}" % name)
        return r"%s\left(%s\right)" % (head, self._print(expr.expr))

    def _print_OneMatrix(self, expr):
        return r"\mathbf{1}"

    def _print_Symbol(self, expr, style="plain"):
        if is_adjoint(expr):
            return r"\partial_{%s} L" % self._print_Symbol(sp.Symbol(expr.name[2:]))
        g = GREEK.get(expr.name)
        if g is not None:
            return _LATEX_GREEK[g]
        return super()._print_Symbol(expr, style=style)


def latex(e: sp.Basic) -> str:
    """LaTeX in lecture order (σ, σ′, λ)."""
    return _LatexPrinter().doprint(lecture_order(e))
