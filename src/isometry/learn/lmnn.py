"""Large Margin Nearest Neighbor (LMNN).

Weinberger, Blitzer, Saul, "Distance Metric Learning for Large Margin Nearest
Neighbor Classification" (NIPS 2005; JMLR 2009).

Objective (the one metric-learn 0.7 minimizes), with squared distances
``d_ij = ||L x_i - L x_j||^2``, target neighbours ``j ~> i`` (the ``n_neighbors``
nearest same-class points in the input space) and impostors ``l`` (other classes):

    reg * sum_{i, j~>i} d_ij + (1 - reg) * sum_{i, j~>i, l} [1 + d_ij - d_il]_+

Differences from metric-learn, on purpose:

- the optimizer is scipy's L-BFGS-B on L (metric-learn: gradient descent with a
  step that starts at ``learn_rate`` and is halved or grown by 1%); ``learn_rate``
  and ``min_iter`` are accepted for import compatibility and not used, and
  ``convergence_tol`` is L-BFGS-B's relative objective tolerance ``ftol``;
- target neighbours come from :func:`isometry.distances.knn`; impostors (the points
  of other classes closer than a point's furthest target neighbour + 1 in the
  current embedding) from an exact blocked range search (:func:`find_impostors`);
- the gradient is one sparse Laplacian product, not a Python loop over triplets;
- every class needs at least ``n_neighbors + 1`` samples (metric-learn accepts a class
  of exactly ``n_neighbors`` and then counts a point as its own target neighbour).
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import minimize
from sklearn.base import BaseEstimator

from .._validate import Interval, Options, check_params
from .._backend import rows_per_block
from ..distances import knn
from ._base import MahalanobisMixin, check_supervised
from ._init import check_n_components, initial_components
from ._blockwork import Scratch, true_rows_cols

__all__ = ["LMNN", "lmnn_loss_grad", "target_neighbors", "find_impostors"]

#: candidate pairs whose exact distances are formed together (two (_PAIRS, k) buffers, 2 MiB each at k = 64)
_PAIRS = 4096


def target_neighbors(X: np.ndarray, codes: np.ndarray, k: int) -> np.ndarray:
    """The k nearest same-class points of each point (Euclidean), shape (n, k) of row indices."""
    out = np.empty((X.shape[0], k), dtype=np.int64)
    for c in np.unique(codes):
        rows = np.flatnonzero(codes == c)
        out[rows] = rows[knn(X[rows], k=k).indices]
    return out


def find_impostors(Z: np.ndarray, codes: np.ndarray, radius: np.ndarray, *, start_k: int = 16,
                   method: str = "dense", budget: int | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """All pairs (i, l) with ``codes[l] != codes[i]`` and ``||z_i - z_l||^2 < radius[i]``.

    ``method="dense"`` (default): an exact range search over row blocks, one float32
    screening GEMM per block plus a float64 check of the candidates (O(block x n)
    memory); its cost hardly depends on how many impostors there are. ``method="knn"``: candidates from
    :func:`isometry.distances.knn` in float32 (faiss when present) with a radius
    widened by the float32 rounding bound, k doubled for the queries whose k-th
    neighbour is still inside, each candidate checked in float64; cheaper only when
    impostors are few (on overlapping classes, k grows to thousands and the top-k
    selection dominates: 3.5 s against 0.3 s per search at 5,000 x 50).
    Returns ``(i, l, k)``; k is the largest k used (0 for the dense search).
    """
    if method == "knn":
        return _impostors_knn(Z, codes, radius, start_k)
    imp_i, imp_l, _ = impostors_dense(Z, codes, radius, budget=budget)
    return imp_i, imp_l, 0


def impostors_dense(Z: np.ndarray, codes: np.ndarray, radius: np.ndarray, *, budget: int | None = None,
                    scratch: Scratch | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The dense search of :func:`find_impostors`: rows i (P,), impostors l (P,) and their
    squared distances (P,), sorted by i.

    Row blocks of about ``budget`` bytes (default 2 MiB, cache-sized) are screened with a
    float32 GEMM against the radius widened by a bound on the float32 rounding; the
    candidates' distances are then computed exactly (float64 differences) and checked
    against the radius itself, so the result is the float64 range search's. ``scratch``
    keeps the block buffers from one call to the next.
    """
    n, k = Z.shape
    sq = np.einsum("ij,ij->i", Z, Z)
    Z32 = Z.astype(np.float32)
    Z32T = np.ascontiguousarray(Z32.T)
    half_sq32 = 0.5 * np.einsum("ij,ij->i", Z32, Z32)
    # d_il < r_i  <=>  |z_l|^2 / 2 - z_i.z_l < (r_i - |z_i|^2) / 2; the float32 rounding of the
    # left side is below k eps32 (|z_i|^2 + |z_l|^2): widen by 4x that
    eps32 = float(np.finfo(np.float32).eps)
    threshold = (0.5 * (radius - sq) + 4.0 * k * eps32 * (sq + sq.max()) + 1e-30).astype(np.float32)
    step = rows_per_block(n, 4 + 1 + 1, budget=2 << 20 if budget is None else budget, minimum=1, maximum=n)
    scratch = Scratch() if scratch is None else scratch
    buf = scratch.get("block", (step, n), np.float32)
    hit_buf, other_buf = scratch.get("hits", (2, step, n), bool)
    pair_buf = scratch.get("pairs", (2, _PAIRS, k), np.float64)
    found_i, found_l, found_d = [], [], []
    for s in range(0, n, step):
        e = min(n, s + step)
        T = np.matmul(Z32[s:e], Z32T, out=buf[: e - s])
        np.subtract(half_sq32[None, :], T, out=T)
        hit = np.less(T, threshold[s:e, None], out=hit_buf[: e - s])
        hit &= np.not_equal(codes[s:e, None], codes[None, :], out=other_buf[: e - s])
        rows, cols = true_rows_cols(hit)
        rows += s
        dist = _pair_sq_distances(Z, rows, cols, pair_buf)
        keep = dist < radius[rows]
        found_i.append(rows[keep])
        found_l.append(cols[keep])
        found_d.append(dist[keep])
    return (np.concatenate(found_i).astype(np.int64), np.concatenate(found_l).astype(np.int64),
            np.concatenate(found_d))


