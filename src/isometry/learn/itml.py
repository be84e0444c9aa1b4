"""Information Theoretic Metric Learning (ITML).

Davis, Kulis, Jain, Sra, Dhillon, "Information-Theoretic Metric Learning" (ICML 2007).

Problem (the one metric-learn 0.7's Bregman projections converge to):

    min_{M, xi}  D_ld(M, M0) + gamma * sum_i D_ld(xi_i, xi0_i)
    s.t.  v_i^T M v_i <= xi_i (similar pairs),  v_i^T M v_i >= xi_i (dissimilar pairs)

with ``v_i = a_i - b_i``, ``xi0 = bounds_[0]`` for similar and ``bounds_[1]`` for
dissimilar pairs. metric-learn runs cyclic Bregman projections, one Python step per
constraint. Here the concave dual is maximized over all multipliers at once with
L-BFGS-B: ``M(lam)^-1 = M0^-1 + sum_i lam_i s_i v_i v_i^T`` (s_i = +1 similar, -1
dissimilar), ``1 / xi_i = 1 / xi0_i - s_i lam_i / gamma``; each evaluation is a few
GEMMs and one Cholesky. The optimum is the same (the problem is strictly convex).

Like metric-learn, the default bounds are the 5th and 95th percentiles of the
Euclidean distances between the points of the pairs, compared with *squared*
learned distances; above 2,000 distinct points the percentiles come from a seeded
sample of 2,000 points (metric-learn uses all, an n x n matrix).
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from scipy.linalg import LinAlgError, cho_factor, cho_solve
from sklearn.base import BaseEstimator
from sklearn.metrics import pairwise_distances
from sklearn.utils import check_random_state

from .._validate import Interval, Options, check_params
from ..errors import InputError
from ._base import MahalanobisMixin, PairsClassifierMixin, components_from_metric
from ._init import points_of_tuples, prior_metric
from ._weak import check_pair_fit, pairs_from_labels, wrap

__all__ = ["ITML", "ITML_Supervised", "itml_metric", "default_bounds"]

_SAMPLE = 2000


def default_bounds(points: np.ndarray, random_state: Any = 0) -> np.ndarray:
    """5th and 95th percentiles of Euclidean distances between distinct points, shape (2,)."""
    if points.shape[0] > _SAMPLE:
        rows = check_random_state(random_state).choice(points.shape[0], _SAMPLE, replace=False)
        points = points[rows]
    d = pairwise_distances(points)
    return np.percentile(d, (5, 95))


def itml_metric(V: np.ndarray, signs: np.ndarray, xi0: np.ndarray, M0: np.ndarray, gamma: float, *,
                max_iter: int = 1000, tol: float = 1e-3) -> tuple[np.ndarray, int]:
    """Solve ITML's dual; returns the learned matrix M (d, d) and the iterations used.

    Parameters
    ----------
    V : ndarray, shape (n_pairs, d)
        Pair differences ``a_i - b_i``.
    signs : ndarray, shape (n_pairs,)
        +1 similar, -1 dissimilar.
    xi0 : ndarray, shape (n_pairs,)
        Target (squared) distances: upper bound for similar, lower bound for dissimilar.
    M0 : ndarray, shape (d, d)
        Prior, positive definite.
    gamma : float
        Slack trade-off (``np.inf``: hard constraints).
    """
    B0 = np.linalg.inv(M0)
    B0 = (B0 + B0.T) / 2.0
    hard = np.isinf(gamma)

    def fun(lam: np.ndarray) -> tuple[float, np.ndarray]:
        B = B0 + (V * (lam * signs)[:, None]).T @ V
        try:
            factor = cho_factor(B, lower=True, check_finite=False)
        except LinAlgError:
            return np.inf, None
        logdet = 2.0 * np.log(np.diag(factor[0])).sum()
        q = np.einsum("ij,ji->i", V, cho_solve(factor, V.T, check_finite=False))
        if hard:
            return -(logdet - np.dot(lam * signs, xi0)), -signs * (q - xi0)
        c = 1.0 / xi0 - signs * lam / gamma
        if np.any(c <= 0):
            return np.inf, None
        return -(logdet + gamma * np.log(c).sum()), -signs * (q - 1.0 / c)

    upper = np.where(signs > 0, (gamma / xi0) * (1.0 - 1e-12), np.inf) if not hard else np.full(len(V), np.inf)
    lam, n_iter = spectral_projected_gradient(fun, np.zeros(len(V)), upper, max_iter=max_iter, tol=tol)
    B = B0 + (V * (lam * signs)[:, None]).T @ V
    M = np.linalg.inv(B)
    return (M + M.T) / 2.0, n_iter


def spectral_projected_gradient(fun, x0: np.ndarray, upper: np.ndarray, *, max_iter: int, tol: float,
                                memory: int = 10) -> tuple[np.ndarray, int]:
    """Minimize ``fun`` (value, gradient; ``inf`` outside its domain) over ``0 <= x <= upper``.

    Spectral projected gradient with a non-monotone Armijo backtracking (Birgin,
    Martinez, Raydan, "Nonmonotone Spectral Projected Gradient Methods on Convex Sets",
    2000). Stops when the relative change of x, ``|dx|_1 / (|x| + |x_old|)``, drops
    below ``tol`` (metric-learn's ITML criterion) or after ``max_iter`` iterations.
    """
    x = np.clip(x0, 0.0, upper)
    f, g = fun(x)
    history = [f]
    step = 1.0 / max(np.abs(np.clip(x - g, 0.0, upper) - x).max(), 1e-12)
    it = 0
    for it in range(1, max_iter + 1):
        d = np.clip(x - step * g, 0.0, upper) - x
        slope = float(g @ d)
        if slope >= 0:
            break
        ref = max(history[-memory:])
        t = 1.0
        while True:
            f_new, g_new = fun(x + t * d)
            if f_new <= ref + 1e-4 * t * slope or t < 1e-12:
                break
            t *= 0.5
        if g_new is None:
            break
        s_vec, y_vec = t * d, g_new - g
        x_old, x = x, x + s_vec
        f, g = f_new, g_new
        history.append(f)
        sy = float(s_vec @ y_vec)
        step = float(s_vec @ s_vec) / sy if sy > 0 else 1e10
        norm = np.linalg.norm(x) + np.linalg.norm(x_old)
        if norm == 0 or np.abs(s_vec).sum() / norm < tol:
            break
    return x, it


class _BaseITML(MahalanobisMixin):
    def _fit_pairs(self, pairs: np.ndarray, y: np.ndarray, bounds: Any) -> None:
        check_params(type(self).__name__, self.get_params(), _CONSTRAINTS)
        points = points_of_tuples(pairs)
        if bounds is None:
            self.bounds_ = default_bounds(points, self.random_state)
        else:
            b = np.asarray(bounds, dtype=np.float64).ravel()
            if b.size != 2 or not np.isfinite(b).all() or (b < 0).any():
                raise InputError(f"bounds must be two finite numbers >= 0; got {bounds!r}.")
            self.bounds_ = b
        self.bounds_ = np.where(self.bounds_ == 0, 1e-9, self.bounds_)
        M0 = prior_metric(points, self.prior, self.random_state, type(self).__name__)
        if np.linalg.eigvalsh(M0).min() <= 0:
            raise InputError(f"{type(self).__name__} needs a positive definite prior; "
                             "'covariance' of these points is singular: use prior='identity'.")
        V = pairs[:, 0] - pairs[:, 1]
        xi0 = np.where(y > 0, self.bounds_[0], self.bounds_[1])
        M, self.n_iter_ = itml_metric(V, y.astype(np.float64), xi0, M0, float(self.gamma),
                                      max_iter=self.max_iter, tol=self.tol)
        self.components_ = components_from_metric(M)


_CONSTRAINTS = {
    "gamma": (Interval(numbers.Real, 0, None, "neither"),),
    "max_iter": (Interval(numbers.Integral, 1, None),),
    "tol": (Interval(numbers.Real, 0, None),),
    "verbose": (bool, Options([0, 1])),
}


class ITML(PairsClassifierMixin, _BaseITML, BaseEstimator):
    """ITML on pairs (Davis et al., 2007): similar pairs get close, dissimilar far.

    Parameters
    ----------
    gamma : float, default=1.0
        Slack trade-off; larger values enforce the bounds harder (``np.inf``: exactly).
    max_iter : int, default=1000
        L-BFGS-B iterations on the dual.
    tol : float, default=1e-3
        Convergence tolerance (scaled into L-BFGS-B's ``ftol`` and ``gtol``).
    prior : {"identity", "covariance", "random"} or ndarray (d, d), default="identity"
        M0; must be positive definite.
    verbose : bool, default=False
    preprocessor : array-like or callable, default=None
        Lets ``fit`` take index pairs (n_pairs, 2).
    random_state : int, RandomState or None, default=None

    Attributes
    ----------
    components_ : ndarray, shape (n_features, n_features)
    bounds_ : ndarray, shape (2,)
    threshold_ : float
        Distance below which ``predict`` says similar (calibrated for accuracy on the
        training pairs).

    Examples
    --------
    >>> import numpy as np
    >>> pairs = np.array([[[0., 0.], [0., 1.]], [[0., 0.], [1., 0.]]])
    >>> ITML().fit(pairs, [1, -1]).get_mahalanobis_matrix().shape
    (2, 2)
    """

    def __init__(self, gamma=1.0, max_iter=1000, tol=1e-3, prior="identity", verbose=False,
                 preprocessor=None, random_state=None):
        self.gamma = gamma
        self.max_iter = max_iter
        self.tol = tol
        self.prior = prior
        self.verbose = verbose
        self.preprocessor = preprocessor
        self.random_state = random_state

    def fit(self, pairs: Any, y: Any, bounds: Any = None) -> "ITML":
        """Learn from pairs (n_pairs, 2, n_features) and labels y (+1 similar, -1 dissimilar)."""
        pairs, y = check_pair_fit(self, pairs, y)
        self._fit_pairs(pairs, y, bounds)
        return self.calibrate_threshold(pairs, y)


class ITML_Supervised(_BaseITML, BaseEstimator):
    """ITML from class labels: ``n_constraints`` similar and dissimilar pairs drawn at random.

    Parameters
    ----------
    gamma, max_iter, tol, prior, verbose, preprocessor, random_state
        As in :class:`ITML`.
    n_constraints : int or None, default=None
        Pairs of each kind; None means ``20 * n_classes ** 2`` (metric-learn's default).

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> X, y = load_iris(return_X_y=True)
    >>> ITML_Supervised(random_state=0).fit(X, y).transform(X).shape
    (150, 4)
    """

    def __init__(self, gamma=1.0, max_iter=1000, tol=1e-3, n_constraints=None, prior="identity",
                 verbose=False, preprocessor=None, random_state=None):
        self.gamma = gamma
        self.max_iter = max_iter
        self.tol = tol
        self.n_constraints = n_constraints
        self.prior = prior
        self.verbose = verbose
        self.preprocessor = preprocessor
        self.random_state = random_state

    def fit(self, X: Any, y: Any, bounds: Any = None) -> "ITML_Supervised":
        """Learn from points X (n_samples, n_features) and class labels y (n_samples,)."""
        X, abcd = pairs_from_labels(self, X, y, self.n_constraints, self.random_state)
        pairs, pair_y = wrap(X, abcd)
        self._fit_pairs(pairs, pair_y, bounds)
        return self
