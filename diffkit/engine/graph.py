"""A recorded computation graph you can inspect, replay on new inputs and differentiate.

:class:`Graph` holds the nodes in topological order (parents before children, argument order),
their edges, the forward value of every node and, after :meth:`Graph.backward`, every adjoint.
Replaying (:meth:`Graph.forward`) re-evaluates the recorded primitives on new leaf values
without making new nodes.

Examples
--------
>>> import diffkit.engine as dk
>>> def f(w, b, x):
...     z = dk.label(w * x + b, "z")
...     return dk.label(dk.sigmoid(z), "u")
>>> g = dk.trace(f, 0.5, -0.3, 1.7, wrt=("w", "b"))
>>> [n.name for n in g.nodes]
['w', 'x', 'v1', 'b', 'z', 'u']
>>> [n.kind for n in g.nodes]
['param', 'input', 'op', 'param', 'op', 'op']
>>> round(float(g.forward()), 6)
0.634136
>>> {k: round(float(v), 6) for k, v in g.gradient({"x": 2.0}).items()}
{'w': 0.443426, 'b': 0.221713}
"""

from __future__ import annotations

import inspect
from contextlib import nullcontext as _nullcontext
from typing import Any, Callable, Mapping, NamedTuple, Sequence

import numpy as np

from ..errors import BadInput
from .anomaly import anomaly_enabled, check_finite
from .core import Node, new_level, zero
from .leaves import as_value, input_leaf, param
from .sweep import backward_pass, materialize
from .walk import toposort


class Edge(NamedTuple):
    """``parent`` is argument ``argnum`` of ``child`` (made by ``primitive``)."""

    parent: Node
    child: Node
    argnum: int
    primitive: str


