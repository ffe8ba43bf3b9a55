"""Data larger than memory: a ``.npy`` file (or a CSV converted in chunks) read a window at a time.

:class:`FileData` stands where a :class:`~diffkit.optim.data.Dataset` goes for the linear models
(linear and logistic regression).  Only the target vector (n floats) is held in memory; feature
rows are read on demand.  Reading never maps the whole file: a gather maps one window of
:data:`WINDOW_BYTES` at a time (``np.memmap`` with an offset), takes the rows it needs and unmaps it,
so the process's address space grows by one window, not by the file — SGD and minibatch SGD
then run under an address-space limit smaller than the data (``RLIMIT_AS``; the tests check it).

Same iterates as in memory: the runner draws the same indices, the rows gathered for a block of
steps are the same numbers, and the update code is the same (the blocked least-squares fast path
gets the gathered rows), so a streamed run matches the in-memory run of the same seed.

Full passes (GD's gradient, the loss recorded in the history, AᵀA/n for the default step size and
the optimum) go over the file in windows.  F* of least squares comes from the normal equations
accumulated over the windows (with λ = 0 the system AᵀA w = Aᵀy, not ``lstsq``).
"""

from __future__ import annotations

import csv
import math
import os
import tempfile
import weakref
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import BadInput
from ..constraints import shorten
from .data import Dataset

#: Bytes mapped at a time.
WINDOW_BYTES = 8 * 2**20


def load_npy(path: str | Path, *, target: str | int) -> Dataset:
    """The rows of a 2-D ``.npy`` array, in memory; ``target`` is the index of the target column (−1: last)."""
    fd = open_npy(path, target=target)
    X = np.empty((fd.n, fd.d))
    for lo, hi, rows in fd.windows():
        X[lo:hi] = rows
    return Dataset(X, fd.y, fd.features, fd.target, str(path))


def _header(p: Path):
    try:
        with open(p, "rb") as f:
            version = np.lib.format.read_magic(f)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, fortran, dtype = read(f)
            offset = f.tell()
    except (ValueError, OSError, EOFError) as exc:
        raise BadInput(f"cannot read {p.name} as a .npy array: {exc}") from None
    return shape, fortran, dtype, offset


def open_npy(path: str | Path, *, target: str | int) -> "FileData":
    """A :class:`FileData` over a 2-D float64/float32/integer C-ordered ``.npy`` file (nothing is loaded
    but the target column, read window by window)."""
    p = Path(path)
    if not p.is_file():
        raise BadInput(f"data file {shorten(str(p))} does not exist or is not a regular file")
    try:
        t = int(target)
    except (TypeError, ValueError):
        raise BadInput(f"--target for a .npy file is a column index such as -1, got {shorten(str(target)[:40])}") from None
    shape, fortran, dtype, offset = _header(p)
    if len(shape) != 2 or shape[1] < 2 or dtype.kind not in "fiu" or fortran:
        raise BadInput(f"{p.name}: expected a 2-D C-ordered numeric array with ≥ 2 columns, "
                       f"got shape {shape}, dtype {dtype}{', Fortran order' if fortran else ''}")
    n, k = int(shape[0]), int(shape[1])
    if n == 0:
        raise BadInput(f"{p.name}: the array has no rows")
    if not -k <= t < k:
        raise BadInput(f"{p.name}: target column {t} is out of range for {k} columns")
    fd = FileData(str(p), n, k, t % k, np.dtype(dtype).str, offset)
    y = np.empty(n)
    for lo, hi, block in fd._raw_windows():
        y[lo:hi] = block[:, fd.target_col]
        if not np.isfinite(block).all():
            bad = lo + int(np.argwhere(~np.isfinite(block))[0][0])
            raise BadInput(f"{p.name}: row {bad} contains NaN or infinity")
    y.flags.writeable = False
    object.__setattr__(fd, "y", y)
    return fd


