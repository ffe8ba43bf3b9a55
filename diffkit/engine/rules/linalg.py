"""``einsum`` — one variadic record, parsed by an explicit subscripts parser — and the products
written with it or with ``matmul``: ``tensordot``, ``dot``, ``inner``, ``outer``, ``vdot``, ``kron``,
``trace``, ``diagonal``, ``diag``, ``cross``.

The VJP of an einsum for operand i is another einsum: the cotangent contracted with the other
operands back to operand i's subscripts.  Two cases need more than that:

* a subscript only operand i has (summed away, as in ``'ij->i'``): its cotangent is constant
  along that axis, so the rule returns that axis with size 1 (a lazily broadcast contribution);
* a repeated subscript (``'ii->'``, ``'ii->i'``): the second occurrence is renamed and an identity
  matrix joins the contraction, putting the cotangent on the diagonal.

Subscripts are normalised once: ellipses become explicit letters, an implicit output becomes
explicit (``'ij,jk'`` → ``'ij,jk->ik'``); the record's parameter is that one string.

>>> import numpy as np
>>> parse_subscripts("...ij,...jk", [(2, 3, 4), (4, 5)])
(['Zij', 'jk'], 'Zik')
>>> A = np.arange(6.0).reshape(2, 3)
>>> einsum("ij->", A), einsum("ii", np.eye(3))
(np.float64(15.0), np.float64(3.0))
"""

from __future__ import annotations

import string
from typing import Any, Sequence

import numpy as np

from ...errors import BadInput
from ..core import NONE, Absent, Node, bind
from .array import as_int, matmul, reshape, sum
from .elementwise import mul, sub
from .indexing import getitem, stack, untake
from .variadic import defprim_variadic

__all__ = ["parse_subscripts", "einsum", "tensordot", "dot", "inner", "outer", "vdot", "kron", "trace",
           "diagonal", "diag", "cross"]

_ARRAY_CODE = {"math": Absent("array primitive"), "numpy": Absent("replay calls impl and the VJP rules")}
_LETTERS = string.ascii_letters


def _leaf(x):
    while isinstance(x, Node):
        x = x.value
    return x


# -- the subscripts parser --------------------------------------------------------------------------
def parse_subscripts(subscripts: str, shapes: Sequence[tuple]) -> tuple[list[str], str]:
    """Explicit per-operand subscripts and the output for ``shapes``: ellipsis dimensions get
    letters of their own (from the end of the alphabet), an implicit output is made explicit
    (NumPy's rule: the ellipsis, then the letters that occur once, in alphabetical order)."""
    if not isinstance(subscripts, str):
        raise BadInput(f"einsum subscripts must be a string, got {type(subscripts).__name__}")
    s = subscripts.replace(" ", "")
    bad = set(s) - set(_LETTERS) - set(",->.")
    if bad:
        raise BadInput(f"einsum subscripts {subscripts!r}: invalid character {sorted(bad)[0]!r} "
                       "(allowed: letters, ',', '->' and '...')")
    if s.count("->") > 1 or s.replace("->", "").count("-") or s.replace("->", "").count(">"):
        raise BadInput(f"einsum subscripts {subscripts!r}: '->' must appear at most once")
    lhs, out = s.split("->") if "->" in s else (s, None)
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise BadInput(f"einsum subscripts {subscripts!r} name {len(terms)} operand{'s' * (len(terms) != 1)} "
                       f"but {len(shapes)} {'were' if len(shapes) != 1 else 'was'} given")
    for t in terms + ([out] if out is not None else []):
        if t.replace("...", "").count(".") or t.count("...") > 1:
            raise BadInput(f"einsum subscripts {subscripts!r}: '.' only as one '...' per operand")
    free = [c for c in reversed(_LETTERS) if c not in s]
    ell_nd = 0
    for t, shp in zip(terms, shapes):
        n = len(t.replace("...", ""))
        if "..." in t:
            if len(shp) < n:
                raise BadInput(f"einsum: operand of shape {shp} has fewer dimensions than subscripts {t!r}")
            ell_nd = max(ell_nd, len(shp) - n)
        elif len(shp) != n:
            raise BadInput(f"einsum: operand of shape {shp} has {len(shp)} dimension{'s' * (len(shp) != 1)} "
                           f"but subscripts {t!r} name {n}")
    if ell_nd > len(free):
        raise BadInput("einsum: too many dimensions under '...'")
    ell = "".join(free[:ell_nd][::-1])
    ins = []
    for t, shp in zip(terms, shapes):
        k = len(shp) - len(t.replace("...", "")) if "..." in t else 0
        ins.append(t.replace("...", ell[ell_nd - k:]) if "..." in t else t)
    if out is None:
        counts = {}
        for t in terms:
            for c in t.replace("...", ""):
                counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, k in counts.items() if k == 1))
    else:
        if ell_nd and "..." not in out:
            raise BadInput(f"einsum subscripts {subscripts!r}: the operands have '...' dimensions, so the "
                           "output needs '...' too")
        out = out.replace("...", ell)
    if len(set(out)) != len(out):
        raise BadInput(f"einsum subscripts {subscripts!r}: the output repeats a subscript")
    missing = set(out) - set("".join(ins))
    if missing:
        raise BadInput(f"einsum subscripts {subscripts!r}: output subscript {sorted(missing)[0]!r} "
                       "is not in any operand")
    return ins, out