class Graph:
    """A computation graph ending in ``output``.

    Parameters
    ----------
    output : Node
        The node computed last (a scalar for ``backward``/``gradient``).
    name : str, optional

    Attributes
    ----------
    nodes : list of Node
        Every node, parents before children, in a deterministic order.
    values : dict of str to value
        Forward value of each node by name (after construction or :meth:`forward`).
    adjoints : dict of str to value
        ∂output/∂node by name, after :meth:`backward`.
    """

    def __init__(self, output: Node, *, name: str = "graph") -> None:
        if not isinstance(output, Node):
            raise BadInput("a Graph needs a Node as output; the function did not use its arguments")
        self.output, self.name = output, name
        self.nodes: list[Node] = toposort(output)
        self._name_nodes()
        self.by_name: dict[str, Node] = {n.name: n for n in self.nodes}
        self._vals: dict[Node, Any] = {n: n.value for n in self.nodes}
        self._adj: dict[Node, Any] = {}

    def _name_nodes(self) -> None:
        # Unnamed nodes get v1, v2, ... (ops), c1, ... (constants), a1, ... (leaves); a repeated
        # name gets a suffix, so every node has a unique label usable as a variable name.
        taken = {n.name for n in self.nodes if n.name is not None}
        counters = {"v": 0, "c": 0, "a": 0}
        seen: set[str] = set()
        for n in self.nodes:
            if n.name is not None and n.name not in seen:
                seen.add(n.name)
                continue
            if n.name is not None:
                base, k = n.name, 2
                while f"{base}_{k}" in taken:
                    k += 1
                n.name = f"{base}_{k}"
            else:
                key = "v" if n.kind == "op" else "c" if n.kind == "const" else "a"
                while True:
                    counters[key] += 1
                    n.name = f"{key}{counters[key]}"
                    if n.name not in taken:
                        break
            taken.add(n.name)
            seen.add(n.name)

    # -- structure ------------------------------------------------------------------------------
    @property
    def params(self) -> list[Node]:
        """Leaves that are differentiated, in graph order."""
        ps = [n for n in self.nodes if n.kind == "param"]
        order = getattr(self, "param_order", None)
        return sorted(ps, key=lambda n: order.index(n.name) if n.name in order else len(order)) if order else ps

    @property
    def inputs(self) -> list[Node]:
        """Data and hyperparameter leaves (not differentiated)."""
        return [n for n in self.nodes if n.kind == "input"]

    @property
    def ops(self) -> list[Node]:
        return [n for n in self.nodes if n.kind == "op"]

    @property
    def variables(self) -> list[Node]:
        """The lecture's "variable nodes": parameters and named intermediate steps."""
        return [n for n in self.nodes if n.kind == "param" or (n.kind == "op" and n.named)]

    @property
    def edges(self) -> list[Edge]:
        """Every (parent → child) edge, in node order then argument order."""
        return [Edge(p, n, i, n.primitive.name) for n in self.nodes if n.primitive for i, p in enumerate(n.parents)]

    def children(self) -> dict[Node, list[tuple[Node, int]]]:
        """For each node, the (child, argnum) pairs that use it."""
        ch: dict[Node, list[tuple[Node, int]]] = {n: [] for n in self.nodes}
        for e in self.edges:
            ch[e.parent].append((e.child, e.argnum))
        return ch

    def __getitem__(self, name: str) -> Node:
        try:
            return self.by_name[name]
        except KeyError:
            raise BadInput(f"no node named {name!r}; nodes: {', '.join(self.by_name)}") from None

    def __len__(self) -> int:
        return len(self.nodes)

    def __repr__(self) -> str:
        return f"Graph({self.name!r}, {len(self.nodes)} nodes, {len(self.ops)} ops, params {[n.name for n in self.params]})"

    # -- evaluation -----------------------------------------------------------------------------
    def _prepare_point(self, point: Mapping[str, Any]) -> dict[str, Any]:
        return dict(point)

    @property
    def values(self) -> dict[str, Any]:
        return {n.name: v for n, v in self._vals.items()}

    @property
    def adjoints(self) -> dict[str, Any]:
        return {n.name: v for n, v in self._adj.items() if v is not zero}

    def value(self, node: Node | str) -> Any:
        return self._vals[self[node] if isinstance(node, str) else node]

    def forward(self, point: Mapping[str, Any] | None = None) -> Any:
        """Evaluate every node in order, with leaf values from ``point`` (name → value).

        Leaves not in ``point`` keep their previous values.  Returns the output's value.
        """
        pt = self._prepare_point(point or {})
        leaves = {n.name: n for n in self.nodes if n.kind in ("param", "input")}
        for k in pt:
            if k not in leaves:
                raise BadInput(f"unknown input {k!r}; this graph's leaves are {', '.join(leaves) or 'none'}")
        vals = self._vals
        anomaly = anomaly_enabled()
        for n in self.nodes:
            if n.primitive is None:
                if n.name in pt:
                    vals[n] = as_value(pt[n.name], f"value for {n.name!r}")
                elif vals.get(n) is None and n.kind != "const":
                    raise BadInput(f"no value for {n.kind} {n.name!r}; pass it in the point")
                continue
            # the reference forward interpreter (sweep.evaluate), one node at a time for the messages
            try:
                with np.errstate(all="ignore") if anomaly else _nullcontext():
                    vals[n] = n.primitive.impl(*[vals[p] for p in n.parents], **n.params)
            except (ValueError, TypeError) as exc:
                shapes = ", ".join(str(np.shape(vals[p])) for p in n.parents)
                raise BadInput(f"node {n.name} ({n.primitive.name}) cannot combine shapes {shapes}: {exc}") from None
            if anomaly:
                check_finite(vals[n], n, "forward", values=vals)
        self._adj = {}
        return vals[self.output]

    def backward(self) -> dict[str, Any]:
        """Adjoints ∂output/∂v of every node that depends on a parameter, by name.

        A fresh mapping each call: running it twice gives the same answer.
        """
        out = self.output
        if np.shape(self._vals[out]) != ():
            raise BadInput(f"backward needs a scalar output; {out.name} has shape {np.shape(self._vals[out])}")
        if not out.needs_grad:
            self._adj = {}
            return {}
        adj = backward_pass(out, 1.0, retain=True, values=self._vals)
        self._adj = {n: materialize(adj[n], self._vals[n]) for n in self.nodes if n in adj}
        return self.adjoints

    def gradient(self, point: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Forward at ``point`` then backward: ∂output/∂p for each parameter p, by name."""
        self.forward(point)
        out = self.output
        if np.shape(self._vals[out]) != ():
            raise BadInput(f"gradient needs a scalar output; {out.name} has shape {np.shape(self._vals[out])}")
        ps = self.params
        adj = backward_pass(out, 1.0, wrt=ps, values=self._vals) if out.needs_grad else {}
        return {p.name: materialize(adj.get(p, zero), self._vals[p]) for p in ps}

    # -- derived views --------------------------------------------------------------------------
    def op_counts(self) -> dict[str, int]:
        """Forward and backward operation counts (convention in ``diffkit.engine.opcount``)."""
        from .opcount import op_counts
        return op_counts(self)

    def to_dot(self, *, values: bool = True) -> str:
        """Graphviz DOT text (see ``diffkit.engine.draw``)."""
        from .draw import to_dot
        return to_dot(self, values=values)


def trace(f: Callable, *args: Any, wrt: Sequence[str | int] | None = None, name: str | None = None) -> Graph:
    """Record ``f(*args)`` as a :class:`Graph`; leaves are named after ``f``'s parameters.

    Parameters
    ----------
    f : callable
        Written with diffkit's operations, one array/scalar per argument.
    wrt : sequence of names or positions, optional
        Which arguments are parameters (differentiated); the others are inputs.  Default: all.
    """
    try:
        names = list(inspect.signature(f).parameters)[:len(args)]
    except (TypeError, ValueError):
        names = []
    names += [f"a{i}" for i in range(len(names), len(args))]
    wrt_set = set(range(len(args))) if wrt is None else {names.index(w) if isinstance(w, str) else w for w in wrt}
    level = new_level()
    leaves = [param(a, n, trace=level) if i in wrt_set else input_leaf(a, n, trace=level)
              for i, (a, n) in enumerate(zip(args, names))]
    out = f(*leaves)
    return Graph(out, name=name or getattr(f, "__name__", "graph"))


def backward(graph: Graph) -> dict[str, Any]:
    """Run the backward pass of ``graph``; the adjoints by node name (same as ``graph.backward()``)."""
    return graph.backward()
