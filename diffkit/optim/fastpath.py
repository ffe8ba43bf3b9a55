"""Exact fast paths for least squares: blocked single-sample SGD and a buffered full gradient.

Why: a Python loop over samples costs ~2 µs of interpreter overhead per step before any
arithmetic, so one epoch over n = 200,000 samples cannot approach a compiled SGD (scikit-learn's
Cython loop).  For squared loss the iterates inside a block have a closed form that runs at BLAS
speed, with no compiler dependency (numba would be the general alternative; it stays optional).

Within a block of B consecutive samples (rows X_B, steps α, regulariser λ) write the iterate as
w = s·v (the scaling trick of Bottou's and scikit-learn's SGD) with s_j = Π_{m<j}(1 − α_m λ)
(s ≡ 1 when λ = 0).  Then v_end = v + X_Bᵀc and w_end = s_B·v_end, where c solves

    (I + diag(ρ)·tril(X_B X_Bᵀ, −1)) c = D (X_B v − y_B / s),
    ρ_j = α_j / (1 − α_j λ),     D = diag(−α_j s_j / s_{j+1}).

The block operator P = (I + diag(ρ)·tril(G, −1))⁻¹ D (G = X_B X_Bᵀ) depends on the data and the
step sizes only — never on w — so the Gram blocks and all P are computed batched, a chunk of
blocks at a time, before the sequential loop, which per block is just r = X_B v − y_B/s (one
matvec, y carried as an extra column), c = P r (B×B) and v += X_Bᵀc: the flops of plain SGD plus
B² per block, with the Python overhead paid once per B samples.  P comes from the row recurrence
P_j,<j = −ρ_j G_j,<j P_<j,<j, P_jj = D_jj (forward substitution, vectorised over the blocks).

The iterates are those of the per-sample loop up to rounding (the tests check this); only the
arithmetic differs, so the flop count reported stays that of the per-sample algorithm (see
:mod:`diffkit.optim.cost`).
"""

from __future__ import annotations

import numpy as np

#: Samples per block: large enough to amortise the per-block Python overhead (four NumPy calls),
#: small enough that the B·d Gram work per sample stays moderate.  16–20 were fastest at
#: n = 200,000, d = 100 on a 2-core machine (the total is flat there; 32 was 25% slower).
BLOCK = 16

#: Blocks prepared together (gather, Gram, operators): 128 × 16 rows × d = 100 is 1.6 MB, so a
#: chunk is still cache-resident when the sequential loop reads it back.
CHUNK = 128


def _block_operators(G: np.ndarray, rho: np.ndarray, diag: np.ndarray, out: np.ndarray) -> np.ndarray:
    """P = (I + diag(ρ)·tril(G, −1))⁻¹·diag(D) for a stack of blocks (K × B × B), into ``out``.

    Only the strict lower triangle of G is read; the strict upper triangle of ``out`` must be zero.
    Row j is −ρ_j G_j,<j P_<j,<j: B − 1 batched row products, cheaper than a batched inverse.
    """
    B = G.shape[1]
    out[:, 0, 0] = diag[:, 0]
    for j in range(1, B):
        row = np.matmul(G[:, j:j + 1, :j], out[:, :j, :j])
        row *= -rho[:, j, None, None]
        out[:, j:j + 1, :j] = row
        out[:, j, j] = diag[:, j]
    return out


def _loop(w: np.ndarray, A: np.ndarray, y: np.ndarray, idx: np.ndarray, alphas: np.ndarray,
          lam: float) -> np.ndarray:
    for i, a in zip(idx, alphas):
        w = w - a * ((A[i] @ w - y[i]) * A[i] + lam * w)
    return w


