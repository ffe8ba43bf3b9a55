"""The primitive records, by family: ``elementwise``, ``array``, ``losses``, the layer zoo
(``layers``), and the NumPy surface: ``more_elementwise``, ``indexing``, ``reductions``, ``linalg``
(and ``composed``: NumPy functions written as compositions of these, with no records of their own).

Importing this package registers every primitive in :data:`diffkit.engine.core.REGISTRY`.
"""

from . import elementwise, array, losses  # noqa: F401  (registration order = REGISTRY order)
from . import layers  # noqa: F401  (the layer zoo's primitives: diffkit.engine.layers)
from . import more_elementwise, indexing, reductions, linalg, composed  # noqa: F401
