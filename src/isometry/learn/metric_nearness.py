"""Metric nearness by Project and Forget: the closest metric to a dissimilarity matrix.

Sonthalia & Gilbert, "Project and Forget: Solving Large-Scale Metric Constrained
Problems" (JMLR 2022); the problem is Brickell, Dhillon, Sra & Tropp, "The Metric
Nearness Problem" (SIAM J. Matrix Anal. Appl. 2008). Given a symmetric non-negative
``D`` (n x n) and weights ``W``, find

    min_X  1/2 sum_{i<j} W_ij (X_ij - D_ij)^2   s.t.  X_ij <= X_ik + X_kj  for all i, j, k.

Every triangle (and longer cycle) inequality is a half-space ``a^T x <= 0`` on the
edge vector x. The scheme keeps an *active set* of such constraints:

1. **oracle** — all-pairs shortest paths (Floyd-Warshall in scipy.sparse.csgraph)
   on the current x; every edge longer than its shortest path gives the violated
   cycle inequality ``x_ij <= sum of the path's edges``; the paths of all violated
   edges are read back from the predecessor matrix at once, hop by hop;
2. **project** — Bregman (Hildreth) projections onto the active half-spaces for
   ``f = 1/2 ||x - d||_W^2``: the dual variables ``z_c >= 0`` move by the constraint's
   violation over its norm ``a^T W^{-1} a``. The paper sweeps them one by one; here
   all active constraints are projected at once (a Jacobi sweep, with Nesterov
   momentum and a step bounded by the largest eigenvalue of the scaled
   ``A W^{-1} A^T``), so a sweep is two sparse matrix-vector products, not a Python
   loop over constraints. Each constraint's step is scaled by component averaging
   (edges weighted by how many active constraints share them; Censor, Gordon & Gordon,
   "Component averaging", 2001). The fixed point is the same as the paper's (the KKT
   point of the QP over the active set), and ``x = d - W^{-1} A^T z`` throughout;
3. **forget** — constraints whose dual variable is 0 are dropped.

The loop ends when the oracle finds no edge violating its shortest path by more
than ``tol`` (relative to the largest dissimilarity). The returned matrix is then
replaced by its shortest-path closure, which moves it by at most that tolerance and
makes every triangle inequality hold exactly (up to floating-point rounding).

Memory is O(n^2) for the matrices plus the active set (sparse, a few entries per
constraint); n = 1,000 takes seconds to a minute on 2 cores (benchmarks/RESULTS.md).
"""

from __future__ import annotations

import numbers
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import csgraph_from_dense, shortest_path
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_array, check_is_fitted

from .._validate import Interval, check_params
from ..errors import ConvergenceWarning, InputError

__all__ = ["MetricNearness", "metric_nearness", "NearnessResult", "check_dissimilarity"]


@dataclass
class NearnessResult:
    """Output of :func:`metric_nearness`.

    ``metric`` (n, n) the nearest metric; ``objective`` 1/2 sum_{i<j} W_ij (X_ij - D_ij)^2;
    ``n_iter`` oracle rounds; ``n_active`` constraints in the final active set;
    ``max_violation`` of the last oracle call (before the closure); ``converged``.
    """

    metric: np.ndarray
    objective: float
    n_iter: int
    n_active: int
    max_violation: float
    converged: bool


def check_dissimilarity(D: Any, name: str = "D", *, positive: bool = False) -> np.ndarray:
    """A square, symmetric, finite, non-negative matrix as float64 (n, n); InputError otherwise."""
    if D is None:
        raise InputError(f"{name} is missing: expected a square (n, n) dissimilarity matrix.")
    if sp.issparse(D):
        raise TypeError(f"{name}: sparse input is not supported; pass a dense (n, n) array.")
    try:
        arr = check_array(D, dtype=np.float64, input_name=name)
    except TypeError:
        raise
    except ValueError as exc:
        raise InputError(f"{name}: {exc}") from None
    if arr.shape[0] != arr.shape[1]:
        raise InputError(f"{name} must be a square (n, n) matrix; got shape {arr.shape}.")
    scale = max(float(np.abs(arr).max()), 1e-300)
    if np.abs(arr - arr.T).max() > 1e-8 * scale:
        raise InputError(f"{name} must be symmetric; largest |{name} - {name}.T| is {np.abs(arr - arr.T).max():.3g}.")
    if positive and arr.min() <= 0:
        raise InputError(f"{name} must be > 0 everywhere; smallest entry {arr.min():.3g}.")
    if arr.min() < 0:
        raise InputError(f"Negative values in data passed to {name}: a dissimilarity must be non-negative "
                         f"(smallest entry {arr.min():.3g}).")
    return (arr + arr.T) / 2.0


