"""Fused autograd functions: distance matrices of L2-normalized rows with hand-derived backward.

At the batch sizes of metric learning (a few hundred rows) a loss costs a few hundred
microseconds and is bound by the number of autograd nodes and kernel launches, not by
flops. Normalization + GEMM + distance as one node with a closed-form backward cuts the
op count several-fold. Values equal the unfused formulas (same expressions in the same
order); gradients are the exact derivatives, checked by ``gradcheck`` in float64.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch.autograd.function import once_differentiable

_EPS = 1e-12  # torch.nn.functional.normalize's default


def normalize_rows(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows over ``max(|x|, 1e-12)`` (as ``F.normalize``) and that (n, 1) divisor."""
    norm = torch.linalg.vector_norm(x, dim=1, keepdim=True).clamp_min_(_EPS)
    return x / norm, norm


def normalize_backward(grad: torch.Tensor, unit: torch.Tensor, norm: torch.Tensor) -> torch.Tensor:
    """Gradient through ``unit = x / max(|x|, eps)``: ``(g - unit <unit, g>) / norm``.

    Rows at the clamp (``|x| < eps``) get ``g / eps`` (the norm's slope is cut by the clamp).
    """
    radial = torch.linalg.vecdot(unit, grad, dim=1).unsqueeze(1)
    radial.mul_(norm > _EPS)
    return torch.addcmul(grad, unit, radial, value=-1.0).div_(norm)


class PairwiseSaved(NamedTuple):
    """What the backward of a normalized distance matrix needs."""

    kind: str
    floor: float
    q: torch.Tensor
    q_norm: torch.Tensor
    r: torch.Tensor | None  # None: the batch against itself
    r_norm: torch.Tensor | None
    mat: torch.Tensor
    sq: torch.Tensor | None
    kept: torch.Tensor | None = None  # entries above the floor, only where some entry is below it


def pairwise_forward(query: torch.Tensor, ref: torch.Tensor | None, kind: str, floor: float):
    """The (n, m) matrix of :func:`normalized_pairwise` and what its backward needs.

    A point's squared distance to itself is identically 0: the diagonal of a self-distance is
    set to ``floor`` and gets a zero gradient (rounding would otherwise leave values of ~1e-7
    there, whose square root has a slope of ~1e3).
    """
    q, q_norm = normalize_rows(query)
    r, r_norm = (None, None) if ref is None else normalize_rows(ref)
    other = q if r is None else r
    kept = None
    if kind == "cosine_similarity":
        mat, sq = q @ other.T, None
    else:
        q_sq = (q * q).sum(1, keepdim=True)
        r_sq = q_sq.T if r is None else (r * r).sum(1).unsqueeze(0)
        sq = torch.addmm(q_sq, q, other.T, alpha=-2.0).add_(r_sq)
        if r is None:
            sq.fill_diagonal_(floor)
        if bool(sq.min() < floor):  # coincident rows: the clamp cuts their gradient (rare, so masks only here)
            kept = sq >= floor
        sq.clamp_min_(floor)
        mat = sq.sqrt() if kind == "euclidean" else sq
    return mat, PairwiseSaved(kind, floor, q, q_norm, r, r_norm, mat, sq, kept)


def pairwise_backward(grad: torch.Tensor, s: PairwiseSaved, need_query: bool = True, need_ref: bool = True):
    """Gradients (query, ref) of a normalized distance matrix given the gradient of the matrix."""
    if s.kind == "cosine_similarity":
        g_dot, g_q_sq, g_r_sq = grad, None, None
    else:
        g_sq = grad * (0.5 / s.mat) if s.kind == "euclidean" else grad.clone()
        if s.kept is not None:
            g_sq = g_sq * s.kept
        if s.r is None:
            g_sq.fill_diagonal_(0.0)
        g_dot, g_q_sq, g_r_sq = g_sq * -2.0, g_sq.sum(1, keepdim=True) * 2.0, g_sq.sum(0).unsqueeze(1) * 2.0
    q = s.q
    if s.r is None:
        g_dot = g_dot + g_dot.T
        g_q = g_dot @ q if g_q_sq is None else torch.addcmul(g_dot @ q, q, g_q_sq + g_r_sq)
        return normalize_backward(g_q, q, s.q_norm), None
    g_query = g_ref = None
    if need_query:
        g_q = g_dot @ s.r if g_q_sq is None else torch.addcmul(g_dot @ s.r, q, g_q_sq)
        g_query = normalize_backward(g_q, q, s.q_norm)
    if need_ref:
        g_r = g_dot.T @ q if g_r_sq is None else torch.addcmul(g_dot.T @ q, s.r, g_r_sq)
        g_ref = normalize_backward(g_r, s.r, s.r_norm)
    return g_query, g_ref


