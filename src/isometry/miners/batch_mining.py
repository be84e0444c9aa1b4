"""Per-anchor mining: BatchEasyHardMiner and BatchHardMiner.

From "In Defense of the Triplet Loss for Person Re-Identification" (Hermans et al., 2017)
and "Improved Embeddings with Easy Positive Triplet Mining" (Xuan et al., 2020). For each
anchor one positive and one negative are chosen by strategy, all with masked row-wise
min / max over the distance matrix.
"""

from __future__ import annotations

from typing import Any

import torch

from .._validate import Options, check_params
from ..errors import InputError
from ..losses._base import Distance, resolve_distance
from ._common import Pairs, Triplets, matrix_and_masks, mining_input

__all__ = ["BatchEasyHardMiner", "BatchHardMiner"]

_STRATEGIES = ("hard", "semihard", "easy", "all")


def _pick(mat, mask, largest: bool, val_range=None, thresholds=None):
    """Per row: the largest (or smallest) masked value, its column, and whether the row had one."""
    keep = mask.clone()
    if thresholds is not None:
        keep &= (mat < thresholds.unsqueeze(1)) if largest else (mat > thresholds.unsqueeze(1))
    if val_range is not None:
        keep &= (mat >= val_range[0]) & (mat <= val_range[1])
    fill = torch.finfo(mat.dtype).min if largest else torch.finfo(mat.dtype).max
    vals, cols = (torch.max if largest else torch.min)(mat.masked_fill(~keep, fill), dim=1)
    return vals, cols, keep.any(dim=1)


class BatchEasyHardMiner(torch.nn.Module):
    """One positive and one negative per anchor, each chosen "easy", "semihard", "hard" or "all".

    PML-compatible. For a distance (smaller is closer) a *hard* positive is the farthest,
    an *easy* positive the closest; a *hard* negative is the closest, an *easy* one the
    farthest; *semihard* is the hardest one on the easy side of the other pair's choice.
    ``allowed_pos_range`` / ``allowed_neg_range`` = (low, high) limit the candidates.

    Returns
    -------
    Pairs (a, p, a, n) when neither strategy is "all" (anchors lacking a choice dropped),
    else the chosen pairs plus all pairs of the "all" side.
    """

    HARD, SEMIHARD, EASY, ALL = "hard", "semihard", "easy", "all"

    def __init__(self, pos_strategy: str = "easy", neg_strategy: str = "semihard", allowed_pos_range=None,
                 allowed_neg_range=None, *, distance: Any = None) -> None:
        super().__init__()
        owner = type(self).__name__
        check_params(owner, {"pos_strategy": pos_strategy, "neg_strategy": neg_strategy},
                     {"pos_strategy": (Options(_STRATEGIES),), "neg_strategy": (Options(_STRATEGIES),)})
        both = {pos_strategy, neg_strategy}
        if pos_strategy == neg_strategy == "semihard" or both == {"semihard", "all"}:
            raise InputError(f"{owner}: 'semihard' needs the other strategy to be 'easy' or 'hard'; "
                             f"got pos_strategy={pos_strategy!r}, neg_strategy={neg_strategy!r}.")
        for name, r in (("allowed_pos_range", allowed_pos_range), ("allowed_neg_range", allowed_neg_range)):
            if r is not None and (len(r) != 2 or r[0] > r[1]):
                raise InputError(f"The {name!r} parameter of {owner} must be None or (low, high) with low <= high.")
        self.pos_strategy, self.neg_strategy = pos_strategy, neg_strategy
        self.allowed_pos_range, self.allowed_neg_range = allowed_pos_range, allowed_neg_range
        self.distance = resolve_distance(distance, Distance(), owner)

    def _positives(self, mat, pos, thresholds=None):
        hard = self.pos_strategy in ("hard", "semihard")
        return _pick(mat, pos, hard != self.distance.is_inverted, self.allowed_pos_range, thresholds)

    def _negatives(self, mat, neg, thresholds=None):
        hard = self.neg_strategy in ("hard", "semihard")
        return _pick(mat, neg, (not hard) != self.distance.is_inverted, self.allowed_neg_range, thresholds)

    @torch.no_grad()
    def forward(self, embeddings, labels, ref_emb=None, ref_labels=None) -> Pairs:
        batch = mining_input(type(self).__name__, embeddings, labels, ref_emb, ref_labels)
        mat, pos, neg = matrix_and_masks(batch, self.distance)
        ps, ns = self.pos_strategy, self.neg_strategy
        if ps == "semihard" and ns != "all":
            n_val, n_col, n_ok = self._negatives(mat, neg)
            p_val, p_col, p_ok = self._positives(mat, pos, n_val)
        elif ns == "semihard" and ps != "all":
            p_val, p_col, p_ok = self._positives(mat, pos)
            n_val, n_col, n_ok = self._negatives(mat, neg, p_val)
        else:
            if ps != "all":
                p_val, p_col, p_ok = self._positives(mat, pos)
            if ns != "all":
                n_val, n_col, n_ok = self._negatives(mat, neg)
        rows = torch.arange(mat.shape[0], device=mat.device)
        if ps != "all" and ns != "all":
            keep = p_ok & n_ok
            return Pairs(rows[keep], p_col[keep], rows[keep], n_col[keep])
        a1, p = torch.nonzero(pos, as_tuple=True) if ps == "all" else (rows[p_ok], p_col[p_ok])
        a2, n = torch.nonzero(neg, as_tuple=True) if ns == "all" else (rows[n_ok], n_col[n_ok])
        return Pairs(a1, p, a2, n)


class BatchHardMiner(BatchEasyHardMiner):
    """Batch-hard triplets: per anchor the farthest positive and the closest negative.

    From "In Defense of the Triplet Loss for Person Re-Identification" (Hermans et al., 2017).
    PML-compatible; returns :class:`Triplets` (anchors lacking a positive or a negative dropped).
    """

    def __init__(self, *, distance: Any = None) -> None:
        super().__init__("hard", "hard", distance=distance)

    def forward(self, embeddings, labels, ref_emb=None, ref_labels=None) -> Triplets:
        a, p, _, n = super().forward(embeddings, labels, ref_emb, ref_labels)
        return Triplets(a, p, n)
