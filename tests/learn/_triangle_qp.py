"""Metric nearness as a generic quadratic program (the reference the Project-and-Forget
solver is checked and benchmarked against): every triangle inequality explicit, for cvxpy.
Shared by ``tests/learn/test_metric_nearness.py`` and ``benchmarks/bench_metric_nearness.py``.
"""

from __future__ import annotations

import numpy as np


def triangle_qp(D: np.ndarray, W: np.ndarray | None = None):
    """cvxpy Problem: min 0.5 sum_{i<j} W_ij (x_ij - D_ij)^2 s.t. x_ij <= x_ik + x_kj for all triples.

    ``D``, ``W``: (n, n); ``W=None`` is unweighted. O(n^3) constraints: small n only.
    """
    import cvxpy as cp

    n = len(D)
    iu, ju = np.triu_indices(n, 1)
    E = np.zeros((n, n), dtype=int)
    E[iu, ju] = E[ju, iu] = np.arange(len(iu))
    I, J, K = np.meshgrid(np.arange(n), np.arange(n), np.arange(n), indexing="ij")
    m = (I < J) & (K != I) & (K != J)
    x = cp.Variable(len(iu))
    residual = x - D[iu, ju]
    loss = cp.sum_squares(residual) if W is None else cp.sum(cp.multiply(W[iu, ju], cp.square(residual)))
    return cp.Problem(cp.Minimize(0.5 * loss), [x[E[I[m], J[m]]] <= x[E[I[m], K[m]]] + x[E[K[m], J[m]]]])
