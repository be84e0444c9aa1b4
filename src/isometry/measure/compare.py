"""Distances between two embedding sets: Fréchet distance, PRDC, MMD, classifier bound.

- ``frechet_distance``: the FID formula ("GANs Trained by a Two Time-Scale Update Rule
  Converge to a Local Nash Equilibrium", Heusel et al., 2017) on embeddings.
- ``prdc``: precision, recall, density, coverage ("Reliable Fidelity and Diversity Metrics
  for Generative Models", Naeem et al., 2020), numbers identical to the ``prdc`` package,
  computed in row blocks (no ``n x n`` matrix).
- ``mmd``: unbiased squared MMD with a Gaussian kernel, bandwidth by the median heuristic
  ("A Kernel Two-Sample Test", Gretton et al., 2012).
- ``classifier_discrepancy``: a lower bound on the Jensen-Shannon distance from a
  cross-validated classifier ("PolyGraph Discrepancy: a classifier-based metric for graph
  generation", Krimmel et al., 2025), here with logistic regression.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
import torch

from .._backend import rows_per_block, to_numpy
from .._validate import Interval, check_embeddings, check_param, check_same_width
from ..distances import knn

__all__ = ["frechet_distance", "prdc", "mmd", "classifier_discrepancy"]


def frechet_distance(A: Any, B: Any) -> float:
    """Squared Fréchet distance of Gaussians fitted to ``A`` and ``B`` (the FID formula).

    ``||mu_a - mu_b||^2 + tr(S_a) + tr(S_b) - 2 tr((S_a S_b)^{1/2})`` with covariances
    divided by ``n - 1``. The trace term uses the eigenvalues of the symmetric matrix
    ``S_a^{1/2} S_b S_a^{1/2}`` (same spectrum as ``S_a S_b``), which is stable where
    ``sqrtm`` of the non-symmetric product is not.

    Parameters
    ----------
    A : array-like or torch.Tensor, shape (n, d), n >= 2
    B : array-like or torch.Tensor, shape (m, d), m >= 2

    Returns
    -------
    float
        >= 0; 0 when the means and covariances agree.
    """
    a, b = _pair(A, B, min_rows=2)
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a = np.atleast_2d(np.cov(a, rowvar=False))
    cov_b = np.atleast_2d(np.cov(b, rowvar=False))
    ev, vec = np.linalg.eigh(cov_a)
    root_a = (vec * np.sqrt(np.clip(ev, 0, None))) @ vec.T
    middle = root_a @ cov_b @ root_a
    tr_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None)).sum()
    diff = mu_a - mu_b
    value = diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2 * tr_sqrt
    return float(max(value, 0.0))


def prdc(real: Any, fake: Any, k: int = 5) -> dict[str, float]:
    """Precision, recall, density and coverage of ``fake`` against ``real`` (Naeem et al., 2020).

    Radii are the distances to the ``k``-th nearest *other* point of the same set; balls
    are open. Distances follow the ``prdc`` package exactly: float64 arithmetic, rounded
    to float32 before the square root when both inputs are float32 (as scikit-learn's
    ``pairwise_distances`` does), so the numbers agree with it.

    Parameters
    ----------
    real : array-like or torch.Tensor, shape (n, d), n > k
    fake : array-like or torch.Tensor, shape (m, d), m > k
    k : int, default=5

    Returns
    -------
    dict
        ``precision``, ``recall``, ``coverage`` in [0, 1]; ``density`` >= 0 (1 in
        expectation for identical distributions).
    """
    check_param(k, "k", "prdc", Interval(numbers.Integral, 1, None))
    real = check_embeddings(real, name="real", min_rows=k + 1)
    fake = check_embeddings(fake, name="fake", min_rows=k + 1)
    check_same_width(real, fake, ("real", "fake"))
    single = real.dtype in (np.float32, torch.float32) and fake.dtype in (np.float32, torch.float32)
    r = torch.from_numpy(np.asarray(to_numpy(real), dtype=np.float64))
    f = torch.from_numpy(np.asarray(to_numpy(fake), dtype=np.float64))
    r_radius = _kth_radius(r, k, single)
    f_radius = _kth_radius(f, k, single)
    r_sq, f_sq = (r * r).sum(1), (f * f).sum(1)
    in_real_ball = torch.zeros(f.shape[0], dtype=torch.int64)  # per fake: real balls holding it
    recalled = torch.zeros(r.shape[0], dtype=torch.bool)
    covered = torch.zeros(r.shape[0], dtype=torch.bool)
    step = rows_per_block(f.shape[0], 24, minimum=1)
    buf = torch.empty((min(step, r.shape[0]), f.shape[0]), dtype=torch.float64)
    for s in range(0, r.shape[0], step):
        e = min(s + step, r.shape[0])
        sq = torch.addmm(f_sq, r[s:e], f.T, alpha=-2.0, out=buf[: e - s])
        d = _sklearn_like(sq.add_(r_sq[s:e, None]), single)
        inside = d < r_radius[s:e, None]
        in_real_ball += torch.count_nonzero(inside, dim=0)
        recalled[s:e] = (d < f_radius[None, :]).any(dim=1)
        covered[s:e] = d.amin(dim=1) < r_radius[s:e]
    return {
        "precision": float((in_real_ball > 0).double().mean()),
        "recall": float(recalled.double().mean()),
        "density": float(in_real_ball.double().sum() / (k * f.shape[0])),
        "coverage": float(covered.double().mean()),
    }


def _kth_radius(x: torch.Tensor, k: int, single: bool) -> torch.Tensor:
    sq = knn(x, k=k, distance="sqeuclidean", backend="torch").distances[:, -1]
    return _sklearn_like(sq, single)


def _sklearn_like(sq: torch.Tensor, single: bool) -> torch.Tensor:
    """Distances from float64 squared distances, rounded as scikit-learn does (may reuse ``sq``)."""
    sq = sq.clamp_min_(0.0)
    return sq.float().sqrt_() if single else sq.sqrt_()


def mmd(A: Any, B: Any, *, bandwidth: float | None = None, seed: int = 0) -> float:
    """Unbiased squared MMD with the kernel ``exp(-||x - y||^2 / (2 sigma^2))``.

    Parameters
    ----------
    A : array-like or torch.Tensor, shape (n, d), n >= 2
    B : array-like or torch.Tensor, shape (m, d), m >= 2
    bandwidth : float, optional
        ``sigma``. Default: the median heuristic, the median distance between distinct
        points of the pooled sample (on a seeded subsample of 2,000 points when larger).
    seed : int, default=0

    Returns
    -------
    float
        Unbiased estimate of MMD^2 (can be slightly negative when A and B agree).
        Kernel sums are accumulated in row blocks in float64.
    """
    check_param(bandwidth, "bandwidth", "mmd", None, Interval(numbers.Real, 0, None, "neither"))
    a, b = _pair(A, B, min_rows=2)
    a, b = torch.from_numpy(a), torch.from_numpy(b)
    sigma = _median_distance(torch.cat([a, b]), seed) if bandwidth is None else float(bandwidth)
    gamma = 1.0 / (2.0 * sigma * sigma)
    n, m = a.shape[0], b.shape[0]
    k_aa = (_kernel_sum(a, a, gamma) - n) / (n * (n - 1))
    k_bb = (_kernel_sum(b, b, gamma) - m) / (m * (m - 1))
    k_ab = _kernel_sum(a, b, gamma) / (n * m)
    return float(k_aa + k_bb - 2 * k_ab)


def _kernel_sum(x: torch.Tensor, y: torch.Tensor, gamma: float) -> float:
    total = 0.0
    y_sq = (y * y).sum(1)
    step = rows_per_block(y.shape[0], 16)
    for s in range(0, x.shape[0], step):
        xb = x[s : s + step]
        sq = (torch.addmm(y_sq, xb, y.T, alpha=-2.0) + (xb * xb).sum(1, keepdim=True)).clamp_min_(0.0)
        total += float(sq.mul_(-gamma).exp_().sum())
    return total


def _median_distance(x: torch.Tensor, seed: int) -> float:
    if x.shape[0] > 2000:
        idx = np.sort(np.random.default_rng(seed).choice(x.shape[0], 2000, replace=False))
        x = x[torch.from_numpy(idx)]
    d = torch.pdist(x)
    d = d[d > 0]
    return float(d.median()) if d.numel() else 1.0


def classifier_discrepancy(A: Any, B: Any, *, folds: int = 5, seed: int = 0) -> float:
    """Lower bound on the Jensen-Shannon distance between the distributions of ``A`` and ``B``.

    A logistic regression (standardized features, balanced class weights) is trained to
    tell A from B; its out-of-fold probabilities ``D(x)`` (stratified ``folds``-fold
    cross-validation, seeded) give the variational bound
    ``JS >= 1 + (1/2) E_A log2 D + (1/2) E_B log2 (1 - D)`` on the JS divergence in bits;
    the result is the square root of the bound clipped at 0 (Krimmel et al., 2025).

    Returns
    -------
    float
        In [0, 1]: 0 when the classifier does no better than chance, 1 for disjoint sets.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    check_param(folds, "folds", "classifier_discrepancy", Interval(numbers.Integral, 2, None))
    a, b = _pair(A, B, min_rows=folds)
    x = np.vstack([a, b])
    y = np.r_[np.ones(len(a), dtype=int), np.zeros(len(b), dtype=int)]
    model = make_pipeline(StandardScaler(), LogisticRegression(class_weight="balanced", max_iter=1000))
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    p = cross_val_predict(model, x, y, cv=cv, method="predict_proba")[:, 1]
    p = np.clip(p, 1e-12, 1 - 1e-12)
    bound = 1.0 + 0.5 * np.log2(p[y == 1]).mean() + 0.5 * np.log2(1 - p[y == 0]).mean()
    return math.sqrt(max(bound, 0.0))


def _pair(A: Any, B: Any, *, min_rows: int) -> tuple[np.ndarray, np.ndarray]:
    a = check_embeddings(A, name="A", min_rows=min_rows)
    b = check_embeddings(B, name="B", min_rows=min_rows)
    check_same_width(a, b, ("A", "B"))
    return np.asarray(to_numpy(a), dtype=np.float64), np.asarray(to_numpy(b), dtype=np.float64)
