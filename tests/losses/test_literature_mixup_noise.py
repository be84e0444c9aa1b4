"""Metrix (Venkataramanan et al. 2022), ProcSim (Barbany et al. 2023), contextual loss (Liao et al. 2023)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.autograd import gradcheck

from isometry.errors import InputError
from isometry.losses import ContrastiveLoss, MultiSimilarityLoss, ProxyAnchorLoss
from isometry.losses.contextual import ContextualLoss, _StepWithSlope, contextual_similarity
from isometry.losses.metrix import (
    MetrixContrastiveLoss,
    MetrixMultiSimilarityLoss,
    MetrixProxyAnchorLoss,
    mix_embeddings,
    soft_contrastive_loss,
    soft_multi_similarity_loss,
    soft_proxy_anchor_loss,
)
from isometry.losses.procsim import ProcSimLoss, procsim_confidence, procsim_loss

Y = torch.arange(12) % 4


def _x(n=12, d=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=torch.float64, requires_grad=True)


# ----------------------------------------------------------------- Metrix
def test_metrix_gradcheck_all_three():
    x = _x()
    assert gradcheck(lambda x: MetrixMultiSimilarityLoss(alpha=2.0, beta=5.0, seed=0)(x, Y), (x,))
    assert gradcheck(lambda x: MetrixContrastiveLoss(neg_margin=1.5, seed=0)(x, Y), (x,))
    pa = MetrixProxyAnchorLoss(4, 5, alpha=4.0, seed=0).double()
    assert gradcheck(lambda x, p: soft_proxy_anchor_loss(F.normalize(x, dim=1) @ F.normalize(p, dim=1).T,
                                                         F.one_hot(Y, 4).double(), 1 - F.one_hot(Y, 4).double(), alpha=4.0),
                     (x, pa.proxies))

    def fresh(x):  # a new seeded loss per call: every evaluation draws the same mixes
        loss = MetrixProxyAnchorLoss(4, 5, alpha=4.0, seed=0).double()
        with torch.no_grad():
            loss.proxies.copy_(pa.proxies)
        return loss(x, Y)

    assert gradcheck(fresh, (x,))


def test_metrix_without_mixing_is_the_base_loss():
    x = _x().detach()
    assert float(MetrixMultiSimilarityLoss(mixup_weight=0)(x, Y)) == pytest.approx(float(MultiSimilarityLoss()(x, Y)), rel=1e-9)
    assert float(MetrixContrastiveLoss(mixup_weight=0)(x, Y)) == pytest.approx(float(ContrastiveLoss()(x, Y)), rel=1e-9)
    pa, base = MetrixProxyAnchorLoss(4, 5, mixup_weight=0).double(), ProxyAnchorLoss(4, 5).double()
    with torch.no_grad():
        base.proxies.copy_(pa.proxies)
        assert float(pa(x, Y)) == pytest.approx(float(base(x, Y)), rel=1e-9)


@pytest.mark.parametrize("lam", [0.0, 1.0])
def test_mixing_factor_zero_or_one_reduces_to_base_loss_on_the_source_rows(lam):
    x = F.normalize(_x().detach(), dim=1)
    mixed, first, second, lam_t = mix_embeddings(x, Y, n_mixed=12, mixup_alpha=2.0,
                                                 generator=torch.Generator().manual_seed(0),
                                                 lam=torch.full((12,), lam, dtype=torch.float64))
    source = first if lam == 1.0 else second
    assert torch.allclose(mixed, x[source])
    w = lam_t * (Y[:, None] == Y[first][None, :]) + (1 - lam_t) * (Y[:, None] == Y[second][None, :])
    soft = soft_multi_similarity_loss(x @ mixed.T, w, 1 - w)
    base = MultiSimilarityLoss()(x, Y, ref_emb=x[source], ref_labels=Y[source])
    assert float(soft) == pytest.approx(float(base), rel=1e-9)
    # Contrastive oracle: loops over (anchor, reference) pairs, positive and negative
    # terms each averaged over their non-zero values (PML's AvgNonZeroReducer).
    pos, neg = [], []
    for a in range(12):
        for r in range(12):
            dist = float((x[a] - x[source][r]).norm())
            (pos if Y[a] == Y[source][r] else neg).append(max(0.0, dist - 0.0) if Y[a] == Y[source][r] else max(0.0, 1.0 - dist))
    oracle = sum(pos) / max(1, sum(v > 0 for v in pos)) + sum(neg) / max(1, sum(v > 0 for v in neg))
    assert float(soft_contrastive_loss(torch.cdist(x, mixed), w, 1 - w)) == pytest.approx(oracle, rel=1e-9)


def test_mixed_pairs_come_from_different_classes_and_seed_is_reproducible():
    x = _x().detach()
    _, first, second, lam = mix_embeddings(x, Y, n_mixed=50, mixup_alpha=2.0, generator=torch.Generator().manual_seed(1))
    assert bool((Y[first] != Y[second]).all()) and bool(((lam > 0) & (lam < 1)).all())
    assert float(MetrixMultiSimilarityLoss(seed=4)(x, Y)) == float(MetrixMultiSimilarityLoss(seed=4)(x, Y))


def test_metrix_bad_input():
    with pytest.raises(InputError, match="mixup_alpha"):
        MetrixContrastiveLoss(mixup_alpha=0)
    with pytest.raises(InputError, match="mixup_weight"):
        MetrixMultiSimilarityLoss(mixup_weight=-1)
    with pytest.raises(InputError, match="n_mixed"):
        MetrixMultiSimilarityLoss(n_mixed=0)
    with pytest.raises(InputError, match=r"\[0, 4\)"):
        MetrixProxyAnchorLoss(4, 5)(torch.randn(2, 5), [0, 7])
    with pytest.raises(InputError, match="NaN"):
        MetrixContrastiveLoss()(torch.tensor([[float("nan"), 1.0], [0.0, 1.0]]), [0, 1])
    single = MetrixMultiSimilarityLoss(seed=0)(torch.randn(4, 3), [1, 1, 1, 1])  # one class: no mixing possible
    assert torch.isfinite(single)


# ----------------------------------------------------------------- ProcSim
def _noisy_batch():
    g = torch.Generator().manual_seed(0)
    with torch.random.fork_rng():
        torch.manual_seed(0)  # the proxies' random init: some draws put two proxies close together
        loss = ProcSimLoss(4, 8).double()
    y = torch.arange(40) % 4
    x = 3 * loss.proxies.detach()[y] + 0.5 * torch.randn(40, 8, generator=g, dtype=torch.float64)
    noisy = y.clone()
    noisy[:4] = (y[:4] + 1) % 4  # four mislabeled samples
    return loss, x, noisy


def test_procsim_gradcheck_with_confidence_held_constant():
    loss, x, y = _noisy_batch()
    x, y = x[:10].clone().requires_grad_(), y[:10]
    conf = procsim_confidence(x, y, loss.proxies)
    assert gradcheck(lambda x, p: procsim_loss(x, y, p, alpha=4.0, confidence=conf), (x, loss.proxies))


def test_procsim_mislabeled_samples_get_lower_confidence():
    loss, x, y = _noisy_batch()
    conf = loss.confidence(x, y)
    assert float(conf[:4].max()) < float(conf[4:].min())
    assert float(conf[:4].max()) < 1.0 < float(conf[4:].median())


def test_procsim_confidence_one_at_tau_and_full_weights_give_proxy_anchor():
    loss, x, y = _noisy_batch()
    base = ProxyAnchorLoss(4, 8).double()
    with torch.no_grad():
        base.proxies.copy_(loss.proxies)
        ones = torch.ones(40, dtype=torch.float64)
        assert float(procsim_loss(x, y, loss.proxies, confidence=ones)) == pytest.approx(float(base(x, y)), rel=1e-9)
    same = x[:1].repeat(3, 1) + torch.tensor([[0.0], [0.0], [0.0]])
    conf = procsim_confidence(same, y[:1].repeat(3), loss.proxies)
    assert torch.allclose(conf, torch.ones(3, dtype=torch.float64))  # every ratio is exactly tau = 1


def test_procsim_bad_input():
    with pytest.raises(InputError, match="'lam'"):
        ProcSimLoss(3, 4, lam=0)
    with pytest.raises(InputError, match="'tau'"):
        ProcSimLoss(3, 4, tau=-1)
    with pytest.raises(InputError, match="embedding_size=4"):
        ProcSimLoss(3, 4)(torch.randn(2, 3), [0, 1])
    with pytest.raises(InputError, match="entries"):
        ProcSimLoss(3, 4)(torch.randn(2, 4), [0])


# ----------------------------------------------------------------- contextual
def test_contextual_gradcheck_sigmoid_surrogate():
    assert gradcheck(lambda x: ContextualLoss(heaviside="sigmoid", temperature=0.5)(x, Y), (_x(),))


def test_contextual_similarity_matches_set_definition():
    x = F.normalize(_x(10, 3).detach(), dim=1)
    sim = x @ x.T
    k, eps = 4, 0.0
    ctx = contextual_similarity(sim, k=k, eps=eps)
    d = (2 - 2 * sim).clamp_min(0)
    near = [set(torch.argsort(d[i], stable=True)[:k].tolist()) for i in range(10)]
    half = [set(torch.argsort(d[i], stable=True)[: k // 2].tolist()) for i in range(10)]
    rest = [set(range(10)) - s for s in near]
    w = torch.zeros(10, 10, dtype=torch.float64)
    for i in range(10):
        for j in near[i]:
            w[i, j] = 0.5 * (len(near[i] & near[j]) / len(near[i]) + len(rest[i] & rest[j]) / len(rest[i]))
    recip = [[j for j in half[i] if i in half[j]] for i in range(10)]
    j_mat = torch.stack([w[recip[i]].mean(0) for i in range(10)])
    assert torch.allclose(ctx, 0.5 * (j_mat + j_mat.T))


def test_contextual_straight_through_gradient_is_the_documented_slope():
    z = torch.tensor([-1.0, 0.5], requires_grad=True)
    out = _StepWithSlope.apply(z, 10.0)
    out.sum().backward()
    assert out.tolist() == [0.0, 1.0] and z.grad.tolist() == [10.0, 10.0]
    loss = ContextualLoss()(_x(), Y)
    loss.backward()
    assert torch.isfinite(loss)


def test_contextual_lower_for_clustered_batch():
    g = torch.Generator().manual_seed(0)
    centres = torch.eye(4, 5, dtype=torch.float64)
    clustered = centres[Y] + 0.05 * torch.randn(12, 5, generator=g, dtype=torch.float64)
    shuffled = clustered[torch.randperm(12, generator=g)]
    assert float(ContextualLoss()(clustered, Y)) < float(ContextualLoss()(shuffled, Y))


def test_contextual_bad_input():
    with pytest.raises(InputError, match="sum to at most 1"):
        ContextualLoss(lam=0.8, gamma=0.5)
    with pytest.raises(InputError, match="heaviside"):
        ContextualLoss(heaviside="step")
    with pytest.raises(InputError, match="'k' parameter"):
        ContextualLoss(k=1)
    with pytest.raises(InputError, match="at least 4 rows"):
        ContextualLoss()(torch.randn(3, 2), [0, 1, 1])