def metric_nearness(D: Any, weights: Any = None, *, tol: float = 1e-7, max_iter: int = 200,
                    inner_iter: int = 200) -> NearnessResult:
    """Nearest metric to ``D`` in weighted L2 by Project and Forget (see module docstring).

    Parameters
    ----------
    D : array-like, shape (n, n)
        Symmetric, non-negative, finite; the diagonal is ignored (the output's is 0).
    weights : array-like, shape (n, n), optional
        Symmetric, > 0 off the diagonal; default all ones.
    tol : float, default=1e-7
        Stop when no edge exceeds its shortest path by more than ``tol * max(D)``.
    max_iter : int, default=200
        Oracle rounds (each: shortest paths, projections, forgetting).
    inner_iter : int, default=200
        Most projection sweeps per round.

    Returns
    -------
    NearnessResult

    Examples
    --------
    >>> import numpy as np
    >>> D = np.array([[0, 1, 4], [1, 0, 1], [4, 1, 0]], dtype=float)
    >>> np.round(metric_nearness(D).metric, 4).tolist()
    [[0.0, 1.6667, 3.3333], [1.6667, 0.0, 1.6667], [3.3333, 1.6667, 0.0]]
    """
    D = check_dissimilarity(D)
    n = D.shape[0]
    W = np.ones_like(D) if weights is None else check_dissimilarity(weights, "weights", positive=False)
    if weights is not None and W.shape != D.shape:
        raise InputError(f"weights has shape {W.shape} but D has shape {D.shape}.")
    iu, ju = np.triu_indices(n, 1)
    if weights is not None and iu.size and W[iu, ju].min() <= 0:
        raise InputError("weights must be > 0 off the diagonal.")
    if n < 3:
        X = D.copy()
        np.fill_diagonal(X, 0.0)
        return NearnessResult(X, 0.0, 0, 0, 0.0, True)
    solver = _ActiveSetSolver(n, D[iu, ju], 1.0 / W[iu, ju], iu, ju)
    threshold = tol * max(float(D.max()), 1e-300)
    converged, rounds, worst = False, 0, 0.0
    for rounds in range(1, max_iter + 1):
        new, worst = _oracle(solver.x, solver.edge_of, iu, ju, n, threshold)
        # Early rounds need rough projections only: the oracle will change the set anyway.
        residual = solver.project(new, inner_iter, max(0.05 * worst, threshold))
        if new is None and residual <= threshold:
            converged = True
            break
    if not converged:
        warnings.warn(f"metric_nearness stopped after {max_iter} rounds with a violation of {worst:.3g}; "
                      "raise max_iter.", ConvergenceWarning, stacklevel=2)
    X = _closure(_square(solver.x, iu, ju, n))
    diff = (X - D)[iu, ju]
    objective = 0.5 * float(np.sum(W[iu, ju] * diff * diff))
    return NearnessResult(X, objective, rounds, solver.n_active, worst, converged)


def _square(x: np.ndarray, iu: np.ndarray, ju: np.ndarray, n: int) -> np.ndarray:
    X = np.zeros((n, n))
    X[iu, ju] = x
    X[ju, iu] = x
    return X


def _closure(X: np.ndarray) -> np.ndarray:
    """Shortest-path distances of X (zeros are edges): a metric, entrywise <= X."""
    g = csgraph_from_dense(X, null_value=np.inf)
    out = shortest_path(g, method="FW", directed=False)
    np.fill_diagonal(out, 0.0)
    return np.minimum(out, out.T)


def _oracle(x: np.ndarray, edge_of: np.ndarray, iu: np.ndarray, ju: np.ndarray, n: int,
            threshold: float) -> tuple[sp.csr_matrix | None, float]:
    """Violated cycle inequalities ``x_ij - sum_path x <= 0`` as rows of a sparse matrix.

    One row per edge longer than its shortest path (by more than ``threshold``):
    +1 on the edge, -1 on each edge of the path, which is read back for all rows at
    once by following the predecessor matrix one hop per step.
    """
    g = csgraph_from_dense(_square(x, iu, ju, n), null_value=np.inf)
    dist, pred = shortest_path(g, method="FW", directed=False, return_predecessors=True)
    gap = x - dist[iu, ju]
    bad = np.flatnonzero(gap > threshold)
    worst = float(max(gap.max(), 0.0))
    if bad.size == 0:
        return None, worst
    src, cur = iu[bad], ju[bad].copy()
    rows, cols = [np.arange(bad.size)], [bad]
    live = np.arange(bad.size)
    while live.size:
        prev = pred[src[live], cur[live]]
        rows.append(live)
        cols.append(edge_of[prev, cur[live]])
        cur[live] = prev
        live = live[prev != src[live]]
    r = np.concatenate(rows)
    vals = np.full(r.size, -1.0)
    vals[: bad.size] = 1.0
    A = sp.csr_matrix((vals, (r, np.concatenate(cols))), shape=(bad.size, x.size))
    return A, worst


