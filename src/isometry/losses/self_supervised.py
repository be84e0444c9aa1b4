"""Contrastive softmax losses: NT-Xent (InfoNCE) and supervised contrastive (SupCon).

Both work on the (n, m) similarity matrix with row masks; NT-Xent never builds PML's
(positive pairs x negative pairs) matrix, so memory stays O(n m).
"""

from __future__ import annotations

from typing import Any

import torch

from .._validate import check_params
from ._base import (POSITIVE, Batch, Distance, as_mask, avg_nonzero, cosine_bound, batch_and_indices, masked_logsumexp, pair_weights,
                    resolve_distance, zero_loss)

__all__ = ["ntxent_loss", "NTXentLoss", "supcon_loss", "SupConLoss"]

_TEMP = {"temperature": (POSITIVE,)}


def _logits(batch: Batch, distance, temperature: float) -> torch.Tensor:
    mat = distance(batch.embeddings, None if batch.self_ref else batch.ref_emb)
    return (mat if distance.is_inverted else -mat) / temperature


def _ntxent(batch: Batch, indices, distance, temperature) -> torch.Tensor:
    emb = batch.embeddings
    pos_w, neg_w = pair_weights(batch, indices, emb.dtype, counts=True)
    if not (bool(as_mask(pos_w).any()) and bool(as_mask(neg_w).any())):
        return zero_loss(emb)
    logits = _logits(batch, distance, temperature)
    lowest = torch.finfo(logits.dtype).min
    neg_mask = as_mask(neg_w)
    neg_term = masked_logsumexp(logits, neg_w, 1, add_one=False, upper=cosine_bound(distance, 1 / temperature))
    neg_term = neg_term.masked_fill(~neg_mask.any(1), lowest).unsqueeze(1)
    losses = torch.logaddexp(logits, neg_term) - logits
    return (losses * pos_w).sum() / pos_w.sum()


def ntxent_loss(embeddings: torch.Tensor, labels: Any = None, indices_tuple: Any = None, ref_emb=None,
                ref_labels=None, *, temperature: float = 0.07, distance: Any = None) -> torch.Tensor:
    """NT-Xent / InfoNCE loss, averaged over positive pairs.

    From "A Simple Framework for Contrastive Learning of Visual Representations" (Chen et
    al., 2020). For a positive pair (i, j): ``-log(exp(s_ij / T) / (exp(s_ij / T) + sum_k
    exp(s_ik / T)))`` over the negatives k of anchor i.

    Parameters
    ----------
    embeddings : torch.Tensor, shape (n, d)
    labels : array-like, shape (n,); augmentations of one item share a label
    indices_tuple, ref_emb, ref_labels : optional
    temperature : float > 0, default=0.07
    distance : default cosine similarity
    """
    owner = "ntxent_loss"
    check_params(owner, {"temperature": temperature}, _TEMP)
    dist = resolve_distance(distance, Distance("cosine_similarity"), owner)
    batch, idx = batch_and_indices(owner, embeddings, labels, indices_tuple, ref_emb, ref_labels)
    return _ntxent(batch, idx, dist, temperature)


class NTXentLoss(torch.nn.Module):
    """NT-Xent loss (Chen et al., 2020); see :func:`ntxent_loss`. PML-compatible."""

    def __init__(self, temperature: float = 0.07, *, distance: Any = None) -> None:
        super().__init__()
        check_params("NTXentLoss", {"temperature": temperature}, _TEMP)
        self.temperature = temperature
        self.distance = resolve_distance(distance, Distance("cosine_similarity"), "NTXentLoss")

    def forward(self, embeddings, labels=None, indices_tuple=None, ref_emb=None, ref_labels=None) -> torch.Tensor:
        batch, idx = batch_and_indices("NTXentLoss", embeddings, labels, indices_tuple, ref_emb, ref_labels)
        return _ntxent(batch, idx, self.distance, self.temperature)


def _supcon(batch: Batch, indices, distance, temperature) -> torch.Tensor:
    emb = batch.embeddings
    pos, neg = pair_weights(batch, indices, emb.dtype, counts=False)
    pos, neg = as_mask(pos), as_mask(neg)
    if not (bool(pos.any()) and bool(neg.any())):
        return zero_loss(emb)
    logits = _logits(batch, distance, temperature)
    bound = cosine_bound(distance, 1 / temperature)
    log_prob = logits - masked_logsumexp(logits, pos | neg, 1, add_one=False, upper=bound).unsqueeze(1)
    n_pos = pos.sum(1)
    mean_pos = torch.where(pos, log_prob, 0.0).sum(1) / (n_pos + torch.finfo(emb.dtype).tiny)
    return avg_nonzero(-mean_pos)


def supcon_loss(embeddings: torch.Tensor, labels: Any = None, indices_tuple: Any = None, ref_emb=None,
                ref_labels=None, *, temperature: float = 0.1, distance: Any = None) -> torch.Tensor:
    """Supervised contrastive loss, averaged over anchors with a non-zero loss.

    From "Supervised Contrastive Learning" (Khosla et al., 2020), the "L_out" form: per
    anchor, minus the mean over its positives p of ``log softmax(s / T)`` taken over the
    anchor's positives and negatives (itself excluded).
    """
    owner = "supcon_loss"
    check_params(owner, {"temperature": temperature}, _TEMP)
    dist = resolve_distance(distance, Distance("cosine_similarity"), owner)
    batch, idx = batch_and_indices(owner, embeddings, labels, indices_tuple, ref_emb, ref_labels)
    return _supcon(batch, idx, dist, temperature)


class SupConLoss(torch.nn.Module):
    """Supervised contrastive loss (Khosla et al., 2020); see :func:`supcon_loss`. PML-compatible."""

    def __init__(self, temperature: float = 0.1, *, distance: Any = None) -> None:
        super().__init__()
        check_params("SupConLoss", {"temperature": temperature}, _TEMP)
        self.temperature = temperature
        self.distance = resolve_distance(distance, Distance("cosine_similarity"), "SupConLoss")

    def forward(self, embeddings, labels=None, indices_tuple=None, ref_emb=None, ref_labels=None) -> torch.Tensor:
        batch, idx = batch_and_indices("SupConLoss", embeddings, labels, indices_tuple, ref_emb, ref_labels)
        return _supcon(batch, idx, self.distance, self.temperature)
