"""Neighbourhood Components Analysis (NCA).

Goldberger, Roweis, Hinton, Salakhutdinov, "Neighbourhood Components Analysis" (2004).
Maximizes the expected leave-one-out accuracy of a stochastic nearest-neighbour
classifier, ``sum_i sum_{j in class(i)} p_ij`` with ``p_ij = softmax_j(-||L x_i - L x_j||^2)``.

The objective and gradient are computed with torch in float64 on class-sorted rows:
one ``addmm`` gives the softmax logits, the softmax and the weights
``W = P * (same - p_i)`` are formed in place (same-class entries are contiguous
column ranges, so no n x n mask), and ``W + W^T`` times Z is one GEMM: two
(n, n, k) GEMMs per evaluation, as metric-learn, but about half its elementwise
passes. When three (n, n) buffers exceed the memory budget, rows are processed in
blocks (three GEMMs, O(block x n) memory). The optimizer is scipy's L-BFGS-B, as in
metric-learn, so iterates match it and 10x is out of reach on CPU: the GEMMs are the
same (float32 was tried: its rounding stops L-BFGS early, at 0.973 instead of 0.981
3-NN accuracy on digits).
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


def _class_ranges(codes: np.ndarray) -> np.ndarray:
    """Start/end rows of each class in class-sorted ``codes``: shape (n_classes_present, 3) = (code, start, end)."""
    edges = np.flatnonzero(np.diff(codes)) + 1
    starts = np.concatenate([[0], edges])
    ends = np.concatenate([edges, [len(codes)]])
    return np.column_stack([codes[starts], starts, ends])


def _block_weights(Z: torch.Tensor, sq: torch.Tensor, s: int, e: int, ranges: np.ndarray
                   ) -> tuple[float, torch.Tensor]:
    """Rows s:e of ``W = P * (same - p_i)`` (in a fresh (e - s, n) buffer) and ``sum p_i``.

    Softmax logits are ``2 z_i.z_j - |z_j|^2`` (the ``-|z_i|^2`` term cancels), so one
    ``addmm`` builds them; the rest is done in place. Rows are class-sorted, so the
    same-class entries of a row are one contiguous column range.
    """
    A = torch.addmm(-sq[None, :], Z[s:e], Z.T, alpha=2.0)
    A[torch.arange(e - s), torch.arange(s, e)] = -torch.inf
    A.sub_(A.max(dim=1, keepdim=True).values)
    A.exp_()
    A.div_(A.sum(dim=1, keepdim=True))  # A is now P (rows s:e)
    same = []
    p_i = torch.empty(e - s, 1, dtype=A.dtype)
    for _, cs, ce in ranges:
        rs, re = max(cs, s), min(ce, e)
        if rs < re:
            block = A[rs - s:re - s, cs:ce].clone()
            p_i[rs - s:re - s, 0] = block.sum(dim=1)
            same.append((rs - s, re - s, cs, ce, block))
    A.mul_(-p_i)
    for r0, r1, cs, ce, block in same:
        A[r0:r1, cs:ce] += block
    return float(p_i.sum()), A


def nca_loss_grad(L: np.ndarray, X: np.ndarray, codes: np.ndarray, *, budget: int | None = None
                  ) -> tuple[float, np.ndarray]:
    """NCA objective ``sum_i p_i`` (expected correct neighbours) and its gradient in L.

    Parameters
    ----------
    L : ndarray, shape (k, d)
    X : ndarray, shape (n, d)
    codes : ndarray of int, shape (n,)
        Class codes.
    budget : int, optional
        Bytes for the (rows, n) buffers; the default is isometry's memory budget.

    Returns
    -------
    value : float
        ``sum_i sum_{j != i, y_j = y_i} p_ij`` (between 0 and n).
    grad : ndarray, shape (k, d)
        Gradient of ``value`` with respect to L.

    Notes
    -----
    With ``W_ij = p_ij (same_ij - p_i)``, the gradient is
    ``-2 Z^T (diag(r + c) - W - W^T) X`` (r, c: row and column sums of W). When
    three (n, n) buffers fit in the budget, ``W + W^T`` is formed once and the whole
    evaluation is two (n, n, k) GEMMs, as in metric-learn; otherwise rows are
    processed in blocks (three GEMMs, O(block x n) memory).
    """
    order = np.argsort(codes, kind="stable")
    codes = np.asarray(codes)[order]
    Xt = torch.from_numpy(np.ascontiguousarray(X[order], dtype=np.float64))
    Lt = torch.from_numpy(np.ascontiguousarray(L, dtype=np.float64))
    Z = Xt @ Lt.T
    sq = (Z * Z).sum(1)
    n = X.shape[0]
    ranges = _class_ranges(codes)
    step = rows_per_block(n, 8 * 3, budget=budget, minimum=16)
    if step >= n:
        value, W = _block_weights(Z, sq, 0, n, ranges)
        rc = W.sum(1) + W.sum(0)
        W += W.T.clone()
        G = (Z * rc[:, None] - W @ Z).T @ Xt
        return value, (-2.0 * G).numpy()
    value, rc = 0.0, torch.zeros(n, dtype=Z.dtype)
    WZ = torch.zeros_like(Z)  # (W + W^T) Z
    for s in range(0, n, step):
        e = min(n, s + step)
        v, W = _block_weights(Z, sq, s, e, ranges)
        value += v
        rc[s:e] += W.sum(1)
        rc += W.sum(0)
        WZ[s:e] += W @ Z
        WZ += W.T @ Z[s:e]
    G = (Z * rc[:, None] - WZ).T @ Xt
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
