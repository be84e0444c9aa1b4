"""Spectral measures of an embedding matrix: effective rank, matrix entropy, nuclear norm.

- ``effective_rank``: "The effective rank: a measure of effective dimensionality" (Roy &
  Vetterli, 2007): ``exp`` of the Shannon entropy of the normalized singular values.
- ``matrix_entropy``: von Neumann entropy of the trace-normalized covariance of the
  L2-normalized rows, "Large Language Model Evaluation via Matrix Entropy" (Wei et al.,
  2024), divided by ``log d`` so it lies in [0, 1].
- ``nuclear_norm``: "Large Language Model Evaluation via Matrix Nuclear-Norm" (Li et al.,
  2024): ``||A||_* / n`` for the L2-normalized rows ``A``, or its L1,2 approximation, the
  sum of the ``min(n, d)`` largest column norms, divided by ``n``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._backend import to_numpy
from .._validate import check_embeddings

__all__ = ["singular_values", "effective_rank", "matrix_entropy", "nuclear_norm"]


def singular_values(X: Any, *, center: bool = True) -> np.ndarray:
    """Singular values of ``X`` (rows centred by default), descending, float64.

    Computed from the ``d x d`` Gram matrix in row blocks, so ``n`` may be large
    (memory O(d^2)); values below ``1e-12`` of the largest are returned as 0.

    Parameters
    ----------
    X : array-like or torch.Tensor, shape (n, d)
    center : bool, default=True
        Subtract the column means first.
    """
    x = check_embeddings(X, name="X")
    gram, mean, n = _gram(x)
    if center:
        gram = gram - n * np.outer(mean, mean)
    eig = np.linalg.eigvalsh(gram)[::-1]
    eig = np.where(eig > 1e-12 * max(eig[0], 0.0), eig, 0.0)
    return np.sqrt(eig)


def effective_rank(X: Any, *, center: bool = True) -> float:
    """Effective rank ``exp(H(p))``, ``p_i = s_i / sum_j s_j`` (Roy & Vetterli, 2007).

    Between 1 and ``min(n, d)``; near ``d`` for an isotropic Gaussian in ``d``
    dimensions, near ``k`` for rank-``k`` data with equal spread.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(20000, 4))
    >>> round(effective_rank(x), 1)
    4.0
    """
    s = singular_values(X, center=center)
    return math.exp(_entropy(s / s.sum())) if s.sum() > 0 else 0.0


def matrix_entropy(X: Any, *, normalized: bool = True) -> float:
    """Von Neumann entropy ``-sum_i l_i log l_i`` of ``(1/n) A^T A`` for the L2-normalized rows ``A``.

    ``A^T A / n`` has trace 1, so its eigenvalues ``l_i`` are a distribution. With
    ``normalized=True`` (default) the entropy is divided by ``log d``: 1 for isotropic
    directions, 0 when all rows are parallel.
    """
    a = _unit_rows(X)
    eig = np.clip(np.linalg.eigvalsh(a.T @ a / a.shape[0]), 0.0, None)
    h = _entropy(eig / eig.sum())
    d = a.shape[1]
    return h / math.log(d) if normalized and d > 1 else h


def nuclear_norm(X: Any, *, approximate: bool = False) -> float:
    """Matrix nuclear norm ``||A||_* / n`` of the L2-normalized rows ``A`` (Li et al., 2024).

    Parameters
    ----------
    approximate : bool, default=False
        Use the paper's L1,2 approximation: the sum of the ``min(n, d)`` largest column
        L2 norms of ``A`` (no SVD; ``O(n d)``).

    Returns
    -------
    float
        In ``(0, sqrt(min(n, d)) / sqrt(n)]``-ish scale; higher means more
        discriminative and diverse rows.
    """
    a = _unit_rows(X)
    n, d = a.shape
    if approximate:
        norms = np.sort(np.linalg.norm(a, axis=0))[::-1]
        return float(norms[: min(n, d)].sum() / n)
    s = np.sqrt(np.clip(np.linalg.eigvalsh(a.T @ a), 0.0, None))
    return float(s.sum() / n)


def _entropy(p: np.ndarray) -> float:
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def _unit_rows(X: Any) -> np.ndarray:
    a = np.asarray(to_numpy(check_embeddings(X, name="X")), dtype=np.float64)
    return a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)


def _gram(x: Any) -> tuple[np.ndarray, np.ndarray, int]:
    """``X^T X`` and the column mean in float64, accumulated over row blocks."""
    n, d = x.shape
    gram = np.zeros((d, d))
    total = np.zeros(d)
    step = max(1, (64 * 2**20) // (8 * max(d, 1)))
    for s in range(0, n, step):
        block = np.asarray(to_numpy(x[s : s + step]), dtype=np.float64)
        gram += block.T @ block
        total += block.sum(axis=0)
    return gram, total / n, n
