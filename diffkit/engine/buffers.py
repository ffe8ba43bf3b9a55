"""A small cache of large array buffers, so that repeated gradients do not page-fault.

Why it exists: glibc hands the top of the heap back to the operating system once more than
about 16 MB of it is free, so a program that makes and drops the same 8 MB arrays on every call
pays a page fault for every 4 KiB page of them, every call.  On the machine these benchmarks ran
on, that costs about 1 ms per 8 MB, more than the arithmetic.  The ridge-sigmoid loss over 10⁶
points (W2) spent about half its time in page faults.

The engine makes its large results (forward values of primitives, cotangents in VJP rules) with
:func:`empty`, which hands out a view of a cached block.  A block is reused only when no array
anywhere refers to it: every view of a block keeps the block alive (NumPy points every view at
the array that owns the memory), so a block whose reference count is back to the cache's own is
unreachable.  Nothing a user or a node can see is ever overwritten; a gradient the caller keeps
simply keeps its block busy.

Arrays under :data:`MIN_BYTES` (256 KiB) come from ``np.empty``: malloc serves them from its free
lists without faults.  From about that size on, whether malloc's memory faults depends on what the
process allocated before (glibc maps a block with ``mmap`` until its dynamic threshold has risen
past that size, and trims the top of the heap): the MLP of W3 in float64, with 256 KiB
activations, faulted about 850 pages a step in a fresh process with a 1 MB limit, and none with
this one; its 128 KiB float32 activations were not seen to fault, and the cache costs more than
``np.empty`` (~1.8 µs against 0.3 µs), so they stay below the limit.  At most ``max_idle_bytes`` of idle blocks are kept (least recently used go
first); :func:`set_buffer_cache` changes that, ``0`` switches the cache off.

>>> a = empty((1024, 512), np.float64)
>>> a.shape, a.dtype.name, a.base is not None
((1024, 512), 'float64', True)
>>> b = empty((1024, 512), np.float64)   # a is alive: a different block
>>> bool(np.shares_memory(a, b))
False
>>> where = {a.ctypes.data, b.ctypes.data}
>>> del a, b
>>> c = empty((512, 1024), np.float64)  # same number of bytes: an idle block is reused
>>> c.ctypes.data in where
True
"""

from __future__ import annotations

import mmap
import sys
import threading
from math import prod
from typing import Any

import numpy as np

__all__ = ["empty", "set_buffer_cache", "clear_buffer_cache", "stats", "MIN_BYTES"]

#: Arrays smaller than this are plain ``np.empty``: malloc's free lists hand back recently freed
#: (cache-warm) memory for them and rarely fault, and the cache costs ~1.8 µs a call.
MIN_BYTES = 256 << 10
_MAX_BLOCKS = 64  # bounds the scan in ``empty``

_lock = threading.Lock()
class _Gifts(threading.local):
    arrays: list | tuple = ()  # (a class default: looking up a missing thread-local attribute is slow)


_gift = _Gifts()  # arrays the next result may be written into (elide.donate)
_blocks: list[np.ndarray] = []  # uint8 blocks, least recently used first
_limit = [256 << 20]  # bytes of idle blocks kept


def _idle(i: int) -> bool:
    # References: the list and getrefcount's own argument.  Any live view adds one.
    return _getrefcount(_blocks[i]) == 2


_getrefcount = sys.getrefcount


def empty(shape: tuple, dtype: Any) -> np.ndarray:
    """An uninitialised C-contiguous array of ``shape`` and ``dtype``, from the cache when large.

    Parameters
    ----------
    shape : tuple of int
    dtype : NumPy dtype

    Returns
    -------
    ndarray
        Owned by the caller alone: no live array shares its memory.
    """
    if not isinstance(dtype, np.dtype):
        dtype = np.dtype(dtype)
    if _gift.arrays:
        g = take_gift(shape, dtype)
        if g is not None:
            return g
    nbytes = prod(shape) * dtype.itemsize
    if nbytes < MIN_BYTES or not _limit[0]:
        return np.empty(shape, dtype)
    with _lock:
        last = len(_blocks) - 1
        for i in range(last, -1, -1):
            if _blocks[i].nbytes == nbytes and _getrefcount(_blocks[i]) == 2:  # idle (see _idle)
                block = _blocks[i]
                if i != last:  # the most recently used last
                    del _blocks[i]
                    _blocks.append(block)
                return block.view(dtype).reshape(shape)
        _evict(nbytes)
        if len(_blocks) >= _MAX_BLOCKS:
            return np.empty(shape, dtype)
        block = _new_block(nbytes)
        _blocks.append(block)
        return block.view(dtype).reshape(shape)


def take_gift(shape: tuple, dtype: Any) -> np.ndarray | None:
    """A donated array of ``shape`` and ``dtype`` (withdrawn from the gifts), or None."""
    arrays = _gift.arrays
    for i, a in enumerate(arrays):
        if a.shape == tuple(shape) and a.dtype == dtype and a.flags.c_contiguous:
            return arrays.pop(i)
    return None


def donate(arrays: list) -> None:
    """The next :func:`empty` calls of this thread may return these arrays (of their shape and
    dtype) instead of new memory: values that die at the result being made (``elide.py``).
    ``donate([])`` withdraws them."""
    _gift.arrays = list(arrays)


def _new_block(nbytes: int) -> np.ndarray:
    # Anonymous memory of its own, outside malloc's heap: the cache must not change how the
    # rest of the process (e.g. hand-written NumPy it is compared with) allocates and faults.
    mm = mmap.mmap(-1, nbytes)
    if hasattr(mmap, "MADV_HUGEPAGE"):  # as NumPy does for its large arrays
        try:
            mm.madvise(mmap.MADV_HUGEPAGE)
        except OSError:
            pass
    return np.frombuffer(mm, np.uint8)


def _evict(incoming: int) -> None:
    """Drop least recently used idle blocks until the idle ones (plus ``incoming``) fit the limit."""
    idle = [i for i in range(len(_blocks)) if _idle(i)]
    total = incoming + sum(_blocks[i].nbytes for i in idle)
    drop = []
    for i in idle:
        if total <= _limit[0] and len(_blocks) - len(drop) < _MAX_BLOCKS:
            break
        drop.append(i)
        total -= _blocks[i].nbytes
    for i in reversed(drop):
        del _blocks[i]


def set_buffer_cache(max_idle_bytes: int) -> int:
    """Keep at most ``max_idle_bytes`` of idle buffers (0: no cache); returns the previous limit.

    >>> old = set_buffer_cache(0); set_buffer_cache(old)
    0
    """
    if max_idle_bytes < 0:
        raise ValueError(f"max_idle_bytes must be >= 0, got {max_idle_bytes}")
    with _lock:
        old, _limit[0] = _limit[0], int(max_idle_bytes)
        if not _limit[0]:
            _blocks.clear()
    return old


def clear_buffer_cache() -> None:
    """Forget every cached block (blocks still in use are freed when their arrays are)."""
    with _lock:
        _blocks.clear()


def stats() -> dict[str, int]:
    """Blocks held, how many are idle, and their bytes."""
    with _lock:
        idle = [i for i in range(len(_blocks)) if _idle(i)]
        return {"blocks": len(_blocks), "idle": len(idle),
                "bytes": sum(b.nbytes for b in _blocks),
                "idle_bytes": sum(_blocks[i].nbytes for i in idle)}