def _from_sublists(args: Sequence) -> tuple[str, list]:
    """NumPy's other calling form einsum(op0, sublist0, op1, sublist1, ..., [sublistout])."""
    body, out = (args[:-1], args[-1]) if len(args) % 2 else (args, None)
    ops, subs = list(body[0::2]), list(body[1::2])
    if len(ops) != len(subs):
        raise BadInput("einsum(op0, sublist0, op1, sublist1, ...): every operand needs its sublist")

    def letters(sub):
        parts = []
        for k in sub:
            if k is Ellipsis:
                parts.append("...")
            elif isinstance(k, (int, np.integer)) and not isinstance(k, bool) and 0 <= k < 52:
                parts.append(_LETTERS[int(k)])
            else:
                raise BadInput(f"einsum sublist entries must be integers 0..51 or Ellipsis, got {k!r}")
        return "".join(parts)
    s = ",".join(letters(t) for t in subs) + ("" if out is None else "->" + letters(out))
    return s, ops


# -- the primitive ------------------------------------------------------------------------------------
def _split(subscripts: str) -> tuple[list[str], str]:
    lhs, out = subscripts.split("->")
    return lhs.split(","), out


def _einsum2(sa: str, sb: str, so: str, a: np.ndarray, b: np.ndarray) -> np.ndarray | None:
    """A two-operand contraction as one (batched) matrix product; None when NumPy's einsum
    must do it (a repeated subscript, or sizes that broadcast)."""
    if len(set(sa)) != len(sa) or len(set(sb)) != len(sb):
        return None
    size = {}
    for t, x in ((sa, a), (sb, b)):
        for c, n in zip(t, x.shape):
            if size.setdefault(c, n) != n:
                return None
    batch = [c for c in so if c in sa and c in sb]
    con = [c for c in sa if c in sb and c not in so]
    fa = [c for c in sa if c not in sb and c in so]
    fb = [c for c in sb if c not in sa and c in so]
    lone_a = tuple(i for i, c in enumerate(sa) if c not in sb and c not in so)
    lone_b = tuple(i for i, c in enumerate(sb) if c not in sa and c not in so)
    if lone_a:
        a, sa = a.sum(axis=lone_a), "".join(c for c in sa if c in sb or c in so)
    if lone_b:
        b, sb = b.sum(axis=lone_b), "".join(c for c in sb if c in sa or c in so)
    n = lambda cs: int(np.prod([size[c] for c in cs], dtype=np.int64))  # noqa: E731
    am = a.transpose([sa.index(c) for c in batch + fa + con]).reshape(n(batch), n(fa), n(con))
    bm = b.transpose([sb.index(c) for c in batch + con + fb]).reshape(n(batch), n(con), n(fb))
    r = np.matmul(am, bm).reshape([size[c] for c in batch + fa + fb])
    order = batch + fa + fb
    return r.transpose([order.index(c) for c in so])