class _ActiveSetSolver:
    """Active constraints (sparse rows of A), their dual variables z, and x = d - W^{-1} A^T z."""

    def __init__(self, n: int, d: np.ndarray, winv: np.ndarray, iu: np.ndarray, ju: np.ndarray) -> None:
        self.d, self.winv = d, winv
        self.edge_of = np.full((n, n), -1, dtype=np.int64)
        self.edge_of[iu, ju] = np.arange(iu.size)
        self.edge_of[ju, iu] = np.arange(iu.size)
        self.A = sp.csr_matrix((0, d.size))
        self.z = np.zeros(0)
        self.x = d.copy()
        self._hash = np.random.default_rng(0).integers(1, 2**62, size=d.size, dtype=np.int64)
        self._keys = np.zeros(0, dtype=np.int64)

    @property
    def n_active(self) -> int:
        return self.A.shape[0]

    def _add(self, new: sp.csr_matrix) -> None:
        """Append constraints not already active (a hash of the signed edge set identifies one)."""
        signed = self._hash[new.indices] * new.data.astype(np.int64)  # wraps around, as a hash may
        keys = np.add.reduceat(signed, new.indptr[:-1])
        keys, first = np.unique(keys, return_index=True)
        fresh = ~np.isin(keys, self._keys)
        if fresh.any():
            self.A = sp.vstack([self.A, new[first[fresh]]], format="csr")
            self.z = np.concatenate([self.z, np.zeros(int(fresh.sum()))])
            self._keys = np.concatenate([self._keys, keys[fresh]])

    def project(self, new: sp.csr_matrix | None, sweeps: int, target: float) -> float:
        """Add ``new`` rows, project until the KKT residual is <= target, forget zero duals.

        Returns the last residual (in units of constraint violation).
        """
        if new is not None:
            self._add(new)
        if self.n_active == 0:
            return 0.0
        self.z, residual = _dual_sweeps(self.A, self.d, self.winv, self.z, sweeps, target)
        keep = self.z > 0
        self.A, self.z, self._keys = self.A[keep], self.z[keep], self._keys[keep]
        self.x = self.d - self.winv * (self.A.T @ self.z)
        return residual


def _dual_sweeps(A: sp.csr_matrix, d: np.ndarray, winv: np.ndarray, z: np.ndarray, sweeps: int,
                 target: float) -> tuple[np.ndarray, float]:
    """Simultaneous Hildreth projections with momentum (FISTA on the dual), from z.

    Dual of min 1/2||x - d||_W^2 s.t. Ax <= 0: max_{z >= 0} -1/2 z^T A W^{-1} A^T z + z^T A d.
    Stops once the projected-gradient residual ``max |min(z, -A x)|`` (a violation for
    z = 0, a slack for z > 0) is <= target; returns z and that residual.
    """
    AT = A.T.tocsr()
    # Component-averaging scaling (Censor, Gordon & Gordon, 2001): each edge's share is
    # weighted by how many active constraints use it, so lam <= 1 and lightly shared
    # constraints take long steps.
    sq = A.multiply(A)
    uses = np.asarray(sq.sum(axis=0)).ravel()
    scale = 1.0 / np.asarray(sq @ (uses * winv)).ravel()
    lam = _largest_eigenvalue(A, AT, winv, np.sqrt(scale))
    step = scale / (1.02 * lam)
    y, t = z.copy(), 1.0
    residual = np.inf
    for sweep in range(sweeps + 1):
        if sweep % 10 == 0 or sweep == sweeps:  # the residual costs two more products: check now and then
            residual = float(np.abs(np.minimum(z / step, -(A @ (d - winv * (AT @ z))))).max())
            if residual <= target or sweep == sweeps:
                break
        x = d - winv * (AT @ y)
        z_new = np.maximum(0.0, y + step * (A @ x))
        if np.dot(z_new - z, y - z_new) > 0:  # momentum points backwards: restart
            y, t = z_new.copy(), 1.0
        else:
            t_new = (1.0 + np.sqrt(1.0 + 4.0 * t * t)) / 2.0
            y = z_new + ((t - 1.0) / t_new) * (z_new - z)
            t = t_new
        z = z_new
    return z, residual


