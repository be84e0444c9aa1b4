"""Pairwise distance and similarity matrices in torch (differentiable, any device).

Every function maps ``a`` (n, d) and ``b`` (m, d) to an (n, m) matrix. They are
the one source of distances for losses, miners, metrics, learners and measures.
"""

from __future__ import annotations

import torch

__all__ = [
    "sqeuclidean",
    "euclidean",
    "cosine_similarity",
    "cosine",
    "dot",
    "snr",
    "mahalanobis",
    "normalize",
]


def normalize(x: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Rows scaled to unit L2 norm (zero rows stay zero)."""
    return x / x.norm(dim=1, keepdim=True).clamp_min(eps)


def sqeuclidean(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distances ``||a_i - b_j||^2``, clamped at 0, as one GEMM."""
    a_sq = (a * a).sum(dim=1, keepdim=True)
    b_sq = (b * b).sum(dim=1)
    return torch.addmm(a_sq + b_sq, a, b.T, alpha=-2.0).clamp_min(0.0)


def euclidean(a: torch.Tensor, b: torch.Tensor, eps: float = 0.0) -> torch.Tensor:
    """Euclidean distances ``||a_i - b_j||``.

    With gradients, ``eps`` > 0 keeps the derivative of ``sqrt`` finite at 0
    (pass e.g. 1e-12 in losses, where a point meets itself).
    """
    sq = sqeuclidean(a, b)
    if eps:
        return (sq + eps).sqrt()
    if a.requires_grad or b.requires_grad:
        # Zero distances get a zero gradient instead of NaN.
        zero = sq <= 0
        return torch.where(zero, torch.zeros_like(sq), sq.masked_fill(zero, 1.0).sqrt())
    return sq.sqrt_()


def cosine_similarity(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Cosine similarities of rows (higher is closer); inputs need not be normalized."""
    return normalize(a) @ normalize(b).T


def cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Cosine distances ``1 - cos(a_i, b_j)`` (scipy's convention), in [0, 2]."""
    return 1.0 - cosine_similarity(a, b)


def dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Inner products ``<a_i, b_j>`` (a similarity: higher is closer)."""
    return a @ b.T


def snr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Signal-to-noise ratio distance ``var(b_j - a_i) / var(a_i)``.

    From "Signal-To-Noise Ratio: A Robust Distance Metric for Deep Metric
    Learning" (Yuan et al., 2019). Variances are unbiased (divide by d - 1), as in
    pytorch-metric-learning's ``SNRDistance``; computed with one GEMM instead of an
    (n, m, d) difference tensor.
    """
    d = a.shape[1]
    if d < 2:
        raise ValueError("snr distance needs at least 2 features")
    mean_diff = a.mean(dim=1, keepdim=True) - b.mean(dim=1)
    sq = (a * a).sum(dim=1, keepdim=True) + (b * b).sum(dim=1) - 2.0 * (a @ b.T)
    noise = (sq - d * mean_diff.square()).clamp_min(0.0) / (d - 1)
    return noise / a.var(dim=1, keepdim=True)


def mahalanobis(a: torch.Tensor, b: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    """Mahalanobis distances ``sqrt((a_i - b_j)^T M (a_i - b_j))`` for a PSD ``M`` (d, d).

    ``M`` is factored once as ``L^T L`` (eigenvalues below 0 clipped), then the
    distance is Euclidean between ``a L^T`` and ``b L^T``.
    """
    w, v = torch.linalg.eigh((matrix + matrix.T) / 2)
    factor = v * w.clamp_min(0).sqrt()  # M = factor @ factor.T
    return euclidean(a @ factor, b @ factor)
