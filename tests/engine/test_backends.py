"""Every backend equals the reference interpreters on every registered primitive.

For each primitive of ``dk.REGISTRY`` (picked up automatically, so primitives added later are
covered too) at the points its record gives (``cases(rng)``, or arguments sampled from its
``domain`` in several broadcasting patterns), the function ``reduce(prim(*args))`` is recorded
once and then

* replayed by every backend of ``compile_gradient`` that applies (``math`` on Python floats,
  ``fused`` NumPy with its buffer pool, generic ``numpy``) at the recorded point, at new values
  and at other batch sizes, against ``sweep.backward_pass`` on a fresh trace at the same point
  (and ``sweep.evaluate`` for the value);
* swept by ``fast.backward`` (buffer reuse, residuals, in-place updates), against
  ``sweep.backward_pass`` — to 1e-14 relative, and without touching any forward value.

The reductions hand the primitive a full cotangent (⟨y, U⟩; in ``fast`` a scaled one), a scalar one
(mean) and, for 2-D outputs, one from a following matrix product, scaled (⟨yU, M⟩) and plain
(sum(yUV): a fresh array the rule may overwrite, the case of ``fast``'s in-place updates).
"""

from __future__ import annotations

import numpy as np
import pytest

import diffkit.engine as dk
from diffkit.engine.check import sample  # where the rule checker samples each domain
from diffkit.engine.compile import codegen
from diffkit.engine.compile.replay import BACKENDS, _why_not
from diffkit.engine.fast import backward as fast_backward
from diffkit.engine.sweep import backward_pass, evaluate, materialize

NAMES = list(dk.REGISTRY)

#: Broadcasting patterns for elementwise primitives, by number of arguments; ``n`` is the batch size.
PATTERNS = {
    1: [lambda n: [()], lambda n: [(n,)], lambda n: [(n, 4)]],
    2: [lambda n: [(), ()], lambda n: [(n, 4), (n, 4)], lambda n: [(n, 4), (4,)], lambda n: [(n, 1), (1, 4)],
        lambda n: [(), (n, 4)], lambda n: [(n,), ()]],
    3: [lambda n: [(), (), ()], lambda n: [(n, 4), (n, 4), (n, 4)], lambda n: [(4,), (n, 4), ()],
        lambda n: [(n, 1), (1, 4), (n, 4)]],
}


# -- points ------------------------------------------------------------------------------------
def _is_float(a) -> bool:
    return np.result_type(a).kind == "f"


def _same(a, b) -> bool:
    """Equality of parameters that may hold arrays (an index, a boolean mask)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype == b.dtype \
            and np.array_equal(a, b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def _groups(prim) -> list[tuple[frozenset, list[tuple[tuple, dict]]]]:
    """Points sharing one recorded graph, with the argnums that are constants of it: the graph
    recorded at the first point is replayed at all of them (same parameters and constants; float
    arguments of other values and, where possible, other batch sizes).  Non-float arguments (masks,
    integer labels) are always constants."""
    def consts(args, extra=()):
        return frozenset(i for i, a in enumerate(args) if not _is_float(a)) | frozenset(extra)

    def keep(args, new, const):  # the other point's floats, this point's constants
        return tuple(a if i in const else b for i, (a, b) in enumerate(zip(args, new)))

    groups = []
    if prim.cases is not None:
        first, second = prim.cases(np.random.default_rng(0)), prim.cases(np.random.default_rng(1))
        for (args, params), (args2, params2) in zip(first, second):
            const, group = consts(args), [(args, params)]
            if _same(params2, params) and [np.shape(a) for a in args2] == [np.shape(a) for a in args]:
                group.append((keep(args, args2, const), params))
            for a3, p3 in first:  # another batch size: same parameters, ranks and constants
                if _same(p3, params) and len(a3) == len(args) and \
                        [np.shape(a) for a in a3] != [np.shape(a) for a in args] and all(
                        np.ndim(a) == np.ndim(b) and (i not in const or np.array_equal(a, b))
                        for i, (a, b) in enumerate(zip(args, a3))):
                    group.append((a3, params))
                    break
            groups.append((const, group))
    else:
        for k, pattern in enumerate(PATTERNS[prim.nargs]):
            rng = np.random.default_rng(k)
            base = sample(prim, pattern(3), rng)
            const, group = consts(base), [(base, {})]
            for n in (3, 5):
                new = keep(base, sample(prim, pattern(n), rng), const)
                if all(i not in const or np.shape(a) == np.shape(b)
                       for i, (a, b) in enumerate(zip(new, sample(prim, pattern(n), rng)))):
                    group.append((new, {}))
            groups.append((const, group))
    f = codegen.entry(prim)
    if f is not None and f.cases is not None:  # points the fused entry covers
        for (args, params, cpos), (args2, _, _) in zip(f.cases(np.random.default_rng(0)),
                                                       f.cases(np.random.default_rng(1))):
            const = consts(args, cpos)
            groups.append((const, [(args, params), (keep(args, args2, const), params)]))
    return groups


def _differentiable(prim, args, const) -> list[int]:
    return [i for i, a in enumerate(args) if i not in const and i not in prim.nondiff and prim.vjps[i] is not None
            and _is_float(a)]


# -- the composed function ---------------------------------------------------------------------
def _reductions(out_shape: tuple) -> list[str]:
    red = ["full", "mean"] if int(np.prod(out_shape)) else ["full"]
    return red + (["matmul", "matmul2"] if len(out_shape) == 2 else [])


def _extra(red: str, out_shape: tuple, rng) -> list:
    """The data leaves of a reduction (U, M), of shapes fitting this point's output."""
    if red == "full":
        return [rng.standard_normal(out_shape)[()]]
    if red == "matmul":
        return [rng.standard_normal((out_shape[1], 3)), rng.standard_normal((out_shape[0], 3))]
    if red == "matmul2":
        return [rng.standard_normal((out_shape[1], 3)), rng.standard_normal((3, 2))]
    return []


