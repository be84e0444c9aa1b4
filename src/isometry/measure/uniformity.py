"""Uniformity and alignment of embeddings on the hypersphere.

- ``uniformity`` and ``alignment``: "Understanding Contrastive Representation Learning
  through Alignment and Uniformity on the Hypersphere" (Wang & Isola, 2020).
- ``wasserstein_uniformity``: "Rethinking The Uniformity Metric in Self-Supervised
  Learning" (Fang et al., 2024): the 2-Wasserstein distance between a Gaussian fitted to
  the normalized embeddings and ``N(0, I/d)``, the Gaussian limit of the uniform
  distribution on the sphere. Unlike ``uniformity`` it detects dimensional collapse.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
import torch

from .._backend import as_tensor, rows_per_block
from .._validate import Interval, check_embeddings, check_labels, check_param
from ..distances import normalize
from ..errors import InputError

__all__ = ["uniformity", "alignment", "class_alignment", "wasserstein_uniformity"]


def uniformity(X: Any, t: float = 2.0, *, normalized: bool = True) -> float:
    """``log mean_{i<j} exp(-t ||x_i - x_j||^2)`` (lower is more uniform).

    Parameters
    ----------
    X : array-like or torch.Tensor, shape (n, d), n >= 2
    t : float, default=2.0
        Temperature of the Gaussian potential (Wang & Isola use 2).
    normalized : bool, default=True
        Project rows onto the unit sphere first (the paper's setting).

    Returns
    -------
    float
        In ``[-4t, 0]`` for normalized rows. Computed in row blocks with log-sum-exp
        (float64), never holding the ``n x n`` matrix.

    Examples
    --------
    >>> import numpy as np
    >>> uniformity(np.array([[1.0, 0.0], [-1.0, 0.0]]))  # antipodal: -t * 4
    -8.0
    """
    check_param(t, "t", "uniformity", Interval(numbers.Real, 0, None, "neither"))
    x = _rows(X, normalized, min_rows=2)
    n = x.shape[0]
    step = rows_per_block(n, 16)
    parts = []
    for s in range(0, n, step):
        sq = torch.cdist(x[s : s + step], x).square_()
        logits = -t * sq
        rows = torch.arange(logits.shape[0])
        keep = torch.arange(n).unsqueeze(0) > (rows + s).unsqueeze(1)  # pairs i < j only
        parts.append(torch.logsumexp(logits.masked_fill(~keep, -math.inf).reshape(-1), 0))
    total = torch.logsumexp(torch.stack(parts), 0)
    return float(total - math.log(n * (n - 1) / 2))


def alignment(a: Any, b: Any, alpha: float = 2.0, *, normalized: bool = True) -> float:
    """``mean_i ||a_i - b_i||^alpha`` over positive pairs (rows of ``a`` and ``b``); lower is better.

    Parameters
    ----------
    a, b : array-like or torch.Tensor, shape (n, d)
        Row i of ``a`` and row i of ``b`` are a positive pair.
    alpha : float, default=2.0
    normalized : bool, default=True
    """
    check_param(alpha, "alpha", "alignment", Interval(numbers.Real, 0, None, "neither"))
    x, y = _rows(a, normalized, name="a"), _rows(b, normalized, name="b")
    if x.shape != y.shape:
        raise InputError(f"a has shape {tuple(x.shape)} but b has {tuple(y.shape)}; rows must pair up.")
    return float((x - y).norm(dim=1).pow(alpha).mean())


def class_alignment(X: Any, labels: Any, alpha: float = 2.0, *, normalized: bool = True) -> float:
    """Alignment over every same-class pair ``i < j`` (pairs weighted equally).

    Classes with one sample contribute no pair; at least one pair is needed.
    """
    check_param(alpha, "alpha", "class_alignment", Interval(numbers.Real, 0, None, "neither"))
    x = _rows(X, normalized)
    y = check_labels(labels, x.shape[0])
    total, pairs = 0.0, 0
    for cls in np.unique(y):
        members = x[torch.from_numpy(np.flatnonzero(y == cls))]
        m = members.shape[0]
        step = rows_per_block(m, 16)
        for s in range(0, m, step):
            d = torch.cdist(members[s : s + step], members).pow_(alpha)
            upper = torch.arange(m).unsqueeze(0) > (torch.arange(d.shape[0]) + s).unsqueeze(1)
            total += float(d[upper].sum())
        pairs += m * (m - 1) // 2
    if pairs == 0:
        raise InputError("class_alignment needs a class with at least two samples; every class has one.")
    return total / pairs


def wasserstein_uniformity(X: Any) -> float:
    """``W2(N(mu, S), N(0, I/d))`` of the L2-normalized rows (lower is more uniform).

    ``W2^2 = ||mu||^2 + 1 + tr(S) - (2/sqrt(d)) tr(S^{1/2})`` with the row mean ``mu`` and
    covariance ``S`` (divided by n) of the normalized rows, ``d`` the width.

    Returns
    -------
    float
        0 for the uniform distribution on the sphere (large n); ``sqrt(2)`` for full
        collapse onto one point.
    """
    x = _rows(X, True, min_rows=2)
    d = x.shape[1]
    mu = x.mean(dim=0)
    cov = torch.cov(x.T, correction=0).reshape(d, d)
    eig = torch.from_numpy(np.linalg.eigvalsh(cov.numpy())).clamp_min(0.0)
    sq = float(mu @ mu) + 1.0 + float(eig.sum()) - 2.0 / math.sqrt(d) * float(eig.sqrt().sum())
    return math.sqrt(max(sq, 0.0))


def _rows(X: Any, normalized: bool, *, name: str = "X", min_rows: int = 1) -> torch.Tensor:
    x = check_embeddings(X, name=name, min_rows=min_rows)
    t = x.detach().to("cpu", torch.float64) if isinstance(x, torch.Tensor) else as_tensor(np.asarray(x, dtype=np.float64))
    return normalize(t) if normalized else t
