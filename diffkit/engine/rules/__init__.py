"""The primitive records, by family: ``elementwise``, ``array``, ``losses`` (and the layer zoo).

Importing this package registers every primitive in :data:`diffkit.engine.core.REGISTRY`.
"""

from . import elementwise, array, losses  # noqa: F401  (registration order = REGISTRY order)
from . import layers  # noqa: F401  (the layer zoo's primitives: diffkit.engine.layers)