class _NormalizedPairwise(torch.autograd.Function):
    """(n, m) ``euclidean`` / ``sqeuclidean`` / ``cosine_similarity`` between normalized rows."""

    @staticmethod
    def forward(ctx, query, ref, kind: str, floor: float):
        mat, saved = pairwise_forward(query, ref, kind, floor)
        # the output goes through save_for_backward (kept on ctx it would form a reference cycle)
        ctx.save_for_backward(mat)
        ctx.pairwise = saved._replace(mat=None, sq=None if saved.sq is mat else saved.sq)
        return mat

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        (mat,) = ctx.saved_tensors
        saved = ctx.pairwise._replace(mat=mat, sq=mat if ctx.pairwise.kind == "sqeuclidean" else ctx.pairwise.sq)
        g_query, g_ref = pairwise_backward(grad, saved, *ctx.needs_input_grad[:2])
        return g_query, g_ref, None, None


def normalized_pairwise(query: torch.Tensor, ref: torch.Tensor | None, kind: str, floor: float) -> torch.Tensor:
    """Distance matrix of L2-normalized rows as one autograd node (``ref=None``: the batch itself).

    ``kind``: "euclidean", "sqeuclidean" (``|q|^2 + |r|^2 - 2 q.r`` clamped at ``floor``; its
    square root for "euclidean") or "cosine_similarity" (``q.r``).
    """
    return _NormalizedPairwise.apply(query, ref, kind, floor)


class _HingePairs(torch.autograd.Function):
    """Mean of the active positive hinges + mean of the active negative hinges (PML's AvgNonZero)."""

    @staticmethod
    def forward(ctx, mat, pos_w, neg_w, pos_margin: float, neg_margin: float, inverted: bool):
        pos_arg = pos_margin - mat if inverted else mat - pos_margin
        neg_arg = mat - neg_margin if inverted else neg_margin - mat
        pos_on, neg_on = pos_arg > 0, neg_arg > 0
        pos_on = pos_on & pos_w if pos_w.dtype == torch.bool else pos_on * pos_w
        neg_on = neg_on & neg_w if neg_w.dtype == torch.bool else neg_on * neg_w
        pos_count, neg_count = pos_on.sum().clamp_min(1), neg_on.sum().clamp_min(1)
        pos_total = pos_arg.relu_().mul_(pos_w).sum()
        neg_total = neg_arg.relu_().mul_(neg_w).sum()
        ctx.inverted = inverted
        ctx.save_for_backward(pos_on, neg_on, pos_count, neg_count)
        return pos_total / pos_count + neg_total / neg_count

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        pos_on, neg_on, pos_count, neg_count = ctx.saved_tensors
        sign = -grad if ctx.inverted else grad
        g_mat = pos_on * (sign / pos_count) - neg_on * (sign / neg_count)
        return g_mat, None, None, None, None, None


def hinge_pairs(mat: torch.Tensor, pos_w: torch.Tensor, neg_w: torch.Tensor, pos_margin: float, neg_margin: float,
                inverted: bool) -> torch.Tensor:
    """Contrastive hinges over weighted pairs as one autograd node.

    For a distance, positives pay ``relu(d - pos_margin)`` and negatives ``relu(neg_margin - d)``
    (for a similarity both flip). Each side is averaged over its pairs with a non-zero hinge,
    pairs weighted by ``pos_w`` / ``neg_w`` (boolean masks or duplicate counts); an empty side is 0.
    """
    return _HingePairs.apply(mat, pos_w, neg_w, float(pos_margin), float(neg_margin), bool(inverted))


class _NCA(torch.autograd.Function):
    """NCA loss over a normalized distance matrix (see :func:`nca_fused`)."""

    @staticmethod
    def forward(ctx, query, ref, q_labels, r_labels, row_weights, kind: str, floor: float, scale: float):
        mat, ctx.pairwise = pairwise_forward(query, ref, kind, floor)
        factor = scale if kind == "cosine_similarity" else -scale
        logits = mat * factor
        if ref is None:
            logits.fill_diagonal_(torch.finfo(logits.dtype).min)  # a point never draws itself
        prob = torch.softmax(logits, dim=1)
        same = (q_labels.unsqueeze(1) == r_labels.unsqueeze(0)).to(prob.dtype)  # float: masks by multiplying
        p_same = (prob * same).sum(dim=1)
        kept = p_same != 0
        p_safe = torch.where(kept, p_same, 1.0)
        losses = -torch.log(p_safe)
        count = kept.sum().clamp_min(1)
        coef = kept.to(prob.dtype) / count
        if row_weights is not None:
            losses, coef = losses * row_weights, coef * row_weights
        ctx.factor = factor
        ctx.save_for_backward(prob, same, p_safe, coef)
        return torch.where(kept, losses, 0.0).sum() / count

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        prob, same, p_safe, coef = ctx.saved_tensors
        # d(-log p_same_i) / d logit_ij = prob_ij - prob_ij [same_ij] / p_same_i
        own = (coef * (grad * ctx.factor)).unsqueeze(1)
        g_mat = prob * (own - same * (own / p_safe.unsqueeze(1)))
        g_query, g_ref = pairwise_backward(g_mat, ctx.pairwise, *ctx.needs_input_grad[:2])
        return g_query, g_ref, None, None, None, None, None, None