def _function(prim, params, consts: dict, red: str, nargs: int):
    """f(*float args, *extra) = reduce(prim(args)); non-float arguments are the constants ``consts``.
    ``nargs``: the number of arguments at this point (a variadic primitive's record has one rule)."""
    nfloat = nargs - len(consts)

    def f(*xs):
        it = iter(xs[:nfloat])
        args = [consts[i] if i in consts else next(it) for i in range(nargs)]
        y = dk.bind(prim, *args, **params)
        extra = xs[nfloat:]
        if red == "full":
            return y * extra[0] if np.ndim(extra[0]) == 0 else dk.sum(y * extra[0])
        if red == "mean":
            return dk.mean(y)
        if red == "matmul2":  # no scalar factor on the way: the primitive gets a plain fresh cotangent
            return dk.sum(dk.matmul(dk.matmul(y, extra[0]), extra[1]))
        return dk.sum(dk.matmul(y, extra[0]) * extra[1])
    return f, nfloat


def _record(f, values, wrt):
    """Leaves (params at ``wrt``, the rest data), the output node and its graph."""
    level = dk.new_level()
    leaves = [dk.param(v, f"x{i}", trace=level) if i in wrt else dk.input_leaf(v, f"x{i}", trace=level)
              for i, v in enumerate(values)]
    out = f(*leaves)
    return leaves, out


def _reference(f, values, wrt):
    """Value and gradients by the reference sweep on a fresh trace."""
    leaves, out = _record(f, values, wrt)
    adj = backward_pass(out, 1.0, wrt=[leaves[i] for i in wrt]) if out.needs_grad else {}
    return out.value, [materialize(adj.get(leaves[i], dk.zero), leaves[i].value) for i in wrt]


def _close(got, want, rtol, what):
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, f"{what}: shape {got.shape}, reference {want.shape}"
    scale = float(np.max(np.abs(want))) if want.size else 0.0
    err = float(np.max(np.abs(got - want))) if want.size else 0.0
    assert np.all(np.isfinite(got) == np.isfinite(want)) and err <= rtol * max(scale, 1e-300), \
        f"{what}: differs from the reference by {err:.3g} (relative to {scale:.3g}; allowed {rtol:g})"


def _cases(prim):
    """(constants, group, wrt, reduction) for one primitive."""
    out = []
    for const, group in _groups(prim):
        args, params = group[0]
        diff = _differentiable(prim, args, const)
        if not diff:
            continue
        subsets = [tuple(diff)] + ([(i,) for i in diff] if len(diff) > 1 else [])
        for red in _reductions(np.shape(prim.impl(*args, **params))):
            for wrt in subsets:
                out.append((const, group, wrt, red))
    return out


def _leaf_values(prim, args, params, const, red, rng):
    """The constants (argnum → value) and the leaf values: the other arguments, then the reduction's data."""
    consts = {i: a for i, a in enumerate(args) if i in const}
    floats = [a for i, a in enumerate(args) if i not in consts]
    return consts, floats + _extra(red, np.shape(prim.impl(*args, **params)), rng)


def _positions(args, wrt, const):
    """Positions of the differentiated arguments among the leaves."""
    leaves = [i for i in range(len(args)) if i not in const]
    return tuple(leaves.index(i) for i in wrt)


