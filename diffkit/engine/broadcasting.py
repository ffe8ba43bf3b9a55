"""The shape rule of undoing broadcasting, shared by the reference sweep (:func:`diffkit.engine.sweep.settle`)
and the fused code generator (``Gen.settle``, on static shapes), so the two cannot disagree.

>>> settle_plan((4, 3), (4, 3), (3,))     # sum axis 0
((0,), 1)
>>> settle_plan((), (4, 3), (4, 1))       # a lazy scalar standing for (4, 3): times 3
((), 3)
>>> settle_plan((2,), (4, 3), (3,)) is None
True
"""

from __future__ import annotations


def settle_plan(cs: tuple, logical: tuple, target: tuple) -> tuple[tuple, int] | None:
    """(axes of ``cs`` to sum, product of the lazily broadcast axes' lengths) that bring a contribution
    standing for its broadcast to ``logical`` down to ``target``; None if ``cs`` does not broadcast."""
    lead, tpad = len(logical) - len(cs), (1,) * (len(logical) - len(target)) + tuple(target)
    axes, factor = [], 1
    for k, lk in enumerate(logical):
        ck = 1 if k < lead else cs[k - lead]
        if ck != 1 and ck != lk:
            return None
        if tpad[k] == 1 and lk != 1:
            if ck == 1:
                factor *= lk
            else:
                axes.append(k - lead)
    return tuple(axes), factor