def _einsum_impl(*ops, subscripts):
    if len(ops) == 2:
        a, b = np.asarray(ops[0]), np.asarray(ops[1])
        if a.dtype.kind == "f" and b.dtype.kind == "f" and a.dtype == b.dtype and a.size and b.size:
            ins, out = _split(subscripts)
            r = _einsum2(ins[0], ins[1], out, a, b)
            if r is not None:
                return r[()] if r.ndim == 0 else r
    return np.einsum(subscripts, *ops, optimize=len(ops) > 2)


def _einsum_vjp(i, g, ans, *ops, subscripts):
    ins, out = _split(subscripts)
    target, shape = ins[i], np.shape(ops[i])
    free = [c for c in _LETTERS if c not in subscripts]
    letters, eyes, seen = [], [], set()
    dtype = np.result_type(_leaf(g), np.float32)
    for c, n in zip(target, shape):
        if c in seen:  # a repeated subscript: rename it and contract with an identity matrix
            c2 = free.pop()
            eyes.append((c + c2, np.eye(n, dtype=dtype)))
            c = c2
        seen.add(c)
        letters.append(c)
    others = [(ins[j], ops[j]) for j in range(len(ops)) if j != i]
    have = set(out) | set("".join(t for t, _ in others)) | set("".join(t for t, _ in eyes))
    keep = "".join(c for c in letters if c in have)
    subs = ",".join([out] + [t for t, _ in others] + [t for t, _ in eyes]) + "->" + keep
    r = einsum(subs, g, *[x for _, x in others], *[e for _, e in eyes])
    if len(keep) == len(letters):
        return r
    # subscripts only operand i has were summed away: the cotangent is constant along them
    rs = iter(np.shape(_leaf(r)))
    return reshape(r, tuple(next(rs) if c in have else 1 for c in letters))


def _einsum_jvp(i, t, ans, *ops, subscripts):
    args = list(ops)
    args[i] = t
    return einsum(subscripts, *args)


def _einsum_cases(rng):
    R = lambda *s: rng.normal(size=s)  # noqa: E731
    # one point per kind of contraction (tests/engine/test_systematic.py checks autograd's full list)
    cases = [("ij->ji", R(3, 4)), ("ij,jk->ik", R(2, 3), R(3, 4)), ("...jk,...lj->...lk", R(3, 4, 4), R(4, 4)),
             ("jk...,lj...->lk...", R(3, 2, 4), R(2, 3, 1)), ("ijk,lji,lli->lki", R(3, 2, 2), R(2, 2, 3), R(2, 2, 3)),
             ("ii->", R(3, 3)), ("ii->i", R(3, 3)), ("ij->i", R(3, 4)), ("bqd,bkd->bqk", R(2, 3, 4), R(2, 5, 4)),
             ("nchw,kcij->nkhwij", R(1, 2, 3, 3), R(2, 2, 2, 2)), ("ij,ij->ij", R(1, 3), R(2, 3)),
             (",i->i", np.float64(1.5), R(3))]
    out = []
    for sub, *ops in cases:
        ins, o = parse_subscripts(sub, [np.shape(x) for x in ops])
        out.append((tuple(ops), {"subscripts": ",".join(ins) + "->" + o}))
    return out


einsum_p = defprim_variadic(
    "einsum", _einsum_impl, vjp=_einsum_vjp, jvp=_einsum_jvp,
    cost=lambda node, i: (1, NONE), local=lambda node, i: f"einsum of (·) with the other operands (operand {i})",
    sympy=Absent("array contraction"), code=_ARRAY_CODE, cases=_einsum_cases,
    doc="Einstein summation; the VJP of each operand is an einsum of g with the others")


