"""The primitive records, by family: ``elementwise``, ``array``, ``losses``; the NumPy surface
``more_elementwise``, ``indexing``, ``reductions``, ``linalg`` (and ``composed``: NumPy functions
written as compositions of these, with no records of their own).

Importing this package registers every primitive in :data:`diffkit.engine.core.REGISTRY`.
"""

from . import elementwise, array, losses  # noqa: F401  (registration order = REGISTRY order)
from . import more_elementwise, indexing, reductions, linalg, composed  # noqa: F401

#: The primitives of the NumPy-surface modules (their records carry ``domain``/``cases`` for the checker).
SURFACE = more_elementwise.PRIMITIVES + indexing.PRIMITIVES + reductions.PRIMITIVES + linalg.PRIMITIVES
