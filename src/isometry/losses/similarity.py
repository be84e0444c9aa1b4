"""Soft pair-weighting losses: multi-similarity, circle, lifted structure.

Each is a log-sum-exp over masked rows of the (n, m) similarity or distance matrix.
"""

from __future__ import annotations

from typing import Any

import torch

from .._validate import check_params
from ._base import (POSITIVE, REAL, Batch, Distance, as_mask, avg_nonzero, cosine_bound, batch_and_indices, few_pairs, masked_logsumexp,
                    pair_weights, require_distance, resolve_distance, zero_loss)

__all__ = [
    "multi_similarity_loss",
    "MultiSimilarityLoss",
    "circle_loss",
    "CircleLoss",
    "lifted_structure_loss",
    "LiftedStructureLoss",
]


def _matrix(batch: Batch, distance) -> torch.Tensor:
    return distance(batch.embeddings, None if batch.self_ref else batch.ref_emb)


# ------------------------------------------------------------------------------ multi-similarity

_MS = {"alpha": (POSITIVE,), "beta": (POSITIVE,), "base": (REAL,)}


def _multi_similarity(batch: Batch, indices, distance, alpha, beta, base) -> torch.Tensor:
    emb = batch.embeddings
    pos, neg = pair_weights(batch, indices, emb.dtype, counts=False)
    if few_pairs(indices, pos, neg):
        return zero_loss(emb)
    mat = _matrix(batch, distance)
    pos_bound, neg_bound = cosine_bound(distance, alpha * (abs(base) + 1)), cosine_bound(distance, beta * (abs(base) + 1))
    pos_loss = masked_logsumexp(alpha * distance.margin(mat, base), as_mask(pos), 1, add_one=True, upper=pos_bound)
    neg_loss = masked_logsumexp(beta * distance.margin(base, mat), as_mask(neg), 1, add_one=True, upper=neg_bound)
    pos_loss, neg_loss = pos_loss / alpha, neg_loss / beta
    return (pos_loss + neg_loss).mean()


def multi_similarity_loss(embeddings: torch.Tensor, labels: Any = None, indices_tuple: Any = None, ref_emb=None,
                          ref_labels=None, *, alpha: float = 2.0, beta: float = 50.0, base: float = 0.5,
                          distance: Any = None) -> torch.Tensor:
    """Multi-similarity loss, averaged over anchors.

    From "Multi-Similarity Loss with General Pair Weighting for Deep Metric Learning"
    (Wang et al., 2019): per anchor ``log(1 + sum_p exp(-alpha (s_ap - base))) / alpha +
    log(1 + sum_n exp(beta (s_an - base))) / beta``.

    Parameters
    ----------
    embeddings : torch.Tensor, shape (n, d)
    labels : array-like, shape (n,)
    indices_tuple : pairs or triplets, optional (default: all pairs)
    ref_emb, ref_labels : optional reference set
    alpha, beta : float > 0, default=2, 50
    base : float, default=0.5
    distance : default cosine similarity

    Returns
    -------
    torch.Tensor, scalar; anchors without pairs contribute 0.
    """
    owner = "multi_similarity_loss"
    check_params(owner, {"alpha": alpha, "beta": beta, "base": base}, _MS)
    dist = resolve_distance(distance, Distance("cosine_similarity"), owner)
    batch, idx = batch_and_indices(owner, embeddings, labels, indices_tuple, ref_emb, ref_labels)
    return _multi_similarity(batch, idx, dist, alpha, beta, base)


class MultiSimilarityLoss(torch.nn.Module):
    """Multi-similarity loss (Wang et al., 2019); see :func:`multi_similarity_loss`. PML-compatible."""

    def __init__(self, alpha: float = 2, beta: float = 50, base: float = 0.5, *, distance: Any = None) -> None:
        super().__init__()
        check_params("MultiSimilarityLoss", {"alpha": alpha, "beta": beta, "base": base}, _MS)
        self.alpha, self.beta, self.base = alpha, beta, base
        self.distance = resolve_distance(distance, Distance("cosine_similarity"), "MultiSimilarityLoss")

    def forward(self, embeddings, labels=None, indices_tuple=None, ref_emb=None, ref_labels=None) -> torch.Tensor:
        batch, idx = batch_and_indices("MultiSimilarityLoss", embeddings, labels, indices_tuple, ref_emb, ref_labels)
        return _multi_similarity(batch, idx, self.distance, self.alpha, self.beta, self.base)


# ------------------------------------------------------------------------------ circle

_CIRCLE = {"m": (REAL,), "gamma": (POSITIVE,)}


def _circle(batch: Batch, indices, distance, m, gamma) -> torch.Tensor:
    emb = batch.embeddings
    pos, neg = pair_weights(batch, indices, emb.dtype, counts=False)
    if few_pairs(indices, pos, neg):
        return zero_loss(emb)
    pos, neg = as_mask(pos), as_mask(neg)
    s = _matrix(batch, distance)
    s_const = s.detach()
    pos_logits = -gamma * torch.relu(1 + m - s_const) * (s - (1 - m))
    neg_logits = gamma * torch.relu(s_const + m) * (s - m)
    lse = masked_logsumexp(pos_logits, pos, 1, add_one=False) + masked_logsumexp(neg_logits, neg, 1, add_one=False)
    losses = torch.nn.functional.softplus(lse) * (pos.any(1) & neg.any(1))
    return avg_nonzero(losses)


