"""Intrinsic dimension from nearest-neighbour distances (TwoNN, Levina-Bickel MLE).

- TwoNN: "Estimating the intrinsic dimension of datasets by a minimal neighborhood
  information" (Facco, d'Errico, Rodriguez & Laio, 2017).
- MLE: "Maximum Likelihood Estimation of Intrinsic Dimension" (Levina & Bickel, 2004),
  global value the harmonic mean of the local estimates as proposed by MacKay &
  Ghahramani ("Comments on Levina & Bickel", 2005).

Conventions follow scikit-dimension 0.5.0 (see PEERS.md). Neighbours come from
:func:`isometry.distances.knn`, the one exact k-NN search.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import torch

from .._backend import to_numpy
from .._validate import Interval, Options, check_embeddings, check_param
from ..distances import knn
from ..errors import InputError

__all__ = ["intrinsic_dimension", "twonn_dimension", "mle_dimension"]


def intrinsic_dimension(X: Any, method: str = "twonn", *, k: int = 20, discard_fraction: float = 0.1) -> float:
    """Intrinsic dimension of the rows of ``X``.

    Parameters
    ----------
    X : array-like or torch.Tensor, shape (n, d)
    method : {"twonn", "mle"}, default="twonn"
    k : int, default=20
        Neighbours of the MLE estimator (ignored by TwoNN).
    discard_fraction : float, default=0.1
        Largest ratios ``r2 / r1`` dropped by TwoNN (ignored by MLE).

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> plane = np.random.default_rng(0).uniform(size=(2000, 2)) @ np.eye(2, 5)
    >>> round(intrinsic_dimension(plane), 0)
    2.0
    """
    check_param(method, "method", "intrinsic_dimension", Options(("twonn", "mle")))
    if method == "twonn":
        return twonn_dimension(X, discard_fraction=discard_fraction)
    return mle_dimension(X, k=k)


def twonn_dimension(X: Any, *, discard_fraction: float = 0.1) -> float:
    """TwoNN: fit ``-log(1 - F(mu)) = d log mu`` through the origin, ``mu = r2 / r1``.

    Points with ``r1 = 0`` (duplicates) are dropped; the ratios are sorted, the largest
    ``discard_fraction`` removed, and ``F`` is the empirical ``i / N`` (i from 0).
    """
    check_param(discard_fraction, "discard_fraction", "twonn_dimension", Interval(numbers.Real, 0, 1, "right"))
    dist = _neighbour_distances(X, 2)
    r1, r2 = dist[:, 0], dist[:, 1]
    mu = r2[r1 > 0] / r1[r1 > 0]
    n = mu.size
    keep = int(n * (1 - discard_fraction))
    if keep < 2:
        raise InputError(f"TwoNN needs at least 2 usable points after dropping duplicates; got {keep}.")
    mu = np.sort(mu)[:keep]
    x = np.log(mu)
    y = -np.log(1.0 - np.arange(keep) / n)
    return float((x @ y) / (x @ x)) if (x @ x) > 0 else float("inf")


def mle_dimension(X: Any, *, k: int = 20) -> float:
    """Levina-Bickel MLE with ``k`` neighbours; global value = harmonic mean of local ones.

    Local estimate at x: ``[(1/(k-1)) sum_{j<k} log(T_k / T_j)]^{-1}``. Points with a zero
    neighbour distance (duplicates) are dropped.
    """
    check_param(k, "k", "mle_dimension", Interval(numbers.Integral, 2, None))
    dist = _neighbour_distances(X, k)
    ok = dist[:, 0] > 0
    if not ok.any():
        raise InputError("every point has a duplicate; the MLE dimension is undefined.")
    dist = dist[ok]
    inverse_local = np.log(dist[:, -1:] / dist[:, :-1]).sum(axis=1) / (k - 1)
    return float(1.0 / inverse_local.mean())


def _neighbour_distances(X: Any, k: int) -> np.ndarray:
    """k-NN distances; those at round-off level of the GEMM-based search (duplicates) set to 0."""
    x = check_embeddings(X, name="X", min_rows=k + 1)
    dist = np.asarray(to_numpy(knn(x, k=k).distances), dtype=np.float64)
    eps = np.finfo(np.float32 if x.dtype in (np.float32, torch.float32) else np.float64).eps
    norms = np.linalg.norm(np.asarray(to_numpy(x), dtype=np.float64), axis=1, keepdims=True)
    dist[dist <= 8 * np.sqrt(eps) * np.maximum(norms, 1e-300)] = 0.0
    return dist
