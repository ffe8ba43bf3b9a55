"""More elementwise primitives — NumPy's ufuncs as autograd has them — one record each.

Trigonometric, hyperbolic and their inverses, ``log1p``/``expm1``, ``log2``/``log10``/``exp2``,
``reciprocal``, ``cbrt``, ``sinc``, degree conversions, the rounding functions (derivative 0),
``nan_to_num``, and the binary ``logaddexp``, ``logaddexp2``, ``arctan2``, ``hypot``, ``mod``,
``fmod``, ``fmax``, ``fmin`` and the ternary ``clip``.

Kinks follow the one tie rule of ``maximum``: at a tie each side gets half (``fmax``, ``fmin``,
``clip``, which is ``minimum(maximum(x, lo), hi)`` as one record) — the average of the two
one-sided derivatives, which is also what a central difference sees there.

Python-float templates (``code["math"]``) exist where replay's ``math`` namespace has the
function; elsewhere the record says which name is missing there.

>>> import numpy as np
>>> float(sinc(np.float64(0.0))), float(clip(np.float64(3.0), 0.0, 1.0))
(1.0, 1.0)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import sympy as sp

from ..core import MUL, NONE, PASS, ZERO, Absent, Code, Node, SymPy, bind, defprim, raw, zero
from .elementwise import _cached, _tie, add, cos, div, exp, mul, neg, sin, sqrt, sub, where

_LN2, _LN10 = math.log(2.0), math.log(10.0)
_DEG, _RAD = math.pi / 180.0, 180.0 / math.pi


def _leaf(x):
    while isinstance(x, Node):
        x = x.value
    return x


def _no_math(fn: str) -> Absent:
    return Absent(f"replay's Python-float namespace has no {fn}")


def _unary(name: str, impl, d, *, cost: int, local: str, sympy: Any, numpy: str, dnumpy: str,
           math: str | None = None, dmath: str | None = None, no_math: str = "", domain: str = "real",
           doc: str = ""):
    """A unary primitive whose VJP is g·d(x, ans) and JVP t·d(x, ans); returns (primitive, op).

    ``cost`` counts d's operations plus the multiplication by g (the opcount convention)."""
    code = {"numpy": Code(numpy, ((MUL, dnumpy),)),
            "math": Code(math, ((MUL, dmath),)) if math else _no_math(no_math or name)}
    p = defprim(name, _cached(impl) if isinstance(impl, np.ufunc) else impl, elementwise=True,
                vjp=(lambda g, ans, x: mul(g, d(x, ans)),), jvp=(lambda t, ans, x: mul(t, d(x, ans)),),
                cost=(1, ((cost, MUL),)), local=(local,), sympy=sympy, code=code,
                doc=doc or f"NumPy's {name}; derivative {local.format('x', ans=name + '(x)')}", domain=(domain,))
    return p, (lambda x: bind(p, x))


def _one_minus_sq(x):
    return sub(1.0, mul(x, x))


# -- trigonometric and hyperbolic ------------------------------------------------------------------
tan_p, tan = _unary("tan", np.tan, lambda x, ans: add(1.0, mul(ans, ans)), cost=3, local="1+{ans}^2",
                    sympy=SymPy(sp.tan, sp.tan), numpy="np.tan({0})", dnumpy="1.0 + {ans} * {ans}",
                    domain="unit", doc="tan x; tan′ = 1 + tan²")
arcsin_p, arcsin = _unary("arcsin", np.arcsin, lambda x, ans: div(1.0, sqrt(_one_minus_sq(x))), cost=5,
                          local="1/sqrt(1-{0}^2)", sympy=SymPy(sp.asin, sp.asin), numpy="np.arcsin({0})",
                          dnumpy="1.0 / np.sqrt(1.0 - {0} * {0})", no_math="asin", domain="unit")
arccos_p, arccos = _unary("arccos", np.arccos, lambda x, ans: div(-1.0, sqrt(_one_minus_sq(x))), cost=5,
                          local="-1/sqrt(1-{0}^2)", sympy=SymPy(sp.acos, sp.acos), numpy="np.arccos({0})",
                          dnumpy="-1.0 / np.sqrt(1.0 - {0} * {0})", no_math="acos", domain="unit")
