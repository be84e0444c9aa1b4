"""Exact k-NN of a set against itself from half of the distance matrix.

When the queries are the references (``exclude_self``), d(i, j) = d(j, i): each tile
``X_I X_J^T`` of the upper triangle (J >= I, a float32 GEMM through numpy's BLAS) is
offered to the lists of rows I and, transposed, of rows J, so the GEMM, the bulk of the
work, is done once per pair where faiss does it twice. Selection runs in C
(``_selfknn.c``, called through ctypes): per-row reservoirs of ``CAPACITY * k`` slots whose
thresholds only fall (when a reservoir is full its k smallest are kept and the k-th
becomes the threshold). Thresholds start from a pilot: the q-th smallest distance of each
row to ``PILOT`` sampled rows, q the expected count of sampled rows within the k-th
distance plus ``SIGMAS`` binomial standard deviations, so about 1% of the rows start
below their k-th distance; such a row ends with fewer than k entries and is searched
again by one GEMM against all rows. Row block I is final once tile row I is done, so
results stream out in row order like the other engines, sorted by an LSD radix sort.

Distances are ``|x_i|^2 + |x_j|^2 - 2 x_i.x_j`` in float32, as in faiss; results can
differ from faiss's only where two distances agree to float32 rounding (the order of
near-ties, or which of two near-equal points is k-th).

Memory: (n, CAPACITY * k) reservoir slots of 8 bytes (float32 distance, int32 id), allowed up to
``MEMORY`` bytes or the caller's budget. Needs the optional C extension (built at
install time when a C compiler is present); without it faiss does the search.
"""

from __future__ import annotations

import ctypes
import math
import mmap

import numpy as np
import torch

from .._native import load

__all__ = ["SelfSearch", "self_search_usable"]

#: rows sampled for the starting thresholds
PILOT = 2048
#: pilot quantile: expected count + SIGMAS standard deviations (+1)
SIGMAS = 2.5
#: reservoir slots per row, in units of k
CAPACITY = 2.0
#: rows below which faiss's two-sided search is as fast
MIN_ROWS = 32768
#: bytes the reservoirs may take (unless the caller gives a budget)
MEMORY = 2 * 2**30
#: rows per tile row and columns per GEMM tile
TILE_ROWS = 1024
TILE_COLS = 1024

_P, _I64, _I32 = ctypes.c_void_p, ctypes.c_int64, ctypes.c_int
_SIGNATURES = (
    ("iso_scan", None, (_P, _I64, _I32, _I32, _I64, _I64, _P, _P, _P, _P, _P, _I32, _I32, _P, _P)),
    ("iso_finish", None, (_P, _P, _I32, _I32, _I64, _I64, _P, _P, _P)),
)


def _library() -> ctypes.CDLL | None:
    return load("isometry.distances._selfknn", _SIGNATURES)


def _capacity(k: int) -> int:
    return max(int(CAPACITY * k), k + 16)


def self_search_usable(n: int, k: int, *, memory: int | None = None) -> bool:
    """Whether the symmetric engine applies to n rows and k neighbours: extension built, at
    least ``MIN_ROWS`` rows, reservoirs within ``memory`` bytes (default ``MEMORY``), and k
    small enough that the pilot's quantile is informative."""
    if _library() is None or n < MIN_ROWS:
        return False
    limit = MEMORY if memory is None else memory
    return n * _capacity(k) * 8 <= limit and _pilot_rank(n, k) < min(PILOT, n - 1) // 2


def _pilot_rank(n: int, k: int) -> int:
    m = min(PILOT, n - 1)
    mean = k * m / (n - 1)
    return max(1, int(math.ceil(mean + SIGMAS * math.sqrt(mean) + 1.0)))


def _large_empty(shape: tuple[int, int], dtype: type) -> np.ndarray:
    """An uninitialized array in anonymous memory backed by huge pages where the OS allows
    (a page fault per 2 MiB instead of per 4 KiB: ~0.5 s less at 100,000 x 1,200 x 8 bytes)."""
    size = int(np.prod(shape)) * np.dtype(dtype).itemsize
    if size < 1 << 24 or not hasattr(mmap, "MADV_HUGEPAGE"):
        return np.empty(shape, dtype)
    block = mmap.mmap(-1, size)
    block.madvise(mmap.MADV_HUGEPAGE)
    return np.frombuffer(block, dtype=dtype).reshape(shape)


def _ptr(a: np.ndarray) -> int:
    return a.ctypes.data


