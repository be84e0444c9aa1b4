"""Pair and triplet losses with hinges: contrastive, SNR contrastive, triplet margin, margin.

Defaults follow pytorch-metric-learning (PML): Euclidean distance on L2-normalized
embeddings; contrastive and triplet losses average the terms above zero, the margin
loss divides by the number of active pair terms.
"""

from __future__ import annotations

from typing import Any

import torch

from .._validate import Options, check_param, check_params
from ._base import (POS_INT, REAL, Batch, Distance, as_indices, avg_nonzero, class_indices, few_pairs, pair_masks,
                    pair_weights, prepare_batch, require_distance, resolve_distance, to_pairs, to_triplets,
                    zero_loss)
from ._fused import hinge_pair_list, hinge_pairs, triplet_hinge_list
from ._triplets import random_triplets, sum_over_triplets

__all__ = [
    "contrastive_loss",
    "ContrastiveLoss",
    "SignalToNoiseRatioContrastiveLoss",
    "triplet_margin_loss",
    "TripletMarginLoss",
    "margin_loss",
    "MarginLoss",
]


# ------------------------------------------------------------------------------ contrastive

_CONTRASTIVE = {"pos_margin": (REAL,), "neg_margin": (REAL,)}


def _contrastive(batch: Batch, indices, distance, pos_margin: float, neg_margin: float) -> torch.Tensor:
    emb = batch.embeddings
    if indices is not None and isinstance(distance, Distance):  # hinges on the listed pairs only
        pairs = to_pairs(indices)
        if all(t.numel() <= 1 for t in pairs):
            return zero_loss(emb)
        mat = distance(emb, None if batch.self_ref else batch.ref_emb)
        return hinge_pair_list(mat, pairs, pos_margin, neg_margin, distance.is_inverted)
    pos_w, neg_w = pair_weights(batch, indices, emb.dtype, counts=True)
    if few_pairs(indices, pos_w, neg_w):
        return zero_loss(emb)
    mat = distance(emb, None if batch.self_ref else batch.ref_emb)
    if isinstance(distance, Distance):
        return hinge_pairs(mat, pos_w, neg_w, pos_margin, neg_margin, distance.is_inverted)
    pos_loss = torch.relu(distance.margin(mat, pos_margin))
    neg_loss = torch.relu(distance.margin(neg_margin, mat))
    return avg_nonzero(pos_loss, pos_w) + avg_nonzero(neg_loss, neg_w)


def contrastive_loss(embeddings: torch.Tensor, labels: Any = None, indices_tuple: Any = None, ref_emb=None,
                     ref_labels=None, *, pos_margin: float = 0.0, neg_margin: float = 1.0,
                     distance: Any = None) -> torch.Tensor:
    """Contrastive loss: pull positive pairs within ``pos_margin``, push negatives beyond ``neg_margin``.

    From "Dimensionality Reduction by Learning an Invariant Mapping" (Hadsell, Chopra,
    LeCun, 2006). Loss = mean of the non-zero ``relu(d_ap - pos_margin)`` over positive
    pairs + mean of the non-zero ``relu(neg_margin - d_an)`` over negative pairs.

    Parameters
    ----------
    embeddings : torch.Tensor, shape (n, d)
    labels : array-like, shape (n,)
        Any labels (integers, strings); compared, never cast.
    indices_tuple : tuple, optional
        A miner's pairs (a1, p, a2, n) or triplets (a, p, n); default: all pairs.
    ref_emb, ref_labels : optional, shape (m, d) and (m,)
        Compare against a reference set instead of the batch itself.
    pos_margin, neg_margin : float, default=0, 1
    distance : str, Distance or PML distance, default Euclidean on normalized rows

    Returns
    -------
    torch.Tensor, scalar. Zero (with a graph) when no pair is active.

    Examples
    --------
    >>> import torch
    >>> x = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    >>> round(float(contrastive_loss(x, [0, 0, 1])), 4)
    0.1106
    """
    check_params("contrastive_loss", {"pos_margin": pos_margin, "neg_margin": neg_margin}, _CONTRASTIVE)
    dist = resolve_distance(distance, Distance(), "contrastive_loss")
    batch = prepare_batch("contrastive_loss", embeddings, labels, ref_emb, ref_labels,
                          labels_required=indices_tuple is None)
    idx = as_indices(indices_tuple, batch.embeddings.shape[0], batch.ref_emb.shape[0], embeddings.device,
                     "contrastive_loss")
    return _contrastive(batch, idx, dist, pos_margin, neg_margin)


