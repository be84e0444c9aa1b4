"""Hedged instance embeddings (Oh et al., 2019)."""

from __future__ import annotations

import math

import pytest
import torch
from torch.autograd import gradcheck

from isometry.errors import InputError
from isometry.losses.hedged import HedgedInstanceLoss, gaussian_kl, hedged_instance_loss, match_log_probabilities


def _inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    mu = torch.randn(6, 3, generator=g, dtype=torch.float64, requires_grad=True)
    logvar = (0.2 * torch.randn(6, 3, generator=g, dtype=torch.float64)).requires_grad_()
    noise = torch.randn(4, 6, 3, generator=g, dtype=torch.float64)
    return mu, logvar, noise


def test_hedged_gradcheck_mean_variance_and_sigmoid_parameters():
    mu, logvar, noise = _inputs()
    y = torch.tensor([0, 0, 1, 1, 2, 2])
    a = torch.tensor(1.3, dtype=torch.float64, requires_grad=True)
    b = torch.tensor(0.2, dtype=torch.float64, requires_grad=True)
    fn = lambda m, v, a, b: hedged_instance_loss(m, v, y, noise, a=a, b=b, kl_weight=0.1)  # noqa: E731
    assert gradcheck(fn, (mu, logvar, a, b))


def test_kl_term_zero_at_prior_and_positive_elsewhere():
    zeros = torch.zeros(3, 4, dtype=torch.float64)
    assert torch.equal(gaussian_kl(zeros, zeros), torch.zeros(3, dtype=torch.float64))
    assert bool((gaussian_kl(zeros + 0.5, zeros - 0.3) > 0).all())
    # Closed form in one dimension: 0.5 (s^2 + m^2 - 1 - log s^2).
    kl = gaussian_kl(torch.tensor([[2.0]]), torch.tensor([[math.log(3.0)]]))
    assert float(kl) == pytest.approx(0.5 * (3 + 4 - 1 - math.log(3.0)))


def test_match_probability_matches_brute_force_average_of_sigmoids():
    _, _, noise = _inputs()
    samples = noise[:, :3]
    a, b = torch.tensor(0.7, dtype=torch.float64), torch.tensor(0.4, dtype=torch.float64)
    log_match, log_nonmatch = match_log_probabilities(samples, a, b)
    k = samples.shape[0]
    p = sum(torch.sigmoid(-a * (samples[k1, 0] - samples[k2, 2]).norm() + b) for k1 in range(k) for k2 in range(k)) / k**2
    assert float(log_match[0, 2].exp()) == pytest.approx(float(p), rel=1e-12)
    assert float(log_nonmatch[0, 2].exp()) == pytest.approx(1 - float(p), rel=1e-12)


def test_hedged_loss_lower_when_matches_are_close():
    y = torch.tensor([0, 0, 1, 1])
    good = torch.tensor([[0.0, 0.0], [0.0, 0.1], [5.0, 5.0], [5.0, 5.1]])
    bad = good[[0, 2, 1, 3]]
    logvar = torch.full((4, 2), -4.0)
    loss = HedgedInstanceLoss(seed=0, init_shift=2.0)
    assert float(loss(good, logvar, y)) < float(loss(bad, logvar, y))


def test_hedged_seeded_is_reproducible_and_returns_scalar():
    mu, logvar, _ = _inputs()
    y = [0, 0, 1, 1, 2, 2]
    a = HedgedInstanceLoss(seed=3)(mu, logvar, y)
    b = HedgedInstanceLoss(seed=3)(mu, logvar, y)
    assert a.ndim == 0 and float(a) == float(b)


def test_hedged_bad_input():
    for kwargs, name in [({"num_samples": 0}, "num_samples"), ({"kl_weight": -1.0}, "kl_weight"),
                         ({"init_scale": 0.0}, "init_scale"), ({"seed": -2}, "seed")]:
        with pytest.raises(InputError, match=name):
            HedgedInstanceLoss(**kwargs)
    loss = HedgedInstanceLoss(seed=0)
    with pytest.raises(InputError, match="must match"):
        loss(torch.zeros(4, 3), torch.zeros(4, 2), [0, 0, 1, 1])
    with pytest.raises(InputError, match="NaN"):
        loss(torch.zeros(4, 3), torch.full((4, 3), float("nan")), [0, 0, 1, 1])
    with pytest.raises(InputError, match="entries"):
        loss(torch.zeros(4, 3), torch.zeros(4, 3), [0, 1])