arctan_p, arctan = _unary("arctan", np.arctan, lambda x, ans: div(1.0, add(1.0, mul(x, x))), cost=4,
                          local="1/(1+{0}^2)", sympy=SymPy(sp.atan, sp.atan), numpy="np.arctan({0})",
                          dnumpy="1.0 / (1.0 + {0} * {0})", no_math="atan")
sinh_p, sinh = _unary("sinh", np.sinh, lambda x, ans: cosh(x), cost=2, local="cosh({0})",
                      sympy=SymPy(sp.sinh, sp.sinh), numpy="np.sinh({0})", dnumpy="np.cosh({0})")
cosh_p, cosh = _unary("cosh", np.cosh, lambda x, ans: sinh(x), cost=2, local="sinh({0})",
                      sympy=SymPy(sp.cosh, sp.cosh), numpy="np.cosh({0})", dnumpy="np.sinh({0})")
arcsinh_p, arcsinh = _unary("arcsinh", np.arcsinh, lambda x, ans: div(1.0, sqrt(add(mul(x, x), 1.0))), cost=5,
                            local="1/sqrt({0}^2+1)", sympy=SymPy(sp.asinh, sp.asinh), numpy="np.arcsinh({0})",
                            dnumpy="1.0 / np.sqrt({0} * {0} + 1.0)", no_math="asinh")
# (x − 1)(x + 1) rather than x² − 1: no cancellation next to x = 1
arccosh_p, arccosh = _unary("arccosh", np.arccosh, lambda x, ans: div(1.0, sqrt(mul(sub(x, 1.0), add(x, 1.0)))),
                            cost=6, local="1/sqrt({0}^2-1)", sympy=SymPy(sp.acosh, sp.acosh),
                            numpy="np.arccosh({0})", dnumpy="1.0 / np.sqrt(({0} - 1.0) * ({0} + 1.0))",
                            no_math="acosh", domain="above_one", doc="arcosh x for x ≥ 1")
arctanh_p, arctanh = _unary("arctanh", np.arctanh, lambda x, ans: div(1.0, _one_minus_sq(x)), cost=4,
                            local="1/(1-{0}^2)", sympy=SymPy(sp.atanh, sp.atanh), numpy="np.arctanh({0})",
                            dnumpy="1.0 / (1.0 - {0} * {0})", no_math="atanh", domain="unit")

# -- logarithms and exponentials -------------------------------------------------------------------
log1p_p, log1p = _unary("log1p", np.log1p, lambda x, ans: div(1.0, add(1.0, x)), cost=3, local="1/(1+{0})",
                        sympy=SymPy(lambda x: sp.log(1 + x)), numpy="np.log1p({0})", dnumpy="1.0 / (1.0 + {0})",
                        math="log1p({0})", dmath="1.0 / (1.0 + {0})", domain="unit",
                        doc="log(1 + x), accurate for small x")
expm1_p, expm1 = _unary("expm1", np.expm1, lambda x, ans: add(ans, 1.0), cost=2, local="{ans}+1",
                        sympy=SymPy(lambda x: sp.exp(x) - 1), numpy="np.expm1({0})", dnumpy="{ans} + 1.0",
                        doc="eˣ − 1, accurate for small x")
log2_p, log2 = _unary("log2", np.log2, lambda x, ans: div(1.0 / _LN2, x), cost=2, local="1/({0}*log(2))",
                      sympy=SymPy(lambda x: sp.log(x, 2)), numpy="np.log2({0})", dnumpy=f"{1.0 / _LN2!r} / {{0}}",
                      domain="positive")
log10_p, log10 = _unary("log10", np.log10, lambda x, ans: div(1.0 / _LN10, x), cost=2, local="1/({0}*log(10))",
                        sympy=SymPy(lambda x: sp.log(x, 10)), numpy="np.log10({0})",
                        dnumpy=f"{1.0 / _LN10!r} / {{0}}", domain="positive")
exp2_p, exp2 = _unary("exp2", np.exp2, lambda x, ans: mul(ans, _LN2), cost=2, local="{ans}*log(2)",
                      sympy=SymPy(lambda x: 2 ** x), numpy="np.exp2({0})", dnumpy=f"{{ans}} * {_LN2!r}")
