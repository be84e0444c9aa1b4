"""Sparse Determinant Metric Learning (SDML).

Qi, Tang, Zha, Chua, Zhang, "An Efficient Sparse Metric Learning in High-Dimensional
Space via l1-Penalized Log-Determinant Regularization" (ICML 2009).

As in metric-learn 0.7: ``S = M0^-1 + balance_param * sum_i y_i v_i v_i^T`` (pairs
``v_i = a_i - b_i``, ``y_i = +1`` similar, -1 dissimilar), its eigenvalues shifted to be
positive when it is indefinite (with a warning), then M is the graphical-lasso
precision ``argmin_M tr(S M) - logdet M + sparsity_param * sum_{i != j} |M_ij|``.
The graphical lasso is solved by ADMM (Boyd et al., "Distributed Optimization and
Statistical Learning via the Alternating Direction Method of Multipliers", 2011):
one d x d eigendecomposition per iteration, no per-column coordinate descent.
"""

from __future__ import annotations

import numbers
import warnings
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

from .._validate import Interval, Options, check_params
from ..errors import ConvergenceWarning, InputError
from ._base import MahalanobisMixin, PairsClassifierMixin, components_from_metric
from ._init import points_of_tuples, prior_metric
from ._weak import check_pair_fit, pairs_from_labels, wrap

__all__ = ["SDML", "SDML_Supervised", "graphical_lasso_admm"]


def graphical_lasso_admm(S: np.ndarray, alpha: float, *, rho: float = 1.0, max_iter: int = 2000,
                         tol: float = 1e-6) -> tuple[np.ndarray, int]:
    """Precision ``argmin_P tr(S P) - logdet P + alpha * sum_{i != j} |P_ij|``.

    Parameters
    ----------
    S : ndarray, shape (d, d)
        Symmetric positive semi-definite "covariance".
    alpha : float
        l1 weight on the off-diagonal entries.

    Returns
    -------
    precision : ndarray, shape (d, d)
    n_iter : int
    """
    d = S.shape[0]
    Z = np.linalg.inv(S + 1e-3 * np.trace(S) / d * np.eye(d))
    U = np.zeros_like(S)
    off = ~np.eye(d, dtype=bool)
    it = 0
    for it in range(1, max_iter + 1):
        vals, vecs = np.linalg.eigh(rho * (Z - U) - S)
        theta = (vals + np.sqrt(vals * vals + 4.0 * rho)) / (2.0 * rho)
        P = (vecs * theta) @ vecs.T
        Z_old = Z
        Z = P + U
        Z[off] = np.sign(Z[off]) * np.maximum(np.abs(Z[off]) - alpha / rho, 0.0)
        U += P - Z
        primal = np.linalg.norm(P - Z)
        dual = rho * np.linalg.norm(Z - Z_old)
        scale = max(np.linalg.norm(P), np.linalg.norm(Z), 1e-12)
        if primal < tol * scale and dual < tol * max(np.linalg.norm(rho * U), 1e-12):
            break
    return (Z + Z.T) / 2.0, it


class _BaseSDML(MahalanobisMixin):
    def _fit_pairs(self, pairs: np.ndarray, y: np.ndarray) -> None:
        check_params(type(self).__name__, self.get_params(), _CONSTRAINTS)
        M0 = prior_metric(points_of_tuples(pairs), self.prior, self.random_state, type(self).__name__)
        if np.linalg.eigvalsh(M0).min() <= 0:
            raise InputError(f"{type(self).__name__} needs a positive definite prior; use prior='identity'.")
        diff = pairs[:, 0] - pairs[:, 1]
        S = np.linalg.inv(M0) + self.balance_param * (diff.T * y) @ diff
        vals, vecs = np.linalg.eigh(S)
        if vals.min() < 0:
            warnings.warn("The input matrix of the graphical lasso is not positive semi-definite; its "
                          "eigenvalues are shifted. Decrease balance_param or use prior='identity'.",
                          ConvergenceWarning, stacklevel=3)
            vals = vals - vals.min()
        S = (vecs * (vals + 1e-10)) @ vecs.T
        M, self.n_iter_ = graphical_lasso_admm(S, float(self.sparsity_param))
        self.components_ = components_from_metric(M)


_CONSTRAINTS = {
    "balance_param": (Interval(numbers.Real, 0, None),),
    "sparsity_param": (Interval(numbers.Real, 0, None),),
    "verbose": (bool, Options([0, 1])),
}


class SDML(PairsClassifierMixin, _BaseSDML, BaseEstimator):
    """SDML on pairs (Qi et al., 2009): a sparse precision matrix near the prior.

    Parameters
    ----------
    balance_param : float, default=0.5
        Weight of the pair scatter ``sum_i y_i v_i v_i^T``.
    sparsity_param : float, default=0.01
        l1 weight of the graphical lasso.
    prior : {"identity", "covariance", "random"} or ndarray (d, d), default="identity"
    verbose : bool, default=False
    preprocessor : array-like or callable, default=None
    random_state : int, RandomState or None, default=None

    Examples
    --------
    >>> import numpy as np
    >>> pairs = np.array([[[0., 0.], [0., 1.]], [[0., 0.], [1., 0.]]])
    >>> SDML(balance_param=0.1).fit(pairs, [1, -1]).get_mahalanobis_matrix().shape
    (2, 2)
    """

    def __init__(self, balance_param=0.5, sparsity_param=0.01, prior="identity", verbose=False,
                 preprocessor=None, random_state=None):
        self.balance_param = balance_param
        self.sparsity_param = sparsity_param
        self.prior = prior
        self.verbose = verbose
        self.preprocessor = preprocessor
        self.random_state = random_state

    def fit(self, pairs: Any, y: Any) -> "SDML":
        """Learn from pairs (n_pairs, 2, n_features) and labels y (+1 similar, -1 dissimilar)."""
        pairs, y = check_pair_fit(self, pairs, y)
        self._fit_pairs(pairs, y)
        return self.calibrate_threshold(pairs, y)


class SDML_Supervised(_BaseSDML, BaseEstimator):
    """SDML from class labels: ``n_constraints`` similar and dissimilar pairs drawn at random.

    Parameters
    ----------
    balance_param, sparsity_param, prior, verbose, preprocessor, random_state
        As in :class:`SDML`.
    n_constraints : int or None, default=None
        Pairs of each kind; None means ``20 * n_classes ** 2``.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> X, y = load_iris(return_X_y=True)
    >>> SDML_Supervised(balance_param=1e-3, random_state=0).fit(X, y).transform(X).shape
    (150, 4)
    """

    def __init__(self, balance_param=0.5, sparsity_param=0.01, prior="identity", n_constraints=None,
                 verbose=False, preprocessor=None, random_state=None):
        self.balance_param = balance_param
        self.sparsity_param = sparsity_param
        self.prior = prior
        self.n_constraints = n_constraints
        self.verbose = verbose
        self.preprocessor = preprocessor
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> "SDML_Supervised":
        """Learn from points X (n_samples, n_features) and class labels y (n_samples,)."""
        X, abcd = pairs_from_labels(self, X, y, self.n_constraints, self.random_state)
        pairs, pair_y = wrap(X, abcd)
        self._fit_pairs(pairs, pair_y)
        return self
