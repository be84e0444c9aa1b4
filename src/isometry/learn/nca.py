"""Neighbourhood Components Analysis (NCA).

Goldberger, Roweis, Hinton, Salakhutdinov, "Neighbourhood Components Analysis" (2004).
Maximizes the expected leave-one-out accuracy of a stochastic nearest-neighbour
classifier, ``sum_i sum_{j in class(i)} p_ij`` with ``p_ij = softmax_j(-||L x_i - L x_j||^2)``.

Objective and gradient (:func:`nca_loss_grad`) are exact in float64 up to the softmax
terms below ``exp(-40)`` of their row's largest, which are dropped: each row adds at
most ``n * 4e-18`` to any sum, below float64 round-off. The work, in row blocks that
stay in cache:

1. screen: float32 logits ``2 z_i.z_j - |z_j|^2`` by one GEMM; candidates are the
   entries within ``40 + slack`` of their row's maximum, the slack bounding the
   float32 rounding (typically 0.1-2 % of the entries once L has grown);
2. exact: float64 logits of the candidates only (``O(candidates x k)``; when more
   than 1/8 of a block's entries are candidates, as in the first iterations, they
   come from a float64 GEMM instead, and later blocks skip the screen), then the
   softmax and ``W = P * (same - p_i)`` on them;
3. gradient ``-2 Z^T (diag(r + c) - W - W^T) X`` through sparse products with W,
   one pair for many blocks (up to ``_PENDING`` candidates held at a time).

Where the optional C kernels were built (``_nca_kernels.c``), steps 1-3 after the GEMMs
run there instead, one pass per row: selection, exact logits, softmax, weights, and
``(W + W^T) Z`` added entry by entry (no sparse matrix); 35-40% less time per evaluation
on digits and the 5,000 x 50 benchmark set, same values to float64 round-off.

From an optimizer's second evaluation on (the same ``scratch``), the C path screens only
the upper triangle of ``Z Z^T``, testing each entry for both of its rows. That needs each
row's floor before its row is complete: it comes from the exact logit of the row's nearest
point at the last evaluation, which bounds the row's largest from below, so no candidate is
missed, and which is the largest itself unless the step moved it. A stale or poor hint
only costs time. That GEMM is in bfloat16 where the CPU multiplies it natively (3-4x
float32 there), each entry tested with a bound on its error (from the rows' rounding,
float32 sums and the output's rounding) added, which lets ~2.5% more entries through than
float32 on digits. The float64 work is then done once per pair kept for either row (on
digits 1.7 entries per pair): one dot product for both logits and one update of
``(W + W^T) Z``, each row's share of it summed in registers. On replays of a fit's
evaluations that is 38% less time than a float32 triangle with the candidate work row by
row (digits 0.177 -> 0.109 s; 5,000 x 50: 2.75 -> 1.73 s; one process, alternating).

Up to 256 points (and no ``budget`` given) the whole (n, n) float64 softmax is
formed instead, which is cheaper there. metric-learn forms the dense (n, n) softmax and
two dense (n, n, k) float64 GEMMs per evaluation. The optimizer is the same (scipy's
L-BFGS-B, same defaults), so iterates match metric-learn's up to round-off.
"""

from __future__ import annotations

import ctypes
import functools
import numbers
from typing import Any

import numpy as np
import torch
from scipy import sparse
from scipy.optimize import minimize
from sklearn.base import BaseEstimator

from .._backend import rows_per_block
from .._native import load
from .._validate import Interval, Options, check_params
from ..errors import ConvergenceWarning
from ._base import MahalanobisMixin, check_supervised
from ._blockwork import Scratch, true_rows_cols
from ._init import check_n_components, initial_components

__all__ = ["NCA", "nca_loss_grad"]

