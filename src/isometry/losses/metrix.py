"""Metrix: mixup for deep metric learning, with interpolated (soft) labels.

From "It Takes Two to Tango: Mixup for Deep Metric Learning" (Venkataramanan,
Psomas, Kijak, Amsaleg, Karantzalos & Avrithis, ICLR 2022). Pair-based losses are
rewritten with a *positivity* w+ in [0, 1] for every (anchor, candidate) pair and
w- = 1 - w+; a clean pair has w+ = 1 (same class) or 0, and a mixed embedding
v = lam * x_i + (1 - lam) * x_j of two rows of different classes has, for anchor a,
w+ = lam [y_a = y_i] + (1 - lam) [y_a = y_j]. Soft forms (s = cosine similarity,
d = Euclidean distance of normalized embeddings):

* contrastive:      sum w+ relu(d - m+) / #(>0)  +  sum w- relu(m- - d) / #(>0)
* multi-similarity: mean_a 1/alpha log(1 + sum_v w+ e^{-alpha (s - base)})
                         + 1/beta  log(1 + sum_v w- e^{beta (s - base)})
* proxy-anchor:     sum_u log(1 + sum_x w+ e^{-alpha (s - delta)}) / #(proxies with w+ > 0)
                    + sum_u log(1 + sum_x w- e^{alpha (s + delta)}) / C

(the sums inside the logs are log-sum-exps with log-weights). With 0/1 weights they
are pytorch-metric-learning's ContrastiveLoss, MultiSimilarityLoss and
ProxyAnchorLoss with their defaults. Each Metrix loss is
clean loss + mixup_weight * loss of the clean anchors against the mixed embeddings
(embedding mixup, "Metrix/embed"). Mixed pairs: n_mixed rows i drawn uniformly,
each with a partner j of another class drawn uniformly, lam ~ Beta(mixup_alpha,
mixup_alpha); mixed embeddings are re-normalized. mixup_weight 0.4 is the authors'
setting for the contrastive loss.
"""

from __future__ import annotations

import numbers

import torch
import torch.nn.functional as F
from scipy.special import betaincinv

from .._validate import Interval, check_param
from ..distances import cosine_similarity, euclidean
from ..distances import normalize as _normalize
from ..errors import InputError
from ._literature_checks import check_batch, check_class_labels, check_tensor

__all__ = [
    "mix_embeddings", "soft_contrastive_loss", "soft_multi_similarity_loss", "soft_proxy_anchor_loss",
    "MetrixContrastiveLoss", "MetrixMultiSimilarityLoss", "MetrixProxyAnchorLoss",
]

_REAL = Interval(numbers.Real, None, None)
_NONNEG = Interval(numbers.Real, 0, None)
_POS = Interval(numbers.Real, 0, None, "neither")


def _log1p_weighted_exp(logits: torch.Tensor, weights: torch.Tensor, dim: int) -> torch.Tensor:
    """log(1 + sum w e^logits) along ``dim`` by log-sum-exp; zero weights drop out."""
    log_w = torch.where(weights > 0, weights.clamp_min(torch.finfo(logits.dtype).tiny).log(), float("-inf"))
    return F.softplus(torch.logsumexp(logits + log_w, dim=dim))


def _avg_nonzero(terms: torch.Tensor) -> torch.Tensor:
    count = (terms > 0).sum()
    return terms.sum() / count if count > 0 else terms.sum() * 0.0


def soft_contrastive_loss(dist: torch.Tensor, pos_w: torch.Tensor, neg_w: torch.Tensor, *,
                          pos_margin: float = 0.0, neg_margin: float = 1.0) -> torch.Tensor:
    """Soft contrastive loss of distances (n, m) with positivity weights (n, m)."""
    return _avg_nonzero(pos_w * F.relu(dist - pos_margin)) + _avg_nonzero(neg_w * F.relu(neg_margin - dist))


def soft_multi_similarity_loss(sim: torch.Tensor, pos_w: torch.Tensor, neg_w: torch.Tensor, *,
                               alpha: float = 2.0, beta: float = 50.0, base: float = 0.5) -> torch.Tensor:
    """Soft multi-similarity loss of similarities (n, m), mean over the n anchors."""
    pos = _log1p_weighted_exp(-alpha * (sim - base), pos_w, 1) / alpha
    neg = _log1p_weighted_exp(beta * (sim - base), neg_w, 1) / beta
    return (pos + neg).mean()


def soft_proxy_anchor_loss(sim: torch.Tensor, pos_w: torch.Tensor, neg_w: torch.Tensor, *,
                           margin: float = 0.1, alpha: float = 32.0) -> torch.Tensor:
    """Soft proxy-anchor loss of similarities (n, C) of n embeddings to C proxies."""
    pos = _log1p_weighted_exp(-alpha * (sim - margin), pos_w, 0)
    neg = _log1p_weighted_exp(alpha * (sim + margin), neg_w, 0)
    with_pos = (pos_w > 0).any(dim=0).sum().clamp_min(1)
    return pos.sum() / with_pos + neg.sum() / sim.shape[1]