class SelfSearch:
    """k nearest other rows of X (n, d) float32, by increasing ``a_i + a_j - 2 x_i.x_j``.

    ``a`` is the squared norms (L2 order) or zeros (inner-product order, for unit rows).
    Call :meth:`rows` for consecutive blocks of ``block`` rows from the start; each call
    returns ``(values, ids)`` (rows, k) float32 / int64, ascending.
    """

    def __init__(self, X: np.ndarray, *, inner_product: bool, seed: int = 0) -> None:
        self.X = np.ascontiguousarray(X, dtype=np.float32)
        self.XT = np.ascontiguousarray(self.X.T)
        n = self.X.shape[0]
        self.a = np.zeros(n, np.float32) if inner_product else np.einsum("ij,ij->i", self.X, self.X)
        self.seed = seed
        self.block = TILE_ROWS
        self.k = None
        self.next_row = 0
        self.lib = _library()

    def _start(self, k: int) -> None:
        n = self.X.shape[0]
        self.k, self.cap = k, _capacity(k)
        self.thr = self._pilot(k)
        self.lists = _large_empty((n, self.cap), np.uint64)  # (float32 distance, int32 id) slots
        self.cnt = np.zeros(n, np.int32)
        self.tile = np.empty(TILE_ROWS * TILE_COLS, np.float32)
        self.scratch = np.empty(TILE_COLS, np.float32), np.empty(TILE_COLS, np.uint8)
        self.sort_tmp = np.empty(4 * self.cap, np.uint32)

    def _pilot(self, k: int) -> np.ndarray:
        """Per-row starting thresholds: the q-th smallest distance to a row sample."""
        n = self.X.shape[0]
        m = min(PILOT, n - 1)
        q = _pilot_rank(n, k)
        sample = np.sort(np.random.default_rng(self.seed).choice(n, m, replace=False))
        ST = np.ascontiguousarray(self.X[sample].T)
        a_sample = self.a[sample][None, :]
        thr = np.empty(n, np.float32)
        own_col = np.full(n, -1, np.int64)
        own_col[sample] = np.arange(m)
        step = 8192
        buf = np.empty((step, m), np.float32)
        for s in range(0, n, step):
            e = min(n, s + step)
            D = np.matmul(self.X[s:e], ST, out=buf[: e - s])
            D *= -2.0
            D += a_sample  # |x_s|^2 - 2 x_i.x_s; |x_i|^2 is added after the selection
            own = own_col[s:e]
            rows = np.flatnonzero(own >= 0)
            D[rows, own[rows]] = np.inf
            kth = torch.topk(torch.from_numpy(D), q, dim=1, largest=False, sorted=True).values[:, -1].numpy()
            thr[s:e] = kth + self.a[s:e]
        return thr

    def _scan(self, S: np.ndarray, r0: int, c0: int) -> None:
        """Offer the entries of S (rows r0.., columns c0..) to the lists of their row and column."""
        dbuf, fbuf = self.scratch
        nr, nc = S.shape
        self.lib.iso_scan(_ptr(S), S.strides[0] // 4, nr, nc, r0, c0, _ptr(self.a[r0:]), _ptr(self.a[c0:]),
                          _ptr(self.thr), _ptr(self.lists), _ptr(self.cnt), self.cap, self.k,
                          _ptr(dbuf), _ptr(fbuf))

    def _tile_row(self, r0: int, r1: int) -> None:
        """Offer every pair (i, j), r0 <= i < r1, j > i, a (rows, TILE_COLS) GEMM at a time."""
        n = self.X.shape[0]
        XI = self.X[r0:r1]
        for c0 in range(r0, n, TILE_COLS):
            c1 = min(n, c0 + TILE_COLS)
            S = np.matmul(XI, self.XT[:, c0:c1], out=self.tile[: (r1 - r0) * (c1 - c0)].reshape(r1 - r0, c1 - c0))
            self._scan(S, r0, c0)

    def rows(self, start: int, stop: int, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Values (stop - start, k) float32 and ids int64 of rows start:stop, nearest first;
        blocks must come in order, from row 0, with one k."""
        if self.k is None:
            self._start(k)
        if start != self.next_row or k != self.k:
            raise RuntimeError("SelfSearch.rows must be called on consecutive blocks with one k")
        self._tile_row(start, stop)
        self.next_row = stop
        values = np.empty((stop - start, k), np.float32)
        ids = np.empty((stop - start, k), np.int64)
        self.lib.iso_finish(_ptr(self.lists), _ptr(self.cnt), self.cap, k, start, stop, _ptr(values),
                            _ptr(ids), _ptr(self.sort_tmp))
        short = np.flatnonzero(self.cnt[start:stop] < k)
        if short.size:
            values[short], ids[short] = self._exact(short + start, k)
        if stop == self.X.shape[0]:
            self.close()
        return torch.from_numpy(values), torch.from_numpy(ids)

    def _exact(self, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The k nearest others of a few rows by one GEMM against all rows (the rows whose
        starting threshold was below their k-th distance)."""
        D = np.matmul(self.X[rows], self.XT)
        D *= -2.0
        D += self.a[None, :]
        D += self.a[rows, None]
        D[np.arange(len(rows)), rows] = np.inf
        part = np.argpartition(D, k - 1, axis=1)[:, :k]
        vals = np.take_along_axis(D, part, axis=1)
        order = np.lexsort((part, vals), axis=1)
        return np.take_along_axis(vals, order, axis=1), np.take_along_axis(part, order, axis=1)

    def close(self) -> None:
        """Free the lists (the search is done, or abandoned)."""
        self.lists = None
