"""Equiangular Basis Vectors (EBV): fixed, nearly orthogonal class targets.

From "Equiangular Basis Vectors" (Shen, Sun & Wei, CVPR 2023). Before training,
N unit vectors w_1..w_N in R^d are generated so that every pair is nearly
orthogonal, |<w_i, w_j>| <= threshold, by minimizing

    sum_{i != j} max(0, |<w_i, w_j>| - threshold)

with re-normalization after each step (the paper uses SGD on this hinge; here Adam
on its square, which converges in far fewer steps). Training then uses cross-entropy over the cosine similarities of
the normalized embedding to the fixed basis, divided by a temperature tau:
p(y | x) = softmax_y(<x/||x||, w_y> / tau).

When N > d, exact orthogonality is impossible: the Welch bound
sqrt((N - d) / (d (N - 1))) is the smallest achievable maximum |cos|, and a
threshold below it is rejected.
"""

from __future__ import annotations

import math
import numbers
import warnings

import torch
import torch.nn.functional as F

from .._validate import Interval, check_param
from ..distances import normalize as _normalize
from ..errors import ConvergenceWarning, InputError
from ._literature_checks import check_class_labels, check_tensor

__all__ = ["welch_bound", "equiangular_basis_vectors", "ebv_loss", "EBVLoss"]


def welch_bound(num_vectors: int, dim: int) -> float:
    """Smallest possible max |cos| among ``num_vectors`` unit vectors in ``dim`` dimensions."""
    if num_vectors <= dim:
        return 0.0
    return math.sqrt((num_vectors - dim) / (dim * (num_vectors - 1)))


def equiangular_basis_vectors(
    num_vectors: int,
    dim: int,
    *,
    threshold: float | None = None,
    max_iter: int = 2000,
    lr: float = 1e-2,
    seed: int = 0,
) -> torch.Tensor:
    """Unit vectors (num_vectors, dim), float32, with pairwise |cos| <= threshold.

    Parameters
    ----------
    num_vectors, dim : int
    threshold : float or None, default=None
        Target for the largest absolute cosine between two vectors. None means
        max(0.002, 1.5 x Welch bound): the paper's 0.002 where it is reachable.
    max_iter : int, default=2000
        Optimization steps; a ConvergenceWarning is raised if the target is not met.
    lr : float, default=1e-2
        Initial Adam step size (cosine-annealed). The minimized penalty is the
        squared hinge, which converges faster than the paper's plain hinge. With
        num_vectors <= dim the rows of a random orthonormal matrix are returned.
    seed : int, default=0

    Raises
    ------
    InputError
        ``threshold`` below the Welch bound (unreachable).
    """
    bound = welch_bound(num_vectors, dim)
    if threshold is None:
        threshold = max(0.002, 1.5 * bound)
    if threshold < bound:
        raise InputError(
            f"threshold={threshold:g} is below the Welch bound {bound:.4g} for {num_vectors} vectors in {dim} dimensions; "
            f"no such basis exists. Use threshold >= {bound:.4g} (e.g. {1.5 * bound:.3g}) or a larger embedding size."
        )
    g = torch.Generator().manual_seed(seed)
    start = torch.randn(max(num_vectors, dim), dim, generator=g, dtype=torch.float64)
    if num_vectors <= dim:  # orthonormal rows already meet any threshold
        return torch.linalg.qr(start)[0][:num_vectors].float()
    w = _normalize(start[:num_vectors]).requires_grad_()
    optimizer = torch.optim.Adam([w], lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, max_iter, eta_min=lr * 1e-3)
    eye = torch.eye(num_vectors, dtype=torch.float64)
    worst = float("inf")
    for _ in range(max_iter):
        with torch.no_grad():
            w.copy_(_normalize(w))
        cos = (w @ w.T).abs() - eye
        worst = float(cos.detach().max())
        if worst <= threshold:
            break
        optimizer.zero_grad()
        F.relu(cos - threshold).square().sum().backward()
        optimizer.step()
        schedule.step()
    else:
        warnings.warn(
            f"equiangular basis: largest |cos| is {worst:.4g} after {max_iter} steps, above threshold={threshold:g}; "
            "raise max_iter or the threshold.",
            ConvergenceWarning,
            stacklevel=2,
        )
    return _normalize(w.detach()).float()


def ebv_loss(embeddings: torch.Tensor, labels: torch.Tensor, basis: torch.Tensor, *, temperature: float = 0.07) -> torch.Tensor:
    """Cross-entropy of ``normalize(embeddings) @ basis.T / temperature``; labels int64 (n,)."""
    logits = _normalize(embeddings) @ basis.to(embeddings.dtype).T / temperature
    return F.cross_entropy(logits, labels)


class EBVLoss(torch.nn.Module):
    """Equiangular Basis Vectors loss (Shen et al., 2023); ``forward(embeddings, labels)``.

    Labels are integers in ``[0, num_classes)``. The basis is a fixed buffer
    (``self.basis``, (num_classes, embedding_size)), generated once at construction.

    Parameters
    ----------
    num_classes, embedding_size : int
    temperature : float, default=0.07
    threshold : float or None, default=None
        Largest allowed |cos| between two basis vectors (>= the Welch bound); None
        means max(0.002, 1.5 x Welch bound).
    max_iter : int, default=2000
    seed : int, default=0

    Examples
    --------
    >>> import torch
    >>> loss = EBVLoss(4, 8)
    >>> float((loss.basis @ loss.basis.T - torch.eye(4)).abs().max()) <= 0.0021
    True
    """

    def __init__(self, num_classes: int, embedding_size: int, *, temperature: float = 0.07, threshold: float | None = None,
                 max_iter: int = 2000, seed: int = 0) -> None:
        super().__init__()
        owner = type(self).__name__
        self.num_classes = check_param(num_classes, "num_classes", owner, Interval(numbers.Integral, 2, None))
        self.embedding_size = check_param(embedding_size, "embedding_size", owner, Interval(numbers.Integral, 1, None))
        self.temperature = check_param(temperature, "temperature", owner, Interval(numbers.Real, 0, None, "neither"))
        check_param(threshold, "threshold", owner, None, Interval(numbers.Real, 0, 1, "neither"))
        check_param(max_iter, "max_iter", owner, Interval(numbers.Integral, 1, None))
        check_param(seed, "seed", owner, Interval(numbers.Integral, 0, None))
        basis = equiangular_basis_vectors(num_classes, embedding_size, threshold=threshold, max_iter=max_iter, seed=seed)
        self.register_buffer("basis", basis)

    def forward(self, embeddings: torch.Tensor, labels) -> torch.Tensor:
        owner = type(self).__name__
        x = check_tensor(embeddings, "embeddings", owner)
        if x.shape[1] != self.embedding_size:
            raise InputError(f"{owner} was built for embedding_size={self.embedding_size}; embeddings have {x.shape[1]} features.")
        y = check_class_labels(labels, x.shape[0], self.num_classes, owner, x.device)
        return ebv_loss(x, y, self.basis, temperature=float(self.temperature))
