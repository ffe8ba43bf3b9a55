"""Backends that read the primitive records and are tested equal to the reference sweep.

* ``replay`` — ``compile_gradient``: a recorded graph written out as straight-line Python, from the
  records' ``"math"``/``"numpy"`` templates (or calling their implementations and VJP rules);
* ``codegen`` — fused NumPy for array graphs with a buffer pool, the generic machinery;
* ``fused`` — what it is made of: values, the pool, the lazy algebra and the :class:`Fused`
  emitter record a primitive carries as ``code["fused"]``.

Nothing is imported here: the rules modules import ``fused`` while the engine package is loading.
"""
