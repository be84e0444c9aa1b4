"""Maximum Manifold Capacity Representations (MMCR) loss.

From "Learning Efficient Coding of Natural Images with Maximum Manifold Capacity
Representations" (Yerxa, Kuang, Simoncelli & Chung, NeurIPS 2023). Each of N items
is seen through K augmented views; every view is L2-normalized, the views of an
item are averaged into a centroid c_i, and the loss is minus the nuclear norm of
the centroid matrix C (N, d):

    L = -||C||_*  +  lambda_local / N * sum_i ||Z_i||_*

where Z_i (K, d) holds the views of item i (the optional local term, 0 by default,
shrinks each item's manifold). Maximizing ||C||_* spreads the centroids over many
directions (high effective rank) while the normalization pulls views together.
"""

from __future__ import annotations

import numbers

import torch

from .._validate import Interval, check_param
from ..distances import normalize as _normalize
from ..errors import InputError
from ._literature_checks import check_batch

__all__ = ["mmcr_loss", "MMCRLoss"]


def mmcr_loss(views: torch.Tensor, *, lambda_local: float = 0.0) -> torch.Tensor:
    """MMCR loss of normalized views, shape (N, K, d) -> scalar tensor.

    Parameters
    ----------
    views : torch.Tensor, shape (n_items, n_views, d)
        Rows already L2-normalized (the class normalizes for you).
    lambda_local : float, default=0.0
        Weight of the mean per-item nuclear norm.
    """
    centroids = views.mean(dim=1)
    loss = -torch.linalg.svdvals(centroids).sum()
    if lambda_local:
        loss = loss + lambda_local * torch.linalg.svdvals(views).sum(dim=-1).mean()
    return loss


def _views_from_labels(x: torch.Tensor, codes: torch.Tensor, owner: str) -> torch.Tensor:
    counts = torch.bincount(codes)
    if counts.min() != counts.max():
        raise InputError(
            f"{owner} needs the same number of views per item; got between {int(counts.min())} and {int(counts.max())} rows per label."
        )
    if int(counts[0]) < 2:
        raise InputError(f"{owner} needs at least 2 views per item (rows per label); got 1.")
    order = torch.argsort(codes, stable=True)
    return x[order].reshape(counts.numel(), int(counts[0]), x.shape[1])


class MMCRLoss(torch.nn.Module):
    """MMCR loss (Yerxa et al., 2023): ``forward(views)`` or ``forward(embeddings, labels)``.

    ``views`` is a 3-D tensor (n_items, n_views, d). With a 2-D ``embeddings``
    (n, d), ``labels`` names the item each row is a view of; every item needs the
    same number (>= 2) of views.

    Parameters
    ----------
    lambda_local : float, default=0.0
        Weight (>= 0) of the per-item nuclear-norm term.

    Returns
    -------
    torch.Tensor
        Scalar, ``-||C||_*`` (+ the local term).

    Examples
    --------
    >>> import torch
    >>> views = torch.eye(3).repeat_interleave(2, dim=0).reshape(3, 2, 3)
    >>> float(MMCRLoss()(views))
    -3.0
    """

    def __init__(self, *, lambda_local: float = 0.0) -> None:
        super().__init__()
        self.lambda_local = check_param(lambda_local, "lambda_local", type(self).__name__, Interval(numbers.Real, 0, None))

    def forward(self, views: torch.Tensor, labels=None) -> torch.Tensor:
        owner = type(self).__name__
        if isinstance(views, torch.Tensor) and views.ndim == 3:
            if labels is not None:
                raise InputError(f"{owner}: give either 3-D views (n_items, n_views, d) or 2-D embeddings with labels, not both.")
            n_items, n_views, d = views.shape
            flat, _ = check_batch(views.reshape(n_items * n_views, d), torch.zeros(n_items * n_views, dtype=torch.int64), owner)
            if n_views < 2:
                raise InputError(f"{owner} needs at least 2 views per item; got views of shape {tuple(views.shape)}.")
            stacked = flat.reshape(n_items, n_views, d)
        else:
            if labels is None:
                raise InputError(f"{owner} needs 3-D views (n_items, n_views, d), or 2-D embeddings with labels naming each row's item.")
            x, codes = check_batch(views, labels, owner, min_rows=2)
            stacked = _views_from_labels(x, codes, owner)
        return mmcr_loss(_normalize_views(stacked), lambda_local=float(self.lambda_local))


def _normalize_views(views: torch.Tensor) -> torch.Tensor:
    n, k, d = views.shape
    return _normalize(views.reshape(n * k, d)).reshape(n, k, d)