def _largest_eigenvalue(A: sp.csr_matrix, AT: sp.csr_matrix, winv: np.ndarray, s: np.ndarray,
                        iters: int = 20) -> float:
    """Power iteration for the top eigenvalue of S A W^{-1} A^T S (S = diag(s))."""
    v = np.random.default_rng(0).random(A.shape[0]) + 0.5
    v /= np.linalg.norm(v)
    lam = 1.0
    for _ in range(iters):
        u = s * (A @ (winv * (AT @ (s * v))))
        lam = float(np.linalg.norm(u))
        if lam == 0.0:
            return 1.0
        v = u / lam
    return lam


class MetricNearness(TransformerMixin, BaseEstimator):
    """Nearest metric to a dissimilarity matrix (Project and Forget; Sonthalia & Gilbert, 2022).

    A thin estimator over :func:`metric_nearness`: ``fit(D)`` solves the problem and
    stores the answer; ``fit_transform(D)`` returns it. ``transform(D)`` solves it for
    another matrix of the same size (the problem has no learned state to reuse).

    Parameters
    ----------
    tol : float, default=1e-7
        Relative violation at which the active-set loop stops.
    max_iter : int, default=200
        Oracle rounds.
    inner_iter : int, default=200
        Most projection sweeps per round.

    Attributes
    ----------
    metric_ : ndarray, shape (n, n)
        The nearest metric; every triangle inequality holds.
    objective_ : float
        ``1/2 sum_{i<j} W_ij (metric_ij - D_ij)^2``.
    n_iter_ : int
    n_active_ : int
        Constraints left in the active set.
    converged_ : bool

    Examples
    --------
    >>> import numpy as np
    >>> D = np.array([[0, 1, 4], [1, 0, 1], [4, 1, 0]], dtype=float)
    >>> X = MetricNearness().fit_transform(D)
    >>> bool(X[0, 2] <= X[0, 1] + X[1, 2] + 1e-12)
    True
    """

    _parameter_constraints = {
        "tol": (Interval(numbers.Real, 0, None, closed="neither"),),
        "max_iter": (Interval(numbers.Integral, 1, None),),
        "inner_iter": (Interval(numbers.Integral, 1, None),),
    }

    def __init__(self, tol=1e-7, max_iter=200, inner_iter=200):
        self.tol = tol
        self.max_iter = max_iter
        self.inner_iter = inner_iter

    def fit(self, X: Any, y: Any = None, *, weights: Any = None) -> "MetricNearness":
        """Solve for the dissimilarity matrix X (n, n); y is ignored; optional weights (n, n)."""
        result = self._solve(X, weights)
        self.n_features_in_ = result.metric.shape[0]
        self.metric_ = result.metric
        self.objective_ = result.objective
        self.n_iter_ = result.n_iter
        self.n_active_ = result.n_active
        self.converged_ = result.converged
        return self

    def fit_transform(self, X: Any, y: Any = None, *, weights: Any = None) -> np.ndarray:
        """Fit on X (n, n) and return the nearest metric ``metric_`` (n, n)."""
        return self.fit(X, y, weights=weights).metric_.copy()

    def transform(self, X: Any) -> np.ndarray:
        """Nearest metric of another (n, n) dissimilarity matrix of the fitted size."""
        check_is_fitted(self, "metric_")
        try:
            width = check_array(X, dtype=np.float64).shape[1]
        except TypeError:
            raise
        except ValueError as exc:
            raise InputError(f"X: {exc}") from None
        if width != self.n_features_in_:
            raise InputError(f"X has {width} features, but MetricNearness is expecting "
                             f"{self.n_features_in_} features as input.")
        return self._solve(X, None).metric

    def _solve(self, X: Any, weights: Any) -> NearnessResult:
        check_params(type(self).__name__, self.get_params(), self._parameter_constraints)
        return metric_nearness(X, weights, tol=self.tol, max_iter=self.max_iter, inner_iter=self.inner_iter)

    def _expected_failed_checks(self) -> dict[str, str]:
        """scikit-learn checks that cannot apply: they feed non-square or asymmetric matrices."""
        why = ("MetricNearness takes a square symmetric dissimilarity matrix; this check slices or permutes "
               "rows only (non-square or asymmetric input), which is rejected on purpose.")
        return {"check_methods_sample_order_invariance": why, "check_methods_subset_invariance": why,
                "check_fit_idempotent": why}

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.pairwise = True
        tags.input_tags.positive_only = True
        tags.target_tags.required = False
        return tags
