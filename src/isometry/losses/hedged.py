"""Hedged instance embeddings (HIB): stochastic embeddings with a variational bottleneck.

From "Modeling Uncertainty with Hedged Instance Embedding" (Oh, Murphy, Pan, Roth,
Schroff & Gallagher, ICLR 2019). Each input is a Gaussian N(mu, diag(sigma^2)) in
the embedding space; K samples z = mu + sigma * eps (reparameterized) estimate the
match probability of a pair

    p(m | x_i, x_j) = 1/K^2 sum_{k1, k2} sigmoid(-a ||z_i^k1 - z_j^k2|| + b),  a > 0,

trained with the soft contrastive loss (-log p for a matching pair, -log(1 - p)
otherwise) plus beta * KL(N(mu, sigma^2) || N(0, I)) per input. Both logs are
computed with log-sum-exp of log-sigmoids. Pairs are every i < j of the batch; the
positive and the negative pairs are averaged separately and the two means added
(the paper samples balanced pairs).

Signature: ``forward(mean, log_variance, labels)`` with mean and log_variance (n, d).
"""

from __future__ import annotations

import math
import numbers

import torch
import torch.nn.functional as F

from .._validate import Interval, check_param
from ..distances import euclidean
from ..errors import InputError
from ._literature_checks import check_batch, check_tensor

__all__ = ["match_log_probabilities", "gaussian_kl", "hedged_instance_loss", "HedgedInstanceLoss"]


def gaussian_kl(mean: torch.Tensor, log_variance: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, diag exp(log_variance)) || N(0, I)) per row, shape (n,)."""
    return 0.5 * (log_variance.exp() + mean.square() - 1.0 - log_variance).sum(dim=1)


def match_log_probabilities(samples: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """log p(match) and log p(no match) for every pair of rows, each (n, n).

    Parameters
    ----------
    samples : torch.Tensor, shape (K, n, d)
        K reparameterized samples of each of the n embeddings.
    a, b : torch.Tensor
        Scalars of the sigmoid (a > 0).
    """
    k, n, d = samples.shape
    flat = samples.reshape(k * n, d)
    dist = euclidean(flat, flat).reshape(k, n, k, n).permute(1, 3, 0, 2).reshape(n, n, k * k)
    logits = b - a * dist
    log_k2 = math.log(k * k)
    log_match = torch.logsumexp(F.logsigmoid(logits), dim=2) - log_k2
    log_nonmatch = torch.logsumexp(F.logsigmoid(-logits), dim=2) - log_k2
    return log_match, log_nonmatch


def hedged_instance_loss(
    mean: torch.Tensor,
    log_variance: torch.Tensor,
    codes: torch.Tensor,
    noise: torch.Tensor,
    *,
    a: torch.Tensor,
    b: torch.Tensor,
    kl_weight: float = 1e-4,
) -> torch.Tensor:
    """HIB loss with given standard-normal ``noise`` (K, n, d); a scalar tensor.

    Parameters
    ----------
    mean, log_variance : torch.Tensor, shape (n, d)
    codes : torch.Tensor of int64, shape (n,)
    noise : torch.Tensor, shape (K, n, d)
    a, b : torch.Tensor
        Scalar sigmoid parameters (a > 0).
    kl_weight : float, default=1e-4
        The paper's beta.
    """
    samples = mean + (0.5 * log_variance).exp() * noise
    log_match, log_nonmatch = match_log_probabilities(samples, a, b)
    n = mean.shape[0]
    i, j = torch.triu_indices(n, n, offset=1, device=mean.device)
    same = codes[i] == codes[j]
    loss = mean.sum() * 0.0
    if same.any():
        loss = loss - log_match[i[same], j[same]].mean()
    if (~same).any():
        loss = loss - log_nonmatch[i[~same], j[~same]].mean()
    return loss + kl_weight * gaussian_kl(mean, log_variance).mean()


class HedgedInstanceLoss(torch.nn.Module):
    """Hedged instance embedding loss (Oh et al., 2019); ``forward(mean, log_variance, labels)``.

    Parameters
    ----------
    num_samples : int, default=8
        K, samples drawn per embedding (the paper uses 8).
    kl_weight : float, default=1e-4
        beta of the variational bottleneck, >= 0.
    init_scale, init_shift : float, default=1.0, 0.0
        Starting values of the learnable a (> 0, stored as its log) and b.
    seed : int or None, default=None
        Seeds the sampling noise (a generator per device); None uses torch's global RNG.

    Examples
    --------
    >>> import torch
    >>> mu, logvar = torch.zeros(4, 3), torch.zeros(4, 3)
    >>> loss = HedgedInstanceLoss(seed=0)(mu, logvar, torch.tensor([0, 0, 1, 1]))
    >>> loss.ndim
    0
    """

    def __init__(self, *, num_samples: int = 8, kl_weight: float = 1e-4, init_scale: float = 1.0,
                 init_shift: float = 0.0, seed: int | None = None) -> None:
        super().__init__()
        owner = type(self).__name__
        self.num_samples = check_param(num_samples, "num_samples", owner, Interval(numbers.Integral, 1, None))
        self.kl_weight = check_param(kl_weight, "kl_weight", owner, Interval(numbers.Real, 0, None))
        check_param(init_scale, "init_scale", owner, Interval(numbers.Real, 0, None, "neither"))
        check_param(init_shift, "init_shift", owner, Interval(numbers.Real, None, None))
        self.seed = check_param(seed, "seed", owner, None, Interval(numbers.Integral, 0, None))
        self.log_scale = torch.nn.Parameter(torch.tensor(math.log(init_scale)))
        self.shift = torch.nn.Parameter(torch.tensor(float(init_shift)))
        self._generators: dict[str, torch.Generator] = {}

    def _noise(self, shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
        if self.seed is None:
            return torch.randn(shape, dtype=like.dtype, device=like.device)
        key = str(like.device)
        if key not in self._generators:
            self._generators[key] = torch.Generator(device=like.device).manual_seed(int(self.seed))
        return torch.randn(shape, dtype=like.dtype, device=like.device, generator=self._generators[key])

    def forward(self, mean: torch.Tensor, log_variance: torch.Tensor, labels) -> torch.Tensor:
        owner = type(self).__name__
        mu, codes = check_batch(mean, labels, owner, min_rows=2)
        logvar = check_tensor(log_variance, "log_variance", owner)
        if logvar.shape != mu.shape:
            raise InputError(f"{owner}: log_variance has shape {tuple(logvar.shape)} but mean has {tuple(mu.shape)}; they must match.")
        noise = self._noise((int(self.num_samples), *mu.shape), mu)
        a = self.log_scale.exp().to(mu.dtype)
        return hedged_instance_loss(mu, logvar, codes, noise, a=a, b=self.shift.to(mu.dtype), kl_weight=float(self.kl_weight))
