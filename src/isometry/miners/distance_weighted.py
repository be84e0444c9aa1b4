"""Distance-weighted sampling of negatives.

From "Sampling Matters in Deep Embedding Learning" (Wu et al., 2017): on the unit sphere in
d dimensions, pairwise distances of uniform points have density q(s) ~ s^(d-2) (1 - s^2/4)^((d-3)/2);
negatives are drawn with probability ~ 1/q(s), clipped below at ``cutoff``, never beyond
``nonzero_loss_cutoff``.
"""

from __future__ import annotations

from typing import Any

import torch

from .._validate import check_params
from ..errors import InputError
from ..losses._base import POSITIVE, Distance, resolve_distance
from ..losses._triplets import random_triplets
from ._common import Triplets, mining_input
from ..losses._base import pair_masks

__all__ = ["distance_weights", "DistanceWeightedMiner"]


def distance_weights(mat: torch.Tensor, negatives: torch.Tensor, dim: int, cutoff: float = 0.5,
                     nonzero_loss_cutoff: float = 1.4) -> torch.Tensor:
    """Row-normalized sampling weights (n, m) of the negatives, ~ 1 / q(distance).

    ``mat`` are Euclidean distances between unit vectors of dimension ``dim``; rows
    without any admissible negative come out as NaN (0 / 0) and are never sampled.
    """
    d = float(dim)
    clipped = mat.clamp_min(cutoff)
    log_w = (2.0 - d) * torch.log(clipped) - ((d - 3) / 2) * torch.log(1.0 - 0.25 * clipped.square())
    bad = ~torch.isfinite(log_w)
    log_w = log_w * negatives
    top = log_w[~bad].max() if bool((~bad).any()) else log_w.new_zeros(())
    w = torch.exp(log_w - top) * negatives * (clipped < nonzero_loss_cutoff)
    w = w.masked_fill(bad, 0.0)
    return w / w.sum(dim=1, keepdim=True)


class DistanceWeightedMiner(torch.nn.Module):
    """Triplets with negatives drawn by inverse distance density (Wu et al., 2017); PML-compatible.

    Each anchor gets as many triplets as its class has members; positives uniformly, with
    replacement. Needs Euclidean distance on normalized embeddings (the sphere model).
    Pass ``seed`` (or a ``generator``) for reproducible draws.
    """

    def __init__(self, cutoff: float = 0.5, nonzero_loss_cutoff: float = 1.4, *, distance: Any = None,
                 seed: int | None = None) -> None:
        super().__init__()
        check_params("DistanceWeightedMiner", {"cutoff": cutoff, "nonzero_loss_cutoff": nonzero_loss_cutoff},
                     {"cutoff": (POSITIVE,), "nonzero_loss_cutoff": (POSITIVE,)})
        self.cutoff, self.nonzero_loss_cutoff = float(cutoff), float(nonzero_loss_cutoff)
        self.distance = resolve_distance(distance, Distance(), "DistanceWeightedMiner")
        if getattr(self.distance, "name", None) != "euclidean" or not self.distance.normalize_embeddings:
            raise InputError("DistanceWeightedMiner needs Euclidean distance on normalized embeddings.")
        self.generator = None if seed is None else torch.Generator().manual_seed(seed)

    @torch.no_grad()
    def forward(self, embeddings, labels, ref_emb=None, ref_labels=None) -> Triplets:
        batch = mining_input("DistanceWeightedMiner", embeddings, labels, ref_emb, ref_labels)
        mat = self.distance(batch.embeddings, None if batch.self_ref else batch.ref_emb)
        pos, neg = pair_masks(batch)
        weights = distance_weights(mat, neg, batch.embeddings.shape[1], self.cutoff, self.nonzero_loss_cutoff)
        gen = self.generator if (self.generator is not None and mat.device.type == "cpu") else None
        return Triplets(*random_triplets(pos, weights, None, self_ref=batch.self_ref, generator=gen))
