"""Anomaly mode: within ``detect_anomaly()``, a NaN or inf raises ComputationError naming the node,
its primitive, its inputs and the line of user code that made it (as PyTorch's detect_anomaly)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator, Mapping

import numpy as np

from ..errors import ComputationError
from .core import _ANOMALY, Node, raw, zero

def anomaly_enabled() -> bool:
    return _ANOMALY[0]


@contextmanager
def detect_anomaly(enabled: bool = True) -> Iterator[None]:
    """Within this block, a NaN/inf raises ComputationError naming the node and primitive.

    >>> from diffkit.engine import ops as dk
    >>> from diffkit.engine.leaves import param
    >>> with detect_anomaly():  # doctest: +ELLIPSIS
    ...     dk.log(param(-1.0, "x"))
    Traceback (most recent call last):
    ...
    diffkit.errors.ComputationError: anomaly: forward of node v... (primitive 'log') produced nan; inputs: x=-1; made at ...
    """
    old = _ANOMALY[0]
    _ANOMALY[0] = enabled
    try:
        yield
    finally:
        _ANOMALY[0] = old


def check_finite(value: Any, node: Node, phase: str, argnum: int | None = None,
                 values: Mapping[Node, Any] | None = None) -> None:
    """Raise ComputationError when ``value`` (of ``node``, in ``phase``) has a NaN or inf."""
    v = value
    while isinstance(v, Node):
        v = v.value
    if v is zero or v is None or np.all(np.isfinite(v)):
        return
    bad = "nan" if np.any(np.isnan(v)) else "inf"
    where = "" if argnum is None else f" for argument {argnum} ({node.parents[argnum].label})"
    ins = ", ".join(f"{p.label}={_brief(values[p] if values is not None else raw(p.value))}" for p in node.parents)
    prim = node.primitive.name if node.primitive else node.kind
    raise ComputationError(f"anomaly: {phase} of node {node.label} (primitive {prim!r}) produced {bad}{where}; "
                           f"inputs: {ins or 'none'}{_user_frame()}")


def _user_frame() -> str:
    """Where user code called into the engine (the line that made the bad node)."""
    import os
    import sys
    here = os.path.dirname(__file__)
    f = sys._getframe(1)
    while f is not None and (f.f_code.co_filename.startswith(here) or "contextlib" in f.f_code.co_filename):
        f = f.f_back
    return "" if f is None else f"; made at {os.path.basename(f.f_code.co_filename)}:{f.f_lineno}"


def _brief(v: Any) -> str:
    while isinstance(v, Node):
        v = v.value
    if v is None:
        return "?"
    return f"{float(v):.6g}" if np.ndim(v) == 0 else f"array{np.shape(v)}"