def einsum(*args: Any, optimize: Any = None) -> Any:
    """NumPy's ``einsum``: ``einsum('ij,jk->ik', A, B)`` or ``einsum(A, [0, 1], B, [1, 2], [0, 2])``.

    ``optimize`` is accepted for NumPy compatibility; diffkit picks the contraction order itself
    (two operands: one batched matrix product; more: NumPy's optimizer).
    """
    if not args:
        raise BadInput("einsum needs subscripts and operands")
    if isinstance(args[0], str):
        subscripts, ops = args[0], list(args[1:])
    else:
        subscripts, ops = _from_sublists(args)
    if not ops:
        raise BadInput("einsum needs at least one operand")
    ins, out = parse_subscripts(subscripts, [np.shape(_leaf(x)) for x in ops])
    return bind(einsum_p, *ops, subscripts=",".join(ins) + "->" + out)


# -- products written with einsum and matmul ----------------------------------------------------------
def _tensordot_axes(axes: Any, na: int, nb: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    try:
        if isinstance(axes, (int, np.integer)) and not isinstance(axes, bool):
            n = int(axes)
            if n < 0 or n > min(na, nb):
                raise ValueError(f"axes={n} must be between 0 and {min(na, nb)}")
            return tuple(range(na - n, na)), tuple(range(n))
        xa, xb = axes
        xa = (int(xa),) if np.ndim(xa) == 0 else tuple(int(a) for a in xa)
        xb = (int(xb),) if np.ndim(xb) == 0 else tuple(int(b) for b in xb)
        if len(xa) != len(xb):
            raise ValueError("the two axis lists differ in length")
        xa, xb = tuple(a % na if na else a for a in xa), tuple(b % nb if nb else b for b in xb)
        if any(not 0 <= a < na for a in xa) or any(not 0 <= b < nb for b in xb):
            raise ValueError("an axis is out of range")
        return xa, xb
    except (TypeError, ValueError) as exc:
        raise BadInput(f"tensordot: axes {axes!r} do not fit arrays of {na} and {nb} dimensions: {exc}") from None


def tensordot(a: Any, b: Any, axes: Any = 2) -> Any:
    """Sum products over ``axes`` of a and b (NumPy's ``tensordot``), as an einsum."""
    na, nb = np.ndim(_leaf(a)), np.ndim(_leaf(b))
    xa, xb = _tensordot_axes(axes, na, nb)
    la = list(_LETTERS[:na])
    lb = list(_LETTERS[na:na + nb])
    for i, j in zip(xa, xb):
        lb[j] = la[i]
    out = [c for k, c in enumerate(la) if k not in xa] + [c for k, c in enumerate(lb) if k not in xb]
    return einsum("".join(la) + "," + "".join(lb) + "->" + "".join(out), a, b)


def dot(a: Any, b: Any) -> Any:
    """NumPy's ``dot``: a product for scalars, ``matmul`` for a 1-D or 2-D b, else a tensordot of
    a's last axis with b's second-to-last."""
    na, nb = np.ndim(_leaf(a)), np.ndim(_leaf(b))
    if na == 0 or nb == 0:
        return mul(a, b)
    if nb <= 2:
        return matmul(a, b)
    return tensordot(a, b, ((na - 1,), (nb - 2,)))


def inner(a: Any, b: Any) -> Any:
    """Sum of products over the last axes (a product for scalars)."""
    na, nb = np.ndim(_leaf(a)), np.ndim(_leaf(b))
    if na == 0 or nb == 0:
        return mul(a, b)
    return tensordot(a, b, ((na - 1,), (nb - 1,)))


def outer(a: Any, b: Any) -> Any:
    """The outer product of the flattened a and b."""
    return mul(reshape(a, (-1, 1)), reshape(b, (1, -1)))


def vdot(a: Any, b: Any) -> Any:
    """The dot product of the flattened a and b (real values: no conjugation)."""
    sa, sb = np.size(_leaf(a)), np.size(_leaf(b))
    if sa != sb:
        raise BadInput(f"vdot: arrays of {sa} and {sb} values cannot be multiplied")
    return matmul(reshape(a, (-1,)), reshape(b, (-1,)))


def kron(a: Any, b: Any) -> Any:
    """The Kronecker product, as a broadcast product of interleaved reshapes."""
    sa, sb = np.shape(_leaf(a)), np.shape(_leaf(b))
    nd = max(len(sa), len(sb))
    sa, sb = (1,) * (nd - len(sa)) + sa, (1,) * (nd - len(sb)) + sb
    ra = reshape(a, tuple(x for s in sa for x in (s, 1)))
    rb = reshape(b, tuple(x for s in sb for x in (1, s)))
    return reshape(mul(ra, rb), tuple(p * q for p, q in zip(sa, sb)))


def _axes2(x: Any, axis1: int, axis2: int, op: str) -> tuple[int, int, int]:
    nd = np.ndim(_leaf(x))
    if nd < 2:
        raise BadInput(f"{op} needs an array of at least 2 dimensions, got shape {np.shape(_leaf(x))}")
    a1, a2 = as_int(axis1, "axis1", op), as_int(axis2, "axis2", op)
    if not (-nd <= a1 < nd and -nd <= a2 < nd) or a1 % nd == a2 % nd:
        raise BadInput(f"{op}: axis1={axis1} and axis2={axis2} must be two different axes of {nd}")
    return a1 % nd, a2 % nd, nd


def diagonal(x: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
    """The diagonal (with ``offset``) of the axes ``axis1``, ``axis2``, as the last axis (as NumPy);
    an integer-array index, so its gradient is the scatter back."""
    from .array import transpose
    a1, a2, nd = _axes2(x, axis1, axis2, "diagonal")
    rest = [i for i in range(nd) if i not in (a1, a2)]
    moved = transpose(x, tuple(rest) + (a1, a2))
    n1, n2 = np.shape(_leaf(x))[a1], np.shape(_leaf(x))[a2]
    off = as_int(offset, "offset", "diagonal")
    k = max(0, min(n1 - max(-off, 0), n2 - max(off, 0)))
    rows, cols = np.arange(k) + max(-off, 0), np.arange(k) + max(off, 0)
    return getitem(moved, (Ellipsis, rows, cols))


def trace(x: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
    """The sum of ``diagonal(x, offset, axis1, axis2)``."""
    return sum(diagonal(x, offset, axis1, axis2), -1)


def diag(v: Any, k: int = 0) -> Any:
    """NumPy's ``diag``: a 1-D v onto the k-th diagonal of a square matrix; a 2-D v's k-th diagonal."""
    shape = np.shape(_leaf(v))
    k = as_int(k, "k", "diag")
    if len(shape) == 1:
        n = shape[0] + abs(k)
        i = np.arange(shape[0])
        return untake(v, (i + max(-k, 0), i + max(k, 0)), (n, n))
    if len(shape) == 2:
        return diagonal(v, k)
    raise BadInput(f"diag needs a 1-D or 2-D array, got shape {shape}")


def cross(a: Any, b: Any, axisa: int = -1, axisb: int = -1, axisc: int = -1, axis: int | None = None) -> Any:
    """The cross product of 3-vectors along ``axisa``/``axisb`` (result along ``axisc``)."""
    from .composed import moveaxis
    if axis is not None:
        axisa = axisb = axisc = axis
    va, vb = moveaxis(a, axisa, -1), moveaxis(b, axisb, -1)
    if np.shape(_leaf(va))[-1] != 3 or np.shape(_leaf(vb))[-1] != 3:
        raise BadInput(f"cross: diffkit takes 3-vectors; got axes of length {np.shape(_leaf(va))[-1]} and "
                       f"{np.shape(_leaf(vb))[-1]}")
    c = [getitem(va, (Ellipsis, i)) for i in range(3)], [getitem(vb, (Ellipsis, i)) for i in range(3)]
    (a0, a1, a2), (b0, b1, b2) = c
    out = stack([sub(mul(a1, b2), mul(a2, b1)), sub(mul(a2, b0), mul(a0, b2)), sub(mul(a0, b1), mul(a1, b0))],
                axis=-1)
    return moveaxis(out, -1, axisc)