def sgd_least_squares(w: np.ndarray, A: np.ndarray, y: np.ndarray, idx: np.ndarray,
                      alphas: np.ndarray, lam: float, *, block: int = BLOCK, chunk: int = CHUNK) -> np.ndarray:
    """Apply len(idx) single-sample SGD steps w ← w − αⱼ((xᵢᵀw − yᵢ)xᵢ + λw), i = idx[j].

    Parameters
    ----------
    w : array of shape (d,)
        Start; not modified.
    A, y : arrays of shape (n, d) and (n,)
        Design matrix and targets (used as float64; pass float64 to avoid a copy).
    idx : integer array
        Sample of each step, each in [0, n) (with or without repeats).
    alphas : array, same length as ``idx``
        Step sizes.
    lam : float
        λ ≥ 0.
    block, chunk : int
        Samples per block (≥ 1) and blocks prepared together (≥ 1); they change only the
        rounding, never the iterates' definition.

    Returns the new iterate.  Non-finite values propagate (the runner detects divergence after
    each call).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> A, y = rng.standard_normal((50, 4)), rng.standard_normal(50)
    >>> idx, alphas = rng.integers(0, 50, 150), 0.1 / np.arange(1, 151)
    >>> w = np.zeros(4)
    >>> for i, a in zip(idx, alphas):
    ...     w = w - a * ((A[i] @ w - y[i]) * A[i] + 0.3 * w)
    >>> got = sgd_least_squares(np.zeros(4), A, y, idx, alphas, 0.3, block=8, chunk=4)
    >>> bool(np.allclose(got, w, rtol=1e-12, atol=1e-14))
    True
    """
    A = np.asarray(A, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    idx, alphas = np.asarray(idx, dtype=np.intp), np.asarray(alphas, dtype=np.float64)
    n, d = A.shape
    if block < 1 or chunk < 1:
        raise ValueError(f"block and chunk must be ≥ 1, got block={block}, chunk={chunk}")
    if len(idx) and (idx.min() < 0 or idx.max() >= n):
        raise IndexError(f"sample indices must lie in [0, {n}), got {idx.min()}..{idx.max()}")
    step = block * chunk
    full = len(idx) // block * block  # samples handled by blocks; the rest by the plain loop
    # v is carried as [v, −1] so that one matvec with the rows [x_i, y_i/s_i] gives X_B v − y_B/s
    va = np.empty(d + 1)
    va[:d], va[d] = w, -1.0
    v = va[:d]
    if full:
        rows = min(step, full)
        X = np.empty((rows, d))
        # a second copy of the rows (with y) makes the Gram product a plain GEMM: NumPy sends
        # X_B @ X_Bᵀ of one buffer to SYRK, which is ~2× slower than GEMM at these sizes
        Z = np.empty((rows, d + 1))
        P_all = np.zeros((rows // block, block, block))
        G_all = np.empty_like(P_all)
        r, c, t = np.empty(block), np.empty(block), np.empty(d)
        dot, add, mul = np.dot, np.add, np.multiply
    for s in range(0, full, step):
        ii, a = idx[s:min(s + step, full)], alphas[s:min(s + step, full)]
        nb = len(ii) // block
        a = a.reshape(nb, block)
        shrink = 1.0 - a * lam
        if lam != 0.0 and np.any(shrink == 0.0):  # a step that zeroes w: no scaling possible
            w = _loop(va[:d].copy(), A, y, ii, a.reshape(-1), lam)
            va[:d] = w
            continue
        # indices were checked above; mode="clip" lets np.take write into ``out`` unbuffered
        XC = np.take(A, ii, axis=0, out=X[:len(ii)], mode="clip")
        ZC = Z[:len(ii)]
        ZC[:, :d] = XC
        np.take(y, ii, out=ZC[:, d], mode="clip")
        XC, ZC = XC.reshape(nb, block, d), ZC.reshape(nb, block, d + 1)
        G = np.matmul(XC, ZC[:, :, :d].transpose(0, 2, 1), out=G_all[:nb])
        P = P_all[:nb]
        if lam == 0.0:
            _block_operators(G, a, -a, P)
            for XB, ZB, Pk in zip(XC, ZC, P):
                dot(ZB, va, out=r)
                dot(Pk, r, out=c)
                dot(c, XB, out=t)
                add(v, t, out=v)
        else:
            scale = np.cumprod(shrink, axis=1)  # s_1 .. s_B
            before = np.concatenate([np.ones((nb, 1)), scale[:, :-1]], axis=1)  # s_0 .. s_{B−1}
            ZC[:, :, d] /= before
            _block_operators(G, a / shrink, -a * before / scale, P)
            for XB, ZB, Pk, sB in zip(XC, ZC, P, scale[:, -1]):
                dot(ZB, va, out=r)
                dot(Pk, r, out=c)
                dot(c, XB, out=t)
                add(v, t, out=v)
                mul(v, sB, out=v)
    w = va[:d].copy()
    if full < len(idx):
        w = _loop(w, A, y, idx[full:], alphas[full:], lam)
    return w


class LeastSquaresGradient:
    """Σᵢ ∇lᵢ(w) = Aᵀ(Aw − y) over all samples, with the residual and result buffers reused.

    The full-batch step then costs exactly NumPy's ``A.T @ (A @ w - y)`` — two matrix–vector
    products and one pass over the residual — with no temporaries.  The returned array is
    overwritten by the next call.

    >>> A, y = np.arange(6.0).reshape(3, 2), np.ones(3)
    >>> LeastSquaresGradient(A, y)(np.array([1.0, -1.0])).tolist()
    [-12.0, -18.0]
    """

    def __init__(self, A: np.ndarray, y: np.ndarray) -> None:
        self.A = np.asarray(A, dtype=np.float64)
        self.y = np.ascontiguousarray(y, dtype=np.float64)
        self._r = np.empty(self.A.shape[0])
        self._g = np.empty(self.A.shape[1])

    def __call__(self, w: np.ndarray) -> np.ndarray:
        np.dot(self.A, w, out=self._r)
        np.subtract(self._r, self.y, out=self._r)
        return np.dot(self.A.T, self._r, out=self._g)