reciprocal_p, reciprocal = _unary("reciprocal", np.reciprocal, lambda x, ans: neg(mul(ans, ans)), cost=3,
                                  local="-{ans}^2", sympy=SymPy(lambda x: 1 / x), numpy="np.reciprocal({0})",
                                  dnumpy="-({ans} * {ans})", math="1.0 / {0}", dmath="-({ans} * {ans})")
cbrt_p, cbrt = _unary("cbrt", np.cbrt, lambda x, ans: div(1.0 / 3.0, mul(ans, ans)), cost=3,
                      local="1/(3*{ans}^2)", sympy=SymPy(lambda x: sp.sign(x) * sp.Abs(x) ** sp.Rational(1, 3)),
                      numpy="np.cbrt({0})", dnumpy="1.0 / (3.0 * {ans} * {ans})", doc="real cube root")
deg2rad_p, deg2rad = _unary("deg2rad", np.deg2rad, lambda x, ans: _DEG, cost=1, local="pi/180",
                            sympy=SymPy(lambda x: x * sp.pi / 180), numpy="np.deg2rad({0})", dnumpy=repr(_DEG),
                            math=f"{{0}} * {_DEG!r}", dmath=repr(_DEG))
rad2deg_p, rad2deg = _unary("rad2deg", np.rad2deg, lambda x, ans: _RAD, cost=1, local="180/pi",
                            sympy=SymPy(lambda x: x * 180 / sp.pi), numpy="np.rad2deg({0})", dnumpy=repr(_RAD),
                            math=f"{{0}} * {_RAD!r}", dmath=repr(_RAD))


# sinc x = sin(πx)/(πx).  sinc′ = (cos πx − sinc x)/x cancels next to 0, so for |x| < 1e-2 its
# Taylor polynomial is used: error below 1e-20 there, and the derivatives of the polynomial at 0
# are sinc's own up to the 9th order (so nested gradients at x = 0 stay exact).
_SINC_SMALL = 1e-2
_SINC_TAYLOR = [(-1) ** k * math.pi ** (2 * k) * 2 * k / math.factorial(2 * k + 1) for k in range(1, 6)]


def _dsinc(x, ans):
    xv = _leaf(x)
    small = np.abs(xv) < _SINC_SMALL
    if not np.any(small):
        return div(sub(cos(mul(math.pi, x)), ans), x)
    x2 = mul(x, x)
    poly = 0.0
    for c in reversed(_SINC_TAYLOR):  # Horner in x², times x: an odd polynomial
        poly = add(mul(poly, x2), c)
    poly = mul(poly, x)
    if np.all(small):
        return poly
    safe = where(small, 1.0, x)
    return where(small, poly, div(sub(cos(mul(math.pi, safe)), ans), safe))


sinc_p, sinc = _unary("sinc", np.sinc, _dsinc, cost=5, local="(cos(pi*{0})-{ans})/{0}",
                      sympy=SymPy(lambda x: sp.sinc(sp.pi * x)), numpy="np.sinc({0})",
                      dnumpy="np.where({0} == 0, 0.0, (np.cos(np.pi * {0}) - {ans}) / np.where({0} == 0, 1.0, {0}))",
                      doc="the normalised sinc sin(πx)/(πx) (NumPy's), 1 at 0")


# -- rounding: derivative 0 (almost everywhere) -------------------------------------------------
def _flat(name: str, impl, sympy: Any, numpy: str, doc: str):
    p = defprim(name, impl, elementwise=True, vjp=(lambda g, ans, x, **kw: zero,),
                jvp=(lambda t, ans, x, **kw: zero,), cost=(1, ((0, ZERO),)), local=("0",), sympy=sympy,
                code={"numpy": Code(numpy, ((ZERO, None),)), "math": _no_math(name)}, doc=doc)
    return p, (lambda x: bind(p, x))

# (SymPy has floor and ceiling, but leaves their derivatives unevaluated, so they are no counterparts
# whose derivative the records can be checked against)
_NO_SYMPY_DIFF = "SymPy leaves the derivative of {} unevaluated (it is 0 almost everywhere)"
floor_p, floor = _flat("floor", np.floor, Absent(_NO_SYMPY_DIFF.format("floor")), "np.floor({0})",
                       "⌊x⌋; derivative 0")
