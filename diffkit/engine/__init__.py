"""diffkit's automatic differentiation engine: reverse mode (and forward mode) on NumPy.

Read it in this order:

* ``core`` — nodes, the primitive record (:func:`defprim`: implementation, VJP, JVP, cost,
  lecture text, SymPy counterpart, code templates, all in one place), trace levels, ``bind``;
* ``sweep`` — the reference interpreters: forward evaluation, the backward sweep (where
  broadcasting is undone, once) and the forward-mode sweep;
* ``rules`` — the primitive records by family (elementwise, array, losses);
* ``ops`` — the NumPy-like API; ``api`` — grad, value_and_grad, jacobian, hessian, jvp, hvp;
* ``graph`` (a recorded graph to inspect and replay), ``from_sympy`` (graphs from SymPy and models),
  ``opcount`` (operation counts), ``listing`` (the backprop listing), ``draw`` (DOT, SVG, PNG),
  ``check`` (the gradient checker every rule is tested with);
* backends tested equal to the reference: ``fast`` (the backward sweep with buffer reuse),
  ``compile`` (``replay``: straight-line code; ``codegen``/``fused``: fused NumPy written from the
  records' ``code["fused"]`` entries), ``buffers`` (a cache of large arrays).

>>> import diffkit.engine as dk
>>> float(dk.grad(lambda w: dk.sigmoid(w) ** 2)(0.0))
0.25
"""

from . import rules as _rules  # noqa: F401  (registers every primitive)
from .anomaly import detect_anomaly
from .leaves import input_leaf, param
from .core import (REGISTRY, Absent, Node, Primitive, bind, const, defprim,
                   new_level, zero)
from .sweep import backward_pass, jvp_pass
from .walk import toposort
from .ops import *  # noqa: F401,F403 - the NumPy-like API
from .ops import __all__ as _ops_all
from .api import grad, hessian, hvp, jacobian, jvp, value_and_grad
from .graph import Edge, Graph, backward, trace
from .from_sympy import ModelGraph, from_model, from_sympy
from .opcount import op_counts
from .listing import backprop_steps
from .compile.replay import CompiledGradient, compile_gradient
from .draw import draw, layout, to_dot
from .check import check_rule
from .buffers import clear_buffer_cache, set_buffer_cache

__all__ = list(_ops_all) + [
    "Node", "Primitive", "REGISTRY", "defprim", "Absent", "bind", "zero", "new_level",
    "param", "input_leaf", "const", "detect_anomaly", "backward_pass", "jvp_pass", "toposort",
    "grad", "value_and_grad", "jacobian", "hessian", "hvp", "jvp",
    "Graph", "Edge", "trace", "backward", "from_model", "from_sympy", "ModelGraph",
    "op_counts", "backprop_steps", "compile_gradient", "CompiledGradient",
    "draw", "layout", "to_dot", "check_rule", "set_buffer_cache", "clear_buffer_cache",
]
