"""Capacity of class manifolds: mean-field manifold capacity, MMCR nuclear norm, utilization.

- ``manifold_capacity``: the linear-separability capacity of point-cloud manifolds from
  "Classification and Geometry of General Perceptual Manifolds" (Chung, Lee & Sompolinsky,
  2018), the quantity maximized in "Learning Efficient Coding of Natural Images with Maximum
  Manifold Capacity Representations" (Yerxa et al., 2023). Estimated by simulation:
  ``1/alpha_M = E_t F(t)`` over Gaussian ``t``, where ``F(t)`` is the squared distance from
  ``t`` to the cone ``{v : v.s >= 0 for every point s of the manifold}`` (margin 0). That
  distance is the norm of the projection of ``t`` onto the polar cone, found exactly by
  non-negative least squares (the anchor-point QP at margin 0).
- ``mmcr_nuclear_norm``: nuclear norm of the matrix of class centroids of L2-normalized
  embeddings (Yerxa et al., 2023).
- ``utilization``: "It Takes Two to Tango: Mixup for Deep Metric Learning" (Venkataramanan
  et al., 2022): mean over queries of the squared distance to the nearest reference
  embedding, on L2-normalized embeddings (lower: the queries fall in used space).
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from scipy.optimize import nnls

from .._backend import to_numpy
from .._validate import Interval, check_embeddings, check_labels, check_param, check_same_width
from ..distances import knn
from ..errors import InputError

__all__ = ["manifold_capacity", "mmcr_nuclear_norm", "utilization", "polar_cone_distance"]


def manifold_capacity(X: Any, labels: Any, *, n_samples: int = 200, max_points: int = 100,
                      seed: int = 0) -> float:
    """Mean-field capacity ``alpha = 1 / mean_c(1 / alpha_c)`` of the class manifolds (margin 0).

    Each class is a point-cloud manifold. After subtracting the mean of the class centres,
    class ``c`` with centre ``m_c`` becomes the points ``s = [(x - m_c)_perp / ||m_c||, 1]``,
    where ``_perp`` removes the component along ``m_c`` (the centre is the extra axis, as in
    Chung et al.'s "D + 1" formulation). ``alpha_c = 1 / mean_t F(t)`` over ``n_samples``
    Gaussian vectors ``t``.

    Parameters
    ----------
    X : array-like or torch.Tensor, shape (n, d)
    labels : array-like, shape (n,)
        At least two classes.
    n_samples : int, default=200
        Gaussian samples per class (Monte Carlo error about ``1/sqrt(n_samples)``).
    max_points : int, default=100
        Classes with more points are subsampled (seeded); capacity depends on how many
        points describe a manifold, so compare sets at equal ``max_points``.
    seed : int, default=0

    Returns
    -------
    float
        2 for point-like classes (Cover's capacity of points), down to ``1 / (D + 1/2)``
        for classes that fill ``D``-dimensional subspaces. Higher is better.

    Notes
    -----
    Simplified against the reference analysis code of Cohen et al. (2020): the low-rank
    correlations between class centres are not projected out first.
    """
    owner = "manifold_capacity"
    check_param(n_samples, "n_samples", owner, Interval(numbers.Integral, 1, None))
    check_param(max_points, "max_points", owner, Interval(numbers.Integral, 1, None))
    check_param(seed, "seed", owner, Interval(numbers.Integral, 0, None))
    x = np.asarray(to_numpy(check_embeddings(X, name="X")), dtype=np.float64)
    y = check_labels(labels, x.shape[0], min_classes=2)
    rng = np.random.default_rng(seed)
    classes = np.unique(y)
    members = [np.flatnonzero(y == c) for c in classes]
    origin = np.mean([x[m].mean(axis=0) for m in members], axis=0)
    inverse = []
    for idx in members:
        if idx.size > max_points:
            idx = np.sort(rng.choice(idx, max_points, replace=False))
        s = _anchor_points(x[idx] - origin)
        t = rng.standard_normal((n_samples, s.shape[1]))
        inverse.append(np.mean([polar_cone_distance(s, row) for row in t]))
    inverse = np.asarray(inverse)
    if np.any(inverse <= 0):
        raise InputError("a class manifold fills the whole space; its capacity is unbounded.")
    return float(1.0 / np.mean(inverse))


def _anchor_points(points: np.ndarray) -> np.ndarray:
    """Rows ``[(x - m)_perp / ||m||, 1]`` in at most ``len(points)`` coordinates."""
    centre = points.mean(axis=0)
    norm = np.linalg.norm(centre)
    if norm == 0:
        raise InputError("a class centre coincides with the mean of all centres; capacity is undefined.")
    dev = points - centre
    dev -= np.outer(dev @ centre, centre) / norm**2
    dev /= norm
    if dev.shape[1] > dev.shape[0]:
        _, r = np.linalg.qr(dev.T)  # same Gram matrix, fewer coordinates
        dev = r.T
    return np.hstack([dev, np.ones((dev.shape[0], 1))])


def polar_cone_distance(points: np.ndarray, t: np.ndarray) -> float:
    """``min ||v - t||^2`` over ``{v : points @ v >= 0}`` (squared distance to the cone).

    By Moreau's decomposition it equals the squared norm of the projection of ``t`` onto
    the polar cone ``{-points.T @ lam, lam >= 0}``: a non-negative least-squares problem.
    """
    lam, _ = nnls(-points.T, t)
    proj = -points.T @ lam
    return float(proj @ proj)


def mmcr_nuclear_norm(X: Any, labels: Any) -> float:
    """Nuclear norm of the class-centroid matrix of L2-normalized rows (Yerxa et al., 2023).

    Returns
    -------
    float
        Between 0 and ``sqrt(C * min(C, d))`` for ``C`` classes; higher means centroids
        that are long (tight classes) and spread over many directions.
    """
    x = np.asarray(to_numpy(check_embeddings(X, name="X")), dtype=np.float64)
    y = check_labels(labels, x.shape[0])
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    centroids = np.stack([x[y == c].mean(axis=0) for c in np.unique(y)])
    return float(np.linalg.svd(centroids, compute_uv=False).sum())


def utilization(queries: Any, reference: Any) -> float:
    """Mean over queries of ``min_r ||q - r||^2`` on L2-normalized rows (lower is better).

    Parameters
    ----------
    queries : array-like or torch.Tensor, shape (m, d)
        Test embeddings.
    reference : array-like or torch.Tensor, shape (n, d)
        Training embeddings.
    """
    q = np.asarray(to_numpy(check_embeddings(queries, name="queries")), dtype=np.float64)
    r = np.asarray(to_numpy(check_embeddings(reference, name="reference")), dtype=np.float64)
    check_same_width(q, r, ("queries", "reference"))
    q /= np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
    r /= np.maximum(np.linalg.norm(r, axis=1, keepdims=True), 1e-12)
    d = np.asarray(to_numpy(knn(q, r, k=1, distance="sqeuclidean").distances))
    return float(d.mean())
