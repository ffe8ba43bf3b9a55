"""NumPy floating-point warnings turned into findings (data), never printed raw.

An overflow in ``exp`` or a division by zero while the analyzer evaluates a gradient is a fact
about the model at that point, and the user should read it as one ("overflow encountered in exp,
3 times, in the numeric derivative at w = 800"), not as a ``RuntimeWarning`` line with an
internal file path.  :func:`capture` records every such warning raised inside it; each stage
says which source it was evaluating with :meth:`Recorder.source`.

Examples
--------
>>> import numpy as np
>>> with capture() as rec:
...     with rec.source("symbolic"):
...         _ = np.exp(np.float64(1000.0))
...         _ = np.exp(np.float64(2000.0))
>>> [(f.source, f.message, f.count) for f in rec.findings()]
[('symbolic', 'overflow encountered in exp', 2)]
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator


@dataclass(frozen=True)
class NumericWarning:
    """A floating-point warning NumPy raised while diffkit evaluated ``source``."""

    source: str        # "loss", "symbolic", "reverse", "numeric", "complex_step", "graph", ...
    message: str       # NumPy's text, e.g. "overflow encountered in exp"
    category: str      # "RuntimeWarning"
    count: int

    def to_dict(self) -> dict:
        return {"source": self.source, "message": self.message, "category": self.category, "count": self.count}


class Recorder:
    """Collects warnings by (source, message), in first-seen order."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, str, str], int] = {}
        self._where = "analysis"
        self._log: list = []

    @contextmanager
    def source(self, name: str) -> Iterator[None]:
        self.flush()
        before, self._where = self._where, name
        try:
            yield
        finally:
            self.flush()
            self._where = before

    def flush(self) -> None:
        for w in self._log:
            if not issubclass(w.category, RuntimeWarning):
                continue
            key = (self._where, str(w.message), w.category.__name__)
            self._counts[key] = self._counts.get(key, 0) + 1
        self._log.clear()

    def findings(self) -> list[NumericWarning]:
        self.flush()
        return [NumericWarning(s, m, c, n) for (s, m, c), n in self._counts.items()]


@contextmanager
def capture() -> Iterator[Recorder]:
    """Record NumPy's floating-point warnings (and any RuntimeWarning) raised inside, print none."""
    import numpy as np

    rec = Recorder()
    with warnings.catch_warnings(record=True) as log, np.errstate(all="warn"):
        warnings.simplefilter("always", RuntimeWarning)
        rec._log = log
        try:
            yield rec
        finally:
            rec.flush()