def _pair_sq_distances(Z: np.ndarray, rows: np.ndarray, cols: np.ndarray, buffers: np.ndarray) -> np.ndarray:
    """``||z_row - z_col||^2`` (float64 differences) for each pair, through ``buffers``
    (2, chunk, k) a chunk of pairs at a time."""
    out = np.empty(len(rows))
    left, right = buffers
    for a in range(0, len(rows), len(left)):
        b = min(len(rows), a + len(left))
        # mode="clip": the indices are valid; the default copies through a temporary
        diff = np.take(Z, rows[a:b], axis=0, out=left[: b - a], mode="clip")
        diff -= np.take(Z, cols[a:b], axis=0, out=right[: b - a], mode="clip")
        np.einsum("ij,ij->i", diff, diff, out=out[a:b])
    return out


def _impostors_knn(Z: np.ndarray, codes: np.ndarray, radius: np.ndarray, start_k: int
                   ) -> tuple[np.ndarray, np.ndarray, int]:
    n = Z.shape[0]
    sq = np.einsum("ij,ij->i", Z, Z)
    wide = radius + 1e-5 * (sq + sq.max()) + 1e-9
    Z32 = Z.astype(np.float32)
    queries = np.arange(n)
    k = k_used = min(max(start_k, 2), n)
    found_i, found_l = [], []
    while queries.size:
        res = knn(Z32[queries], Z32, k=k, distance="sqeuclidean", exclude_self=False)
        inside = res.distances < wide[queries, None]
        hit = inside & (codes[res.indices] != codes[queries, None])
        done = ~inside[:, -1] | (k >= n)
        rows, cols = np.nonzero(hit & done[:, None])
        found_i.append(queries[rows])
        found_l.append(res.indices[rows, cols])
        queries = queries[~done]
        k_used = k
        k = min(2 * k, n)
    imp_i, imp_l = np.concatenate(found_i), np.concatenate(found_l).astype(np.int64)
    diff = Z[imp_i] - Z[imp_l]
    keep = np.einsum("ij,ij->i", diff, diff) < radius[imp_i]
    return imp_i[keep], imp_l[keep], k_used


