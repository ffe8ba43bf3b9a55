"""One record per primitive: every record carries every interpretation required of it, and the
tables other modules use are derived from the records (none is kept beside them)."""

from __future__ import annotations

import ast
import string
from pathlib import Path

import numpy as np
import pytest

import diffkit.engine as dk
from diffkit.engine.core import MUL, NONE, PASS, REGISTRY, ZERO, Absent, Code, Primitive, SymPy

NAMES = sorted(REGISTRY)
USES = {MUL, NONE, PASS, ZERO}
ENGINE = Path(dk.__file__).parent


def _case(p: Primitive):
    rng = np.random.default_rng(0)
    if p.cases is not None:
        return p.cases(rng)[0]
    from diffkit.engine.check import sample
    return sample(p, [(2, 3)] * p.nargs, rng), {}


@pytest.mark.parametrize("name", NAMES)
def test_record_is_complete(name):
    p = REGISTRY[name]
    assert p.name == name and callable(p.impl) and p.nargs >= 1
    assert p.doc, f"{name}: no doc"
    # one VJP and one JVP per differentiable argument; missing ones only for declared mask/label arguments
    for i in range(p.nargs):
        if i in p.nondiff:
            assert p.vjps[i] is None and p.jvps[i] is None
        else:
            assert callable(p.vjps[i]) and callable(p.jvps[i]), f"{name}: argument {i} lacks a rule"
    # the cost under the counting convention
    args, params = _case(p)
    node = dk.Node(p.impl(*args, **params), p, tuple(dk.const(a) for a in args), params)
    for i in range(p.nargs):
        ops, use = (p.cost(node, i) if callable(p.cost) else p.cost[1][i])
        assert isinstance(ops, int) and ops >= 0 and use in USES, f"{name}: bad cost for argument {i}"
    assert callable(p.cost) or (p.cost[0] >= 1 and len(p.cost[1]) == p.nargs)
    # the lecture's local derivative, as text that formats with the argument labels
    for i in range(p.nargs):
        text = p.local(node, i) if callable(p.local) else p.local[i]
        assert isinstance(text, str) and text
        text.format(*[f"a{k}" for k in range(p.nargs)], ans="ans")
    # the SymPy counterpart, or the reason there is none
    assert isinstance(p.sympy, (SymPy, Absent)), f"{name}: sympy must be SymPy(...) or Absent(reason)"
    # code templates for replay, or the reason there are none
    for backend in ("math", "numpy"):
        c = p.code.get(backend)
        assert isinstance(c, (Code, Absent)), f"{name}: code[{backend!r}] must be Code(...) or Absent(reason)"
        if isinstance(c, Code) and c.vjp is not None:
            assert len(c.vjp) == p.nargs
    # the checker can sample it
    assert p.cases is not None or (p.elementwise and len(p.domain) == p.nargs)


@pytest.mark.parametrize("name", [n for n in NAMES if isinstance(REGISTRY[n].sympy, SymPy)])
def test_sympy_counterpart_computes_what_impl_computes(name):
    import sympy as sp
    p = REGISTRY[name]
    if not p.elementwise:
        pytest.skip("matrix counterpart: checked in the symbolic tests")
    from diffkit.engine.check import sample
    args = sample(p, [()] * p.nargs, np.random.default_rng(1))
    syms = sp.symbols(f"a0:{p.nargs}", real=True)
    expr = p.sympy.build(*syms)
    want = float(expr.subs(dict(zip(syms, [float(a) for a in args]))).evalf(30))
    assert abs(float(p.impl(*args)) - want) <= 1e-12 * max(1.0, abs(want))


def _template_placeholders(t: str) -> set:
    return {f for _, f, _, _ in string.Formatter().parse(t) if f is not None}


@pytest.mark.parametrize("name", NAMES)
def test_code_templates_compute_what_impl_and_rules_compute(name):
    """The math/numpy templates are checked against the implementation and the VJP rules."""
    p = REGISTRY[name]
    args, params = _case(p)
    if params or p.cases is not None:
        pytest.skip("array primitive: replay calls impl and the rules (tests/engine/test_backends.py)")
    from diffkit.engine.check import sample
    scalars = sample(p, [()] * p.nargs, np.random.default_rng(2))
    ans = p.impl(*scalars)
    from diffkit.engine.compile.replay import template_namespace  # the names replay binds
    ns = {**template_namespace("numpy"), **template_namespace("math")}
    node = dk.Node(ans, p, tuple(dk.const(a) for a in scalars), {})
    names = [f"a{k}" for k in range(p.nargs)]
    env = {**ns, **dict(zip(names, [float(a) if np.result_type(a).kind == "f" else bool(a) for a in scalars])),
           "ans": float(ans), "g": 0.7}
    for backend in ("math", "numpy"):
        c = p.code.get(backend)
        if not isinstance(c, Code):
            continue
        fwd = c.fwd(node) if callable(c.fwd) else c.fwd
        assert abs(float(eval(fwd.format(*names), env)) - float(ans)) <= 1e-12 * max(1, abs(float(ans))), backend
        for i, entry in enumerate(c.vjp or ()):
            entry = entry(node) if callable(entry) else entry
            if entry is None or i in p.nondiff:
                continue
            use, text = entry
            want = p.vjps[i](0.7, ans, *scalars)
            want = 0.0 if want is dk.zero else float(getattr(want, "value", want))
            if use == ZERO:
                got = 0.0
            elif use == PASS:
                got = 0.7
            else:
                got = float(eval(text.format(*names, ans="ans", g="g"), env))
                got = got * 0.7 if use == MUL else got
            assert abs(got - want) <= 1e-12 * max(1, abs(want)), f"{backend} VJP template of argument {i}"


def test_no_primitive_table_outside_the_records():
    """No module of the engine keeps a dict keyed by primitive names (the old six tables)."""
    import math
    names = {n for n in REGISTRY if not hasattr(math, n)}  # exp, log, … also name math functions
    offenders = []
    for path in ENGINE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        exports = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Assign)
                   and any(isinstance(t, ast.Name) and t.id == "__all__" for t in n.targets)}
        for node in ast.walk(tree):
            if id(node) in exports:
                continue
            if isinstance(node, ast.Dict):
                keys = [k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)]
                hits = [k for k in keys if k in names]
                if len(hits) >= 3:
                    offenders.append(f"{path.relative_to(ENGINE)}:{node.lineno}: {hits[:5]}")
            if isinstance(node, (ast.Set, ast.Tuple, ast.List)):
                elts = [e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
                hits = [k for k in elts if k in names]
                if len(hits) >= 4:
                    offenders.append(f"{path.relative_to(ENGINE)}:{node.lineno}: {hits[:5]}")
            if isinstance(node, ast.Compare) and "rules" not in path.parts:  # if name == "pow": ...
                for c in [node.left, *node.comparators]:
                    if isinstance(c, ast.Constant) and c.value in names:
                        offenders.append(f"{path.relative_to(ENGINE)}:{node.lineno}: compares with {c.value!r}")
    assert not offenders, "tables keyed by primitive name outside the records:\n" + "\n".join(offenders)


def test_core_can_be_read_in_one_sitting():
    lines = sum(len((ENGINE / f).read_text(encoding="utf-8").splitlines()) for f in ("core.py", "sweep.py"))
    assert lines <= 600, f"core.py + sweep.py have {lines} lines"
