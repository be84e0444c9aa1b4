"""Linear solves ``Z w = 1`` for the similarity matrix ``Z = exp(-t D)`` of Euclidean points.

Three ways, chosen by size:

- dense Cholesky (small n): exact, one ``n x n`` float64 factor;
- preconditioned conjugate gradients on a held distance matrix (moderate n): one
  ``n x n`` distance matrix and one similarity buffer reused across scales;
- matrix-free preconditioned conjugate gradients (large n): ``Z v`` is computed in row
  blocks (distances by GEMM, then ``exp``) and nothing of size ``n x n`` is held.

The preconditioner is a randomized Nyström approximation of ``Z`` ("Randomized Nyström
Preconditioning", Frangella, Tropp & Udell, 2023): the few large eigenvalues of ``Z``
(its smooth part) are captured by ``r`` landmark columns, the rest of the spectrum is
close to 1, so CG converges in tens of iterations. Solutions are warm-started across
scales. ``Z`` is positive definite for distinct points of a Euclidean space (the Laplace
kernel is positive definite), so CG and Cholesky both apply.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import scipy.linalg
import torch
from threadpoolctl import threadpool_limits

from .._backend import rows_per_block
from ..errors import ConvergenceWarning

__all__ = ["SimilarityOperator", "NystromPreconditioner", "pcg", "cholesky_weights"]


class SimilarityOperator:
    """``v -> exp(-t D) v`` for the rows of ``X``, dense (``D`` held) or in row blocks.

    Parameters
    ----------
    X : torch.Tensor, shape (n, d), float64
        Distinct points.
    dense : bool
        Hold the ``n x n`` distance matrix (and one similarity buffer) in memory.
    block_dtype : torch.dtype
        Dtype of the matrix-free blocks (float64, or float32 for speed; products are
        accumulated in float64 either way).
    budget : int
        Bytes for one matrix-free block.
    """

    def __init__(self, X: torch.Tensor, *, dense: bool, block_dtype: torch.dtype, budget: int) -> None:
        self.X = X
        self.n = X.shape[0]
        self.dense = dense
        self.t = None
        self.matvecs = 0
        self._Xb = X.to(block_dtype)
        self._sq = (self._Xb * self._Xb).sum(dim=1)
        self._step = rows_per_block(self.n, 3 * self._Xb.element_size(), budget=budget, minimum=16)
        self.D = _distances(self._Xb, self._Xb, self._sq, self._sq).to(torch.float64) if dense else None
        if dense:
            self.D.fill_diagonal_(0.0)
        self.Z = torch.empty_like(self.D) if dense else None

    def set_scale(self, t: float) -> None:
        self.t = float(t)
        if self.dense:
            torch.mul(self.D, -self.t, out=self.Z)
            self.Z.exp_()

    def matvec(self, v: torch.Tensor) -> torch.Tensor:
        self.matvecs += 1
        if self.dense:
            return self.Z @ v
        out = torch.empty_like(v)
        vb = v.to(self._Xb.dtype)
        for s in range(0, self.n, self._step):
            block = self._block(slice(s, s + self._step))
            out[s : s + self._step] = (block @ vb).to(torch.float64)
        return out

    def columns(self, idx: torch.Tensor) -> torch.Tensor:
        """Columns ``Z[:, idx]`` in float64, shape (n, len(idx))."""
        if self.dense:
            return self.Z[:, idx].clone()
        Xi = self.X[idx]
        d = _distances(self.X, Xi, (self.X * self.X).sum(dim=1), (Xi * Xi).sum(dim=1))
        d[idx, torch.arange(len(idx))] = 0.0
        return torch.exp(-self.t * d)

    def _block(self, rows: slice) -> torch.Tensor:
        xb = self._Xb[rows]
        d = _distances(xb, self._Xb, self._sq[rows], self._sq)
        start = rows.start
        local = torch.arange(d.shape[0])
        d[local, local + start] = 0.0
        return d.mul_(-self.t).exp_()


def _distances(a: torch.Tensor, b: torch.Tensor, a_sq: torch.Tensor, b_sq: torch.Tensor) -> torch.Tensor:
    sq = torch.addmm(b_sq, a, b.T, alpha=-2.0)
    sq += a_sq.unsqueeze(1)
    return sq.clamp_min_(0.0).sqrt_()


class NystromPreconditioner:
    """Apply ``P^{-1}`` for ``P = U diag(lam) U^T + sigma I`` built from ``rank`` landmark columns.

    ``U lam U^T`` is the Nyström approximation ``C W^{-1} C^T`` of ``Z`` (``C`` the landmark
    columns, ``W`` their rows); ``sigma`` is its smallest kept eigenvalue.
    """

    def __init__(self, op: SimilarityOperator, rank: int, seed: int) -> None:
        n = op.n
        r = min(rank, n)
        gen = np.random.default_rng(seed)
        idx = torch.from_numpy(np.sort(gen.choice(n, size=r, replace=False)))
        C = op.columns(idx)
        W = C[idx]
        shift = 1e-12 * float(W.diagonal().sum())
        L, info = torch.linalg.cholesky_ex(W + shift * torch.eye(r, dtype=W.dtype))
        while int(info) != 0:
            shift = max(10 * shift, 1e-10)
            L, info = torch.linalg.cholesky_ex(W + shift * torch.eye(r, dtype=W.dtype))
        B = torch.linalg.solve_triangular(L, C.T, upper=False)  # r x n, B^T B = C W^-1 C^T
        del C
        with threadpool_limits(1):  # small eigh: threaded LAPACK only adds contention here
            lam, V = (torch.from_numpy(a) for a in scipy.linalg.eigh((B @ B.T).numpy()))
        keep = lam > 1e-10 * float(lam.max())
        lam, V = lam[keep], V[:, keep]
        self.U = (B.T @ V) / lam.sqrt()
        self.lam = lam
        self.sigma = float(lam.min().clamp_min(1e-3))

    def apply(self, v: torch.Tensor) -> torch.Tensor:
        coef = self.U.T @ v
        return self.U @ (coef * (1.0 / (self.lam + self.sigma) - 1.0 / self.sigma)) + v / self.sigma


def pcg(op: SimilarityOperator, precond: NystromPreconditioner | None, x0: torch.Tensor | None, *,
        tol: float, max_iter: int, functional: bool = False) -> tuple[torch.Tensor, float]:
    """Preconditioned conjugate gradients for ``Z w = 1``.

    Returns ``(w, mag)``. With ``functional=False`` it stops at relative residual
    ``tol``. With ``functional=True`` it stops when the magnitude estimate
    ``mag = 1.w + w.r + r.P^{-1}r`` is accurate to ``tol`` relative: since
    ``1.Z^{-1}1 = 1.w + w.r + r.Z^{-1}r`` exactly for any ``w`` with residual ``r``, the
    error of the estimate is quadratic in the residual (twice fewer iterations).
    """
    b = torch.ones(op.n, dtype=torch.float64)
    x = torch.zeros_like(b) if x0 is None else x0.clone()
    r = b - op.matvec(x) if x0 is not None else b.clone()
    b_norm = math.sqrt(op.n)
    z = precond.apply(r) if precond is not None else r
    p = z.clone()
    rz = float(r @ z)
    for _ in range(max_iter + 1):
        mag = float(x.sum() + x @ r) + rz
        done = rz <= tol * abs(mag) if functional else float(r.norm()) <= tol * b_norm
        if done:
            return x, mag
        if _ == max_iter:
            break
        Ap = op.matvec(p)
        alpha = rz / float(p @ Ap)
        x.add_(p, alpha=alpha)
        r.sub_(Ap, alpha=alpha)
        z = precond.apply(r) if precond is not None else r
        rz_new = float(r @ z)
        p.mul_(rz_new / rz).add_(z)
        rz = rz_new
    warnings.warn(
        f"conjugate gradients stopped after {max_iter} iterations at relative residual "
        f"{float(r.norm()) / b_norm:.2e} (tolerance {tol:.1e}) for scale {op.t:g}; "
        "raise max_iter or the tolerance.",
        ConvergenceWarning,
        stacklevel=3,
    )
    return x, mag


def cholesky_weights(op: SimilarityOperator) -> torch.Tensor | None:
    """Exact ``Z^{-1} 1`` by Cholesky of the held similarity matrix; None if not positive definite."""
    L, info = torch.linalg.cholesky_ex(op.Z)
    if int(info) != 0:
        return None
    return torch.cholesky_solve(torch.ones(op.n, 1, dtype=torch.float64), L).squeeze(1)