def mix_embeddings(embeddings: torch.Tensor, codes: torch.Tensor, *, n_mixed: int, mixup_alpha: float,
                   generator: torch.Generator | None = None,
                   lam: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mix rows of different classes: returns (mixed (m, d), first (m,), second (m,), lam (m,)).

    ``lam`` (m,) may be given to fix the mixing factors (else Beta(mixup_alpha, mixup_alpha)).
    Needs two classes; rows are drawn on the CPU generator and moved to the device.
    """
    other = (codes[:, None] != codes[None, :]).cpu().to(torch.float64)
    first = torch.randint(0, codes.numel(), (n_mixed,), generator=generator)
    second = torch.multinomial(other[first], 1, generator=generator).squeeze(1)
    if lam is None:  # Beta quantiles of seeded uniforms: reproducible without a global RNG
        u = torch.rand(n_mixed, generator=generator, dtype=torch.float64).numpy()
        lam = torch.as_tensor(betaincinv(float(mixup_alpha), float(mixup_alpha), u))
    first, second = first.to(embeddings.device), second.to(embeddings.device)
    lam = lam.to(device=embeddings.device, dtype=embeddings.dtype)
    mixed = lam[:, None] * embeddings[first] + (1 - lam[:, None]) * embeddings[second]
    return mixed, first, second, lam


def _mixed_weights(codes: torch.Tensor, first: torch.Tensor, second: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
    """Positivity (n, m) of each mixed embedding for each anchor."""
    return lam * (codes[:, None] == codes[first][None, :]) + (1 - lam) * (codes[:, None] == codes[second][None, :])


class _Metrix(torch.nn.Module):
    """Shared sampling of mixed pairs; subclasses define the soft loss."""

    def __init__(self, mixup_alpha: float, mixup_weight: float, n_mixed: int | None, seed: int | None) -> None:
        super().__init__()
        owner = type(self).__name__
        self.mixup_alpha = check_param(mixup_alpha, "mixup_alpha", owner, _POS)
        self.mixup_weight = check_param(mixup_weight, "mixup_weight", owner, _NONNEG)
        self.n_mixed = check_param(n_mixed, "n_mixed", owner, None, Interval(numbers.Integral, 1, None))
        self.seed = check_param(seed, "seed", owner, None, Interval(numbers.Integral, 0, None))
        self._generator = torch.Generator().manual_seed(seed) if seed is not None else None

    def _mix(self, x: torch.Tensor, codes: torch.Tensor):
        if int(codes.max()) == int(codes.min()):
            return None
        m = self.n_mixed or x.shape[0]
        mixed, first, second, lam = mix_embeddings(x, codes, n_mixed=m, mixup_alpha=float(self.mixup_alpha),
                                                   generator=self._generator)
        return _normalize(mixed), first, second, lam


class MetrixContrastiveLoss(_Metrix):
    """Contrastive loss with Metrix embedding mixup; ``forward(embeddings, labels)``.

    Parameters
    ----------
    pos_margin, neg_margin : float, default=0.0, 1.0
        As in ContrastiveLoss (Euclidean distance of normalized embeddings).
    mixup_alpha : float, default=2.0
        Beta(mixup_alpha, mixup_alpha) draws the mixing factors.
    mixup_weight : float, default=0.4
        Weight of the mixed term; 0 gives the plain contrastive loss.
    n_mixed : int or None, default=None
        Mixed embeddings per batch (None: the batch size).
    seed : int or None, default=None
    """

    def __init__(self, pos_margin: float = 0.0, neg_margin: float = 1.0, *, mixup_alpha: float = 2.0,
                 mixup_weight: float = 0.4, n_mixed: int | None = None, seed: int | None = None) -> None:
        super().__init__(mixup_alpha, mixup_weight, n_mixed, seed)
        self.pos_margin = check_param(pos_margin, "pos_margin", type(self).__name__, _REAL)
        self.neg_margin = check_param(neg_margin, "neg_margin", type(self).__name__, _REAL)

    def forward(self, embeddings: torch.Tensor, labels) -> torch.Tensor:
        x, codes = check_batch(embeddings, labels, type(self).__name__, min_rows=2)
        x = _normalize(x)
        pos = (codes[:, None] == codes[None, :]).to(x.dtype).fill_diagonal_(0)
        neg = (codes[:, None] != codes[None, :]).to(x.dtype)
        margins = {"pos_margin": float(self.pos_margin), "neg_margin": float(self.neg_margin)}
        loss = soft_contrastive_loss(euclidean(x, x, eps=1e-12), pos, neg, **margins)
        mix = self._mix(x, codes)
        if mix is None or not self.mixup_weight:
            return loss
        mixed, first, second, lam = mix
        w = _mixed_weights(codes, first, second, lam)
        return loss + self.mixup_weight * soft_contrastive_loss(euclidean(x, mixed, eps=1e-12), w, 1 - w, **margins)


class MetrixMultiSimilarityLoss(_Metrix):
    """Multi-similarity loss with Metrix embedding mixup; ``forward(embeddings, labels)``.

    Parameters
    ----------
    alpha, beta, base : float, default=2, 50, 0.5
        As in MultiSimilarityLoss (cosine similarity).
    mixup_alpha, mixup_weight, n_mixed, seed
        As in :class:`MetrixContrastiveLoss`.
    """

    def __init__(self, alpha: float = 2.0, beta: float = 50.0, base: float = 0.5, *, mixup_alpha: float = 2.0,
                 mixup_weight: float = 0.4, n_mixed: int | None = None, seed: int | None = None) -> None:
        super().__init__(mixup_alpha, mixup_weight, n_mixed, seed)
        owner = type(self).__name__
        self.alpha = check_param(alpha, "alpha", owner, _POS)
        self.beta = check_param(beta, "beta", owner, _POS)
        self.base = check_param(base, "base", owner, _REAL)

    def forward(self, embeddings: torch.Tensor, labels) -> torch.Tensor:
        x, codes = check_batch(embeddings, labels, type(self).__name__, min_rows=2)
        x = _normalize(x)
        pos = (codes[:, None] == codes[None, :]).to(x.dtype).fill_diagonal_(0)
        neg = (codes[:, None] != codes[None, :]).to(x.dtype)
        params = {"alpha": float(self.alpha), "beta": float(self.beta), "base": float(self.base)}
        loss = soft_multi_similarity_loss(x @ x.T, pos, neg, **params)
        mix = self._mix(x, codes)
        if mix is None or not self.mixup_weight:
            return loss
        mixed, first, second, lam = mix
        w = _mixed_weights(codes, first, second, lam)
        return loss + self.mixup_weight * soft_multi_similarity_loss(x @ mixed.T, w, 1 - w, **params)


class MetrixProxyAnchorLoss(_Metrix):
    """Proxy-anchor loss with Metrix embedding mixup; ``forward(embeddings, labels)``.

    Labels are integers in [0, num_classes); ``proxies`` (num_classes,
    embedding_size) are learned (Kaiming-normal init, as ProxyAnchorLoss).

    Parameters
    ----------
    num_classes, embedding_size : int
    margin, alpha : float, default=0.1, 32
    mixup_alpha, mixup_weight, n_mixed, seed
        As in :class:`MetrixContrastiveLoss`.
    """

    def __init__(self, num_classes: int, embedding_size: int, margin: float = 0.1, alpha: float = 32.0, *,
                 mixup_alpha: float = 2.0, mixup_weight: float = 0.4, n_mixed: int | None = None,
                 seed: int | None = None) -> None:
        super().__init__(mixup_alpha, mixup_weight, n_mixed, seed)
        owner = type(self).__name__
        self.num_classes = check_param(num_classes, "num_classes", owner, Interval(numbers.Integral, 2, None))
        self.embedding_size = check_param(embedding_size, "embedding_size", owner, Interval(numbers.Integral, 1, None))
        self.margin = check_param(margin, "margin", owner, _REAL)
        self.alpha = check_param(alpha, "alpha", owner, _POS)
        self.proxies = torch.nn.Parameter(torch.empty(num_classes, embedding_size))
        torch.nn.init.kaiming_normal_(self.proxies, mode="fan_out")

    def forward(self, embeddings: torch.Tensor, labels) -> torch.Tensor:
        owner = type(self).__name__
        x = check_tensor(embeddings, "embeddings", owner)
        if x.shape[1] != self.embedding_size:
            raise InputError(f"{owner} was built for embedding_size={self.embedding_size}; embeddings have {x.shape[1]} features.")
        y = check_class_labels(labels, x.shape[0], self.num_classes, owner, x.device)
        x = _normalize(x)
        proxies = self.proxies.to(x.dtype)
        pos = F.one_hot(y, self.num_classes).to(x.dtype)
        params = {"margin": float(self.margin), "alpha": float(self.alpha)}
        loss = soft_proxy_anchor_loss(cosine_similarity(x, proxies), pos, 1 - pos, **params)
        mix = self._mix(x, y)
        if mix is None or not self.mixup_weight:
            return loss
        mixed, first, second, lam = mix
        w = lam[:, None] * F.one_hot(y[first], self.num_classes) + (1 - lam[:, None]) * F.one_hot(y[second], self.num_classes)
        return loss + self.mixup_weight * soft_proxy_anchor_loss(cosine_similarity(mixed, proxies), w, 1 - w, **params)
