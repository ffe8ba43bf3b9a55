"""diffkit's reverse-mode automatic differentiation engine.

Layers, each in its own module: ``core`` (nodes, primitives, rule tables, the backward pass),
``prims``/``prims_array``/``losses`` (primitives with their VJP and JVP rules), ``ops`` (the
NumPy-like API and Node operators), ``api`` (grad, jacobian, ...), ``graph`` (a recorded graph to
inspect and replay), ``from_sympy`` (graphs from SymPy expressions and models), ``counting``
(operation counts), ``replay`` (straight-line code generation), ``draw`` (DOT, SVG, PNG),
``check`` (the gradient checker every rule is tested with) and ``buffers`` (the cache of large
array buffers that spares repeated gradients their page faults).

>>> import diffkit.engine as dk
>>> float(dk.grad(lambda w: dk.sigmoid(w) ** 2)(0.0))
0.25
"""

from .core import (REGISTRY, Node, Primitive, backward_pass, bind, const, defjvp, defvjp, detect_anomaly,
                   input_leaf, param, primitive, zero)
from .ops import *  # noqa: F401,F403 - the NumPy-like API
from .ops import __all__ as _ops_all
from .api import grad, hessian, jacobian, jvp, value_and_grad
from .graph import Edge, Graph, backward, trace
from .from_sympy import ModelGraph, from_model, from_sympy
from .counting import op_counts
from .inspect import backprop_steps
from .replay import CompiledGradient, compile_gradient
from .draw import draw, layout, to_dot
from .check import check_rule
from .buffers import clear_buffer_cache, set_buffer_cache

Var = Node

__all__ = list(_ops_all) + [
    "Node", "Var", "Primitive", "REGISTRY", "primitive", "defvjp", "defjvp", "bind", "zero",
    "param", "input_leaf", "const", "detect_anomaly", "backward_pass",
    "grad", "value_and_grad", "jacobian", "hessian", "jvp",
    "Graph", "Edge", "trace", "backward", "from_model", "from_sympy", "ModelGraph",
    "op_counts", "backprop_steps", "compile_gradient", "CompiledGradient",
    "draw", "layout", "to_dot", "check_rule", "set_buffer_cache", "clear_buffer_cache",
]
