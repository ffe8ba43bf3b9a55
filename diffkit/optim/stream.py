"""Data from a ``.npy`` file: a 2-D float array whose column ``target`` (an index) is the target."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import BadInput
from .data import Dataset


def load_npy(path: str | Path, *, target: str | int) -> Dataset:
    """The rows of a 2-D ``.npy`` array; ``target`` is the index of the target column (−1: the last)."""
    p = Path(path)
    if not p.is_file():
        raise BadInput(f"data file {str(p)!r} does not exist or is not a regular file")
    try:
        t = int(target)
    except (TypeError, ValueError):
        raise BadInput(f"--target for a .npy file is a column index such as -1, got {target!r}") from None
    try:
        a = np.load(p, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise BadInput(f"cannot read {p.name} as a .npy array: {exc}") from None
    if a.ndim != 2 or a.shape[1] < 2 or a.dtype.kind not in "fiu":
        raise BadInput(f"{p.name}: expected a 2-D numeric array with ≥ 2 columns, got shape {a.shape}, dtype {a.dtype}")
    k = a.shape[1]
    if not -k <= t < k:
        raise BadInput(f"{p.name}: target column {t} is out of range for {k} columns")
    t %= k
    cols = [j for j in range(k) if j != t]
    return Dataset(np.asarray(a[:, cols], dtype=np.float64), np.asarray(a[:, t], dtype=np.float64),
                   tuple(f"x{j + 1}" for j in range(k - 1)), "y", str(p))
