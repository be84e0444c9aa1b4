"""Threshold miners: TripletMarginMiner, PairMarginMiner, MultiSimilarityMiner.

Each keeps the pairs or triplets whose distances cross a margin, computed with masks over
the (n, m) matrix (triplets as padded (n, P, m) blocks, never as an n^3 list first).
"""

from __future__ import annotations

import numbers
from typing import Any

import torch

from .._validate import Interval, Options, check_params
from ..losses._base import NONNEG, REAL, Distance, resolve_distance
from ..losses._triplets import triplet_blocks
from ._common import Pairs, Triplets, matrix_and_masks, mining_input

__all__ = ["TripletMarginMiner", "PairMarginMiner", "MultiSimilarityMiner"]


class TripletMarginMiner(torch.nn.Module):
    """Triplets (a, p, n) by how much d_an exceeds d_ap (the triplet margin ``t``); PML-compatible.

    ``type_of_triplets``: "all" keeps ``t <= margin`` (violating the margin), "hard" also
    ``t <= 0``, "semihard" ``0 < t <= margin``, "easy" ``t > margin``. From "FaceNet: A
    Unified Embedding for Face Recognition and Clustering" (Schroff et al., 2015).
    """

    def __init__(self, margin: float = 0.2, type_of_triplets: str = "all", *, distance: Any = None) -> None:
        super().__init__()
        check_params("TripletMarginMiner", {"margin": margin, "type_of_triplets": type_of_triplets},
                     {"margin": (REAL,), "type_of_triplets": (Options(["all", "hard", "semihard", "easy"]),)})
        self.margin, self.type_of_triplets = margin, type_of_triplets
        self.distance = resolve_distance(distance, Distance(), "TripletMarginMiner")

    def _select(self, t: torch.Tensor) -> torch.Tensor:
        kind = self.type_of_triplets
        if kind == "easy":
            return t > self.margin
        keep = t <= self.margin
        if kind == "hard":
            keep &= t <= 0
        elif kind == "semihard":
            keep &= t > 0
        return keep

    @torch.no_grad()
    def forward(self, embeddings, labels, ref_emb=None, ref_labels=None) -> Triplets:
        batch = mining_input("TripletMarginMiner", embeddings, labels, ref_emb, ref_labels)
        mat, pos, neg = matrix_and_masks(batch, self.distance)
        found = []
        for rows, cols, ap, an, keep in triplet_blocks(mat, pos, neg):
            t = self.distance.margin(an, ap)  # how far the negative is beyond the positive
            a, slot, n = torch.nonzero(keep & self._select(t), as_tuple=True)
            found.append((a + rows.start, cols[a, slot], n))
        if not found:
            empty = torch.empty(0, dtype=torch.long, device=mat.device)
            return Triplets(empty, empty.clone(), empty.clone())
        return Triplets(*(torch.cat(parts) for parts in zip(*found)))


class PairMarginMiner(torch.nn.Module):
    """Positive pairs farther than ``pos_margin`` and negative pairs closer than ``neg_margin``.

    PML-compatible (for similarities the inequalities flip).
    """

    def __init__(self, pos_margin: float = 0.2, neg_margin: float = 0.8, *, distance: Any = None) -> None:
        super().__init__()
        check_params("PairMarginMiner", {"pos_margin": pos_margin, "neg_margin": neg_margin},
                     {"pos_margin": (REAL,), "neg_margin": (REAL,)})
        self.pos_margin, self.neg_margin = pos_margin, neg_margin
        self.distance = resolve_distance(distance, Distance(), "PairMarginMiner")

    @torch.no_grad()
    def forward(self, embeddings, labels, ref_emb=None, ref_labels=None) -> Pairs:
        batch = mining_input("PairMarginMiner", embeddings, labels, ref_emb, ref_labels)
        mat, pos, neg = matrix_and_masks(batch, self.distance)
        pos = pos & (self.distance.margin(mat, self.pos_margin) > 0)
        neg = neg & (self.distance.margin(self.neg_margin, mat) > 0)
        a1, p = torch.nonzero(pos, as_tuple=True)
        a2, n = torch.nonzero(neg, as_tuple=True)
        return Pairs(a1, p, a2, n)


class MultiSimilarityMiner(torch.nn.Module):
    """Informative pairs of the multi-similarity paper; PML-compatible.

    From "Multi-Similarity Loss with General Pair Weighting for Deep Metric Learning" (Wang
    et al., 2019): keep a negative when it is more similar than the anchor's least similar
    positive minus ``epsilon``, and a positive when it is less similar than the anchor's most
    similar negative plus ``epsilon``. Default distance: cosine similarity.
    """

    def __init__(self, epsilon: float = 0.1, *, distance: Any = None) -> None:
        super().__init__()
        check_params("MultiSimilarityMiner", {"epsilon": epsilon}, {"epsilon": (NONNEG,)})
        self.epsilon = epsilon
        self.distance = resolve_distance(distance, Distance("cosine_similarity"), "MultiSimilarityMiner")

    @torch.no_grad()
    def forward(self, embeddings, labels, ref_emb=None, ref_labels=None) -> Pairs:
        batch = mining_input("MultiSimilarityMiner", embeddings, labels, ref_emb, ref_labels)
        mat, pos, neg = matrix_and_masks(batch, self.distance)
        if not (bool(pos.any()) and bool(neg.any())):
            empty = torch.empty(0, dtype=torch.long, device=mat.device)
            return Pairs(empty, empty.clone(), empty.clone(), empty.clone())
        big, low = torch.finfo(mat.dtype).max, torch.finfo(mat.dtype).min
        eps = self.epsilon
        if self.distance.is_inverted:
            hardest_neg = mat.masked_fill(~neg, low).amax(1, keepdim=True)
            hardest_pos = mat.masked_fill(~pos, big).amin(1, keepdim=True)
            pos = pos & (mat - eps < hardest_neg)
            neg = neg & (mat + eps > hardest_pos)
        else:
            hardest_neg = mat.masked_fill(~neg, big).amin(1, keepdim=True)
            hardest_pos = mat.masked_fill(~pos, low).amax(1, keepdim=True)
            pos = pos & (mat + eps > hardest_neg)
            neg = neg & (mat - eps < hardest_pos)
        a1, p = torch.nonzero(pos, as_tuple=True)
        a2, n = torch.nonzero(neg, as_tuple=True)
        return Pairs(a1, p, a2, n)
