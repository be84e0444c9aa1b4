"""Inputs of the weakly supervised learners and their ``*_Supervised`` forms."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from scipy import sparse

from ..errors import InputError
from ._base import check_pair_labels, check_supervised
from .constraints import Constraints, wrap_pairs

__all__ = ["check_pair_fit", "pairs_from_labels", "default_n_constraints", "pair_differences", "signed_scatter"]


def check_pair_fit(estimator: Any, pairs: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validate ``fit(pairs, y)``: pairs (n, 2, d) (or indices with a preprocessor), y +/-1."""
    arr = estimator._check_tuples(pairs, tuple_size=2, reset=True)
    labels = check_pair_labels(y, arr.shape[0], type(estimator).__name__)
    return arr, labels


def default_n_constraints(n_constraints: Any, n_classes: int, owner: str, floor: int = 0) -> int:
    """metric-learn's default ``20 * n_classes ** 2`` (at least ``floor``) when None."""
    if n_constraints is None:
        return max(20 * n_classes ** 2, floor)
    if isinstance(n_constraints, bool) or not isinstance(n_constraints, (int, np.integer)) or n_constraints < 1:
        raise InputError(f"The 'n_constraints' parameter of {owner} must be a positive int or None. "
                         f"Got {n_constraints!r} instead.")
    return int(n_constraints)


def pairs_from_labels(estimator: Any, X: Any, y: Any, n_constraints: Any, random_state: Any, *,
                      same_length: bool = False, floor: int = 0) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """Validated X and seeded positive/negative index pairs (a, b, c, d) drawn from labels.

    ``n_constraints=None`` draws ``max(20 * n_classes ** 2, floor)`` pairs of each kind.
    """
    X, codes, classes = check_supervised(estimator, X, y)
    n = default_n_constraints(n_constraints, len(classes), type(estimator).__name__, floor)
    if np.bincount(codes).max() < 2:
        raise InputError(f"{type(estimator).__name__} needs a class with at least 2 samples to draw similar pairs.")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # fewer distinct pairs than asked is fine here
        abcd = Constraints(codes).positive_negative_pairs(n, same_length=same_length, random_state=random_state)
    return X, abcd


def pair_differences(X: np.ndarray, abcd: tuple[np.ndarray, ...], *, with_points: bool = True
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Differences ``x_a - x_b`` of the similar then dissimilar pairs (n, d), labels +/-1 (n,),
    and the distinct points the pairs use (m, d), without building the (n, 2, d) pair array.

    ``with_points=False`` returns X itself in place of the distinct points (for callers
    that only need the width, e.g. a prior that does not look at the data)."""
    a, b, c, d = abcd
    diff = np.empty((len(a) + len(c), X.shape[1]))
    np.subtract(X[a], X[b], out=diff[:len(a)])
    np.subtract(X[c], X[d], out=diff[len(a):])
    y = np.concatenate([np.ones(len(a), dtype=np.int64), -np.ones(len(c), dtype=np.int64)])
    return diff, y, (X[np.unique(np.concatenate(abcd))] if with_points else X)


def signed_scatter(X: np.ndarray, abcd: tuple[np.ndarray, ...]) -> np.ndarray:
    """``sum (x_a - x_b)(x_a - x_b)^T - sum (x_c - x_d)(x_c - x_d)^T``, shape (d, d).

    With more than twice as many pairs as rows of X it is ``X^T G X`` for the signed
    graph Laplacian G of the pairs: an (m, d, d) GEMM instead of an (n_pairs, d, d)
    one, and no difference array (digits, 4,000 pairs on 898 rows: 0.47 ms against
    0.72 ms). Otherwise the sparse products cost more than they save (5,000 rows,
    4,000 pairs: 1.5 ms against 0.55 ms) and the differences are used.
    """
    a, b, c, d = abcd
    n_pairs = len(a) + len(c)
    m = len(X)
    if 2 * m >= n_pairs:
        diff = pair_differences(X, abcd, with_points=False)[0]
        return diff[:len(a)].T @ diff[:len(a)] - diff[len(a):].T @ diff[len(a):]
    i, j = np.concatenate([a, c]), np.concatenate([b, d])
    w = np.concatenate([np.ones(len(a)), -np.ones(len(c))])
    adjacency = sparse.csr_matrix((w, (i, j)), shape=(m, m))
    degree = np.bincount(i, w, minlength=m) + np.bincount(j, w, minlength=m)
    GX = degree[:, None] * X - adjacency @ X - adjacency.T @ X
    return X.T @ GX


def wrap(X: np.ndarray, abcd: tuple[np.ndarray, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (n, 2, d) and labels +/-1 from index pairs."""
    return wrap_pairs(X, abcd)