class ContrastiveLoss(torch.nn.Module):
    """Contrastive loss (Hadsell et al., 2006); see :func:`contrastive_loss`. PML-compatible."""

    def __init__(self, pos_margin: float = 0.0, neg_margin: float = 1.0, *, distance: Any = None) -> None:
        super().__init__()
        name = type(self).__name__
        check_params(name, {"pos_margin": pos_margin, "neg_margin": neg_margin}, _CONTRASTIVE)
        self.pos_margin, self.neg_margin = pos_margin, neg_margin
        self.distance = resolve_distance(distance, self._default_distance(), name)

    @staticmethod
    def _default_distance() -> Distance:
        return Distance()

    def forward(self, embeddings, labels=None, indices_tuple=None, ref_emb=None, ref_labels=None) -> torch.Tensor:
        name = type(self).__name__
        batch = prepare_batch(name, embeddings, labels, ref_emb, ref_labels, labels_required=indices_tuple is None)
        idx = as_indices(indices_tuple, batch.embeddings.shape[0], batch.ref_emb.shape[0], embeddings.device, name)
        return _contrastive(batch, idx, self.distance, self.pos_margin, self.neg_margin)


class SignalToNoiseRatioContrastiveLoss(ContrastiveLoss):
    """Contrastive loss on the signal-to-noise ratio distance.

    From "Signal-To-Noise Ratio: A Robust Distance Metric for Deep Metric Learning"
    (Yuan et al., 2019). Same parameters as :class:`ContrastiveLoss`; the distance must be
    ``snr`` (on L2-normalized rows by default, as in PML).
    """

    def __init__(self, pos_margin: float = 0.0, neg_margin: float = 1.0, *, distance: Any = None) -> None:
        super().__init__(pos_margin, neg_margin, distance=distance)
        require_distance(self.distance, ("snr",), type(self).__name__)

    @staticmethod
    def _default_distance() -> Distance:
        return Distance("snr")


# ------------------------------------------------------------------------------ triplet margin

_TRIPLET = {"margin": (REAL,), "swap": (bool,), "smooth_loss": (bool,), "triplets_per_anchor": (Options(["all"]), POS_INT)}


def _triplet_index_losses(mat, ref_mat, indices, distance, margin, swap, smooth):
    a, p, n = indices
    ap, an = mat[a, p], mat[a, n]
    if swap:
        pick = torch.maximum if distance.is_inverted else torch.minimum
        an = pick(an, ref_mat[p, n])
    violation = distance.margin(ap, an) + margin
    return torch.nn.functional.softplus(violation) if smooth else torch.relu(violation)


def _triplet(batch: Batch, indices, distance, margin, swap, smooth, per_anchor) -> torch.Tensor:
    emb, ref = batch.embeddings, None if batch.self_ref else batch.ref_emb
    mat = distance(emb, ref)
    ref_mat = (mat if batch.self_ref else distance(batch.ref_emb)) if swap else None
    if indices is None and per_anchor == "all":
        pos, neg = pair_masks(batch)
        pick = torch.maximum if distance.is_inverted else torch.minimum

        def per_triplet(ap, an):
            if swap:
                an, pn = an
                an = pick(an, pn)
            v = distance.margin(ap, an) + margin
            return torch.nn.functional.softplus(v) if smooth else torch.relu(v)

        pn_rows = (lambda c: ref_mat[c]) if swap else None
        total, count = sum_over_triplets(mat, pos, neg, per_triplet, pn_rows)
        return total / count.clamp_min(1) + zero_loss(emb)
    if indices is None:
        pos, neg = pair_masks(batch)
        triplets = random_triplets(pos, neg, per_anchor, self_ref=batch.self_ref)
    else:
        triplets = to_triplets(indices)
    if triplets[0].numel() == 0:
        return zero_loss(emb)
    if isinstance(distance, Distance) and not (swap or smooth):
        return triplet_hinge_list(mat, triplets, margin, distance.is_inverted)
    losses = _triplet_index_losses(mat, ref_mat, triplets, distance, margin, swap, smooth)
    return avg_nonzero(losses)


