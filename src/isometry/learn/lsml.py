"""Least Squared-residual Metric Learning (LSML).

Liu, Mu, Yu, Wang, "Metric Learning from Relative Comparisons by Minimizing Squared
Residual" (ICDM 2012).

Quadruplets ``(a, b, c, d)`` say ``d(a, b) < d(c, d)``. Objective (metric-learn 0.7's):

    sum_i w_i [sqrt(d_ab) - sqrt(d_cd)]_+^2 + tr(M M0^-1) - logdet M

(the weights normalized to sum to 1), minimized by L-BFGS over a factor L of
``M = L^T L`` with the analytic gradient: two weighted GEMMs for the residual term and
one d x d inverse per evaluation; ``logdet M`` keeps M positive definite, so no
projection is needed. metric-learn 0.7 runs projected gradient descent with ten
trial steps (ten eigendecompositions) per iteration and a descent direction that
leaves the weights out; isometry reaches the same or a lower objective (parity
test) with far fewer d x d factorizations.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from scipy.linalg import lu_factor, lu_solve
from scipy.optimize import minimize
from sklearn.base import BaseEstimator

from .._validate import Interval, Options, check_params
from ..errors import InputError
from ._base import MahalanobisMixin, QuadrupletsClassifierMixin, components_from_metric
from ._blockwork import Scratch
from ._init import prior_metric
from ._weak import pairs_from_labels

__all__ = ["LSML", "LSML_Supervised", "lsml_metric", "lsml_objective"]


def lsml_objective(M: np.ndarray, vab: np.ndarray, vcd: np.ndarray, w: np.ndarray, prior_inv: np.ndarray
                   ) -> float:
    """``sum_i w_i [sqrt(d_ab) - sqrt(d_cd)]_+^2 + tr(M M0^-1) - logdet M`` for M (d, d)."""
    dab = np.sqrt(np.maximum(np.einsum("ij,ij->i", vab @ M, vab), 0.0))
    dcd = np.sqrt(np.maximum(np.einsum("ij,ij->i", vcd @ M, vcd), 0.0))
    sign, logdet = np.linalg.slogdet(M)
    if sign <= 0:
        return np.inf
    return float(w @ np.maximum(dab - dcd, 0.0) ** 2 + np.sum(M * prior_inv) - logdet)


def _loss_grad_L(flat: np.ndarray, V: np.ndarray, w: np.ndarray, prior_inv: np.ndarray,
                 scratch: Scratch | None = None, by_points: tuple | None = None) -> tuple[float, np.ndarray]:
    """LSML's objective at ``M = L^T L`` and its gradient in L (flattened).

    ``V`` (2n, d) stacks the ``ab`` differences over the ``cd`` ones, so the residual
    term is one GEMM for the projections and one, over the violated comparisons only, for the gradient; one LU gives
    ``logdet L`` and ``L^-1``. ``scratch`` holds the (2n, d) projections from one
    evaluation to the next. ``by_points`` = (points (m, d), first (2n,), second (2n,))
    with ``V = points[first] - points[second]`` projects the m points instead
    (``L v = L x - L x'``): cheaper when m < 2n.
    """
    d = prior_inv.shape[0]
    n = len(w)
    L = flat.reshape(d, d)
    lu, piv = lu_factor(L, check_finite=False)
    diag = np.abs(np.diag(lu))
    if not (diag > 0).all() or not np.isfinite(diag).all():
        return np.inf, np.zeros_like(flat)
    logdet = float(np.log(diag).sum())
    scratch = Scratch() if scratch is None else scratch
    A = scratch.get("projections", V.shape, np.float64)
    if by_points is None:
        np.matmul(V, L.T, out=A)
    else:
        points, first, second = by_points
        Z = points @ L.T
        # mode="clip": indices are valid by construction, and the default ("raise") with
        # ``out`` copies the result through a temporary (3.5x slower on digits)
        np.take(Z, first, axis=0, out=A, mode="clip")
        A -= np.take(Z, second, axis=0, out=scratch.get("second ends", V.shape, np.float64), mode="clip")
    dist = np.sqrt(np.einsum("ij,ij->i", A, A))
    r = dist[:n] - dist[n:]
    bad = r > 0
    wr = np.where(bad, 2.0 * w * r, 0.0)
    coef = np.concatenate([wr, -wr]) / np.where(dist > 0, dist, 1.0)
    LP = L @ prior_inv
    value = float(w[bad] @ r[bad] ** 2 + np.sum(LP * L) - 2.0 * logdet)
    # d/dL ||L v|| = (L v) v^T / ||L v||
    inv_t = lu_solve((lu, piv), np.eye(d), trans=1, check_finite=False)  # (L^-1)^T
    rows = np.flatnonzero(coef)  # only violated comparisons contribute
    grad = (A[rows] * coef[rows, None]).T @ V[rows] + 2.0 * LP - 2.0 * inv_t
    return value, grad.ravel()


def lsml_metric(vab: np.ndarray, vcd: np.ndarray, weights: np.ndarray, M0: np.ndarray, *,
                max_iter: int = 1000, tol: float = 1e-3, ends: tuple | None = None) -> tuple[np.ndarray, int]:
    """Minimize LSML's objective from the prior M0 (d, d); returns M and the iterations used.

    ``vab``, ``vcd``: (n, d) differences of the two pairs of each quadruplet;
    ``weights``: (n,), normalized to sum to 1; ``ends`` = (points (m, d), (a, b, c, d)
    index arrays) when ``vab = points[a] - points[b]`` and ``vcd = points[c] - points[d]``:
    with fewer points than pair rows each evaluation projects the points, not the pairs.
    L-BFGS runs on a factor L of ``M = L^T L`` (started at the Cholesky factor of M0)
    with the analytic gradient; it stops when every gradient entry is below ``tol`` or
    the objective's relative change is below 1e-12. The result is never worse than the prior (compared on the values
    L-BFGS computed, no extra evaluation).
    """
    w = weights / weights.sum()
    prior_inv = np.linalg.inv(M0)
    L0 = np.linalg.cholesky(M0).T
    V = np.concatenate([vab, vcd])
    first: list[float] = []
    scratch = Scratch()
    by_points = None
    if ends is not None and len(ends[0]) < len(V):
        a, b, c, d = ends[1]
        by_points = (np.ascontiguousarray(ends[0], dtype=np.float64), np.concatenate([a, c]), np.concatenate([b, d]))

    def fun(flat: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad = _loss_grad_L(flat, V, w, prior_inv, scratch, by_points)
        if not first:
            first.append(value)
        return value, grad

    res = minimize(fun, L0.ravel(), jac=True, method="L-BFGS-B",
                   options={"maxiter": max_iter, "gtol": tol, "ftol": 1e-12})
    L = res.x.reshape(L0.shape)
    M = L.T @ L
    if not res.fun <= first[0]:
        M = M0.copy()  # never worse than the prior
    return M, max(int(res.nit), 1)  # counted as one when the prior is already optimal


class _BaseLSML(MahalanobisMixin):
    def _fit_quadruplets(self, quads: np.ndarray, weights: Any) -> None:
        self._fit_differences(quads[:, 0] - quads[:, 1], quads[:, 2] - quads[:, 3], weights, quads)

    def _fit_differences(self, vab: np.ndarray, vcd: np.ndarray, weights: Any, points: np.ndarray,
                         ends: tuple | None = None) -> None:
        """Fit from the differences (n, d) of each quadruplet's pairs; ``points`` (m, d) or
        the quadruplets (n, 4, d) give the prior; ``ends`` as in :func:`lsml_metric`."""
        check_params(type(self).__name__, self.get_params(), _CONSTRAINTS)
        w = np.ones(len(vab)) if weights is None else np.asarray(weights, dtype=np.float64).ravel()
        if w.shape[0] != len(vab) or not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
            raise InputError(f"weights must be {len(vab)} finite numbers >= 0 with a positive sum.")
        M0 = prior_metric(points, self.prior, self.random_state, type(self).__name__)
        if np.linalg.eigvalsh(M0).min() <= 0:
            raise InputError(f"{type(self).__name__} needs a positive definite prior; use prior='identity'.")
        M, self.n_iter_ = lsml_metric(vab, vcd, w, M0, max_iter=self.max_iter, tol=self.tol, ends=ends)
        self.components_ = components_from_metric(M)


_CONSTRAINTS = {
    "tol": (Interval(numbers.Real, 0, None),),
    "max_iter": (Interval(numbers.Integral, 1, None),),
    "verbose": (bool, Options([0, 1])),
}


class LSML(QuadrupletsClassifierMixin, _BaseLSML, BaseEstimator):
    """LSML on quadruplets (Liu et al., 2012): learn ``d(a, b) < d(c, d)``.

    Parameters
    ----------
    tol : float, default=1e-3
        Stop when every entry of the gradient (in L) falls below it.
    max_iter : int, default=1000
    prior : {"identity", "covariance", "random"} or ndarray (d, d), default="identity"
        Must be positive definite.
    verbose : bool, default=False
    preprocessor : array-like or callable, default=None
        Lets ``fit`` take index quadruplets (n, 4).
    random_state : int, RandomState or None, default=None

    Examples
    --------
    >>> import numpy as np
    >>> q = np.array([[[0., 0.], [0., 1.], [0., 0.], [1., 0.]]])
    >>> LSML().fit(q).get_mahalanobis_matrix().shape
    (2, 2)
    """

    def __init__(self, tol=1e-3, max_iter=1000, prior="identity", verbose=False, preprocessor=None,
                 random_state=None):
        self.tol = tol
        self.max_iter = max_iter
        self.prior = prior
        self.verbose = verbose
        self.preprocessor = preprocessor
        self.random_state = random_state

    def fit(self, quadruplets: Any, weights: Any = None) -> "LSML":
        """Learn from quadruplets (n, 4, n_features) with optional weights (n,)."""
        quads = self._check_tuples(quadruplets, tuple_size=4, reset=True)
        self._fit_quadruplets(quads, weights)
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False
        return tags


class LSML_Supervised(_BaseLSML, BaseEstimator):
    """LSML from class labels: quadruplets (similar pair, dissimilar pair) drawn at random.

    Parameters
    ----------
    tol, max_iter, prior, verbose, preprocessor, random_state
        As in :class:`LSML`.
    n_constraints : int or None, default=None
        Quadruplets; None means ``20 * n_classes ** 2``.
    weights : array-like (n_constraints,) or None, default=None

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> X, y = load_iris(return_X_y=True)
    >>> LSML_Supervised(random_state=0).fit(X, y).transform(X).shape
    (150, 4)
    """

    def __init__(self, tol=1e-3, max_iter=1000, prior="identity", n_constraints=None, weights=None,
                 verbose=False, preprocessor=None, random_state=None):
        self.tol = tol
        self.max_iter = max_iter
        self.prior = prior
        self.n_constraints = n_constraints
        self.weights = weights
        self.verbose = verbose
        self.preprocessor = preprocessor
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> "LSML_Supervised":
        """Learn from points X (n_samples, n_features) and class labels y (n_samples,)."""
        X, (a, b, c, d) = pairs_from_labels(self, X, y, self.n_constraints, self.random_state, same_length=True)
        # the quadruplets themselves are only needed for the covariance prior
        points = X[np.column_stack([a, b, c, d])] if isinstance(self.prior, str) and self.prior == "covariance" else X
        self._fit_differences(X[a] - X[b], X[c] - X[d], self.weights, points, ends=(X, (a, b, c, d)))
        return self