def nca_fused(query: torch.Tensor, ref: torch.Tensor | None, q_labels: torch.Tensor, r_labels: torch.Tensor,
              row_weights: torch.Tensor | None, kind: str, floor: float, scale: float) -> torch.Tensor:
    """NCA loss ("Neighbourhood Components Analysis", Goldberger et al., 2004) as one autograd node.

    Neighbours are drawn with ``softmax(-scale * d)`` (``+scale * s`` for the cosine similarity)
    over a normalized distance matrix (``ref=None``: the batch itself, never oneself); rows
    whose same-label probability is 0 are left out of the (``row_weights``-weighted) mean.
    """
    return _NCA.apply(query, ref, q_labels, r_labels, row_weights, kind, floor, scale)


def _scatter_flat(shape, dtype, device, parts) -> torch.Tensor:
    """(n, m) matrix summing ``values`` at flat indices, for each (flat, values) in ``parts``."""
    out = torch.zeros(shape[0] * shape[1], dtype=dtype, device=device)
    for flat, values in parts:
        out.index_add_(0, flat, values)
    return out.view(shape)


class _HingeTuples(torch.autograd.Function):
    """Contrastive hinges over listed pairs (duplicates count), or a triplet hinge over listed triplets."""

    @staticmethod
    def forward(ctx, mat, first, second, margins: tuple, inverted: bool):
        flat_mat = mat.reshape(-1)
        sign = -1.0 if inverted else 1.0
        if margins[1] is None:  # triplets: relu(d_ap - d_an + margin), first = (a, p), second = (a, n)
            arg = (flat_mat.take(first) - flat_mat.take(second)).mul_(sign).add_(margins[0])
            on = arg > 0
            count = on.sum().clamp_min(1)
            ctx.save_for_backward(first, second, on, count)
            value = arg.relu_().sum() / count
        else:  # pairs: relu(d_pos - pos_margin) and relu(neg_margin - d_neg), each averaged
            pos_arg = (flat_mat.take(first) - margins[0]).mul_(sign)
            neg_arg = (flat_mat.take(second) - margins[1]).mul_(-sign)
            pos_on, neg_on = pos_arg > 0, neg_arg > 0
            pos_count, neg_count = pos_on.sum().clamp_min(1), neg_on.sum().clamp_min(1)
            ctx.save_for_backward(first, second, pos_on, neg_on, pos_count, neg_count)
            value = pos_arg.relu_().sum() / pos_count + neg_arg.relu_().sum() / neg_count
        ctx.sign, ctx.shape, ctx.triplets = sign, mat.shape, margins[1] is None
        return value

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        g = grad * ctx.sign
        if ctx.triplets:
            first, second, on, count = ctx.saved_tensors
            coef = on * (g / count)
            parts = ((first, coef), (second, -coef))
        else:
            first, second, pos_on, neg_on, pos_count, neg_count = ctx.saved_tensors
            parts = ((first, pos_on * (g / pos_count)), (second, neg_on * (-g / neg_count)))
        return _scatter_flat(ctx.shape, grad.dtype, grad.device, parts), None, None, None, None


def hinge_pair_list(mat: torch.Tensor, pairs: tuple, pos_margin: float, neg_margin: float,
                    inverted: bool) -> torch.Tensor:
    """:func:`hinge_pairs` over listed pairs ``(a1, p, a2, n)`` of ``mat`` (duplicates count)."""
    a1, p, a2, n = pairs
    m = mat.shape[1]
    return _HingeTuples.apply(mat, a1 * m + p, a2 * m + n, (float(pos_margin), float(neg_margin)), bool(inverted))


def triplet_hinge_list(mat: torch.Tensor, triplets: tuple, margin: float, inverted: bool) -> torch.Tensor:
    """Mean of the positive ``relu(d_ap - d_an + margin)`` over listed triplets ``(a, p, n)`` (0 if none)."""
    a, p, n = triplets
    m = mat.shape[1]
    return _HingeTuples.apply(mat, a * m + p, a * m + n, (float(margin), None), bool(inverted))