# -- the tests ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_every_backend_replays_the_reference(name):
    prim = dk.REGISTRY[name]
    used: set[str] = set()
    cases = _cases(prim)
    assert cases, f"{name}: no point with a differentiable argument to test"
    for const, group, wrt_args, red in cases:
        rng = np.random.default_rng(7)
        args, params = group[0]
        consts, values = _leaf_values(prim, args, params, const, red, rng)
        f, _ = _function(prim, params, consts, red, len(args))
        wrt = _positions(args, wrt_args, const)
        leaves, out = _record(f, values, wrt)
        graph = dk.Graph(out, name=name)
        backends = [b for b in BACKENDS[1:] if _why_not(graph, b) is None]
        assert "numpy" in backends
        auto = dk.compile_gradient(graph)
        assert auto.backend == backends[0], f"{name}: auto chose {auto.backend}, the first that applies is {backends[0]}"
        for backend in backends:
            used.add(backend)
            cg = dk.compile_gradient(graph, backend=backend)
            order = [next(k for k, q in enumerate(leaves) if q is n) for n in graph.params + graph.inputs]
            for k, (a2, p2) in enumerate(group):
                _, vals2 = _leaf_values(prim, a2, p2, const, red, np.random.default_rng(7 + k))
                if backend == "math":
                    vals2 = [float(v) for v in vals2]
                want_v, want_g = _reference(f, vals2, wrt)
                got_v, got_g = cg(*[vals2[i] for i in order])
                where = f"{name} {backend} replay ({red}, wrt {wrt_args}) at point {k} of shapes " \
                        f"{[np.shape(a) for a in a2]}"
                _close(got_v, want_v, 1e-12, f"{where}: value")
                for i, g in zip(wrt, got_g):
                    _close(g, want_g[wrt.index(i)], 1e-12, f"{where}: gradient of argument {i}")
                    if backend != "math":
                        assert np.shape(g) == np.shape(vals2[i])
    if codegen.entry(prim) is not None:
        assert "fused" in used, f"{name} has a fused entry, but no tested graph was written by it"


@pytest.mark.parametrize("name", NAMES)
def test_fast_backward_equals_the_reference_sweep(name):
    prim = dk.REGISTRY[name]
    for const, group, wrt_args, red in _cases(prim):
        for k, (args, params) in enumerate(group):
            consts, values = _leaf_values(prim, args, params, const, red, np.random.default_rng(11 + k))
            f, _ = _function(prim, params, consts, red, len(args))
            wrt = _positions(args, wrt_args, const)
            leaves, out = _record(f, values, wrt)
            before = {id(n): np.array(n.value, copy=True) for n in _all_nodes(out)}
            ps = [leaves[i] for i in wrt]
            got = fast_backward(out, 1.0, wrt=ps) if out.needs_grad else {}
            for n in _all_nodes(out):  # no forward value was overwritten by an in-place update
                assert np.array_equal(np.asarray(n.value), before[id(n)], equal_nan=True), \
                    f"{name}: fast.backward overwrote the forward value of {n}"
            _, want = _reference(f, values, wrt)
            for p, w in zip(ps, want):
                _close(materialize(got.get(p, dk.zero), p.value), w, 1e-14,
                       f"{name} fast.backward ({red}, wrt {wrt_args}), shapes {[np.shape(a) for a in args]}")


def _all_nodes(out):
    return dk.toposort(out)


def test_auto_backend_choice_and_bad_backend():
    g = dk.trace(lambda w, x: dk.sigmoid(w * x) * w, 0.5, 2.0, wrt=("w",))
    assert dk.compile_gradient(g).backend == "math"
    x = np.linspace(-1, 1, 5)
    g = dk.trace(lambda w, x: dk.sum(dk.sigmoid(w * x)), 0.5, x, wrt=("w",))
    assert dk.compile_gradient(g).backend == "fused"
    g = dk.trace(lambda w, x: dk.sum(dk.softplus(w * x)), 0.5, x, wrt=("w",))
    assert dk.compile_gradient(g).backend == "numpy"
    from diffkit.errors import BadInput
    with pytest.raises(BadInput, match="'softplus' has no fused NumPy entry"):
        dk.compile_gradient(g, backend="fused")
    with pytest.raises(BadInput, match="math works on Python floats"):
        dk.compile_gradient(g, backend="math")
    with pytest.raises(BadInput, match="backend 'jit' is not one of auto, math, fused, numpy"):
        dk.compile_gradient(g, backend="jit")


def test_fused_primitives_are_derived_from_the_records():
    names = codegen.fused_primitives()
    assert names == [n for n, p in dk.REGISTRY.items() if "fused" in p.code]
    assert {"add", "mul", "sigmoid", "matmul", "softmax_cross_entropy"} <= set(names)