def triplet_margin_loss(embeddings: torch.Tensor, labels: Any = None, indices_tuple: Any = None, ref_emb=None,
                        ref_labels=None, *, margin: float = 0.05, swap: bool = False, smooth_loss: bool = False,
                        triplets_per_anchor: Any = "all", distance: Any = None) -> torch.Tensor:
    """Triplet margin loss: ``relu(d_ap - d_an + margin)`` averaged over the violating triplets.

    From "Distance Metric Learning for Large Margin Nearest Neighbor Classification"
    (Weinberger & Saul, 2009) and "FaceNet" (Schroff et al., 2015).

    Parameters
    ----------
    embeddings : torch.Tensor, shape (n, d)
    labels : array-like, shape (n,)
    indices_tuple : tuple, optional
        Triplets (a, p, n) or pairs (a1, p, a2, n) (paired up by anchor); default: all triplets,
        computed as dense (n, P, m) blocks, never listed.
    ref_emb, ref_labels : optional
    margin : float, default=0.05
    swap : bool, default=False
        Use the positive-negative distance when it is smaller ("Learning local feature
        descriptors with triplets and shallow convolutional neural networks", Balntas 2016).
        With a reference set the positive-negative distance is taken within the reference.
    smooth_loss : bool, default=False
        ``softplus`` instead of the hinge.
    triplets_per_anchor : "all" or int, default="all"
        Random triplets per anchor when an int.
    distance : default Euclidean on normalized rows

    Returns
    -------
    torch.Tensor, scalar; zero when no triplet violates the margin.
    """
    owner = "triplet_margin_loss"
    check_params(owner, {"margin": margin, "swap": swap, "smooth_loss": smooth_loss,
                         "triplets_per_anchor": triplets_per_anchor}, _TRIPLET)
    dist = resolve_distance(distance, Distance(), owner)
    batch = prepare_batch(owner, embeddings, labels, ref_emb, ref_labels, labels_required=indices_tuple is None)
    idx = as_indices(indices_tuple, batch.embeddings.shape[0], batch.ref_emb.shape[0], embeddings.device, owner)
    return _triplet(batch, idx, dist, margin, swap, smooth_loss, triplets_per_anchor)


class TripletMarginLoss(torch.nn.Module):
    """Triplet margin loss; see :func:`triplet_margin_loss`. PML-compatible."""

    def __init__(self, margin: float = 0.05, swap: bool = False, smooth_loss: bool = False,
                 triplets_per_anchor: Any = "all", *, distance: Any = None) -> None:
        super().__init__()
        check_params("TripletMarginLoss", {"margin": margin, "swap": swap, "smooth_loss": smooth_loss,
                                           "triplets_per_anchor": triplets_per_anchor}, _TRIPLET)
        self.margin, self.swap, self.smooth_loss = margin, swap, smooth_loss
        self.triplets_per_anchor = triplets_per_anchor
        self.distance = resolve_distance(distance, Distance(), "TripletMarginLoss")

    def forward(self, embeddings, labels=None, indices_tuple=None, ref_emb=None, ref_labels=None) -> torch.Tensor:
        name = "TripletMarginLoss"
        batch = prepare_batch(name, embeddings, labels, ref_emb, ref_labels, labels_required=indices_tuple is None)
        idx = as_indices(indices_tuple, batch.embeddings.shape[0], batch.ref_emb.shape[0], embeddings.device, name)
        return _triplet(batch, idx, self.distance, self.margin, self.swap, self.smooth_loss,
                        self.triplets_per_anchor)


# ------------------------------------------------------------------------------ margin loss

_MARGIN = {"margin": (REAL,), "nu": (REAL,), "beta": (REAL,), "triplets_per_anchor": (Options(["all"]), POS_INT),
           "learn_beta": (bool,), "num_classes": (None, POS_INT)}


def _margin(batch: Batch, indices, distance, beta, margin, nu, learn_beta, per_anchor) -> torch.Tensor:
    emb = batch.embeddings
    mat = distance(emb, None if batch.self_ref else batch.ref_emb)
    beta = beta.to(device=emb.device, dtype=emb.dtype)
    per_class = beta.numel() > 1
    if indices is None and per_anchor == "all":
        pos, neg = pair_masks(batch)
        n_pos, n_neg = pos.sum(1, keepdim=True).to(emb.dtype), neg.sum(1, keepdim=True).to(emb.dtype)
        pos_w, neg_w = pos * n_neg, neg * n_pos  # each pair term appears once per triplet
        if not bool((pos_w > 0).any()):
            return zero_loss(emb)
        b = beta[batch.labels].unsqueeze(1) if per_class else beta
        pos_l = torch.relu(distance.margin(mat, b) + margin)
        neg_l = torch.relu(distance.margin(b, mat) + margin)
        divisor = ((pos_l > 0) * pos_w).sum() + ((neg_l > 0) * neg_w).sum()
        total = (pos_l * pos_w).sum() + (neg_l * neg_w).sum()
        reg_terms = (b.squeeze(1) * (pos_w.sum(1))).sum() * nu if per_class else None
    else:
        if indices is None:
            pos, neg = pair_masks(batch)
            a, p, n = random_triplets(pos, neg, per_anchor, self_ref=batch.self_ref)
        else:
            a, p, n = to_triplets(indices)
        if a.numel() == 0:
            return zero_loss(emb)
        b = beta[batch.labels[a]] if per_class else beta
        pos_l = torch.relu(distance.margin(mat[a, p], b) + margin)
        neg_l = torch.relu(distance.margin(b, mat[a, n]) + margin)
        divisor = (pos_l > 0).sum() + (neg_l > 0).sum()
        total = (pos_l + neg_l).sum()
        reg_terms = (b * nu).sum() if per_class else None
    loss = total / divisor.clamp_min(1)
    if learn_beta:
        if per_class:
            loss = loss + torch.where(divisor > 0, reg_terms / divisor.clamp_min(1), 0.0)
        else:
            loss = loss + (beta * nu).sum()
    return loss