#: softmax terms below exp(-CUT) of their row's largest are dropped
CUT = 40.0
_EPS32 = float(np.finfo(np.float32).eps)
#: up to this many rows, one dense float64 softmax is cheaper than screening
_DENSE_ROWS = 256
#: candidates in at most 1 / _GATHER of a block's entries: gather their float64 logits
_GATHER = 8
#: candidates gathered before one pair of sparse products with W (about 100 MB)
_PENDING = 1 << 22
#: rows of the low-precision Gram matrix formed by one GEMM when only its upper triangle is:
#: as many as fit in _PAIR_BYTES (on digits 584 bfloat16 rows: two GEMMs, 6% less time per
#: evaluation than blocks of 128 rows, whose GEMMs run well below the kernel's speed)
_PAIR_BYTES = 1 << 20
#: candidate pairs whose float64 logits are formed together (two (_CHUNK, k) buffers)
_CHUNK = 2048


_P, _I32, _I64 = ctypes.c_void_p, ctypes.c_int, ctypes.c_int64
_KERNELS = (
    ("nca_screen", _I64, (_P, _I32, _I32, _I64, _P, ctypes.c_float, _P, _P, _I64, _P)),
    ("nca_exact_candidates", _I64, (_P, _I32, _I32, _I64, ctypes.c_double, _P, _P, _P)),
    ("nca_screen_pairs_f32", _I64, (_P, _I32, _I32, _I64, _P, _P, _P, _P, _P, _P, _P, _I64, _I64, _P, _P)),
    ("nca_screen_pairs_bf16", _I64, (_P, _I32, _I32, _I64, _P, _P, _P, _P, _P, _P, _P, _I64, _I64, _P, _P)),
    ("nca_screen_inputs", _I32, (_I32, _I32, _P, _P, ctypes.c_double, _I32, _P, _P, _P, _P, _P, _P)),
    ("nca_pairs_accumulate", ctypes.c_double,
     (_I32, _I32, _I64, _P, _P, _P, _P, _P, _P, ctypes.c_double, _P, _P, _P, _P, _P, _P)),
    ("nca_accumulate", ctypes.c_double,
     (_I32, _I32, _I32, _I64, _P, _P, _P, _P, _P, _P, ctypes.c_double, _P, _P, _P, _P)),
)


def _kernels() -> ctypes.CDLL | None:
    """The C version of the candidate work (``_nca_kernels.c``), None when not built."""
    return load("isometry.learn._nca_kernels", _KERNELS)


def _candidates(Z: torch.Tensor, sq: torch.Tensor, screen: tuple | None, scratch: Scratch, step: int, s: int,
                e: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, bool]:
    """Row (in the block), column and exact float64 logit of each candidate of rows s:e.

    ``screen`` holds the float32 copies (None: screen with a float64 GEMM); the block
    buffers, sized for ``step`` rows, come from ``scratch``.

    A candidate is an entry whose float32 logit is within ``CUT + slack`` of its row's
    largest; the logit returned is ``2 z_i.z_j - |z_j|^2`` (``-|z_i|^2`` cancels in the
    row's softmax). The diagonal (i = j) is never a candidate. The last value says
    whether the float64 GEMM was needed (too many candidates to gather their logits).
    """
    n, k = Z.shape
    mask = scratch.get("mask", (step, n), bool)[: e - s]
    if screen is not None:
        Z32, Z32T, neg_sq32, slack = screen
        buf = torch.from_numpy(scratch.get("block32", (step, n), np.float32))[: e - s]
        A = torch.addmm(neg_sq32, Z32[s:e], Z32T, alpha=2.0, out=buf)
        A.diagonal(offset=s).fill_(-torch.inf)
        floor = torch.amax(A, dim=1) - (CUT + slack[s:e])
        r, c = _at_least(A, floor, mask)
        if len(r) * _GATHER <= (e - s) * n:
            pairs = torch.from_numpy(scratch.get("pairs", (2, _CHUNK, k), np.float64))
            return r, c, _pair_logits(Z, sq, r + s, c, pairs), False
    block = torch.from_numpy(scratch.get("block64", (step, n), np.float64))[: e - s]
    exact = torch.addmm(-sq[None, :], Z[s:e], Z.T, alpha=2.0, out=block)  # one float64 GEMM
    exact.diagonal(offset=s).fill_(-torch.inf)
    floor = torch.amax(exact, dim=1) - CUT
    r, c = _at_least(exact, floor, mask)
    return r, c, exact[r, c], True