def test_one_sigmoid_formula_in_the_package():
    """σ and σ′ are computed numerically by diffkit.stable alone: no other module writes their
    NumPy/math formula (SymPy expressions, e.g. the logistic map's x(1 − x), are not numeric code)."""
    import re
    from pathlib import Path
    import diffkit
    root = Path(diffkit.__file__).parent
    # 1/(1 + e^−z), ½(1 + tanh(z/2)), σ(1 − σ), on NumPy or math values
    pattern = re.compile(r"1(\.0)? \+ (np|math)\.exp\(|np\.reciprocal\(1|\+ np\.tanh\(0?\.5|"
                         r"(\w+) \* \(1(\.0)? - \3\)")
    hits = []
    for path in root.rglob("*.py"):
        if path.name in ("stable.py", "lint.py"):  # analysis/lint.py shows the bad forms it warns about
            continue
        for k, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#")[0]
            if ("np." in code or "math." in code or "(1.0 -" in code) and pattern.search(code) \
                    and not code.lstrip().startswith(">>>"):
                hits.append(f"{path.relative_to(root)}:{k}: {line.strip()}")
    assert not hits, "a σ/σ′ formula outside diffkit/stable.py:\n" + "\n".join(hits)


@pytest.mark.parametrize("pattern", ["steps", "mixed", "repeats", "scaled", "leaf", "float32"])
def test_fast_backward_adds_scatters_like_the_reference(pattern):
    # several reads of one array (an RNN's u[:, t]) reach it as sparse scatters that fast adds in
    # place into one array it made; mixed with full-size contributions, integer-array indices
    # with repeated positions, scalar factors, a leaf read directly, and float32
    rng = np.random.default_rng(0)
    dt = np.float32 if pattern == "float32" else np.float64
    X = rng.normal(size=(3, 5, 2)).astype(dt)
    W = rng.normal(size=(2, 2)).astype(dt)
    U = rng.normal(size=(3, 2)).astype(dt)

    def f(x, w):
        u = x if pattern == "leaf" else dk.tanh(x) * 1.5
        h = dk.zeros((3, 2)) if hasattr(dk, "zeros") else u[:, 0] * 0.0
        for t in range(5):
            h = dk.tanh(u[:, t] + dk.matmul(h, w))
        out = dk.sum(h * U)
        if pattern == "mixed":
            out = out + dk.sum(u * X) + dk.sum(u[1:, 2:4] ** 2)
        if pattern == "repeats":
            out = out + dk.sum(u[[0, 0, 2], [1, 1, 4]] * 3.0) + dk.sum(u[:, [2, 2]])
        if pattern == "scaled":
            out = out + 2.5 * dk.sum(-u[:, 3]) + dk.mean(u[2] * 0.5)
        return out

    level = dk.new_level()
    leaves = [dk.param(X, "x", trace=level), dk.param(W, "w", trace=level)]
    out = f(*leaves)
    got = fast_backward(out, 1.0, wrt=leaves)
    want = backward_pass(out, 1.0, wrt=leaves)
    for p in leaves:
        g, w = materialize(got.get(p, dk.zero), p.value), materialize(want.get(p, dk.zero), p.value)
        assert np.shape(g) == np.shape(w) and np.result_type(g) == np.result_type(w)
        _close(g, w, 1e-5 if dt == np.float32 else 1e-13, f"{pattern}: gradient of {p.name}")
    # and through grad (elision on), against central differences in float64
    if dt == np.float64:
        gx = dk.grad(lambda x: f(x, W))(X)
        eps, k = 1e-6, (1, 3, 0)
        Xp, Xm = X.copy(), X.copy()
        Xp[k] += eps
        Xm[k] -= eps
        fd = (float(f(Xp, W)) - float(f(Xm, W))) / (2 * eps)
        assert abs(gx[k] - fd) <= 1e-6 * max(1.0, abs(fd))


@pytest.mark.parametrize("dtypes", [(np.float32, np.float64), (np.float64, np.float32), (np.float32, np.float32)])
@pytest.mark.parametrize("rows", [3, 300])  # 300 × 700 products take the buffer cache's path
def test_fast_matmul_with_mixed_dtypes_equals_the_reference(dtypes, rows):
    # the matmul VJPs call NumPy directly for any plain 2-D arrays (no dtype check since this
    # session): mixed float32/float64 arguments must give the reference sweep's adjoints, bit for bit
    rng = np.random.default_rng(5)
    dw, dx = dtypes
    W = dk.param(rng.normal(size=(700, 4)).astype(dw), "W")
    b = dk.param(np.zeros(4, dw), "b")
    X = rng.normal(size=(rows, 700)).astype(dx)
    out = dk.sum(dk.tanh(X @ W + b) ** 2)
    want = backward_pass(out, 1.0, wrt=(W, b))
    got = fast_backward(out, 1.0, wrt=(W, b))
    for p in (W, b):
        assert np.asarray(got[p]).dtype == np.asarray(want[p]).dtype
        assert np.array_equal(got[p], want[p])