ceil_p, ceil = _flat("ceil", np.ceil, Absent(_NO_SYMPY_DIFF.format("ceiling")), "np.ceil({0})", "⌈x⌉; derivative 0")
trunc_p, trunc = _flat("trunc", np.trunc, Absent(_NO_SYMPY_DIFF.format("floor")), "np.trunc({0})",
                       "x rounded toward 0; derivative 0")
rint_p, rint = _flat("rint", np.rint, Absent("SymPy has no round-half-to-even function"), "np.rint({0})",
                     "x rounded to the nearest integer (half to even); derivative 0")

round_p = defprim(
    "round", lambda x, decimals=0: np.round(x, decimals), elementwise=True,
    vjp=(lambda g, ans, x, decimals=0: zero,), jvp=(lambda t, ans, x, decimals=0: zero,),
    cost=(1, ((0, ZERO),)), local=("0",), sympy=Absent("SymPy has no round-half-to-even function"),
    code={"numpy": Code("np.round({0})", ((ZERO, None),)), "math": _no_math("round")},
    doc="x rounded to ``decimals`` digits (half to even); derivative 0")


def round(x: Any, decimals: int = 0) -> Any:  # noqa: A001 - NumPy's name
    """NumPy's ``round``/``around`` (half to even); its derivative is 0."""
    from .array import as_int
    return bind(round_p, x, decimals=as_int(decimals, "decimals", "round"))


def _nan_to_num_impl(x, nan=0.0, posinf=None, neginf=None):
    return np.nan_to_num(x, nan=nan, posinf=posinf, neginf=neginf)


def _finite_part(g, x):
    return where(np.isfinite(_leaf(x)), g, 0.0)


nan_to_num_p = defprim(
    "nan_to_num", _nan_to_num_impl, elementwise=True,
    vjp=(lambda g, ans, x, **kw: _finite_part(g, x),), jvp=(lambda t, ans, x, **kw: _finite_part(t, x),),
    cost=(1, ((1, NONE),)), local=("[{0} finite]",), sympy=Absent("SymPy has no nan/inf replacement"),
    code={"numpy": Code("np.nan_to_num({0})", ((NONE, "np.where(np.isfinite({0}), {g}, 0.0)"),)),
          "math": _no_math("isfinite")},
    doc="NaN → nan, ±inf → posinf/neginf (default: 0 and the largest floats); derivative 1 where finite")


def nan_to_num(x: Any, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None) -> Any:
    """NumPy's ``nan_to_num``; the gradient flows where ``x`` is finite, 0 elsewhere."""
    return bind(nan_to_num_p, x, nan=nan, posinf=posinf, neginf=neginf)


# -- binary functions ------------------------------------------------------------------------------
def _binary(name: str, impl, da, db, *, cost: tuple, local: tuple, sympy: Any, numpy: str, dnumpy: tuple,
            domain: tuple = ("real", "real"), doc: str = ""):
    """A binary primitive with VJPs g·da(a, b, ans), g·db(a, b, ans); returns (primitive, op)."""
    p = defprim(name, _cached(impl) if isinstance(impl, np.ufunc) else impl, elementwise=True,
                vjp=(lambda g, ans, a, b: mul(g, da(a, b, ans)), lambda g, ans, a, b: mul(g, db(a, b, ans))),
                jvp=(lambda t, ans, a, b: mul(t, da(a, b, ans)), lambda t, ans, a, b: mul(t, db(a, b, ans))),
                cost=(1, ((cost[0], MUL), (cost[1], MUL))), local=local, sympy=sympy,
                code={"numpy": Code(numpy, ((MUL, dnumpy[0]), (MUL, dnumpy[1]))), "math": _no_math(name)},
                domain=domain, doc=doc)
    return p, (lambda a, b: bind(p, a, b))


def _sq_sum(a, b):
    return add(mul(a, a), mul(b, b))


