"""NBC-Softmax: softmax loss plus a negative block contrastive term on class centres.

From "NBC-Softmax: Darkweb Author fingerprinting and migration tracking"
(Kulatilleke, Chandra & Portmann, 2022). The softmax (cross-entropy) loss of a
linear classifier is combined with a contrastive term that uses only negatives,
at the level of blocks: the centre mu_c of each class c present in the batch is the
mean of its embeddings, and

    L_NBC = mean_c log sum_{c' != c} exp(scale * cos(mu_c, mu_c'))

pushes the centres of different classes apart. The loss is
(1 - nbc_weight) * L_softmax + nbc_weight * L_NBC, with nbc_weight = 0.5 and
scale = 0.2 as in the authors' released configuration (their tau multiplies the
cosine). Differences from that code, on purpose: a centre is not compared with
itself (the code adds exp(0) = 1 for the zeroed diagonal) and the term is not
divided again by num_classes. A batch with one class has no negatives: L_NBC = 0.
"""

from __future__ import annotations

import math
import numbers

import torch
import torch.nn.functional as F

from .._validate import Interval, check_param
from ..distances import cosine_similarity
from ..errors import InputError
from ._literature_checks import check_class_labels, check_tensor

__all__ = ["negative_block_contrastive_loss", "nbc_softmax_loss", "NBCSoftmaxLoss"]


def negative_block_contrastive_loss(embeddings: torch.Tensor, codes: torch.Tensor, *, scale: float = 0.2) -> torch.Tensor:
    """The NBC term on the centres of the classes present in the batch; scalar tensor.

    Parameters
    ----------
    embeddings : torch.Tensor, shape (n, d)
    codes : torch.Tensor of int64, shape (n,)
        Class of each row (any non-negative integers).
    scale : float, default=0.2
        Multiplier of the cosine similarity inside the exponential.
    """
    present, inverse = torch.unique(codes, return_inverse=True)
    k = present.numel()
    if k < 2:
        return embeddings.sum() * 0.0
    members = F.one_hot(inverse, k).to(embeddings.dtype)
    centres = (members.T @ embeddings) / members.sum(dim=0)[:, None]
    logits = scale * cosine_similarity(centres, centres)
    logits = logits.masked_fill(torch.eye(k, dtype=torch.bool, device=logits.device), float("-inf"))
    return torch.logsumexp(logits, dim=1).mean()


def nbc_softmax_loss(
    embeddings: torch.Tensor,
    labels: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor,
    *,
    scale: float = 0.2,
    nbc_weight: float = 0.5,
) -> torch.Tensor:
    """(1 - nbc_weight) * CE(x W^T + b, y) + nbc_weight * L_NBC; labels int64 in [0, C)."""
    softmax = F.cross_entropy(F.linear(embeddings, weight, bias), labels)
    return (1.0 - nbc_weight) * softmax + nbc_weight * negative_block_contrastive_loss(embeddings, labels, scale=scale)


class NBCSoftmaxLoss(torch.nn.Module):
    """NBC-Softmax loss (Kulatilleke et al., 2022); ``forward(embeddings, labels)``.

    Holds the softmax classifier (``weight`` (num_classes, embedding_size) and
    ``bias``), trained with the model. Labels are integers in [0, num_classes).

    Parameters
    ----------
    num_classes, embedding_size : int
    scale : float, default=0.2
        Multiplier of the centre cosine similarities (> 0).
    nbc_weight : float, default=0.5
        Share of the NBC term, in [0, 1]; 0 gives the plain softmax loss.

    Examples
    --------
    >>> import torch
    >>> loss = NBCSoftmaxLoss(3, 4)
    >>> loss(torch.randn(6, 4), torch.tensor([0, 0, 1, 1, 2, 2])).ndim
    0
    """

    def __init__(self, num_classes: int, embedding_size: int, *, scale: float = 0.2, nbc_weight: float = 0.5) -> None:
        super().__init__()
        owner = type(self).__name__
        self.num_classes = check_param(num_classes, "num_classes", owner, Interval(numbers.Integral, 2, None))
        self.embedding_size = check_param(embedding_size, "embedding_size", owner, Interval(numbers.Integral, 1, None))
        self.scale = check_param(scale, "scale", owner, Interval(numbers.Real, 0, None, "neither"))
        self.nbc_weight = check_param(nbc_weight, "nbc_weight", owner, Interval(numbers.Real, 0, 1))
        bound = 1.0 / math.sqrt(embedding_size)
        self.weight = torch.nn.Parameter(torch.empty(num_classes, embedding_size).uniform_(-bound, bound))
        self.bias = torch.nn.Parameter(torch.zeros(num_classes))

    def forward(self, embeddings: torch.Tensor, labels) -> torch.Tensor:
        owner = type(self).__name__
        x = check_tensor(embeddings, "embeddings", owner)
        if x.shape[1] != self.embedding_size:
            raise InputError(f"{owner} was built for embedding_size={self.embedding_size}; embeddings have {x.shape[1]} features.")
        y = check_class_labels(labels, x.shape[0], self.num_classes, owner, x.device)
        return nbc_softmax_loss(x, y, self.weight.to(x.dtype), self.bias.to(x.dtype),
                                scale=float(self.scale), nbc_weight=float(self.nbc_weight))
