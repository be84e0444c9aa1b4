"""Contextual loss: optimizing contextual (neighbourhood) similarity with cosine similarity.

From "Supervised Metric Learning to Rank for Retrieval via Contextual Similarity
Optimization" (Liao, Tsiligkaridis & Kulis, ICML 2023). With s the cosine
similarity matrix of the batch and D = 2 - 2 s:

* N_k(i) = {j : D_ij <= D_i(k) + eps} (k nearest, self included), as a 0/1 matrix
  via a Heaviside step H(-D_ij + eps - v_i(k)) with v_i(k) the k-th largest -D_i.
* W~_ij = 1/2 (|N_k(i) & N_k(j)| / |N_k(i)| + |not N_k(i) & not N_k(j)| / |not N_k(i)|) [j in N_k(i)]
* R_ij = [j in N_{k/2}(i)] [i in N_{k/2}(j)] (k/2-reciprocal neighbours);
  J = (R W~) / |R_i| (query expansion), symmetrized: (J + J^T) / 2.
* L_context = 1/n^2 sum_{i != j} [y_ij (1 - J_ij)^2 + (1 - y_ij) J_ij^2]
* L_reg = (mean(s) - reg_sim)^2;  L_contrast = margin contrastive on s (positive
  pairs below pos_margin, negative pairs above neg_margin, each averaged over
  non-zero terms).

Loss = lam * L_context + gamma * L_reg + (1 - lam - gamma) * L_contrast, with the
paper's defaults k = 4, eps = 0.05, lam = 0.4, gamma = 0.1, pos_margin = 0.75,
neg_margin = 0.6, reg_sim = 0.25.

The step has no useful derivative. ``heaviside="straight_through"`` (default, the
paper's heuristic gradient) passes ``slope`` times the incoming gradient to the
step's argument, with the k-th-neighbour thresholds and the set sizes held
constant. ``heaviside="sigmoid"`` replaces H(z) by sigmoid(z / temperature) with
exact gradients everywhere (a smooth surrogate; this is the mode gradcheck
verifies). The loss builds a few (n, n) matrices: batches of a few thousand.
"""

from __future__ import annotations

import numbers

import torch
import torch.nn.functional as F

from .._validate import Interval, Options, check_param
from ..distances import normalize as _normalize
from ..errors import InputError
from ._literature_checks import check_batch

__all__ = ["contextual_similarity", "contextual_loss", "ContextualLoss"]