logaddexp_p, logaddexp = _binary(
    "logaddexp", np.logaddexp, lambda a, b, ans: exp(sub(a, ans)), lambda a, b, ans: exp(sub(b, ans)),
    cost=(3, 3), local=("exp({0}-{ans})", "exp({1}-{ans})"),
    sympy=SymPy(lambda a, b: sp.log(sp.exp(a) + sp.exp(b))), numpy="np.logaddexp({0}, {1})",
    dnumpy=("np.exp({0} - {ans})", "np.exp({1} - {ans})"), doc="log(eᵃ + eᵇ), stable")
logaddexp2_p, logaddexp2 = _binary(
    "logaddexp2", np.logaddexp2, lambda a, b, ans: exp2(sub(a, ans)), lambda a, b, ans: exp2(sub(b, ans)),
    cost=(3, 3), local=("2^({0}-{ans})", "2^({1}-{ans})"),
    sympy=SymPy(lambda a, b: sp.log(2 ** a + 2 ** b, 2)), numpy="np.logaddexp2({0}, {1})",
    dnumpy=("np.exp2({0} - {ans})", "np.exp2({1} - {ans})"), doc="log₂(2ᵃ + 2ᵇ), stable")
arctan2_p, arctan2 = _binary(
    "arctan2", np.arctan2, lambda y, x, ans: div(x, _sq_sum(x, y)), lambda y, x, ans: div(neg(y), _sq_sum(x, y)),
    cost=(5, 6), local=("{1}/({0}^2+{1}^2)", "-{0}/({0}^2+{1}^2)"), sympy=SymPy(sp.atan2),
    numpy="np.arctan2({0}, {1})", dnumpy=("{1} / ({0} * {0} + {1} * {1})", "-{0} / ({0} * {0} + {1} * {1})"),
    doc="the angle of the point (x, y) = (argument 1, argument 0)")
hypot_p, hypot = _binary(
    "hypot", np.hypot, lambda a, b, ans: div(a, ans), lambda a, b, ans: div(b, ans), cost=(2, 2),
    local=("{0}/{ans}", "{1}/{ans}"), sympy=SymPy(lambda a, b: sp.sqrt(a ** 2 + b ** 2)),
    numpy="np.hypot({0}, {1})", dnumpy=("{0} / {ans}", "{1} / {ans}"), doc="sqrt(a² + b²) without overflow")


def _quotient(a, b, ans):
    """The integer q with ans = a − q·b (computed from the forward result, so it agrees with it)."""
    return np.rint((_leaf(a) - _leaf(ans)) / _leaf(b))


def _mod_cases(rng):
    # away from the jumps of a mod b (where a/b is an integer)
    a = np.array([[0.7, -1.3, 2.45], [3.1, -0.2, 5.6]])
    b = np.array([1.1, 0.9, -1.7])
    return [((a, b), {}), ((np.float64(2.3), np.float64(0.8)), {}), ((a, np.float64(1.9)), {})]


mod_p = defprim(
    "mod", _cached(np.mod), elementwise=True,
    vjp=(lambda g, ans, a, b: g, lambda g, ans, a, b: neg(mul(g, _quotient(a, b, ans)))),
    jvp=(lambda t, ans, a, b: t, lambda t, ans, a, b: neg(mul(t, _quotient(a, b, ans)))),
    cost=(1, ((0, PASS), (2, MUL))), local=("1", "-floor({0}/{1})"), sympy=SymPy(sp.Mod, sp.Mod),
    code={"numpy": Code("np.mod({0}, {1})", ((PASS, None), (MUL, "-np.rint(({0} - {ans}) / {1})"))),
          "math": _no_math("a float modulo with NumPy's rounding")},
    domain=("real", "positive"), cases=_mod_cases,
    doc="a mod b with the sign of b (NumPy's mod/remainder); ∂/∂b = −⌊a/b⌋")

