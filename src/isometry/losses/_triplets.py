"""Triplet machinery: all triplets as dense blocks, and random triplets drawn per anchor.

"All triplets" are never listed as index arrays: each anchor's positives are gathered
into a padded (n, P) block and compared with every column at once, (n, P, m), in row
blocks bounded by a memory budget.
"""

from __future__ import annotations

from typing import Callable

import torch

from ._base import padded_positives

_BLOCK_ELEMENTS = 1 << 23


def triplet_blocks(mat: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor):
    """Yield (rows, ap, an, keep) blocks covering every triplet (a, p, n) of the masks.

    ``ap`` is (b, P, 1) anchor-positive values, ``an`` (b, 1, m) anchor-reference values,
    ``keep`` (b, P, m) the valid triplets, ``rows`` the anchor rows of the block and
    ``cols`` the (b, P) positive columns.
    """
    cols, valid = padded_positives(pos)
    n, width = cols.shape
    if width == 0:
        return
    step = max(1, _BLOCK_ELEMENTS // max(1, width * mat.shape[1]))
    for start in range(0, n, step):
        rows = slice(start, start + step)
        c = cols[rows]
        ap = mat[rows].gather(1, c).unsqueeze(2)
        keep = valid[rows].unsqueeze(2) & neg[rows].unsqueeze(1)
        yield rows, c, ap, mat[rows].unsqueeze(1), keep


def sum_over_triplets(mat, pos, neg, per_triplet: Callable, pn_rows: Callable | None = None):
    """Sum of per-triplet losses and the count of positive ones, block by block.

    ``per_triplet(ap, an)`` maps (b, P, 1) and (b, 1, m) (or (b, P, m) when ``pn_rows`` supplies
    positive-negative values for a swap) to losses.
    """
    total = mat.new_zeros(())
    count = mat.new_zeros(())
    for rows, c, ap, an, keep in triplet_blocks(mat, pos, neg):
        if pn_rows is not None:
            an = (an, pn_rows(c))
        loss = per_triplet(ap, an)
        active = keep & (loss > 0)
        total = total + torch.where(active, loss, 0.0).sum()
        count = count + active.sum()
    return total, count


def random_triplets(pos: torch.Tensor, neg_weights: torch.Tensor, per_anchor: int | None, *,
                    self_ref: bool = True, generator: torch.Generator | None = None) -> tuple:
    """Draw triplets per anchor, positives uniformly, negatives in proportion to ``neg_weights``.

    PML's ``get_random_triplet_indices`` semantics: ``per_anchor`` draws per anchor, or (None)
    as many as the anchor's class has members in the reference; anchors without a positive
    or without a negative of positive weight are skipped. Sampling is with replacement.
    """
    has_pos = pos.any(dim=1)
    has_neg = neg_weights.sum(dim=1) > 0
    anchors = torch.nonzero(has_pos & has_neg).flatten()
    empty = torch.empty(0, dtype=torch.long, device=pos.device)
    if anchors.numel() == 0:
        return empty, empty.clone(), empty.clone()
    p_rows = pos[anchors].to(neg_weights.dtype if neg_weights.is_floating_point() else torch.float32)
    n_rows = neg_weights[anchors].to(p_rows.dtype)
    if per_anchor is None:
        k = p_rows.sum(dim=1).long() + int(self_ref)  # class size in the reference
        kmax = int(k.max())
    else:
        kmax = per_anchor
    p = torch.multinomial(p_rows, kmax, replacement=True, generator=generator)
    n = torch.multinomial(n_rows, kmax, replacement=True, generator=generator)
    a = anchors.unsqueeze(1).expand(-1, kmax)
    if per_anchor is None:
        take = torch.arange(kmax, device=pos.device) < k.unsqueeze(1)
        return a[take], p[take], n[take]
    return a.reshape(-1), p.reshape(-1), n.reshape(-1)