def margin_loss(embeddings: torch.Tensor, labels: Any = None, indices_tuple: Any = None, ref_emb=None,
                ref_labels=None, *, margin: float = 0.2, nu: float = 0.0, beta: Any = 1.2,
                triplets_per_anchor: Any = "all", distance: Any = None) -> torch.Tensor:
    """Margin loss: positives within ``beta - margin``, negatives beyond ``beta + margin``.

    From "Sampling Matters in Deep Embedding Learning" (Wu et al., 2017). Per triplet
    ``relu(d_ap - beta + margin) + relu(beta - d_an + margin)``; the sum is divided by the
    number of non-zero terms. ``beta`` may be a float or a tensor of one value per class
    (then labels must be class indices); ``nu`` weights ``beta`` as a regularizer when it is a
    learned parameter (see :class:`MarginLoss`).
    """
    owner = "margin_loss"
    beta_t = torch.as_tensor(beta, dtype=torch.float64).reshape(-1)
    check_params(owner, {"margin": margin, "nu": nu, "triplets_per_anchor": triplets_per_anchor}, _MARGIN)
    dist = resolve_distance(distance, Distance(), owner)
    batch = prepare_batch(owner, embeddings, labels, ref_emb, ref_labels, labels_required=indices_tuple is None)
    if beta_t.numel() > 1:
        class_indices(batch.labels, beta_t.numel(), owner)
    idx = as_indices(indices_tuple, batch.embeddings.shape[0], batch.ref_emb.shape[0], embeddings.device, owner)
    return _margin(batch, idx, dist, beta_t.to(embeddings.device), margin, nu, False, triplets_per_anchor)


class MarginLoss(torch.nn.Module):
    """Margin loss (Wu et al., 2017); see :func:`margin_loss`. PML-compatible.

    ``learn_beta=True`` makes ``beta`` a parameter (one per class when ``num_classes`` is
    given) and adds ``nu * beta`` (averaged like PML) to the loss.
    """

    def __init__(self, margin: float = 0.2, nu: float = 0.0, beta: float = 1.2, triplets_per_anchor: Any = "all",
                 learn_beta: bool = False, num_classes: int | None = None, *, distance: Any = None) -> None:
        super().__init__()
        check_params("MarginLoss", {"margin": margin, "nu": nu, "beta": beta, "learn_beta": learn_beta,
                                    "triplets_per_anchor": triplets_per_anchor, "num_classes": num_classes}, _MARGIN)
        self.margin, self.nu, self.learn_beta, self.num_classes = margin, nu, learn_beta, num_classes
        self.triplets_per_anchor = triplets_per_anchor
        init = torch.full((num_classes or 1,), float(beta))
        if learn_beta:
            self.beta = torch.nn.Parameter(init)
        else:
            self.register_buffer("beta", init)
        self.distance = resolve_distance(distance, Distance(), "MarginLoss")

    def forward(self, embeddings, labels=None, indices_tuple=None, ref_emb=None, ref_labels=None) -> torch.Tensor:
        name = "MarginLoss"
        batch = prepare_batch(name, embeddings, labels, ref_emb, ref_labels, labels_required=indices_tuple is None)
        if self.num_classes:
            class_indices(batch.labels, self.num_classes, name)
        idx = as_indices(indices_tuple, batch.embeddings.shape[0], batch.ref_emb.shape[0], embeddings.device, name)
        return _margin(batch, idx, self.distance, self.beta, self.margin, self.nu, self.learn_beta,
                       self.triplets_per_anchor)
