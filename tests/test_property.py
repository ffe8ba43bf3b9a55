"""Property test: random expressions from the allowed grammar, symbolic vs reverse mode.

Hypothesis draws expression trees of depth ≤ 6 over w, b, x and small constants, using every
allowed function.  Singularities are kept away by construction — log, sqrt and division only see
1 + (·)², powers are small integers, and exp sees a tanh-bounded argument — and the tree is parsed
from its text, so the parser is exercised too.  At a random point, SymPy's gradient (lambdified)
and the engine's gradient agree within 1e-9 relative (scale max(1, |g|)).
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from diffkit import model_from_expr, parse, to_numpy
from diffkit.engine import from_model
from diffkit.symbolic.derive import gradient

UNARY_SAFE = ["sigmoid", "tanh", "sin", "cos", "softplus", "relu", "abs", "step", "sign"]


def expressions(depth: int) -> st.SearchStrategy[str]:
    leaf = st.one_of(st.sampled_from(["w", "b", "x"]),
                     st.floats(0.25, 3.0).map(lambda v: f"{v:.3f}"))
    if depth == 0:
        return leaf
    sub = expressions(depth - 1)
    return st.one_of(
        leaf,
        st.tuples(st.sampled_from(UNARY_SAFE), sub).map(lambda t: f"{t[0]}({t[1]})"),
        sub.map(lambda e: f"exp(tanh({e}))"),
        sub.map(lambda e: f"log(1 + ({e})**2)"),
        sub.map(lambda e: f"sqrt(1 + ({e})**2)"),
        st.tuples(sub, st.sampled_from(["+", "-", "*"]), sub).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(sub, sub).map(lambda t: f"({t[0]}) / (1 + ({t[1]})**2)"),
        st.tuples(sub, st.sampled_from([2, 3])).map(lambda t: f"({t[0]})**{t[1]}"),
        st.tuples(st.sampled_from(["max", "min"]), sub, sub).map(lambda t: f"{t[0]}({t[1]}, {t[2]})"),
        sub.map(lambda e: f"-({e})"),
    )


coords = st.floats(-2.0, 2.0, allow_nan=False)


@settings(max_examples=1000, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
@given(text=expressions(6), w=coords, b=coords, x=coords)
def test_symbolic_and_reverse_agree_on_random_expressions(text, w, b, x):
    free = {s.name for s in parse(text).free_symbols}
    names = [n for n in ("w", "b") if n in free]
    assume(names)
    model = model_from_expr(text, names, at={k: v for k, v in {"w": w, "b": b, "x": x}.items() if k in free})
    point = model.point()
    # away from kinks: every kinked function's argument stays clear of 0 (and max/min of ties)
    assume(_clear_of_kinks(model, point))
    sym = to_numpy(list(gradient(model).values()), model.symbols)(*point.values())
    with np.errstate(all="ignore"):
        rev = from_model(model, point).gradient(point)
    for name, s in zip(model.wrt, sym):
        s, r = float(s), float(np.asarray(rev[name]))
        assume(math.isfinite(s) and abs(s) < 1e8)
        assert abs(r - s) <= 1e-9 * max(1.0, abs(s)), (text, point, name, s, r)


def _clear_of_kinks(model, point) -> bool:
    import sympy as sp

    from diffkit.analysis.prepare import KINKED, kink_argument as _kink_arg

    for e in sp.preorder_traversal(model.loss):
        if isinstance(e, KINKED):
            v = to_numpy(_kink_arg(e), model.symbols)(*point.values())
            if not abs(float(v)) > 1e-6:
                return False
    return True
