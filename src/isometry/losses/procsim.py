"""ProcSim: proxy-based confidence weights for learning with noisy labels.

From "ProcSim: Proxy-based Confidence for Robust Similarity Learning" (Barbany,
Lin, Bastan & Dhua, 2023). Each sample gets a confidence from the normalized
distance to its class representative (its proxy): samples far from the proxy of
their label, as mislabeled ones are, count less. Here

    r_i = d_i / mean_j d_j,   d_i = 1 - cos(x_i, p_{y_i})

and the confidence is the closed-form minimizer of the SuperLoss-style objective
(r_i - tau) sigma + lambda (log sigma)^2, as ProcSim adopts it:

    sigma_i = exp(-W(max(-2/e, (r_i - tau) / lambda) / 2))

with W the principal branch of the Lambert W function: sigma_i = 1 at r_i = tau,
above 1 for samples closer than usual, below 1 for farther ones. Confidences are
computed without gradient and weight each sample's terms in a proxy-anchor loss
(pytorch-metric-learning's ProxyAnchorLoss when every weight is 1).
Note: our reading of the paper's normalization (by the batch mean distance, tau = 1)
is documented here because it fixes the scale of r; the paper's PLG backbone loss
(proxy anchor with language guidance) is replaced by the plain proxy anchor.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch
import torch.nn.functional as F
from scipy.special import lambertw

from .._validate import Interval, check_param
from ..distances import cosine_similarity
from ..errors import InputError
from ._literature_checks import check_class_labels, check_tensor
from .metrix import soft_proxy_anchor_loss

__all__ = ["procsim_confidence", "procsim_loss", "ProcSimLoss"]


def procsim_confidence(embeddings: torch.Tensor, labels: torch.Tensor, proxies: torch.Tensor, *,
                       tau: float = 1.0, lam: float = 1.0) -> torch.Tensor:
    """Confidence (n,) of each sample from its normalized cosine distance to its class proxy.

    Parameters
    ----------
    embeddings : torch.Tensor, shape (n, d)
    labels : torch.Tensor of int64, shape (n,)
        Indices into ``proxies``.
    proxies : torch.Tensor, shape (C, d)
    tau : float, default=1.0
        Normalized distance that gets confidence 1.
    lam : float, default=1.0
        Regularization; larger values keep confidences closer to 1.
    """
    with torch.no_grad():
        cos = (F.normalize(embeddings, dim=1) * F.normalize(proxies[labels], dim=1)).sum(dim=1)
        dist = (1.0 - cos).clamp_min(0.0)
        ratio = dist / dist.mean().clamp_min(torch.finfo(dist.dtype).tiny)
        half_beta = (0.5 * (ratio - tau) / lam).double().cpu().numpy()
        # W(-1/e) = -1 exactly; scipy returns NaN at the branch point itself.
        w = np.where(half_beta <= -1.0 / math.e, -1.0, lambertw(np.maximum(half_beta, -1.0 / math.e + 1e-15)).real)
        return torch.as_tensor(w, device=embeddings.device).neg().exp().to(embeddings.dtype)


def procsim_loss(embeddings: torch.Tensor, labels: torch.Tensor, proxies: torch.Tensor, *, margin: float = 0.1,
                 alpha: float = 32.0, tau: float = 1.0, lam: float = 1.0,
                 confidence: torch.Tensor | None = None) -> torch.Tensor:
    """Confidence-weighted proxy-anchor loss; labels int64 indices into proxies (C, d).

    ``confidence`` (n,) defaults to :func:`procsim_confidence`; it is a constant
    for the gradient (stop-gradient), as in the paper.
    """
    if confidence is None:
        confidence = procsim_confidence(embeddings, labels, proxies, tau=tau, lam=lam)
    member = F.one_hot(labels, proxies.shape[0]).to(embeddings.dtype)
    sim = cosine_similarity(embeddings, proxies)
    return soft_proxy_anchor_loss(sim, confidence[:, None] * member, confidence[:, None] * (1 - member),
                                  margin=margin, alpha=alpha)


class ProcSimLoss(torch.nn.Module):
    """ProcSim confidence-weighted proxy-anchor loss (Barbany et al., 2023); ``forward(embeddings, labels)``.

    Labels are integers in [0, num_classes). ``proxies`` (num_classes,
    embedding_size) are learned and double as the class representatives.

    Parameters
    ----------
    num_classes, embedding_size : int
    margin, alpha : float, default=0.1, 32
        Proxy-anchor parameters.
    tau : float, default=1.0
        Normalized distance with confidence 1 (> 0).
    lam : float, default=1.0
        Confidence regularization (> 0).
    """

    def __init__(self, num_classes: int, embedding_size: int, margin: float = 0.1, alpha: float = 32.0, *,
                 tau: float = 1.0, lam: float = 1.0) -> None:
        super().__init__()
        owner = type(self).__name__
        self.num_classes = check_param(num_classes, "num_classes", owner, Interval(numbers.Integral, 2, None))
        self.embedding_size = check_param(embedding_size, "embedding_size", owner, Interval(numbers.Integral, 1, None))
        self.margin = check_param(margin, "margin", owner, Interval(numbers.Real, None, None))
        self.alpha = check_param(alpha, "alpha", owner, Interval(numbers.Real, 0, None, "neither"))
        self.tau = check_param(tau, "tau", owner, Interval(numbers.Real, 0, None, "neither"))
        self.lam = check_param(lam, "lam", owner, Interval(numbers.Real, 0, None, "neither"))
        self.proxies = torch.nn.Parameter(torch.empty(num_classes, embedding_size))
        torch.nn.init.kaiming_normal_(self.proxies, mode="fan_out")

    def confidence(self, embeddings: torch.Tensor, labels) -> torch.Tensor:
        """Per-sample confidence weights (n,) for this batch."""
        x, y = self._check(embeddings, labels)
        return procsim_confidence(x, y, self.proxies.to(x.dtype), tau=float(self.tau), lam=float(self.lam))

    def forward(self, embeddings: torch.Tensor, labels) -> torch.Tensor:
        x, y = self._check(embeddings, labels)
        return procsim_loss(x, y, self.proxies.to(x.dtype), margin=float(self.margin), alpha=float(self.alpha),
                            tau=float(self.tau), lam=float(self.lam))

    def _check(self, embeddings, labels) -> tuple[torch.Tensor, torch.Tensor]:
        owner = type(self).__name__
        x = check_tensor(embeddings, "embeddings", owner)
        if x.shape[1] != self.embedding_size:
            raise InputError(f"{owner} was built for embedding_size={self.embedding_size}; embeddings have {x.shape[1]} features.")
        return x, check_class_labels(labels, x.shape[0], self.num_classes, owner, x.device)
