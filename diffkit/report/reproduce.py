"""What "the same report" means when wall times are measured.

Everything in a report is a deterministic function of its inputs except measured wall times.  The
HTML wraps each timing-dependent fragment (the wall-time plot, the time column of the cost table) in
``<!--timing-->…<!--/timing-->``; :func:`strip_timing` removes them, and two reports of the same
inputs must then be byte-identical.  With timing switched off (``StudySettings(timing=False)``,
``diffkit report --no-timing``) the HTML *and* the PDF are byte-identical as they are.  A report
rendered twice from the same result objects is byte-identical in both formats, timing or not.

>>> strip_timing("a<!--timing-->12 ms<!--/timing-->b")
'a<!--timing--><!--/timing-->b'
"""

from __future__ import annotations

import re

_TIMING = re.compile(r"<!--timing-->.*?<!--/timing-->", re.S)


def strip_timing(html: str) -> str:
    """``html`` with the content of every timing-dependent fragment removed (markers kept)."""
    return _TIMING.sub("<!--timing--><!--/timing-->", html)