fmod_p = defprim(
    "fmod", _cached(np.fmod), elementwise=True,
    vjp=(lambda g, ans, a, b: g, lambda g, ans, a, b: neg(mul(g, _quotient(a, b, ans)))),
    jvp=(lambda t, ans, a, b: t, lambda t, ans, a, b: neg(mul(t, _quotient(a, b, ans)))),
    cost=(1, ((0, PASS), (2, MUL))), local=("1", "-trunc({0}/{1})"),
    sympy=SymPy(lambda a, b: a - b * sp.sign(a / b) * sp.floor(sp.Abs(a / b))),
    code={"numpy": Code("np.fmod({0}, {1})", ((PASS, None), (MUL, "-np.rint(({0} - {ans}) / {1})"))),
          "math": _no_math("fmod")},
    domain=("real", "positive"), cases=_mod_cases,
    doc="the C remainder (sign of a); ∂/∂b = −trunc(a/b)")


def mod(a: Any, b: Any) -> Any:
    """a mod b with the sign of b (NumPy's ``mod`` = ``remainder``)."""
    return bind(mod_p, a, b)


def fmod(a: Any, b: Any) -> Any:
    """The C remainder, with the sign of a (NumPy's ``fmod``)."""
    return bind(fmod_p, a, b)


def _ftie(a, b):
    """maximum's tie weight for fmax(a, b), where a NaN loses: 1 if a wins, ½ at a tie, 0 else."""
    av, bv = raw(a), raw(b)
    w = _tie(av, bv)
    return np.where(np.isnan(av), 0.0, np.where(np.isnan(bv), 1.0, w)).astype(w.dtype, copy=False)


def _ftie_min(a, b):
    return _ftie(-_leaf(a), -_leaf(b))


fmax_p = defprim(
    "fmax", np.fmax, elementwise=True,
    vjp=(lambda g, ans, a, b: mul(g, _ftie(a, b)), lambda g, ans, a, b: mul(g, _ftie(b, a))),
    jvp=(lambda t, ans, a, b: mul(t, _ftie(a, b)), lambda t, ans, a, b: mul(t, _ftie(b, a))),
    cost=(1, ((5, MUL), (5, MUL))), local=("[{0} > {1}] + ½[{0} = {1}]", "[{1} > {0}] + ½[{0} = {1}]"),
    sympy=SymPy(sp.Max), code={"numpy": Code("np.fmax({0}, {1})", ((MUL, "_tie({0}, {1})"), (MUL, "_tie({1}, {0})"))),
                               "math": _no_math("fmax")},
    doc="max(a, b) ignoring NaN; at a tie each side gets half the gradient")

fmin_p = defprim(
    "fmin", np.fmin, elementwise=True,
    vjp=(lambda g, ans, a, b: mul(g, _ftie_min(a, b)), lambda g, ans, a, b: mul(g, _ftie_min(b, a))),
    jvp=(lambda t, ans, a, b: mul(t, _ftie_min(a, b)), lambda t, ans, a, b: mul(t, _ftie_min(b, a))),
    cost=(1, ((5, MUL), (5, MUL))), local=("[{0} < {1}] + ½[{0} = {1}]", "[{1} < {0}] + ½[{0} = {1}]"),
    sympy=SymPy(sp.Min), code={"numpy": Code("np.fmin({0}, {1})", ((MUL, "_tie({1}, {0})"), (MUL, "_tie({0}, {1})"))),
                               "math": _no_math("fmin")},
    doc="min(a, b) ignoring NaN; at a tie each side gets half the gradient")


def fmax(a: Any, b: Any) -> Any:
    return bind(fmax_p, a, b)


def fmin(a: Any, b: Any) -> Any:
    return bind(fmin_p, a, b)


# -- clip ------------------------------------------------------------------------------------------
# clip(x, lo, hi) = minimum(maximum(x, lo), hi), so lo > hi gives hi (as NumPy), with maximum's
# tie rule at both kinks: m = max(x, lo); ∂/∂x = tie(x, lo)·tie(hi, m), ∂/∂lo = tie(lo, x)·tie(hi, m),
# ∂/∂hi = tie(m, hi).
def _clip_weights(x, lo, hi):
    x, lo, hi = _leaf(x), _leaf(lo), _leaf(hi)
    m = np.maximum(x, lo)
    below = _tie(hi, m)
    return _tie(x, lo) * below, _tie(lo, x) * below, _tie(m, hi)


def _clip_rule(i):
    return lambda g, ans, x, lo, hi: mul(g, _clip_weights(x, lo, hi)[i])