def lmnn_loss_grad(L: np.ndarray, X: np.ndarray, codes: np.ndarray, targets: np.ndarray,
                   regularization: float, *, scratch: Scratch | None = None) -> tuple[float, np.ndarray, int]:
    """LMNN objective, its gradient in L (k, d), and the number of active triplets.

    Parameters
    ----------
    L : ndarray, shape (k, d)
    X : ndarray, shape (n, d)
    codes : ndarray of int, shape (n,)
    targets : ndarray of int, shape (n, n_neighbors)
    regularization : float
        Weight of the pull term; the push (hinge) term has weight ``1 - regularization``.
    scratch : Scratch, optional
        Work arrays kept from one evaluation to the next (an optimizer passes the same one).
    """
    n = X.shape[0]
    scratch = Scratch() if scratch is None else scratch
    Z = X @ L.T
    to_target = np.take(Z, targets, axis=0, out=scratch.get("targets", targets.shape + Z.shape[1:], Z.dtype),
                        mode="clip")  # valid indices; the default mode copies through a temporary
    np.subtract(Z[:, None, :], to_target, out=to_target)
    dt = np.einsum("ijk,ijk->ij", to_target, to_target)
    radius = 1.0 + dt.max(axis=1)
    imp_i, imp_l, dil = impostors_dense(Z, codes, radius, scratch=scratch)
    margin = 1.0 + dt[imp_i] - dil[:, None]  # (P, n_neighbors)
    active = margin > 0
    value = regularization * dt.sum() + (1.0 - regularization) * margin[active].sum()
    push = 1.0 - regularization
    # Edge weights of sum_ab w_ab (x_a - x_b)(x_a - x_b)^T (gradient of value in M).
    count = np.stack([np.bincount(imp_i, weights=active[:, m], minlength=n)
                      for m in range(targets.shape[1])], axis=1)
    w_target = regularization + push * count
    w_imp = -push * active.sum(axis=1)
    # Laplacian of W + W^T times X, from two row-sorted CSR matrices (targets, impostors)
    # without forming W + W^T: (diag(row + column sums) - W - W^T) X
    k = targets.shape[1]
    W_target = sp.csr_matrix((w_target.ravel(), targets.ravel(), np.arange(0, n * k + 1, k)), shape=(n, n))
    W_imp = sp.csr_matrix((w_imp, imp_l, np.r_[0, np.cumsum(np.bincount(imp_i, minlength=n))]), shape=(n, n))
    degree = (w_target.sum(axis=1) + np.bincount(targets.ravel(), w_target.ravel(), minlength=n)
              + np.bincount(imp_i, w_imp, minlength=n) + np.bincount(imp_l, w_imp, minlength=n))
    lap_X = degree[:, None] * X - (W_target @ X + W_target.T @ X + W_imp @ X + W_imp.T @ X)
    grad = 2.0 * (Z.T @ lap_X)
    return float(value), grad, int(active.sum())


