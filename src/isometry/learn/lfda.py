"""Local Fisher Discriminant Analysis (LFDA).

Sugiyama, "Dimensionality Reduction of Multimodal Labeled Data by Local Fisher
Discriminant Analysis" (JMLR 2007). Fisher's ratio with pairwise weights
``A_ij = exp(-||x_i - x_j||^2 / (sigma_i sigma_j))`` between same-class points, where
``sigma_i`` is the distance from ``x_i`` to its k-th nearest same-class neighbour
(local scaling, Zelnik-Manor & Perona 2005), found with :func:`isometry.distances.knn`.

    S_w = 1/2 sum_ij W^w_ij (x_i - x_j)(x_i - x_j)^T,   W^w_ij = A_ij / n_c (same class), 0 else
    S_b = 1/2 sum_ij W^b_ij (x_i - x_j)(x_i - x_j)^T,   W^b_ij = A_ij (1/n - 1/n_c) (same), 1/n else

and the map solves ``S_b v = lambda S_w v`` (largest lambda first). Both scatters are
accumulated in row blocks, so memory is O(block x n_c), never n_c x n_c.

Differences from metric-learn 0.7, on purpose:

- ``sigma_i`` is each point's k-th neighbour distance. metric-learn's
  ``np.partition(dist, k, axis=0)[:, k]`` reads column k of a column-wise partition
  instead, which is not that distance (tests/parity shows both; with metric-learn's
  scales substituted, the two implementations agree to 1e-5);
- metric-learn computes ``S_b + 2 S_w`` instead of ``S_b`` (``tSb -= outer/n - tSw``
  flips the sign of ``tSw``; the paper's Matlab code subtracts it). The eigenvectors are
  the same, every eigenvalue is shifted by 2, so ``embedding_type="weighted"`` scales
  differ: here ``sqrt(lambda)`` with the paper's lambda (negative values clipped to 0);
- ``S_w`` gets a ridge of ``1e-9 x trace(S_w) / d`` so the generalized eigenproblem is
  always symmetric-definite. metric-learn's solver fails on singular ``S_w`` (digits'
  blank pixels, fewer samples per class than features) and falls back to a
  non-symmetric solver with complex output.
"""

from __future__ import annotations

import numbers
import warnings
from typing import Any

import numpy as np
from scipy.linalg import eigh
from sklearn.base import BaseEstimator

from .._backend import rows_per_block
from .._validate import Interval, Options, check_params
from ..distances import knn
from ._base import MahalanobisMixin, check_supervised
from ._init import check_n_components

__all__ = ["LFDA", "local_fisher_scatter"]

RIDGE = 1e-9


