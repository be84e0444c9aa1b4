"""Neighbourhood Components Analysis (NCA).

Goldberger, Roweis, Hinton, Salakhutdinov, "Neighbourhood Components Analysis" (2004).
Maximizes the expected leave-one-out accuracy of a stochastic nearest-neighbour
classifier, ``sum_i sum_{j in class(i)} p_ij`` with ``p_ij = softmax_j(-||L x_i - L x_j||^2)``.

The objective and gradient are computed in row blocks with torch (log-sum-exp
softmax, two GEMMs per block), so memory is O(block x n), never n x n; the
optimizer is scipy's L-BFGS-B, as in metric-learn.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import torch
from scipy.optimize import minimize
from sklearn.base import BaseEstimator

from .._backend import rows_per_block
from .._validate import Interval, Options, check_params
from ..errors import ConvergenceWarning
from ._base import MahalanobisMixin, check_supervised
from ._init import check_n_components, initial_components

__all__ = ["NCA", "nca_loss_grad"]


def nca_loss_grad(L: np.ndarray, X: np.ndarray, codes: np.ndarray, *, budget: int | None = None
                  ) -> tuple[float, np.ndarray]:
    """NCA objective ``sum_i p_i`` (expected correct neighbours) and its gradient in L.

    Parameters
    ----------
    L : ndarray, shape (k, d)
    X : ndarray, shape (n, d)
    codes : ndarray of int, shape (n,)
        Class codes.

    Returns
    -------
    value : float
        ``sum_i sum_{j != i, y_j = y_i} p_ij`` (between 0 and n).
    grad : ndarray, shape (k, d)
        Gradient of ``value`` with respect to L.
    """
    Xt = torch.from_numpy(np.ascontiguousarray(X))
    Lt = torch.from_numpy(np.ascontiguousarray(L))
    y = torch.from_numpy(codes)
    Z = Xt @ Lt.T
    sq = (Z * Z).sum(1)
    n = X.shape[0]
    step = rows_per_block(n, 8 * 4, budget=budget, minimum=16)
    value = 0.0
    row_w = torch.zeros(n, dtype=Z.dtype)  # row sums of the weight matrix W
    col_w = torch.zeros(n, dtype=Z.dtype)
    WZ_T_X = torch.zeros(Z.shape[1], X.shape[1], dtype=Z.dtype)  # Z_B^T W_B X
    XT_W_Z = torch.zeros(X.shape[1], Z.shape[1], dtype=Z.dtype)  # X_B^T W_B Z
    for s in range(0, n, step):
        e = min(n, s + step)
        d2 = sq[s:e, None] + sq[None, :] - 2.0 * (Z[s:e] @ Z.T)
        d2.clamp_(min=0.0)
        d2[torch.arange(e - s), torch.arange(s, e)] = torch.inf
        logp = -d2 - torch.logsumexp(-d2, dim=1, keepdim=True)
        p = torch.exp(logp)
        same = y[s:e, None] == y[None, :]
        pm = p * same
        p_i = pm.sum(1, keepdim=True)
        value += float(p_i.sum())
        W = pm - p * p_i  # d value / d(-d2_ij) = p_ij (same_ij - p_i)
        row_w[s:e] += W.sum(1)
        col_w += W.sum(0)
        WZ_T_X += Z[s:e].T @ (W @ Xt)
        XT_W_Z += Xt[s:e].T @ (W @ Z)
    # d value / dL = -2 sum_ij W_ij (z_i - z_j)(x_i - x_j)^T
    G = Z.T @ ((row_w + col_w)[:, None] * Xt) - WZ_T_X - XT_W_Z.T
    return value, (-2.0 * G).numpy()


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

        def fun(flat: np.ndarray) -> tuple[float, np.ndarray]:
            value, grad = nca_loss_grad(flat.reshape(-1, d), X, codes)
            return -value, -grad.ravel()

        result = minimize(fun, L0.ravel(), jac=True, method="L-BFGS-B", tol=self.tol,
                          options={"maxiter": self.max_iter})
        if self.verbose and not result.success:
            import warnings

            warnings.warn(f"NCA did not converge: {result.message}", ConvergenceWarning, stacklevel=2)
        self.components_ = result.x.reshape(-1, d)
        self.n_iter_ = int(result.nit)
        return self