def circle_loss(embeddings: torch.Tensor, labels: Any = None, indices_tuple: Any = None, ref_emb=None,
                ref_labels=None, *, m: float = 0.4, gamma: float = 80.0) -> torch.Tensor:
    """Circle loss on cosine similarities, averaged over anchors with a non-zero loss.

    From "Circle Loss: A Unified Perspective of Pair Similarity Optimization" (Sun et al.,
    2020). Per anchor ``softplus(logsumexp_p(-gamma a_p (s_p - (1 - m))) + logsumexp_n(gamma
    a_n (s_n - m)))`` with the self-paced weights ``a_p = relu(1 + m - s_p)``, ``a_n =
    relu(s_n + m)`` held constant. Anchors lacking a positive or a negative contribute 0.
    """
    owner = "circle_loss"
    check_params(owner, {"m": m, "gamma": gamma}, _CIRCLE)
    batch, idx = batch_and_indices(owner, embeddings, labels, indices_tuple, ref_emb, ref_labels)
    return _circle(batch, idx, Distance("cosine_similarity"), m, gamma)


class CircleLoss(torch.nn.Module):
    """Circle loss (Sun et al., 2020); see :func:`circle_loss`. PML-compatible (cosine similarity only)."""

    def __init__(self, m: float = 0.4, gamma: float = 80, *, distance: Any = None) -> None:
        super().__init__()
        check_params("CircleLoss", {"m": m, "gamma": gamma}, _CIRCLE)
        self.m, self.gamma = m, gamma
        self.distance = resolve_distance(distance, Distance("cosine_similarity"), "CircleLoss")
        require_distance(self.distance, ("cosine_similarity",), "CircleLoss")

    def forward(self, embeddings, labels=None, indices_tuple=None, ref_emb=None, ref_labels=None) -> torch.Tensor:
        batch, idx = batch_and_indices("CircleLoss", embeddings, labels, indices_tuple, ref_emb, ref_labels)
        return _circle(batch, idx, self.distance, self.m, self.gamma)


# ------------------------------------------------------------------------------ lifted structure

_LIFTED = {"neg_margin": (REAL,), "pos_margin": (REAL,)}


def _lifted(batch: Batch, indices, distance, neg_margin, pos_margin) -> torch.Tensor:
    emb = batch.embeddings
    pos_w, neg_w = pair_weights(batch, indices, emb.dtype, counts=True)
    if not (bool((pos_w > 0).any()) and bool((neg_w > 0).any())):
        return zero_loss(emb)
    mat = _matrix(batch, distance)
    n, m = mat.shape
    lowest = torch.finfo(mat.dtype).min
    # Each anchor row's negatives, log-sum-exp'd once; a positive pair (i, j) uses rows i and j.
    per_row = masked_logsumexp(distance.margin(neg_margin, mat), neg_w, 1, add_one=False)
    has_neg = (neg_w > 0).any(1)
    row_term = per_row.masked_fill(~has_neg, lowest)
    col_term = torch.full((m,), lowest, dtype=mat.dtype, device=mat.device)
    col_has = torch.zeros(m, dtype=torch.bool, device=mat.device)
    k = min(n, m)
    col_term = torch.cat([row_term[:k], col_term[k:]])
    col_has = torch.cat([has_neg[:k], col_has[k:]])
    joint = torch.logaddexp(row_term.unsqueeze(1), col_term.unsqueeze(0))
    same_index = torch.arange(n, device=mat.device).unsqueeze(1) == torch.arange(m, device=mat.device)
    joint = torch.where(same_index, row_term.unsqueeze(1), joint)  # the union of a row's set with itself
    joint = joint.masked_fill(~(has_neg.unsqueeze(1) | col_has.unsqueeze(0)), 0.0)
    losses = torch.relu(joint + distance.margin(mat, pos_margin)).square() / 2
    return (losses * pos_w).sum() / pos_w.sum()


def lifted_structure_loss(embeddings: torch.Tensor, labels: Any = None, indices_tuple: Any = None, ref_emb=None,
                          ref_labels=None, *, neg_margin: float = 1.0, pos_margin: float = 0.0,
                          distance: Any = None) -> torch.Tensor:
    """Lifted structure loss, averaged over positive pairs.

    From "Deep Metric Learning via Lifted Structured Feature Embedding" (Oh Song et al., 2016):
    for a positive pair (i, j), ``relu(log sum_{k in N(i) u N(j)} exp(neg_margin - d_k) + d_ij -
    pos_margin)^2 / 2`` where N(i) are the negative pairs anchored at i.
    """
    owner = "lifted_structure_loss"
    check_params(owner, {"neg_margin": neg_margin, "pos_margin": pos_margin}, _LIFTED)
    dist = resolve_distance(distance, Distance(), owner)
    batch, idx = batch_and_indices(owner, embeddings, labels, indices_tuple, ref_emb, ref_labels)
    return _lifted(batch, idx, dist, neg_margin, pos_margin)


class LiftedStructureLoss(torch.nn.Module):
    """Lifted structure loss (Oh Song et al., 2016); see :func:`lifted_structure_loss`. PML-compatible."""

    def __init__(self, neg_margin: float = 1, pos_margin: float = 0, *, distance: Any = None) -> None:
        super().__init__()
        check_params("LiftedStructureLoss", {"neg_margin": neg_margin, "pos_margin": pos_margin}, _LIFTED)
        self.neg_margin, self.pos_margin = neg_margin, pos_margin
        self.distance = resolve_distance(distance, Distance(), "LiftedStructureLoss")

    def forward(self, embeddings, labels=None, indices_tuple=None, ref_emb=None, ref_labels=None) -> torch.Tensor:
        batch, idx = batch_and_indices("LiftedStructureLoss", embeddings, labels, indices_tuple, ref_emb, ref_labels)
        return _lifted(batch, idx, self.distance, self.neg_margin, self.pos_margin)