def _pair_logits(Z: torch.Tensor, sq: torch.Tensor, i: torch.Tensor, j: torch.Tensor, pairs: torch.Tensor
                 ) -> torch.Tensor:
    """``2 z_i.z_j - |z_j|^2`` for each index pair, formed a chunk at a time in ``pairs`` (2, chunk, k)."""
    out = torch.empty(len(i), dtype=Z.dtype)
    chunk = pairs.shape[1]
    for a in range(0, len(i), chunk):
        b = min(len(i), a + chunk)
        left = torch.index_select(Z, 0, i[a:b], out=pairs[0, : b - a])
        right = torch.index_select(Z, 0, j[a:b], out=pairs[1, : b - a])
        torch.sum(left.mul_(right), dim=1, out=out[a:b])
    return out.mul_(2.0).sub_(sq.index_select(0, j))


def _at_least(A: torch.Tensor, floor: torch.Tensor, mask: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Row and column of the entries of A (rows, n) at or above their row's floor (rows,);
    ``mask`` is a (rows, n) bool buffer."""
    r, c = true_rows_cols(np.greater_equal(A.numpy(), floor.numpy()[:, None], out=mask))
    return torch.from_numpy(r), torch.from_numpy(c)


def _block_weights(logit: torch.Tensor, r: torch.Tensor, c: torch.Tensor, cls: torch.Tensor, s: int, rows: int
                   ) -> tuple[float, np.ndarray]:
    """``sum_i p_i`` of the block's rows and the weights ``W_ij = p_ij (same_ij - p_i)`` of its candidates."""
    top = torch.full((rows,), -torch.inf, dtype=logit.dtype).scatter_reduce_(0, r, logit, "amax")
    p = torch.exp(logit - top[r])
    p /= torch.zeros(rows, dtype=p.dtype).index_add_(0, r, p)[r]
    same = (cls[c] == cls[s : s + rows][r]).to(p.dtype)
    p_i = torch.zeros(rows, dtype=p.dtype).index_add_(0, r, p * same)
    return float(p_i.sum()), (p * (same - p_i[r])).numpy()


def _loss_grad_dense(Z: torch.Tensor, X: np.ndarray, codes: np.ndarray) -> tuple[float, np.ndarray]:
    """The whole (n, n) softmax in float64, for small n (no screening, nothing dropped)."""
    A = torch.addmm(-(Z * Z).sum(1)[None, :], Z, Z.T, alpha=2.0)
    A.fill_diagonal_(-torch.inf)
    P = torch.softmax(A, dim=1)
    cls = torch.from_numpy(np.asarray(codes, dtype=np.int64))
    P_same = P * (cls[:, None] == cls[None, :])
    p_i = P_same.sum(1, keepdim=True)
    W = P_same.sub_(P.mul_(p_i))  # P (same - p_i)
    rc = W.sum(1) + W.sum(0)
    W += W.T.clone()
    G = (Z * rc[:, None] - W @ Z).numpy().T @ np.asarray(X, dtype=np.float64)
    return float(p_i.sum()), -2.0 * G


def _add_products(pending: list, first: int, stop: int, Zn: np.ndarray, rc: np.ndarray, WZ: np.ndarray) -> None:
    """Add rows first:stop of W to ``WZ = (W + W^T) Z`` and its column sums to ``rc``, in place.

    ``pending`` holds, block after block, (candidates per row, int32 columns, weights)
    with each block's candidates sorted by row.
    """
    counts, c, w = (np.concatenate(part) for part in zip(*pending))
    index = np.int32 if len(w) < 2**31 else np.int64  # scipy keeps int32 indices as they are
    indptr = np.zeros(stop - first + 1, dtype=index)
    np.cumsum(counts, out=indptr[1:])
    W = sparse.csr_matrix((w, c.astype(index, copy=False), indptr), shape=(stop - first, Zn.shape[0]))
    rc += np.bincount(c, w, minlength=Zn.shape[0])
    WZ[first:stop] += W @ Zn
    WZ += W.T @ Zn[first:stop]


def _blocks_native(lib: ctypes.CDLL, Z: torch.Tensor, sq: torch.Tensor, screen: tuple | None, codes: np.ndarray,
                   scratch: Scratch, step: int, nearest: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """:func:`_blocks` with the candidate work in C: the same candidates, logits, softmax and
    weights, with ``rc`` and ``(W + W^T) Z`` accumulated entry by entry instead of through
    sparse products. Writes each row's nearest point (largest logit) to ``nearest`` (n,)."""
    n, k = Z.shape
    Zn, sqn = Z.numpy(), sq.numpy()
    cls = np.ascontiguousarray(codes, dtype=np.int64)
    cols = scratch.get("cols", ((step + 1) * n,), np.int32)  # a block may pass its limit by a row
    flags = scratch.get("flags", (n,), np.uint8)
    counts = scratch.get("counts", (step,), np.int32)
    logits = scratch.get("logits", (n,), np.float64)
    value, rc, WZ = 0.0, np.zeros(n), np.zeros_like(Zn)
    shared = (Zn.ctypes.data, sqn.ctypes.data, cls.ctypes.data, CUT, rc.ctypes.data, WZ.ctypes.data,
              logits.ctypes.data, nearest.ctypes.data)
    for s in range(0, n, step):
        e = min(n, s + step)
        if screen is not None:
            Z32, Z32T, neg_sq32, slack = screen
            A = torch.addmm(neg_sq32, Z32[s:e], Z32T, alpha=2.0,
                            out=torch.from_numpy(scratch.get("block32", (step, n), np.float32))[: e - s])
            found = lib.nca_screen(A.data_ptr(), e - s, n, s, slack[s:].data_ptr(), CUT, cols.ctypes.data,
                                   counts.ctypes.data, (e - s) * n // _GATHER, flags.ctypes.data)
            if found >= 0:
                value += lib.nca_accumulate(e - s, n, k, s, cols.ctypes.data, counts.ctypes.data, None, *shared)
                continue
            screen = None  # candidates are not sparse here: exact GEMMs for this block and the rest
        E = torch.addmm(-sq[None, :], Z[s:e], Z.T, alpha=2.0,
                        out=torch.from_numpy(scratch.get("block64", (step, n), np.float64))[: e - s])
        lib.nca_exact_candidates(E.data_ptr(), e - s, n, s, CUT, cols.ctypes.data, counts.ctypes.data,
                                 flags.ctypes.data)
        value += lib.nca_accumulate(e - s, n, k, s, cols.ctypes.data, counts.ctypes.data, E.data_ptr(), *shared)
    return value, rc, WZ


@functools.lru_cache(maxsize=None)
def _screen_dtype() -> torch.dtype:
    """bfloat16 where the CPU multiplies it natively (AVX512-BF16; torch's bfloat16 GEMM is then
    3-4x its float32 one on digits' blocks), else float32."""
    probe = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
    return torch.bfloat16 if probe is not None and probe() else torch.float32


def _pairs_native(lib: ctypes.CDLL, Z: np.ndarray, codes: np.ndarray, scratch: Scratch, nearest: np.ndarray,
                  budget: int | None) -> tuple[float, np.ndarray] | None:
    """:func:`_blocks_native` with the screen over the upper triangle of ``Z Z^T`` (n, k) only,
    in bfloat16 where the CPU multiplies it natively (see :func:`_screen_dtype`), else float32.

    Each row's floor comes from the exact logit of one point, ``nearest`` (n,): a row's
    largest is at least that, so the floors are low enough; with last evaluation's nearest
    points they are rarely lower than the row's own. Each low-precision Gram entry, plus a
    bound on its error (``nca_screen_inputs`` in the C file; on digits it lets through 2.5%
    more entries than a float32 screen), is then tested for both of its rows: the GEMM forms
    the triangle in row blocks of ``budget`` bytes (default ``_PAIR_BYTES``) against the
    columns from the block on (on digits 0.75 of the whole, in two GEMMs). The candidate
    work is done once per pair kept for either row: its float64 ``z_i.z_j`` serves both
    rows' logits, and ``W_ij + W_ji`` is added to ``(W + W^T) Z`` in one update.

    Returns None, having changed nothing, when a value is beyond float32's range or more
    than 1/``_GATHER`` of the entries pass (or 2^22 pairs): the caller then screens row by
    row. Else ``(sum_i p_i, diag(r + c) Z - (W + W^T) Z)`` (n, k).
    """
    n, k = Z.shape
    bf16 = _screen_dtype() == torch.bfloat16
    low = scratch.get("low16" if bf16 else "low32", (n, k), np.uint16 if bf16 else np.float32)
    sq, sq32 = np.empty(n), np.empty(n, np.float32)
    floor, alpha, u = (scratch.get(name, (n,), np.float32) for name in ("floor", "alpha", "u"))
    if lib.nca_screen_inputs(n, k, Z.ctypes.data, nearest.ctypes.data, CUT, bf16, sq.ctypes.data, low.ctypes.data,
                             sq32.ctypes.data, floor.ctypes.data, alpha.ctypes.data, u.ctypes.data) < 0:
        return None
    low = torch.from_numpy(low).view(torch.bfloat16) if bf16 else torch.from_numpy(low)
    limit = min(n * n // _GATHER, _PENDING)  # pair buffers sized for it: only the pairs found are written
    pi = scratch.get("pair_rows", (limit + n,), np.int32)
    pj = scratch.get("pair_cols", (limit + n,), np.int32)
    pf = scratch.get("pair_flags", (limit + n,), np.uint8)
    flags = scratch.get("flags", (n,), np.uint8)
    found = scratch.get("pair_found", (n,), np.int32)
    rows = min(n, max(1, (_PAIR_BYTES if budget is None else budget) // (n * (2 if bf16 else 4))))
    if bf16:
        gram = torch.from_numpy(scratch.get("gram16", (rows * n,), np.uint16)).view(torch.bfloat16)
    else:
        gram = torch.from_numpy(scratch.get("gram32", (rows * n,), np.float32))
    screen_pairs = lib.nca_screen_pairs_bf16 if bf16 else lib.nca_screen_pairs_f32
    rows_in = tuple(a.ctypes.data for a in (sq32, floor, alpha, u, pi, pj, pf))
    scratch_in = (flags.ctypes.data, found.ctypes.data)
    total = 0
    for s in range(0, n - 1, rows):
        e = min(n, s + rows)
        torch.mm(low[s:e], low[s:].T, out=gram[: (e - s) * (n - s)].view(e - s, n - s))
        total = screen_pairs(gram.data_ptr(), e - s, n, s, *rows_in, total, limit, *scratch_in)
        if total < 0:
            return None
    cls = np.ascontiguousarray(codes, dtype=np.int64)
    rc, M = np.empty(n), np.empty_like(Z)
    value = lib.nca_pairs_accumulate(n, k, total, pi.ctypes.data, pj.ctypes.data, pf.ctypes.data, Z.ctypes.data,
                                     sq.ctypes.data, cls.ctypes.data, CUT, rc.ctypes.data, M.ctypes.data,
                                     nearest.ctypes.data, scratch.get("pair_up", (limit + n,), np.float64).ctypes.data,
                                     scratch.get("pair_down", (limit + n,), np.float64).ctypes.data,
                                     scratch.get("pair_rows_sums", (3 * n,), np.float64).ctypes.data)
    return value, M


def nca_loss_grad(L: np.ndarray, X: np.ndarray, codes: np.ndarray, *, budget: int | None = None,
                  scratch: Scratch | None = None, native: bool = True) -> tuple[float, np.ndarray]:
    """NCA objective ``sum_i p_i`` (expected correct neighbours) and its gradient in L.

    Parameters
    ----------
    L : ndarray, shape (k, d)
    X : ndarray, shape (n, d)
    codes : ndarray of int, shape (n,)
        Class codes.
    budget : int, optional
        Bytes for the (rows, n) block buffers; default 2 MiB (a block that stays in
        cache). Memory is O(block rows x n + min(candidates, 2^22)).
    scratch : Scratch, optional
        Block buffers kept from one evaluation to the next (an optimizer passes the same
        one), with each point's nearest neighbour at the last evaluation (the C path's
        triangular screen starts from it; the values depend on it only through float64
        round-off).
    native : bool, default=True
        Do the candidate work (selection, softmax, weights, gradient products) in the C
        kernels when they were built; False keeps it in numpy/torch (same values up to
        float64 round-off).

    Returns
    -------
    value : float
        ``sum_i sum_{j != i, y_j = y_i} p_ij`` (between 0 and n).
    grad : ndarray, shape (k, d)
        Gradient of ``value`` with respect to L.

    Notes
    -----
    With ``W_ij = p_ij (same_ij - p_i)``, the gradient is
    ``-2 Z^T (diag(r + c) - W - W^T) X`` (r, c: row and column sums of W, Z = X L^T).
    Softmax terms below ``exp(-40)`` of their row's largest are left out (see the
    module notes); everything else is float64.
    """
    X = np.ascontiguousarray(X, dtype=np.float64)
    Zn = X @ np.asarray(L, dtype=np.float64).T
    Z = torch.from_numpy(Zn)
    n, k = Z.shape
    if n <= _DENSE_ROWS and budget is None:
        return _loss_grad_dense(Z, X, codes)
    step = rows_per_block(n, 4 + 1 + 8, budget=2 << 20 if budget is None else budget, minimum=1, maximum=n)
    scratch = Scratch() if scratch is None else scratch
    lib = _kernels() if native else None
    found = None
    if lib is not None:
        nearest = scratch.kept.get("nca_nearest")
        if isinstance(nearest, np.ndarray) and nearest.shape == (n,):
            found = _pairs_native(lib, Zn, codes, scratch, nearest, budget)
        else:
            nearest = scratch.kept["nca_nearest"] = (np.arange(1, n + 1) % n).astype(np.int32)  # any j != i will do
    if found is None:
        sq = (Z * Z).sum(1)
        screen = _float32_screen(Z, sq)
        if lib is None:
            value, rc, WZ = _blocks(Z, sq, screen, codes, scratch, step)
        else:
            value, rc, WZ = _blocks_native(lib, Z, sq, screen, codes, scratch, step, nearest)
        M = Zn * rc[:, None] - WZ
    else:
        value, M = found
    return value, -2.0 * (M.T @ X)


def _float32_screen(Z: torch.Tensor, sq: torch.Tensor) -> tuple | None:
    """(Z32, Z32^T, -|z|^2, slack) of the row-by-row float32 screen, None where |z|^2 is
    beyond float32's range (screen in float64 then)."""
    k = Z.shape[1]
    Z32 = Z.float()
    # the float32 logit's rounding error is below 2 k eps32 (|z_i|^2 + |z_j|^2); 4x that, plus 1
    slack = 1.0 + 8.0 * k * _EPS32 * (sq + sq.max()).float()
    screen = (Z32, Z32.T.contiguous(), -(Z32 * Z32).sum(1)[None, :], slack)
    return screen if bool(torch.isfinite(screen[2]).all()) else None


def _blocks(Z: torch.Tensor, sq: torch.Tensor, screen: tuple | None, codes: np.ndarray, scratch: Scratch,
            step: int) -> tuple[float, np.ndarray, np.ndarray]:
    """The block loop of :func:`nca_loss_grad` in numpy/torch: ``sum_i p_i``, the row plus
    column sums of W (n,) and ``(W + W^T) Z`` (n, k)."""
    n = Z.shape[0]
    cls = torch.from_numpy(np.asarray(codes, dtype=np.int64))
    Zn = Z.numpy()
    value, rc, WZ = 0.0, np.zeros(n), np.zeros_like(Zn)
    pending, held, first = [], 0, 0  # candidates of rows first:s, multiplied by Z in one sparse product
    for s in range(0, n, step):
        e = min(n, s + step)
        r, c, logit, dense = _candidates(Z, sq, screen, scratch, step, s, e)
        if dense:
            screen = None  # candidates are not sparse here: skip the float32 screen for the other blocks
        v, w = _block_weights(logit, r, c, cls, s, e - s)
        value += v
        rn = r.numpy()
        rc[s:e] += np.bincount(rn, w, minlength=e - s)
        pending.append((np.bincount(rn, minlength=e - s), c.numpy().astype(np.int32), w))
        held += len(w)
        if e == n or held > _PENDING:
            _add_products(pending, first, e, Zn, rc, WZ)
            pending, held, first = [], 0, e
    return value, rc, WZ


class NCA(MahalanobisMixin, BaseEstimator):
    """Neighbourhood Components Analysis (Goldberger et al., 2004).

    Parameters
    ----------
    init : {"auto", "pca", "lda", "identity", "random"} or ndarray (n_components, n_features), default="auto"
        Initial linear map; ``auto`` is ``lda`` when ``n_components <= n_classes - 1``,
        else ``pca`` when ``n_components < min(n_features, n_samples)``, else ``identity``.
    n_components : int or None, default=None
        Output dimension (None: n_features).
    max_iter : int, default=100
        L-BFGS-B iterations.
    tol : float or None, default=None
        Tolerance passed to L-BFGS-B (None: scipy's default).
    verbose : bool, default=False
    preprocessor : array-like or callable, default=None
        For ``pair_distance`` on index pairs.
    random_state : int, RandomState or None, default=None
        Used by ``init="random"``.

    Attributes
    ----------
    components_ : ndarray, shape (n_components, n_features)
    n_iter_ : int

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> X, y = load_iris(return_X_y=True)
    >>> NCA(max_iter=20).fit(X, y).transform(X).shape
    (150, 4)
    """

    _parameter_constraints = {
        "max_iter": (Interval(numbers.Integral, 1, None),),
        "tol": (Interval(numbers.Real, 0, None), None),
        "verbose": (bool, Options([0, 1])),
    }

    def __init__(self, init="auto", n_components=None, max_iter=100, tol=None, verbose=False,
                 preprocessor=None, random_state=None):
        self.init = init
        self.n_components = n_components
        self.max_iter = max_iter
        self.tol = tol
        self.verbose = verbose
        self.preprocessor = preprocessor
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> "NCA":
        """Learn the map from points X (n_samples, n_features) and class labels y (n_samples,)."""
        check_params(type(self).__name__, self.get_params(), self._parameter_constraints)
        X, codes, _ = check_supervised(self, X, y)
        k = check_n_components(self.n_components, X.shape[1], "NCA")
        L0 = initial_components(X, codes, self.init, k, self.random_state, "NCA")
        d = X.shape[1]
        scratch = Scratch()

        def fun(flat: np.ndarray) -> tuple[float, np.ndarray]:
            value, grad = nca_loss_grad(flat.reshape(-1, d), X, codes, scratch=scratch)
            return -value, -grad.ravel()

        result = minimize(fun, L0.ravel(), jac=True, method="L-BFGS-B", tol=self.tol,
                          options={"maxiter": self.max_iter})
        if self.verbose and not result.success:
            import warnings

            warnings.warn(f"NCA did not converge: {result.message}", ConvergenceWarning, stacklevel=2)
        self.components_ = result.x.reshape(-1, d)
        self.n_iter_ = int(result.nit)
        return self
