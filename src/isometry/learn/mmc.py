"""Mahalanobis Metric for Clustering (MMC).

Xing, Ng, Jordan, Russell, "Distance Metric Learning, with Application to Clustering
with Side-Information" (NIPS 2002).

    max_M  sum_{dissimilar} sqrt(v^T M v)   s.t.  sum_{similar} v^T M v <= 1,  M PSD

The iterations are metric-learn 0.7's, step for step (gradient step on
log sum of dissimilar distances, alternating projections on the similarity
half-space and the PSD cone, adaptive step; the diagonal form uses Newton steps);
the dissimilarity gradient is one weighted GEMM, where metric-learn builds an
(n_pairs, d, d) tensor of outer products at every iteration.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

from .._validate import Interval, Options, check_params
from ._base import MahalanobisMixin, PairsClassifierMixin, components_from_metric
from ._init import points_of_tuples, prior_metric
from ._weak import check_pair_fit, pairs_from_labels, wrap

__all__ = ["MMC", "MMC_Supervised"]


def _dissimilar_log(neg: np.ndarray, A: np.ndarray) -> float:
    return float(np.log(np.sqrt(np.einsum("ij,ij->i", neg @ A, neg)).sum() + 1e-6))


def _dissimilar_grad(neg: np.ndarray, A: np.ndarray) -> np.ndarray:
    dist = np.sqrt(np.einsum("ij,ij->i", neg @ A, neg))
    return (neg * (0.5 / (dist + 1e-6))[:, None]).T @ neg / (dist.sum() + 1e-6)


def _orthogonal(g1: np.ndarray, g2: np.ndarray) -> np.ndarray:
    g2 = g2 / np.linalg.norm(g2)
    out = g1 - np.sum(g1 * g2) * g2
    return out / np.linalg.norm(out)


def mmc_full(pos: np.ndarray, neg: np.ndarray, A0: np.ndarray, *, max_iter: int, max_proj: int,
             tol: float) -> tuple[np.ndarray, int, bool]:
    """Full-matrix MMC from A0; ``pos``/``neg`` are pair differences (n, d). Returns A, iterations, converged."""
    d = A0.shape[0]
    A = A0.copy()
    scatter = pos.T @ pos
    w = scatter.ravel()
    t = w @ A.ravel() / 100.0
    w_norm = np.linalg.norm(w)
    w1, t1 = w / w_norm, t / w_norm
    alpha = 0.1
    step_dir = _orthogonal(scatter, _dissimilar_grad(neg, A))  # metric-learn's first direction
    A_old = A.copy()
    delta, cycle = np.inf, 0
    for cycle in range(max_iter):
        satisfy = False
        for _ in range(max_proj):
            x = A.ravel()
            if w @ x > t:
                A = (x + (t1 - w1 @ x) * w1).reshape(d, d)
            vals, vecs = np.linalg.eigh((A + A.T) / 2.0)
            A = (vecs * np.maximum(vals, 0.0)) @ vecs.T
            if (w @ A.ravel() - t) / t < 0.01:
                satisfy = True
                break
        if satisfy and (cycle == 0 or _dissimilar_log(neg, A) > _dissimilar_log(neg, A_old)):
            alpha *= 1.05
            A_old = A.copy()
            step_dir = _orthogonal(_dissimilar_grad(neg, A), scatter)
            A = A + alpha * step_dir
        else:
            alpha /= 2.0
            A = A_old + alpha * step_dir
        delta = np.linalg.norm(alpha * step_dir) / np.linalg.norm(A_old)
        if delta < tol:
            break
    return A_old, cycle, bool(delta <= tol)


def mmc_diagonal(pos: np.ndarray, neg: np.ndarray, w0: np.ndarray, *, max_iter: int, tol: float,
                 c: float) -> np.ndarray:
    """Diagonal MMC (Newton steps with halving); returns the diagonal weights (d,)."""
    s_sum = (pos * pos).sum(axis=0)
    sq = neg * neg
    w = w0.copy()
    d = len(w)

    def objective(v: np.ndarray) -> float:
        return float(s_sum @ v + c * np.log(np.sqrt(sq @ v + 1e-6).sum()))

    error, it = 1.0, 0
    while error > tol and it < max_iter:
        dist = np.sqrt(sq @ w)
        total = dist.sum()
        d1 = sq.T @ (0.5 / np.maximum(dist, 1e-6))
        d2 = (sq / (-4 * np.maximum(1e-6, dist ** 3))[:, None]).T @ sq
        hessian = -c * (d2 / total - np.outer(d1, d1) / total ** 2) + 1e-6 * np.eye(d)
        step = np.linalg.solve(hessian, s_sum - c * d1 / total)
        start = float(s_sum @ w + c * np.log(total))
        lam = 1.0
        trial = np.maximum(0.0, w - step)
        value, previous, best = objective(trial), np.inf, trial
        while value < previous:
            previous, best = value, trial
            lam /= 2.0
            trial = np.maximum(0.0, w - lam * step)
            value = objective(trial)
        w = best
        error = abs((previous - start) / previous)
        it += 1
    return w


class _BaseMMC(MahalanobisMixin):
    def _fit_pairs(self, pairs: np.ndarray, y: np.ndarray) -> None:
        check_params(type(self).__name__, self.get_params(), _CONSTRAINTS)
        A0 = prior_metric(points_of_tuples(pairs), self.init, self.random_state, type(self).__name__, "init")
        diff = pairs[:, 0] - pairs[:, 1]
        pos, neg = diff[y == 1], diff[y == -1]
        if self.diagonal:
            A = np.diag(mmc_diagonal(pos, neg, np.diag(A0).copy(), max_iter=self.max_iter, tol=self.tol,
                                     c=float(self.diagonal_c)))
            self.n_iter_, self.converged_ = None, None
        else:
            A, self.n_iter_, self.converged_ = mmc_full(pos, neg, A0, max_iter=self.max_iter,
                                                        max_proj=self.max_proj, tol=self.tol)
        self.A_ = A
        self.components_ = components_from_metric(A)


_CONSTRAINTS = {
    "max_iter": (Interval(numbers.Integral, 1, None),),
    "max_proj": (Interval(numbers.Integral, 1, None),),
    "tol": (Interval(numbers.Real, 0, None),),
    "diagonal": (bool,),
    "diagonal_c": (Interval(numbers.Real, 0, None),),
    "verbose": (bool, Options([0, 1])),
}


class MMC(PairsClassifierMixin, _BaseMMC, BaseEstimator):
    """MMC on pairs (Xing et al., 2002).

    Parameters
    ----------
    max_iter : int, default=100
    max_proj : int, default=10000
        Projections per iteration.
    tol : float, default=1e-3
    init : {"identity", "covariance", "random"} or ndarray (d, d), default="identity"
    diagonal : bool, default=False
        Learn a diagonal matrix.
    diagonal_c : float, default=1.0
        Weight of the dissimilarity term (diagonal form).
    verbose : bool, default=False
    preprocessor : array-like or callable, default=None
    random_state : int, RandomState or None, default=None

    Examples
    --------
    >>> import numpy as np
    >>> pairs = np.array([[[0., 0.], [0., 1.]], [[0., 0.], [1., 0.]]])
    >>> MMC().fit(pairs, [1, -1]).get_mahalanobis_matrix().shape
    (2, 2)
    """

    def __init__(self, max_iter=100, max_proj=10000, tol=1e-3, init="identity", diagonal=False,
                 diagonal_c=1.0, verbose=False, preprocessor=None, random_state=None):
        self.max_iter = max_iter
        self.max_proj = max_proj
        self.tol = tol
        self.init = init
        self.diagonal = diagonal
        self.diagonal_c = diagonal_c
        self.verbose = verbose
        self.preprocessor = preprocessor
        self.random_state = random_state

    def fit(self, pairs: Any, y: Any) -> "MMC":
        """Learn from pairs (n_pairs, 2, n_features) and labels y (+1 similar, -1 dissimilar)."""
        pairs, y = check_pair_fit(self, pairs, y)
        self._fit_pairs(pairs, y)
        return self.calibrate_threshold(pairs, y)


class MMC_Supervised(_BaseMMC, BaseEstimator):
    """MMC from class labels: ``n_constraints`` similar and dissimilar pairs drawn at random.

    Parameters
    ----------
    max_iter, max_proj, init, diagonal, diagonal_c, verbose, preprocessor, random_state
        As in :class:`MMC`.
    tol : float, default=1e-6
    n_constraints : int or None, default=None
        Pairs of each kind; None means ``20 * n_classes ** 2``.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> X, y = load_iris(return_X_y=True)
    >>> MMC_Supervised(random_state=0).fit(X, y).transform(X).shape
    (150, 4)
    """

    def __init__(self, max_iter=100, max_proj=10000, tol=1e-6, n_constraints=None, init="identity",
                 diagonal=False, diagonal_c=1.0, verbose=False, preprocessor=None, random_state=None):
        self.max_iter = max_iter
        self.max_proj = max_proj
        self.tol = tol
        self.n_constraints = n_constraints
        self.init = init
        self.diagonal = diagonal
        self.diagonal_c = diagonal_c
        self.verbose = verbose
        self.preprocessor = preprocessor
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> "MMC_Supervised":
        """Learn from points X (n_samples, n_features) and class labels y (n_samples,)."""
        X, abcd = pairs_from_labels(self, X, y, self.n_constraints, self.random_state)
        pairs, pair_y = wrap(X, abcd)
        self._fit_pairs(pairs, pair_y)
        return self
