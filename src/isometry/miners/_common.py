"""Miner outputs and the shared boundary of every miner."""

from __future__ import annotations

from typing import Any, NamedTuple

import torch

from ..losses._base import Batch, Distance, pair_masks, prepare_batch

__all__ = ["Pairs", "Triplets"]


class Pairs(NamedTuple):
    """Positive pairs (a1[i], p[i]) and negative pairs (a2[j], n[j]); int64 index tensors.

    Indices of ``a1``/``a2`` are rows of the embeddings, ``p``/``n`` rows of the reference
    (the embeddings themselves unless ``ref_emb`` is given). Any loss takes it as
    ``indices_tuple``; it is a plain tuple, so PML losses take it too.
    """

    a1: torch.Tensor
    p: torch.Tensor
    a2: torch.Tensor
    n: torch.Tensor


class Triplets(NamedTuple):
    """Triplets (anchors[i], positives[i], negatives[i]); int64 index tensors."""

    anchors: torch.Tensor
    positives: torch.Tensor
    negatives: torch.Tensor


def mining_input(owner: str, embeddings: Any, labels: Any, ref_emb: Any, ref_labels: Any) -> Batch:
    """Validate a miner's input (labels required) and detach it."""
    batch = prepare_batch(owner, embeddings, labels, ref_emb, ref_labels)
    return batch._replace(embeddings=batch.embeddings.detach(), ref_emb=batch.ref_emb.detach())


def matrix_and_masks(batch: Batch, distance: Distance) -> tuple:
    """Distance matrix (n, m) and boolean positive / negative masks."""
    mat = distance(batch.embeddings, None if batch.self_ref else batch.ref_emb)
    pos, neg = pair_masks(batch)
    return mat, pos, neg


def pairs_from_masks(pos: torch.Tensor, neg: torch.Tensor) -> Pairs:
    a1, p = torch.nonzero(pos, as_tuple=True)
    a2, n = torch.nonzero(neg, as_tuple=True)
    return Pairs(a1, p, a2, n)