class _StepWithSlope(torch.autograd.Function):
    """H(z) = [z >= 0] forward; backward passes slope * grad to z."""

    @staticmethod
    def forward(ctx, z: torch.Tensor, slope: float) -> torch.Tensor:
        ctx.slope = slope
        return (z >= 0).to(z.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return grad * ctx.slope, None


def _step(z: torch.Tensor, heaviside: str, slope: float, temperature: float) -> torch.Tensor:
    if heaviside == "sigmoid":
        return torch.sigmoid(z / temperature)
    return _StepWithSlope.apply(z, slope)


def contextual_similarity(sim: torch.Tensor, *, k: int = 4, eps: float = 0.05, heaviside: str = "straight_through",
                          slope: float = 10.0, temperature: float = 0.01) -> torch.Tensor:
    """Symmetric contextual similarity (n, n) in [0, 1] from cosine similarities (n, n); 2 <= k <= n."""
    exact = heaviside == "straight_through"
    neg_d = -(2.0 - 2.0 * sim).clamp_min(0.0)
    top = neg_d.topk(k, dim=1).values
    top = top.detach() if exact else top
    near = _step(neg_d + eps - top[:, -1:], heaviside, slope, temperature)
    far = 1.0 - near
    near_size, far_size = near.sum(1, keepdim=True), far.sum(1, keepdim=True).clamp_min(1.0)
    if exact:
        near_size, far_size = near_size.detach(), far_size.detach()
    overlap = 0.5 * ((near @ near.T) / near_size + (far @ far.T) / far_size) * near
    half = _step(neg_d + eps - top[:, k // 2 - 1 : k // 2], heaviside, slope, temperature)
    reciprocal = half * half.T
    expanded = (reciprocal @ overlap) / reciprocal.sum(1, keepdim=True)
    return 0.5 * (expanded + expanded.T)


def contextual_loss(embeddings: torch.Tensor, codes: torch.Tensor, *, k: int = 4, eps: float = 0.05, lam: float = 0.4,
                    gamma: float = 0.1, pos_margin: float = 0.75, neg_margin: float = 0.6, reg_sim: float = 0.25,
                    heaviside: str = "straight_through", slope: float = 10.0, temperature: float = 0.01) -> torch.Tensor:
    """The full contextual loss of normalized embeddings (n, d) with int64 codes (n,); a scalar."""
    n = embeddings.shape[0]
    sim = embeddings @ embeddings.T
    same = (codes[:, None] == codes[None, :]).to(sim.dtype)
    off = 1.0 - torch.eye(n, dtype=sim.dtype, device=sim.device)
    ctx = contextual_similarity(sim, k=k, eps=eps, heaviside=heaviside, slope=slope, temperature=temperature)
    l_context = ((same * (1.0 - ctx).square() + (1.0 - same) * ctx.square()) * off).sum() / n**2
    l_reg = (sim.mean() - reg_sim).square()
    pos, neg = F.relu(pos_margin - sim) * same, F.relu(sim - neg_margin) * (1.0 - same)
    l_contrast = sum(t.sum() / (t > 0).sum() if (t > 0).any() else t.sum() * 0.0 for t in (pos, neg))
    return lam * l_context + gamma * l_reg + (1.0 - lam - gamma) * l_contrast


class ContextualLoss(torch.nn.Module):
    """Contextual loss (Liao et al., 2023); ``forward(embeddings, labels)``.

    Parameters
    ----------
    k : int, default=4
        Neighbourhood size (>= 2; the batch needs at least k rows).
    eps : float, default=0.05
        Distance slack admitted into N_k.
    lam, gamma : float, default=0.4, 0.1
        Weights of the contextual and regularization terms (each >= 0, sum <= 1).
    pos_margin, neg_margin, reg_sim : float, default=0.75, 0.6, 0.25
    heaviside : {"straight_through", "sigmoid"}, default="straight_through"
    slope : float, default=10.0
        Heuristic gradient of the step (straight-through mode).
    temperature : float, default=0.01
        Sigmoid temperature (sigmoid mode).
    """

    def __init__(self, *, k: int = 4, eps: float = 0.05, lam: float = 0.4, gamma: float = 0.1, pos_margin: float = 0.75,
                 neg_margin: float = 0.6, reg_sim: float = 0.25, heaviside: str = "straight_through",
                 slope: float = 10.0, temperature: float = 0.01) -> None:
        super().__init__()
        owner = type(self).__name__
        real, nonneg = Interval(numbers.Real, None, None), Interval(numbers.Real, 0, None)
        self.k = check_param(k, "k", owner, Interval(numbers.Integral, 2, None))
        self.eps = check_param(eps, "eps", owner, nonneg)
        self.lam = check_param(lam, "lam", owner, Interval(numbers.Real, 0, 1))
        self.gamma = check_param(gamma, "gamma", owner, Interval(numbers.Real, 0, 1))
        if lam + gamma > 1:
            raise InputError(f"The 'lam' and 'gamma' parameters of {owner} must sum to at most 1. Got {lam} + {gamma} instead.")
        self.pos_margin = check_param(pos_margin, "pos_margin", owner, real)
        self.neg_margin = check_param(neg_margin, "neg_margin", owner, real)
        self.reg_sim = check_param(reg_sim, "reg_sim", owner, real)
        self.heaviside = check_param(heaviside, "heaviside", owner, Options(["straight_through", "sigmoid"]))
        self.slope = check_param(slope, "slope", owner, Interval(numbers.Real, 0, None, "neither"))
        self.temperature = check_param(temperature, "temperature", owner, Interval(numbers.Real, 0, None, "neither"))

    def forward(self, embeddings: torch.Tensor, labels) -> torch.Tensor:
        owner = type(self).__name__
        x, codes = check_batch(embeddings, labels, owner, min_rows=2)
        if x.shape[0] < self.k:
            raise InputError(f"{owner} with k={self.k} needs at least {self.k} rows in the batch; got {x.shape[0]}.")
        return contextual_loss(
            _normalize(x), codes, k=int(self.k), eps=float(self.eps), lam=float(self.lam), gamma=float(self.gamma),
            pos_margin=float(self.pos_margin), neg_margin=float(self.neg_margin), reg_sim=float(self.reg_sim),
            heaviside=self.heaviside, slope=float(self.slope), temperature=float(self.temperature),
        )
