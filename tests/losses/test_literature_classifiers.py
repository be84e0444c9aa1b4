"""EBV (Shen et al. 2023), NBC-Softmax (Kulatilleke et al. 2022), Proto-Triplet and ICNN (Mendez-Ruiz et al. 2023)."""

from __future__ import annotations

import math
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch.autograd import gradcheck

from isometry.errors import ConvergenceWarning, InputError
from isometry.losses.equiangular import EBVLoss, ebv_loss, equiangular_basis_vectors, welch_bound
from isometry.losses.few_shot import ICNNLoss, ProtoTripletLoss, icnn_score, proto_triplet_loss
from isometry.losses.nbc_softmax import NBCSoftmaxLoss, nbc_softmax_loss, negative_block_contrastive_loss

Y8 = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])


def _x(n=8, d=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=torch.float64, requires_grad=True)


# ----------------------------------------------------------------- EBV
def test_ebv_gradcheck():
    loss = EBVLoss(4, 6)
    assert gradcheck(lambda x: ebv_loss(x, Y8, loss.basis.double(), temperature=0.5), (_x(8, 6),))


def test_ebv_basis_nearly_orthogonal():
    basis = EBVLoss(10, 16).basis  # N <= d: orthonormal rows
    assert float((basis @ basis.T - torch.eye(10)).abs().max()) <= 0.002
    dense = equiangular_basis_vectors(40, 16, seed=1)  # N > d: optimized below 1.5 x Welch bound
    off = (dense @ dense.T - torch.eye(40)).abs().max()
    assert float(off) <= 1.5 * welch_bound(40, 16) + 1e-4
    random = F.normalize(torch.randn(40, 16, generator=torch.Generator().manual_seed(1)), dim=1)
    assert float(off) < float((random @ random.T - torch.eye(40)).abs().max())
    assert torch.allclose(dense.norm(dim=1), torch.ones(40), atol=1e-6)


def test_ebv_loss_lowest_at_own_basis_vector():
    loss = EBVLoss(3, 5)
    at_own = loss(loss.basis.double().clone(), [0, 1, 2])
    shuffled = loss(loss.basis.double()[[1, 2, 0]].clone(), [0, 1, 2])
    assert float(at_own) < 1e-3 < float(shuffled)


def test_ebv_bad_input():
    with pytest.raises(InputError, match="Welch bound"):
        equiangular_basis_vectors(50, 4, threshold=0.01)
    with pytest.raises(InputError, match="temperature"):
        EBVLoss(3, 4, temperature=0)
    with pytest.raises(InputError, match="num_classes"):
        EBVLoss(1, 4)
    loss = EBVLoss(3, 4)
    with pytest.raises(InputError, match="embedding_size=4"):
        loss(torch.randn(2, 5), [0, 1])
    with pytest.raises(InputError, match=r"\[0, 3\)"):
        loss(torch.randn(2, 4), [0, 3])
    with pytest.raises(InputError, match="integers"):
        loss(torch.randn(2, 4), ["a", "b"])
    with pytest.warns(ConvergenceWarning):
        equiangular_basis_vectors(30, 4, threshold=1.01 * welch_bound(30, 4), max_iter=3)


# ----------------------------------------------------------------- NBC-Softmax
def test_nbc_softmax_gradcheck():
    loss = NBCSoftmaxLoss(4, 4).double()
    assert gradcheck(lambda x, w, b: nbc_softmax_loss(x, Y8, w, b, scale=2.0), (_x(), loss.weight, loss.bias))


def test_nbc_term_brute_force_and_weight_zero_is_softmax():
    x = _x().detach()
    centres = torch.stack([x[Y8 == c].mean(0) for c in range(4)])
    cos = F.normalize(centres, dim=1) @ F.normalize(centres, dim=1).T
    brute = sum(math.log(sum(math.exp(0.2 * float(cos[c, o])) for o in range(4) if o != c)) for c in range(4)) / 4
    assert float(negative_block_contrastive_loss(x, Y8)) == pytest.approx(brute, rel=1e-12)
    loss = NBCSoftmaxLoss(4, 4, nbc_weight=0.0).double()
    with torch.no_grad():
        assert float(loss(x, Y8)) == pytest.approx(float(F.cross_entropy(x @ loss.weight.T + loss.bias, Y8)), rel=1e-12)


