"""Leaves: parameters (differentiated) and inputs (data), with their values validated.

>>> as_value([1, 2]).dtype
dtype('float64')
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import BadInput, brief
from .core import Node, leaf_node

__all__ = ["as_value", "param", "params", "input_leaf"]

_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)  # native-order dtypes (others: the general path)


def as_value(x: Any, what: str = "value") -> Any:
    """Validate a leaf value: float32/float64 kept, Python numbers to float64, else BadInput.

    >>> as_value([1, 2]).dtype
    dtype('float64')
    >>> as_value(np.ones(2, np.float32)).dtype
    dtype('float32')
    >>> as_value(np.arange(3))
    Traceback (most recent call last):
    ...
    diffkit.errors.BadInput: value has integer dtype int64; differentiate at float32 or float64 values (e.g. x.astype(float))
    """
    if type(x) is np.ndarray and x.ndim and (x.dtype is _F64 or x.dtype is _F32):
        return x  # the common case, checked cheaply (leaves are made on every grad call)
    if isinstance(x, Node):
        return x  # a node of an outer trace level: its value is traced there
    if isinstance(x, (np.ndarray, np.generic)) and x.dtype.kind in "iub":
        raise BadInput(f"{what} has integer dtype {x.dtype}; differentiate at float32 or float64 "
                       "values (e.g. x.astype(float))")
    try:
        arr = np.asarray(x)
    except Exception:
        raise BadInput(f"{what} {brief(x)} is not a number or array") from None
    kind = arr.dtype.kind
    if kind == "f":
        if arr.dtype not in (np.float32, np.float64):
            arr = arr.astype(np.float64)
    elif kind in "iub":
        arr = arr.astype(np.float64)  # Python numbers and lists of them
    else:
        raise BadInput(f"{what} has dtype {arr.dtype}; expected real float32 or float64 numbers "
                       "(complex, object and string values are not accepted)")
    return arr[()] if arr.ndim == 0 else arr


def param(value: Any, name: str | None = None, *, trace: int = 0) -> Node:
    """A leaf to differentiate with respect to.  Leaves made by hand share the base level 0
    (below every transformation); ``grad`` and friends make theirs at a fresh level."""
    return Node(as_value(value, "parameter" if name is None else f"parameter {name}"), kind="param",
                name=name, needs_grad=True, trace=trace)


def params(values: list, name: str, trace: int) -> list[Node]:
    """``[param(v, name, trace=trace) for v in values]``, with the nodes filled in directly (the
    leaves of every ``grad`` call are made here)."""
    what = f"parameter {name}"
    return [leaf_node(as_value(v, what), "param", name, True, trace) for v in values]


def input_leaf(value: Any, name: str | None = None, *, trace: int = 0) -> Node:
    """A leaf that is data (not differentiated), e.g. x, y or a hyperparameter."""
    return Node(None if value is None else as_value(value, f"input {name or ''}".strip()), kind="input",
                name=name, trace=trace)
