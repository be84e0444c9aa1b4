"""Metric Learning for Kernel Regression (MLKR).

Weinberger & Tesauro, "Metric Learning for Kernel Regression" (AISTATS 2007).
Learns ``L`` minimizing the leave-one-out error of Nadaraya-Watson regression with a
Gaussian kernel in the learned space:

    yhat_i = sum_{j != i} p_ij y_j,   p_ij = softmax_j(-||L x_i - L x_j||^2),
    loss   = sum_i (yhat_i - y_i)^2.

Loss and gradient are computed in row blocks with torch (log-sum-exp softmax, GEMMs),
so memory is O(block x n), never n x n; the optimizer is scipy's L-BFGS-B, as in
metric-learn 0.7 (same loss, same parameters and defaults).
"""

from __future__ import annotations

import numbers
import warnings
from typing import Any

import numpy as np
import torch
from scipy.optimize import minimize
from sklearn.base import BaseEstimator
from sklearn.utils.validation import validate_data

from .._backend import rows_per_block
from .._validate import Interval, Options, check_params
from ..errors import ConvergenceWarning, InputError
from ._base import MahalanobisMixin
from ._init import check_n_components, initial_components

__all__ = ["MLKR", "mlkr_loss_grad"]


def mlkr_loss_grad(L: np.ndarray, X: np.ndarray, y: np.ndarray, *, budget: int | None = None
                   ) -> tuple[float, np.ndarray]:
    """MLKR loss ``sum_i (yhat_i - y_i)^2`` and its gradient in L.

    Parameters
    ----------
    L : ndarray, shape (k, d)
    X : ndarray, shape (n, d)
    y : ndarray, shape (n,)
        Real targets.

    Returns
    -------
    loss : float
    grad : ndarray, shape (k, d)
    """
    Xt = torch.from_numpy(np.ascontiguousarray(X))
    Lt = torch.from_numpy(np.ascontiguousarray(L, dtype=X.dtype))
    yt = torch.from_numpy(np.ascontiguousarray(y, dtype=X.dtype))
    Z = Xt @ Lt.T
    sq = (Z * Z).sum(1)
    n = X.shape[0]
    step = rows_per_block(n, 8 * 4, budget=budget, minimum=16)
    loss = 0.0
    row_c = torch.zeros(n, dtype=Z.dtype)
    col_c = torch.zeros(n, dtype=Z.dtype)
    ZT_C_X = torch.zeros(Z.shape[1], X.shape[1], dtype=Z.dtype)  # sum_B Z_B^T C_B X
    XT_C_X = torch.zeros(X.shape[1], X.shape[1], dtype=Z.dtype)  # sum_B X_B^T C_B X (C Z = C X L^T)
    for s in range(0, n, step):
        e = min(n, s + step)
        d2 = (sq[s:e, None] + sq[None, :] - 2.0 * (Z[s:e] @ Z.T)).clamp_(min=0.0)
        d2[torch.arange(e - s), torch.arange(s, e)] = torch.inf
        p = torch.softmax(-d2, dim=1)
        yhat = p @ yt
        err = yhat - yt[s:e]
        loss += float((err * err).sum())
        # d loss / d d2_ij = -2 e_i p_ij (y_j - yhat_i)
        C = -2.0 * err[:, None] * p * (yt[None, :] - yhat[:, None])
        row_c[s:e] += C.sum(1)
        col_c += C.sum(0)
        CX = C @ Xt  # the one (block x n) GEMM besides the distances
        ZT_C_X += Z[s:e].T @ CX
        XT_C_X += Xt[s:e].T @ CX
    # grad = 2 sum_ij C_ij L (x_i - x_j)(x_i - x_j)^T
    G = Z.T @ ((row_c + col_c)[:, None] * Xt) - ZT_C_X - Lt @ XT_C_X.T
    return loss, (2.0 * G).numpy()


class MLKR(MahalanobisMixin, BaseEstimator):
    """Metric Learning for Kernel Regression (Weinberger & Tesauro, 2007).

    Parameters
    ----------
    n_components : int or None, default=None
        Output dimension (None: n_features).
    init : {"auto", "pca", "identity", "random"} or ndarray (n_components, n_features), default="auto"
        ``auto`` is ``pca`` when ``n_components < min(n_features, n_samples)``, else
        ``identity`` (targets are real numbers: no ``lda``), as in metric-learn.
    tol : float or None, default=None
        Tolerance passed to L-BFGS-B.
    max_iter : int, default=1000
        L-BFGS-B iterations.
    verbose : bool, default=False
        Warn when L-BFGS-B stops before converging.
    preprocessor : array-like or callable, default=None
    random_state : int, RandomState or None, default=None
        Used by ``init="random"``.

    Attributes
    ----------
    components_ : ndarray, shape (n_components, n_features)
    n_iter_ : int

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 3))
    >>> y = X[:, 0] + 0.01 * rng.normal(size=60)
    >>> L = MLKR(max_iter=50).fit(X, y).components_
    >>> bool(abs(L[:, 0]).sum() > abs(L[:, 2]).sum())
    True
    """

    _parameter_constraints = {
        "max_iter": (Interval(numbers.Integral, 1, None),),
        "tol": (Interval(numbers.Real, 0, None), None),
        "verbose": (bool, Options([0, 1])),
    }

    def __init__(self, n_components=None, init="auto", tol=None, max_iter=1000, verbose=False,
                 preprocessor=None, random_state=None):
        self.n_components = n_components
        self.init = init
        self.tol = tol
        self.max_iter = max_iter
        self.verbose = verbose
        self.preprocessor = preprocessor
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> "MLKR":
        """Learn the map from X (n_samples >= 2, n_features) and real targets y (n_samples,)."""
        check_params(type(self).__name__, self.get_params(), self._parameter_constraints)
        try:
            X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True, ensure_min_samples=2)
        except TypeError:
            raise
        except ValueError as exc:
            raise InputError(f"MLKR: {exc}") from None
        y = np.asarray(y, dtype=np.float64)
        k = check_n_components(self.n_components, X.shape[1], "MLKR")
        L0 = initial_components(X, None, self.init, k, self.random_state, "MLKR")
        d = X.shape[1]

        def fun(flat: np.ndarray) -> tuple[float, np.ndarray]:
            loss, grad = mlkr_loss_grad(flat.reshape(-1, d), X, y)
            return loss, grad.ravel()

        result = minimize(fun, L0.ravel(), jac=True, method="L-BFGS-B", tol=self.tol,
                          options={"maxiter": self.max_iter})
        if self.verbose and not result.success:
            warnings.warn(f"MLKR did not converge: {result.message}", ConvergenceWarning, stacklevel=2)
        self.components_ = result.x.reshape(-1, d)
        self.n_iter_ = int(result.nit)
        return self