def test_nbc_term_lower_when_class_centres_are_apart():
    apart = torch.eye(4, dtype=torch.float64).repeat_interleave(2, dim=0)
    close = apart * 0.05 + 1.0
    assert float(negative_block_contrastive_loss(apart, Y8)) < float(negative_block_contrastive_loss(close, Y8))
    assert float(negative_block_contrastive_loss(apart, torch.zeros(8, dtype=torch.int64))) == 0.0


def test_nbc_softmax_bad_input():
    with pytest.raises(InputError, match="nbc_weight"):
        NBCSoftmaxLoss(3, 4, nbc_weight=1.5)
    with pytest.raises(InputError, match="scale"):
        NBCSoftmaxLoss(3, 4, scale=0)
    with pytest.raises(InputError, match="NaN"):
        NBCSoftmaxLoss(3, 2)(torch.tensor([[float("nan"), 0.0]]), [0])
    with pytest.raises(InputError, match="entries"):
        NBCSoftmaxLoss(3, 2)(torch.zeros(3, 2), [0, 1])


# ----------------------------------------------------------------- Proto-Triplet
def test_proto_triplet_gradcheck_batch_and_support():
    support = _x(8, 4, seed=1).detach()
    assert gradcheck(lambda x: ProtoTripletLoss()(x, Y8), (_x(),))
    assert gradcheck(lambda x: ProtoTripletLoss(margin=1.0)(x[:4], Y8[:4], support, Y8), (_x(),))


def test_proto_triplet_brute_force_and_zero_when_separated():
    x = _x().detach()
    protos = torch.stack([x[Y8 == c].mean(0) for c in range(4)])
    brute = sum(max(0.0, float((x[i] - protos[Y8[i]]).norm())
                    - min(float((x[i] - protos[c]).norm()) for c in range(4) if c != Y8[i]) + 0.5) for i in range(8)) / 8
    assert float(ProtoTripletLoss()(x, Y8)) == pytest.approx(brute, rel=1e-6)
    separated = 10.0 * torch.eye(4, dtype=torch.float64).repeat_interleave(2, dim=0)
    assert float(proto_triplet_loss(separated, Y8, separated[::2], margin=0.5)) == 0.0


def test_proto_triplet_bad_input():
    with pytest.raises(InputError, match="margin"):
        ProtoTripletLoss(margin=-1)
    with pytest.raises(InputError, match="no support rows"):
        ProtoTripletLoss()(torch.randn(2, 3), [0, 5], torch.randn(4, 3), [0, 0, 1, 1])
    with pytest.raises(InputError, match="at least 2 classes"):
        ProtoTripletLoss()(torch.randn(3, 3), [1, 1, 1])
    with pytest.raises(InputError, match="features"):
        ProtoTripletLoss()(torch.randn(2, 3), [0, 1], torch.randn(2, 4), [0, 1])


# ----------------------------------------------------------------- ICNN
def test_icnn_gradcheck():
    assert gradcheck(lambda x: ICNNLoss(k=3)(x, Y8), (_x(),))


def test_icnn_score_high_for_separated_classes_low_for_mixed():
    g = torch.Generator().manual_seed(0)
    y = torch.arange(4).repeat_interleave(5)
    centres = 10.0 * torch.eye(4, dtype=torch.float64)
    separated = centres[y] + 0.1 * torch.randn(20, 4, generator=g, dtype=torch.float64)
    mixed = torch.randn(20, 4, generator=g, dtype=torch.float64)
    s_sep, s_mix = float(icnn_score(separated, y, k=4)), float(icnn_score(mixed, y, k=4))
    assert 0.9 < s_sep <= 1.0 and s_mix < 0.6
    assert float(ICNNLoss()(separated, y)) < float(ICNNLoss()(mixed, y))


def test_icnn_bad_input():
    with pytest.raises(InputError, match="'k' parameter"):
        ICNNLoss(k=0)
    with pytest.raises(InputError, match="at least 2 classes"):
        ICNNLoss()(torch.randn(4, 2), [3, 3, 3, 3])
    with pytest.raises(InputError, match="at least 2"):
        ICNNLoss()(torch.randn(1, 2), [0])
    with pytest.raises(InputError, match="NaN"):
        ICNNLoss()(torch.tensor([[0.0, float("inf")], [1.0, 1.0]]), [0, 1])
