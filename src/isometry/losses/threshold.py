"""Threshold-consistent margin (TCM) loss: a regularizer for one global verification threshold."""

from __future__ import annotations

from typing import Any

import torch

from .._validate import check_params
from ._base import NONNEG, REAL, Batch, Distance, batch_and_indices, pair_weights, require_distance, resolve_distance

__all__ = ["threshold_consistent_margin_loss", "ThresholdConsistentMarginLoss"]

_TCM = {"lambda_plus": (NONNEG,), "lambda_minus": (NONNEG,), "margin_plus": (REAL,), "margin_minus": (REAL,)}


def _tcm(batch: Batch, indices, distance, lambda_plus, lambda_minus, margin_plus, margin_minus) -> torch.Tensor:
    emb = batch.embeddings
    pos_w, neg_w = pair_weights(batch, indices, emb.dtype, counts=True)
    sim = distance(emb, None if batch.self_ref else batch.ref_emb)
    low = (sim <= margin_plus) & (pos_w > 0)
    high = (sim >= margin_minus) & (neg_w > 0)
    pos_num = torch.where(low, (margin_plus - sim) * pos_w, 0.0).sum()
    neg_num = torch.where(high, (sim - margin_minus) * neg_w, 0.0).sum()
    pos_den = torch.where(low, pos_w, 0.0).sum().clamp_min(1)
    neg_den = torch.where(high, neg_w, 0.0).sum().clamp_min(1)
    return lambda_plus * pos_num / pos_den + lambda_minus * neg_num / neg_den


def threshold_consistent_margin_loss(embeddings: torch.Tensor, labels: Any = None, indices_tuple: Any = None,
                                     ref_emb=None, ref_labels=None, *, lambda_plus: float = 1.0,
                                     lambda_minus: float = 1.0, margin_plus: float = 0.9,
                                     margin_minus: float = 0.5) -> torch.Tensor:
    """TCM loss on cosine similarities.

    From "Threshold-Consistent Margin Loss for Open-World Deep Metric Learning" (Zhang et
    al., 2023): ``lambda_plus * mean over positive pairs with s <= margin_plus of
    (margin_plus - s) + lambda_minus * mean over negative pairs with s >= margin_minus of
    (s - margin_minus)``; an empty part counts 0. Unlike PML, a reference set is used as the
    pairs' second member (PML indexes the embeddings with reference indices).
    """
    owner = "threshold_consistent_margin_loss"
    values = {"lambda_plus": lambda_plus, "lambda_minus": lambda_minus, "margin_plus": margin_plus,
              "margin_minus": margin_minus}
    check_params(owner, values, _TCM)
    batch, idx = batch_and_indices(owner, embeddings, labels, indices_tuple, ref_emb, ref_labels)
    return _tcm(batch, idx, Distance("cosine_similarity"), lambda_plus, lambda_minus, margin_plus, margin_minus)


class ThresholdConsistentMarginLoss(torch.nn.Module):
    """TCM loss (Zhang et al., 2023); see :func:`threshold_consistent_margin_loss`. PML-compatible."""

    def __init__(self, lambda_plus: float = 1.0, lambda_minus: float = 1.0, margin_plus: float = 0.9,
                 margin_minus: float = 0.5, *, distance: Any = None) -> None:
        super().__init__()
        check_params("ThresholdConsistentMarginLoss", {"lambda_plus": lambda_plus, "lambda_minus": lambda_minus,
                                                       "margin_plus": margin_plus, "margin_minus": margin_minus},
                     _TCM)
        self.lambda_plus, self.lambda_minus = lambda_plus, lambda_minus
        self.margin_plus, self.margin_minus = margin_plus, margin_minus
        self.distance = resolve_distance(distance, Distance("cosine_similarity"), "ThresholdConsistentMarginLoss")
        require_distance(self.distance, ("cosine_similarity",), "ThresholdConsistentMarginLoss")

    def forward(self, embeddings, labels=None, indices_tuple=None, ref_emb=None, ref_labels=None) -> torch.Tensor:
        batch, idx = batch_and_indices("ThresholdConsistentMarginLoss", embeddings, labels, indices_tuple, ref_emb,
                                       ref_labels)
        return _tcm(batch, idx, self.distance, self.lambda_plus, self.lambda_minus, self.margin_plus,
                    self.margin_minus)
