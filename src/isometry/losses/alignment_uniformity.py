"""Alignment and uniformity losses on the unit hypersphere.

From "Understanding Contrastive Representation Learning through Alignment and
Uniformity on the Hypersphere" (Wang & Isola, ICML 2020):

* alignment  = E_{(x, y) positive} ||f(x) - f(y)||_2^alpha           (alpha = 2)
* uniformity = log E_{x, y i.i.d.} exp(-t ||f(x) - f(y)||_2^2)        (t = 2)

The paper pairs two augmented views; here a positive pair is any two rows with the
same label (a batch of two views per item, labelled by item, is the paper's case).
Uniformity uses every unordered pair i < j of rows and is computed with log-sum-exp.
Embeddings are L2-normalized first unless ``normalize=False``.
"""

from __future__ import annotations

import math
import numbers

import torch

from .._validate import Interval, check_param
from ..distances import normalize as _normalize
from ..distances import sqeuclidean
from ._literature_checks import check_batch, check_tensor

_POSITIVE = Interval(numbers.Real, 0, None, "neither")
_NONNEGATIVE = Interval(numbers.Real, 0, None)

__all__ = [
    "alignment_loss",
    "uniformity_loss",
    "AlignmentLoss",
    "UniformityLoss",
    "AlignmentUniformityLoss",
]


def alignment_loss(embeddings: torch.Tensor, codes: torch.Tensor, *, alpha: float = 2.0) -> torch.Tensor:
    """Mean ``||x_i - x_j||^alpha`` over positive pairs (same code, i != j).

    Parameters
    ----------
    embeddings : torch.Tensor, shape (n, d)
        Already normalized if the hypersphere is wanted.
    codes : torch.Tensor of int64, shape (n,)
    alpha : float, default=2.0

    Returns
    -------
    torch.Tensor
        Scalar; 0 (with a graph) when the batch has no positive pair.
    """
    sq = sqeuclidean(embeddings, embeddings)
    positive = codes[:, None] == codes[None, :]
    positive.fill_diagonal_(False)
    if not positive.any():
        return embeddings.sum() * 0.0
    pos_sq = sq[positive]
    if alpha == 2.0:
        return pos_sq.mean()
    return pos_sq.clamp_min(torch.finfo(sq.dtype).tiny).pow(alpha / 2).mean()


def uniformity_loss(embeddings: torch.Tensor, *, t: float = 2.0) -> torch.Tensor:
    """``log mean_{i<j} exp(-t ||x_i - x_j||^2)`` by log-sum-exp, shape () tensor.

    Lower is more uniform; its minimum over n points on the sphere is reached
    when they are spread out, and it is 0 when all points coincide.
    """
    n = embeddings.shape[0]
    sq = sqeuclidean(embeddings, embeddings)
    i, j = torch.triu_indices(n, n, offset=1, device=embeddings.device)
    return torch.logsumexp(-t * sq[i, j], dim=0) - math.log(i.numel())


class AlignmentLoss(torch.nn.Module):
    """Alignment of positive pairs (Wang & Isola, 2020); ``forward(embeddings, labels)``.

    Parameters
    ----------
    alpha : float, default=2.0
        Exponent of the distance, > 0.
    normalize : bool, default=True
        L2-normalize the embeddings first (the paper's hypersphere).

    Examples
    --------
    >>> import torch
    >>> x = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    >>> float(AlignmentLoss()(x, torch.tensor([0, 0, 1])))
    0.0
    """

    def __init__(self, *, alpha: float = 2.0, normalize: bool = True) -> None:
        super().__init__()
        self.alpha = check_param(alpha, "alpha", type(self).__name__, _POSITIVE)
        self.normalize = check_param(normalize, "normalize", type(self).__name__, bool)

    def forward(self, embeddings: torch.Tensor, labels) -> torch.Tensor:
        x, codes = check_batch(embeddings, labels, type(self).__name__, min_rows=2)
        x = _normalize(x) if self.normalize else x
        return alignment_loss(x, codes, alpha=float(self.alpha))


class UniformityLoss(torch.nn.Module):
    """Uniformity on the hypersphere (Wang & Isola, 2020); ``forward(embeddings, labels=None)``.

    Labels are accepted for a uniform call signature and ignored (the loss is
    label-free).

    Parameters
    ----------
    t : float, default=2.0
        Scale of the Gaussian potential, > 0.
    normalize : bool, default=True
    """

    def __init__(self, *, t: float = 2.0, normalize: bool = True) -> None:
        super().__init__()
        self.t = check_param(t, "t", type(self).__name__, _POSITIVE)
        self.normalize = check_param(normalize, "normalize", type(self).__name__, bool)

    def forward(self, embeddings: torch.Tensor, labels=None) -> torch.Tensor:
        x = check_tensor(embeddings, "embeddings", type(self).__name__, min_rows=2)
        if labels is not None:
            check_batch(x, labels, type(self).__name__)
        x = _normalize(x) if self.normalize else x
        return uniformity_loss(x, t=float(self.t))


class AlignmentUniformityLoss(torch.nn.Module):
    """``alignment + uniformity_weight * uniformity``, the paper's combined objective.

    Parameters
    ----------
    alpha, t : float
        As in :class:`AlignmentLoss` and :class:`UniformityLoss`.
    uniformity_weight : float, default=1.0
        Weight of the uniformity term (the paper's lambda), >= 0.
    normalize : bool, default=True
    """

    def __init__(self, *, alpha: float = 2.0, t: float = 2.0, uniformity_weight: float = 1.0, normalize: bool = True) -> None:
        super().__init__()
        owner = type(self).__name__
        self.alpha = check_param(alpha, "alpha", owner, _POSITIVE)
        self.t = check_param(t, "t", owner, _POSITIVE)
        self.uniformity_weight = check_param(uniformity_weight, "uniformity_weight", owner, _NONNEGATIVE)
        self.normalize = check_param(normalize, "normalize", owner, bool)

    def forward(self, embeddings: torch.Tensor, labels) -> torch.Tensor:
        x, codes = check_batch(embeddings, labels, type(self).__name__, min_rows=2)
        x = _normalize(x) if self.normalize else x
        align = alignment_loss(x, codes, alpha=float(self.alpha))
        return align + self.uniformity_weight * uniformity_loss(x, t=float(self.t))