def _local_laplacian(Xc: np.ndarray, k: int) -> np.ndarray:
    """``Xc^T (D - A) Xc`` = 1/2 sum_ij A_ij (x_i - x_j)(x_i - x_j)^T for one class, shape (d, d)."""
    n_c, d = Xc.shape
    if n_c < 2 or k < 1:
        return np.zeros((d, d))
    sigma = np.asarray(knn(Xc, k=k, distance="euclidean", backend="torch").distances)[:, -1]
    sq = np.einsum("ij,ij->i", Xc, Xc)
    G = np.zeros((d, d))
    step = rows_per_block(n_c, 8 * 3)
    for s in range(0, n_c, step):
        e = min(n_c, s + step)
        d2 = np.maximum(sq[s:e, None] + sq[None, :] - 2.0 * (Xc[s:e] @ Xc.T), 0.0)
        scale = sigma[s:e, None] * sigma[None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            A = np.where(scale > 0, np.exp(-d2 / np.where(scale > 0, scale, 1.0)), 0.0)
        G += Xc[s:e].T @ (A.sum(axis=1)[:, None] * Xc[s:e]) - Xc[s:e].T @ (A @ Xc)
    return (G + G.T) / 2.0


def local_fisher_scatter(X: np.ndarray, codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Local between-class and within-class scatter ``(S_b, S_w)``, each (d, d).

    Parameters
    ----------
    X : ndarray, shape (n_samples, n_features)
    codes : ndarray of int, shape (n_samples,)
        Class codes 0..C-1.
    k : int
        Neighbour rank of the local scaling (capped at n_c - 1 per class).
    """
    n, d = X.shape
    S_w = np.zeros((d, d))
    S_m = np.zeros((d, d))
    total = X.sum(axis=0)
    for c in range(int(codes.max()) + 1):
        Xc = X[codes == c]
        n_c = Xc.shape[0]
        G = _local_laplacian(Xc, min(k, n_c - 1))
        s_c = Xc.sum(axis=0)
        S_w += G / n_c
        S_m += G / n + (1.0 - n_c / n) * (Xc.T @ Xc) + np.outer(s_c, s_c) / n
    S_m -= np.outer(total, total) / n
    S_b = S_m - S_w
    return (S_b + S_b.T) / 2.0, S_w


class LFDA(MahalanobisMixin, BaseEstimator):
    """Local Fisher Discriminant Analysis (Sugiyama, 2007).

    Parameters
    ----------
    n_components : int or None, default=None
        Output dimension (None: n_features).
    k : int or None, default=None
        Neighbour rank of the local scaling; None is ``min(7, n_features - 1)`` as in
        metric-learn (values >= n_features are cut to n_features - 1 with a warning).
    embedding_type : {"weighted", "orthonormalized", "plain"}, default="weighted"
        ``weighted`` scales each eigenvector by ``sqrt(lambda)``; ``orthonormalized``
        orthonormalizes them; ``plain`` keeps the ``S_w``-orthonormal eigenvectors.
    preprocessor : array-like or callable, default=None

    Attributes
    ----------
    components_ : ndarray, shape (n_components, n_features)
    eigenvalues_ : ndarray, shape (n_components,)
        The paper's generalized eigenvalues, largest first.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> X, y = load_iris(return_X_y=True)
    >>> LFDA(k=2, n_components=2).fit(X, y).transform(X).shape
    (150, 2)
    """

    _parameter_constraints = {
        "k": (Interval(numbers.Integral, 1, None), None),
        "embedding_type": (Options(["weighted", "orthonormalized", "plain"]),),
    }

    def __init__(self, n_components=None, k=None, embedding_type="weighted", preprocessor=None):
        self.n_components = n_components
        self.k = k
        self.embedding_type = embedding_type
        self.preprocessor = preprocessor

    def fit(self, X: Any, y: Any) -> "LFDA":
        """Learn the map from X (n_samples >= 2, n_features) and class labels y (n_samples,)."""
        check_params(type(self).__name__, self.get_params(), self._parameter_constraints)
        X, codes, _ = check_supervised(self, X, y, min_classes=2)
        n, d = X.shape
        if n < 2:
            from ..errors import InputError

            raise InputError(f"LFDA needs at least 2 samples; got {n} sample(s).")
        dim = check_n_components(self.n_components, d, "LFDA")
        k = self._neighbour_rank(d)
        S_b, S_w = local_fisher_scatter(X, codes, k)
        ridge = RIDGE * max(float(np.trace(S_w)) / d, 1e-300)
        vals, vecs = eigh(S_b, S_w + ridge * np.eye(d))
        order = np.argsort(-vals, kind="stable")[:dim]
        vals, vecs = vals[order], vecs[:, order]
        if self.embedding_type == "weighted":
            vecs = vecs * np.sqrt(np.clip(vals, 0.0, None))
        elif self.embedding_type == "orthonormalized":
            vecs, _ = np.linalg.qr(vecs)
        self.eigenvalues_ = vals
        self.components_ = vecs.T
        return self

    def _neighbour_rank(self, d: int) -> int:
        if self.k is None:
            return max(1, min(7, d - 1))
        if self.k >= d and d > 1:
            warnings.warn(f"Chosen k ({self.k}) too large, using {d - 1} instead.", UserWarning, stacklevel=3)
            return d - 1
        return int(self.k)