class LMNN(MahalanobisMixin, BaseEstimator):
    """Large Margin Nearest Neighbor metric learning (Weinberger et al., 2005).

    Parameters
    ----------
    init : {"auto", "pca", "lda", "identity", "random"} or ndarray, default="auto"
        Initial linear map (see :class:`isometry.learn.NCA`).
    n_neighbors : int, default=3
        Target neighbours per point; every class needs ``n_neighbors + 1`` samples.
    min_iter : int, default=50
        Accepted for compatibility with metric-learn; not used by L-BFGS-B.
    max_iter : int, default=1000
        L-BFGS-B iterations.
    learn_rate : float, default=1e-7
        Accepted for compatibility with metric-learn; not used (L-BFGS-B line search).
    regularization : float in [0, 1], default=0.5
        Weight of the pull term; the hinge (push) term gets ``1 - regularization``.
    convergence_tol : float, default=0.001
        Relative objective change at which L-BFGS-B stops (its ``ftol``).
    verbose : bool, default=False
    preprocessor : array-like or callable, default=None
    n_components : int or None, default=None
    random_state : int, RandomState or None, default=None

    Attributes
    ----------
    components_ : ndarray, shape (n_components, n_features)
    n_iter_ : int
    n_active_ : int
        Active (margin-violating) triplets at the solution.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> X, y = load_iris(return_X_y=True)
    >>> LMNN(max_iter=20).fit(X, y).components_.shape
    (4, 4)
    """

    _parameter_constraints = {
        "n_neighbors": (Interval(numbers.Integral, 1, None),),
        "min_iter": (Interval(numbers.Integral, 0, None),),
        "max_iter": (Interval(numbers.Integral, 1, None),),
        "learn_rate": (Interval(numbers.Real, 0, None, "neither"),),
        "regularization": (Interval(numbers.Real, 0, 1),),
        "convergence_tol": (Interval(numbers.Real, 0, None),),
        "verbose": (bool, Options([0, 1])),
    }

    def __init__(self, init="auto", n_neighbors=3, min_iter=50, max_iter=1000, learn_rate=1e-7,
                 regularization=0.5, convergence_tol=0.001, verbose=False, preprocessor=None,
                 n_components=None, random_state=None):
        self.init = init
        self.n_neighbors = n_neighbors
        self.min_iter = min_iter
        self.max_iter = max_iter
        self.learn_rate = learn_rate
        self.regularization = regularization
        self.convergence_tol = convergence_tol
        self.verbose = verbose
        self.preprocessor = preprocessor
        self.n_components = n_components
        self.random_state = random_state

    def _expected_failed_checks(self) -> dict[str, str]:
        return {"check_fit2d_1feature": "the check's labels leave a class with fewer than n_neighbors + 1 "
                "samples, which LMNN rejects with InputError (it needs n_neighbors target neighbours per point)"}

    def fit(self, X: Any, y: Any) -> "LMNN":
        """Learn the map from points X (n_samples, n_features) and class labels y (n_samples,)."""
        check_params(type(self).__name__, self.get_params(), self._parameter_constraints)
        X, codes, _ = check_supervised(self, X, y, min_per_class=self.n_neighbors + 1)
        k = check_n_components(self.n_components, X.shape[1], "LMNN")
        L0 = initial_components(X, codes, self.init, k, self.random_state, "LMNN")
        targets = target_neighbors(X, codes, self.n_neighbors)
        d = X.shape[1]
        reg = float(self.regularization)
        scratch = Scratch()

        def fun(flat: np.ndarray) -> tuple[float, np.ndarray]:
            value, grad, _ = lmnn_loss_grad(flat.reshape(-1, d), X, codes, targets, reg, scratch=scratch)
            return value, grad.ravel()

        result = minimize(fun, L0.ravel(), jac=True, method="L-BFGS-B",
                          options={"maxiter": self.max_iter, "ftol": self.convergence_tol})
        self.components_ = result.x.reshape(-1, d)
        self.n_iter_ = int(result.nit)
        self.n_active_ = lmnn_loss_grad(self.components_, X, codes, targets, reg)[2]
        if self.verbose:
            print(f"[LMNN] {result.message} after {result.nit} iterations; objective {result.fun:.6g}")
        return self