clip_p = defprim(
    "clip", lambda x, lo, hi: np.minimum(np.maximum(x, lo), hi), elementwise=True,
    vjp=(_clip_rule(0), _clip_rule(1), _clip_rule(2)), jvp=(_clip_rule(0), _clip_rule(1), _clip_rule(2)),
    cost=(1, ((9, MUL), (9, MUL), (6, MUL))),
    local=("[{1} < {0} < {2}]", "[{0} < {1} < {2}]", "[max({0}, {1}) > {2}]"),
    sympy=SymPy(lambda x, lo, hi: sp.Min(sp.Max(x, lo), hi)),
    code={"numpy": Code("np.minimum(np.maximum({0}, {1}), {2})",
                        ((MUL, "_tie({0}, {1}) * _tie({2}, np.maximum({0}, {1}))"),
                         (MUL, "_tie({1}, {0}) * _tie({2}, np.maximum({0}, {1}))"),
                         (MUL, "_tie(np.maximum({0}, {1}), {2})"))),
          "math": _no_math("clip's tie weights")},
    domain=("real", "real", "real"),
    doc="minimum(maximum(x, lo), hi); at a bound the gradient is split evenly, as in maximum")


def clip(x: Any, a_min: Any = None, a_max: Any = None) -> Any:
    """NumPy's ``clip``: x limited to [a_min, a_max] (either bound may be None, not both)."""
    from ...errors import BadInput
    from .elementwise import maximum, minimum
    if a_min is None and a_max is None:
        raise BadInput("clip needs a_min or a_max (or both); both are None")
    if a_min is None:
        return minimum(x, a_max)
    if a_max is None:
        return maximum(x, a_min)
    return bind(clip_p, x, a_min, a_max)


# -- casts -----------------------------------------------------------------------------------------
def _astype_impl(x, dtype):
    return np.asarray(x).astype(dtype)[()]


astype_p = defprim(
    "astype", _astype_impl, elementwise=True,
    vjp=(lambda g, ans, x, dtype: astype(g, np.result_type(_leaf(x)).name),),
    jvp=(lambda t, ans, x, dtype: astype(t, dtype),),
    cost=(1, ((1, NONE),)), local=("1 (cast back)",), sympy=Absent("a change of floating-point precision"),
    code={"numpy": Absent("replay calls impl and the VJP rule (the dtype is a parameter)"),
          "math": _no_math("astype")},
    # (the checker works in float64, so its points cast to float64; test_numpy_ops checks float32)
    cases=lambda rng: [((rng.normal(size=(3, 2)),), {"dtype": "float64"}), ((np.float64(0.3),), {"dtype": "float64"})],
    doc="a float32 ↔ float64 cast; the cotangent is cast back")


def astype(x: Any, dtype: Any) -> Any:
    """``x.astype(dtype)``: float dtypes stay differentiable (the gradient is cast back); integer
    and boolean casts are not differentiable and give plain arrays of the values."""
    from ...errors import BadInput
    from .indexing import as_array_arg
    try:
        dt = None if isinstance(dtype, Node) else np.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None:
        raise BadInput(f"astype: {dtype!r:.60} is not a dtype (e.g. np.float32, 'float64')")
    if isinstance(x, (list, tuple)):  # nested lists: the array NumPy would make (stacked if traced)
        x = as_array_arg(x)
        x = np.asarray(x) if isinstance(x, (list, tuple)) else x
    if dt.kind in "iub":
        return np.asarray(_leaf(x)).astype(dt)
    if dt not in (np.float32, np.float64):
        raise BadInput(f"astype: diffkit differentiates float32 and float64 values, not {dt}")
    if np.result_type(_leaf(x)) == dt:
        return x
    return bind(astype_p, x, dtype=dt.name)


__all__ = ["tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "arcsinh", "arccosh", "arctanh", "log1p", "expm1",
           "log2", "log10", "exp2", "reciprocal", "cbrt", "deg2rad", "rad2deg", "sinc", "floor", "ceil", "trunc",
           "rint", "round", "nan_to_num", "logaddexp", "logaddexp2", "arctan2", "hypot", "mod", "fmod", "fmax",
           "fmin", "clip", "astype"]
