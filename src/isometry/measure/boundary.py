"""Boundary and outlier scores from magnitude weighting vectors.

"Practical applications of metric space magnitude and weighting vectors" (Bunch, Dickinson,
Kline & Fung, 2020) and "Weighting vectors for machine learning: numerical harmonic analysis
applied to boundary detection" (Bunch et al., 2021): at a suitable scale the weighting vector
is large on the boundary of a point cloud and near ``1/|.|`` of its share inside. The potential
``h(x) = sum_j w_j exp(-t ||x - r_j||)`` equals 1 on the reference set and decays away from
it (Meckes, "Magnitude, diversity, capacities, and dimensions of metric spaces", 2015), so
``1 - h(x)`` scores how far a new point lies outside the reference.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import torch

from .._backend import as_tensor, rows_per_block
from .._validate import Interval, check_embeddings, check_param, check_same_width
from .magnitude import SolverOptions, weighting_vector

__all__ = ["boundary_scores", "outlier_scores"]


def boundary_scores(X: Any, scale: float = 1.0, *, options: SolverOptions | None = None) -> np.ndarray:
    """Weighting vector divided by its mean: about 1 inside, larger on the boundary.

    Parameters
    ----------
    X : array-like or torch.Tensor, shape (n, d)
    scale : float, default=1.0
        ``t > 0``; choose it so that the magnitude is well below ``n`` (points not yet
        scattered), e.g. from :func:`isometry.measure.convergence_scale` divided by 4.

    Returns
    -------
    numpy.ndarray, shape (n,)
        ``w_i / mean(w)`` (float64).

    Examples
    --------
    >>> import numpy as np
    >>> s = boundary_scores(np.linspace(0, 1, 11).reshape(-1, 1), scale=5.0)
    >>> bool(s[0] > s[5] and s[-1] > s[5])
    True
    """
    check_param(scale, "scale", "boundary_scores", Interval(numbers.Real, 0, None, "neither"))
    w = np.asarray(weighting_vector(_numpy(X), scale, options=options))
    return w / w.mean()


def outlier_scores(X: Any, reference: Any, scale: float = 1.0, *,
                   options: SolverOptions | None = None) -> np.ndarray:
    """``1 - h(x)``: 0 on the reference set, towards 1 far from it.

    Parameters
    ----------
    X : array-like or torch.Tensor, shape (m, d)
        Points to score.
    reference : array-like or torch.Tensor, shape (n, d)
        The set whose weighting vector defines the potential ``h``.
    scale : float, default=1.0

    Returns
    -------
    numpy.ndarray, shape (m,)
        Can be negative just outside the boundary (weights of boundary points exceed
        their share); float64.
    """
    X = check_embeddings(X, name="X", allow_torch=False)
    reference = check_embeddings(reference, name="reference", allow_torch=False)
    check_same_width(X, reference, ("X", "reference"))
    check_param(scale, "scale", "outlier_scores", Interval(numbers.Real, 0, None, "neither"))
    w = torch.from_numpy(np.asarray(weighting_vector(reference, scale, options=options)))
    ref = as_tensor(np.asarray(reference, dtype=np.float64))
    out = np.empty(X.shape[0])
    step = rows_per_block(ref.shape[0], 24)
    for s in range(0, X.shape[0], step):
        q = as_tensor(np.asarray(X[s : s + step], dtype=np.float64))
        d = torch.cdist(q, ref)
        out[s : s + step] = (1.0 - torch.exp(-scale * d) @ w).numpy()
    return out


def _numpy(X: Any) -> np.ndarray:
    return np.asarray(check_embeddings(X, name="X", allow_torch=False), dtype=np.float64)
