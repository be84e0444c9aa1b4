"""Fused class-weight softmax losses: normalize + GEMM + margin + softmax cross-entropy, one node.

Normalized softmax, CosFace, ArcFace, sub-centre ArcFace, SoftTriple and proxy-NCA all
compare L2-normalized embeddings with L2-normalized class weights, turn the (n, C)
cosines into logits and take a (weighted) softmax cross-entropy. Here the whole chain is
one autograd node; the backward is the closed form
``dlogits = c_i (softmax - onehot)`` pushed back through the logit map, one GEMM to each
side and the two normalizations. Values follow the unfused formulas term by term.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

from ._fused import normalize_backward, normalize_rows


class Logits(NamedTuple):
    """How cosines become logits.

    kind: "cosface" (``scale * (cos - margin * onehot)``; normalized softmax is margin 0),
    "arcface" (target ``cos(theta + margin)``, ``margin`` in radians), "softtriple" (per class
    a softmax over ``centers`` columns with ``gamma``, then ``scale * (S - margin * onehot)``)
    or "proxynca" (``-scale * |x - p|^2`` of normalized rows, clamped at ``floor``).
    ``centers``: columns per class (sub-centre ArcFace takes the largest).
    reduction: "mean" (mean of weighted cross-entropies) or "nca" (rows with a zero target
    probability left out, as NCA does).
    """

    kind: str
    scale: float
    margin: float = 0.0
    centers: int = 1
    gamma: float = 1.0
    floor: float = 0.0
    reduction: str = "mean"


_EXP_SAFE = {torch.float16: 10.0, torch.bfloat16: 80.0, torch.float32: 80.0, torch.float64: 700.0}


def _center_major(rows: torch.Tensor, centers: int, back: bool = False) -> torch.Tensor:
    """Reorder class-major rows (class c owns rows c*K .. c*K+K-1) to centre-major (k*C + c), or back.

    Centre-major cosines view as (n, K, C): the per-class reductions over K then run over a
    middle axis with contiguous classes, which CPU kernels vectorize (a last axis of K=3..10 is slow).
    """
    if centers == 1:
        return rows
    shape = (centers, -1, rows.shape[1]) if back else (-1, centers, rows.shape[1])
    return rows.view(shape).transpose(0, 1).reshape(-1, rows.shape[1])


def _arcface_target(target: torch.Tensor, margin: float) -> tuple[torch.Tensor, torch.Tensor]:
    """``cos(theta + m)`` of the target cosines (fallback past ``pi - m``) and its slope.

    ``cos(theta + m) = cos m cos - sin m sin theta`` with ``sin theta`` floored at 1e-6 (its
    slope is 0 below); cosines are clamped to [-1, 1] (slope 0 outside).
    """
    clamped = target.clamp(-1.0, 1.0)
    sin = (1.0 - clamped * clamped).clamp_min_(1e-12).sqrt_()
    cos_m, sin_m = math.cos(margin), math.sin(margin)
    on_arc = clamped >= math.cos(math.pi - margin)
    value = torch.where(on_arc, clamped * cos_m - sin * sin_m, clamped - margin * sin_m)
    sin_slope = (clamped / sin).mul_(sin > 1e-6)  # minus the slope of sin theta in cos
    slope = torch.where(on_arc, sin_slope.mul_(sin_m).add_(cos_m), 1.0).mul_(target == clamped)
    return value, slope


def _class_cosines(cos: torch.Tensor, spec: Logits, labels: torch.Tensor) -> tuple:
    """(n, C) logits from (n, C * centers) cosines, and what the backward needs."""
    n, y = cos.shape[0], labels.unsqueeze(1)
    saved: dict = {}
    if spec.kind == "softtriple":
        sim = cos.view(n, spec.centers, -1)
        scaled = sim * spec.gamma
        if spec.gamma >= _EXP_SAFE[cos.dtype]:  # cosines are <= 1: exp(gamma * cos) cannot overflow below it
            scaled -= scaled.amax(dim=1, keepdim=True)
        prob = scaled.exp_()
        prob /= prob.sum(dim=1, keepdim=True)
        per_class = (prob * sim).sum(dim=1)
        saved.update(sim=sim, prob=prob, per_class=per_class)
        return spec.scale * per_class.scatter_add(1, y, per_class.new_full((n, 1), -spec.margin)), saved
    if spec.kind == "proxynca":
        return -spec.scale * cos, saved
    if spec.centers > 1:
        cos, best = cos.view(n, spec.centers, -1).max(dim=1)
        saved["best"] = best.unsqueeze(1)
    if spec.kind == "arcface":
        value, slope = _arcface_target(cos.gather(1, y), spec.margin)
        saved["slope"] = slope
        return spec.scale * cos.scatter(1, y, value), saved
    if spec.margin == 0:
        return cos * spec.scale, saved
    return spec.scale * cos.scatter_add(1, y, cos.new_full((n, 1), -spec.margin)), saved


def _cosine_grad(g_logits: torch.Tensor, spec: Logits, labels: torch.Tensor, saved: dict, width: int):
    """Gradient of the logits pushed back to the (n, C * centers) cosines (or squared distances)."""
    y = labels.unsqueeze(1)
    if spec.kind == "softtriple":
        g_class = g_logits.unsqueeze(1)
        sim, prob, per_class = saved["sim"], saved["prob"], saved["per_class"]
        slope = (sim - per_class.unsqueeze(1)).mul_(spec.gamma).add_(1.0).mul_(prob)
        return (slope * g_class).view(g_logits.shape[0], width)
    g_cos = g_logits
    if spec.kind == "arcface":
        g_cos.scatter_(1, y, g_cos.gather(1, y) * saved["slope"])
    if spec.centers > 1:
        full = g_cos.new_zeros(g_cos.shape[0], spec.centers, g_cos.shape[1])
        return full.scatter_(1, saved["best"], g_cos.unsqueeze(1)).view(g_cos.shape[0], width)
    return g_cos


class _ClassSoftmax(torch.autograd.Function):
    @staticmethod
    def forward(ctx, embeddings, weights, labels, row_weights, spec: Logits):
        x, x_norm = normalize_rows(embeddings)
        w_class, w_norm = normalize_rows(weights)
        w = _center_major(w_class, spec.centers)
        sq = None
        if spec.kind == "proxynca":
            x_sq, w_sq = (x * x).sum(1, keepdim=True), (w * w).sum(1).unsqueeze(0)
            cos = sq = torch.addmm(x_sq, x, w.T, alpha=-2.0).add_(w_sq).clamp_min_(spec.floor)
        else:
            cos = x @ w.T
        logits, saved = _class_cosines(cos, spec, labels)
        coef = prob = None
        if spec.reduction == "nca":
            prob = torch.softmax(logits, dim=1)
            p_target = prob.gather(1, labels.unsqueeze(1)).squeeze(1)
            kept = p_target != 0
            losses = -torch.log(torch.where(kept, p_target, 1.0))
            if row_weights is not None:
                losses = losses * row_weights
            count = kept.sum().clamp_min(1)
            value = torch.where(kept, losses, 0.0).sum() / count
            coef = kept.to(logits.dtype) / count
            if row_weights is not None:
                coef = coef * row_weights
        elif row_weights is None:
            value = F.cross_entropy(logits, labels)
        else:
            value = (F.cross_entropy(logits, labels, reduction="none") * row_weights).mean()
            coef = row_weights / logits.shape[0]
        ctx.spec, ctx.saved = spec, saved
        ctx.save_for_backward(x, x_norm, w, w_class, w_norm, labels, logits if prob is None else prob, coef, sq)
        return value

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        x, x_norm, w, w_class, w_norm, labels, logits_or_prob, coef, sq = ctx.saved_tensors
        spec = ctx.spec
        n = x.shape[0]
        # the logit map's scale, folded into the per-row coefficient of (softmax - onehot)
        scale = -spec.scale if spec.kind == "proxynca" else spec.scale
        if spec.reduction == "nca":
            prob = logits_or_prob.clone()
        else:
            prob = torch.softmax(logits_or_prob, dim=1)
        if coef is None:
            c = grad * (scale / n)
            g_logits = prob.mul_(c).scatter_add_(1, labels.unsqueeze(1), (-c).expand(n, 1))
        else:
            c = (coef * (grad * scale)).unsqueeze(1)
            g_logits = prob.mul_(c).scatter_add_(1, labels.unsqueeze(1), -c)
        g_cos = _cosine_grad(g_logits, spec, labels, ctx.saved, w.shape[0])
        if spec.kind == "proxynca":  # g_cos is the gradient of the clamped squared distances
            g_sq = torch.where(sq > spec.floor, g_cos, 0.0)
            g_x = torch.addcmul(g_sq @ w * -2.0, x, g_sq.sum(1, keepdim=True), value=2.0)
            g_w = torch.addcmul(g_sq.T @ x * -2.0, w, g_sq.sum(0).unsqueeze(1), value=2.0)
        else:
            g_x, g_w = g_cos @ w, g_cos.T @ x
        g_emb = normalize_backward(g_x, x, x_norm) if ctx.needs_input_grad[0] else None
        g_w = _center_major(g_w, spec.centers, back=True)
        g_weights = normalize_backward(g_w, w_class, w_norm) if ctx.needs_input_grad[1] else None
        return g_emb, g_weights, None, None, None


def class_softmax_loss(embeddings: torch.Tensor, weights: torch.Tensor, labels: torch.Tensor,
                       row_weights: torch.Tensor | None, spec: Logits) -> torch.Tensor:
    """Softmax loss of normalized ``embeddings`` (n, d) against normalized class ``weights`` (C * K, d).

    ``labels`` are class indices (n,); ``row_weights`` (n,) miner weights or None.
    """
    return _ClassSoftmax.apply(embeddings, weights, labels, row_weights, spec)