@dataclass(frozen=True)
class FileData:
    """A data set whose feature rows stay in a ``.npy`` file (see the module docstring).

    Picklable (the path and the target), so the runs of a study can go to other processes.
    """

    path: str
    n: int
    columns: int
    target_col: int
    dtype: str
    offset: int
    y: np.ndarray = field(default=None, repr=False, compare=False)  # type: ignore[assignment]
    labels: tuple[float, ...] | None = None
    _keep: object = field(default=None, repr=False, compare=False)  # a temporary file's cleanup

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_keep"] = None  # the temporary file belongs to the process that made it
        return state

    def __setstate__(self, state):
        for k, v in state.items():
            object.__setattr__(self, k, v)

    @property
    def d(self) -> int:
        return self.columns - 1

    @property
    def features(self) -> tuple[str, ...]:
        return tuple(f"x{j + 1}" for j in range(self.d))

    @property
    def target(self) -> str:
        return "y"

    @property
    def source(self) -> str:
        return f"{Path(self.path).name} (streamed from disk: n={self.n}, d={self.d})"

    @property
    def classes(self) -> int | None:
        return None if self.labels is None else len(self.labels)

    @property
    def _cols(self) -> np.ndarray:
        return np.array([j for j in range(self.columns) if j != self.target_col])

    def _rows_per_window(self) -> int:
        return max(1, WINDOW_BYTES // (self.columns * np.dtype(self.dtype).itemsize))

    def _map(self, lo: int, hi: int) -> np.ndarray:
        item = np.dtype(self.dtype).itemsize
        return np.memmap(self.path, dtype=np.dtype(self.dtype), mode="r", shape=(hi - lo, self.columns),
                         offset=self.offset + lo * self.columns * item)

    def _raw_windows(self):
        step = self._rows_per_window()
        for lo in range(0, self.n, step):
            hi = min(self.n, lo + step)
            mm = self._map(lo, hi)
            try:
                yield lo, hi, np.asarray(mm, dtype=np.float64)
            finally:
                del mm

    def windows(self):
        """(first row, end row, feature rows as float64) for each window of the file, in order.

        With the target in the last column the rows are a view of the mapped window (no copy).
        """
        last = self.target_col == self.columns - 1
        cols = self._cols
        for lo, hi, block in self._raw_windows():
            yield lo, hi, block[:, :-1] if last else block[:, cols]

    def take(self, idx: np.ndarray) -> np.ndarray:
        """The feature rows ``idx`` (in that order, repeats allowed), one window mapped at a time."""
        idx = np.asarray(idx, dtype=np.intp)
        out = np.empty((len(idx), self.d))
        if not len(idx):
            return out
        if idx.min() < 0 or idx.max() >= self.n:
            raise IndexError(f"row indices must lie in [0, {self.n})")
        step = self._rows_per_window()
        win = idx // step
        order = np.argsort(win, kind="stable")
        bounds = np.searchsorted(win[order], np.arange(win.max() + 2))
        cols = slice(0, self.d) if self.target_col == self.d else self._cols
        for w in np.unique(win):
            sel = order[bounds[w]:bounds[w + 1]]
            lo, hi = int(w) * step, min(self.n, (int(w) + 1) * step)
            mm = self._map(lo, hi)
            try:
                out[sel] = mm[idx[sel] - lo, cols]
            finally:
                del mm
        return out


def stream_csv(path: str | Path, *, target: str, chunk_rows: int = 65536) -> FileData:
    """A CSV file converted, ``chunk_rows`` lines at a time, into a temporary ``.npy`` file that
    :class:`FileData` then streams (deleted when the FileData is).  Cells are validated as
    :func:`~diffkit.optim.data.load_csv` does; the target becomes the last column."""
    p = Path(path)
    if not p.is_file():
        raise BadInput(f"data file {shorten(str(p))} does not exist or is not a regular file")
    tmpdir = tempfile.mkdtemp(prefix="diffkit-stream-")
    out_path = os.path.join(tmpdir, p.stem + ".npy")
    try:
        with open(p, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            header = next((r for r in reader if any(c.strip() for c in r)), None)
            if header is None:
                raise BadInput(f"data file {shorten(str(p))} is empty; it needs a header row and data rows")
            header = [h.strip() for h in header]
            if target not in header:
                raise BadInput(f"{p.name}: no target column {shorten(target)}; columns are {', '.join(header)}")
            cols = [j for j, h in enumerate(header) if h != target] + [header.index(target)]
            n = 0
            with open(out_path + ".raw", "wb") as raw:
                buf: list[list[float]] = []
                line = 1
                for row in reader:
                    line += 1
                    if not any(c.strip() for c in row):
                        continue
                    if len(row) != len(header):
                        raise BadInput(f"{p.name}: row {line}: expected {len(header)} cells like the header "
                                       f"but found {len(row)}")
                    try:
                        vals = [float(row[j]) for j in cols]
                    except ValueError:
                        raise BadInput(f"{p.name}: row {line}: a cell is not a number") from None
                    if not all(math.isfinite(v) for v in vals):
                        raise BadInput(f"{p.name}: row {line}: NaN or infinity is not allowed")
                    buf.append(vals)
                    if len(buf) >= chunk_rows:
                        np.asarray(buf, dtype=np.float64).tofile(raw)
                        n += len(buf)
                        buf = []
                if buf:
                    np.asarray(buf, dtype=np.float64).tofile(raw)
                    n += len(buf)
        if n == 0:
            raise BadInput(f"{p.name}: the file has a header but no data rows")
        with open(out_path, "wb") as f:
            np.lib.format.write_array_header_1_0(f, {"descr": "<f8", "fortran_order": False,
                                                     "shape": (n, len(cols))})
            with open(out_path + ".raw", "rb") as raw:
                while True:
                    block = raw.read(1 << 22)
                    if not block:
                        break
                    f.write(block)
        os.unlink(out_path + ".raw")
        fd = open_npy(out_path, target=-1)
    except BaseException:
        _remove(tmpdir)
        raise
    keep = weakref.finalize(fd.y, _remove, tmpdir)
    object.__setattr__(fd, "_keep", keep)
    return fd


def _remove(folder: str) -> None:
    import shutil
    shutil.rmtree(folder, ignore_errors=True)


class StreamingGradient:
    """Linear and logistic regression over a :class:`FileData`: the SymPy matrix-form gradient,
    lambdified once, evaluated on the rows of each batch as they are read."""

    name = "symbolic"
    form = "matrix"
    streamed = True

    def __init__(self, model, data: FileData) -> None:
        from .gradients import SymbolicGradient

        kind = model.spec.get("kind")
        if kind not in ("linear-regression", "logistic-regression"):
            raise BadInput(f"streamed data train linear-regression or logistic-regression, not {shorten(model.name)}")
        self.model, self.data = model, data
        head = min(data.n, 64)
        idx = np.arange(head)
        self._sym = SymbolicGradient(model, Dataset(data.take(idx), data.y[:head], data.features, "y"))
        if self._sym.form != "matrix":
            raise BadInput(f"the matrix form of {shorten(model.name)} is needed to stream data")
        self.p = self._sym.p
        self.bias = self.p == data.d + 1
        self.least_squares = kind == "linear-regression"
        self._gram = None

    def _design(self, X: np.ndarray) -> np.ndarray:
        return np.hstack([X, np.ones((X.shape[0], 1))]) if self.bias else X

    def rows(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(design rows, targets) of ``idx``, read from the file."""
        return self._design(self.data.take(idx)), self.data.y[idx]

    def grad_rows(self, w: np.ndarray, A: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Σ ∇lᵢ(w) over design rows already read (see :meth:`rows`)."""
        return np.asarray(self._sym._fg(w.reshape(-1, 1), A, y.reshape(-1, 1)), dtype=np.float64).reshape(-1)

    def grad_sum(self, w: np.ndarray, idx: np.ndarray | None = None) -> np.ndarray:
        fg = self._sym._fg
        if idx is not None:
            A, y = self.rows(idx)
            return np.asarray(fg(w.reshape(-1, 1), A, y.reshape(-1, 1)), dtype=np.float64).reshape(-1)
        g = np.zeros(self.p)
        for lo, hi, X in self.data.windows():
            g += np.asarray(fg(w.reshape(-1, 1), self._design(X), self.data.y[lo:hi].reshape(-1, 1)),
                            dtype=np.float64).reshape(-1)
        return g

    def loss_of(self, w: np.ndarray, X: np.ndarray, y: np.ndarray) -> float:
        return self._sym.loss_of(w, X, y)

    def loss_sum(self, w: np.ndarray) -> float:
        if self.least_squares:  # the matrix form ½‖y − Xw‖² has no sample count in it: any rows will do
            fl, wc = self._sym._fl, w.reshape(-1, 1)
            return float(sum(float(np.asarray(fl(wc, self._design(X), self.data.y[lo:hi].reshape(-1, 1))).reshape(-1)[0])
                             for lo, hi, X in self.data.windows()))
        return float(sum(self._sym.loss_of(w, X, self.data.y[lo:hi]) for lo, hi, X in self.data.windows()))

    def flops(self, batch: int) -> int:
        return self._sym.flops(batch)

    def to_model_order(self, w):
        return np.asarray(w, dtype=np.float64)

    def from_model_order(self, w):
        return np.asarray(w, dtype=np.float64)

    def gram(self) -> tuple[np.ndarray, np.ndarray]:
        """(AᵀA/n, Aᵀy/n), accumulated over the windows."""
        if self._gram is None:
            G, b = np.zeros((self.p, self.p)), np.zeros(self.p)
            for lo, hi, X in self.data.windows():
                A = self._design(X)
                G += A.T @ A
                b += A.T @ self.data.y[lo:hi]
            self._gram = (G / self.data.n, b / self.data.n)
        return self._gram

    def sgd_block(self, w: np.ndarray, idx: np.ndarray, alphas: np.ndarray, lam: float) -> np.ndarray:
        """The blocked least-squares SGD steps of the in-memory fast path, on the gathered rows."""
        from .fastpath import sgd_least_squares
        A, y = self.rows(idx)
        return sgd_least_squares(w, A, y, np.arange(len(idx)), alphas, lam)
