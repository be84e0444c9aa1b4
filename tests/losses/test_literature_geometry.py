"""Alignment/uniformity (Wang & Isola 2020), MMCR (Yerxa et al. 2023), RKD (Park et al. 2019)."""

from __future__ import annotations

import math

import pytest
import torch
from torch.autograd import gradcheck

from isometry.errors import InputError
from isometry.losses.alignment_uniformity import (
    AlignmentLoss,
    AlignmentUniformityLoss,
    UniformityLoss,
    alignment_loss,
    uniformity_loss,
)
from isometry.losses.mmcr import MMCRLoss, mmcr_loss
from isometry.losses.relational import RKDAngleLoss, RKDDistanceLoss, RKDLoss


def _x(n=6, d=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=torch.float64, requires_grad=True)


# ----------------------------------------------------------------- alignment / uniformity
def test_alignment_uniformity_gradcheck():
    x = _x()
    y = torch.tensor([0, 0, 1, 1, 2, 2])
    assert gradcheck(lambda x: AlignmentUniformityLoss()(x, y), (x,))
    assert gradcheck(lambda x: AlignmentLoss(alpha=1.5)(x, y), (x,))
    assert gradcheck(lambda x: UniformityLoss(t=3)(x), (x,))


def test_uniformity_matches_brute_force_mean():
    x = torch.nn.functional.normalize(_x(7, 3).detach(), dim=1)
    pairs = [(i, j) for i in range(7) for j in range(i + 1, 7)]
    brute = math.log(sum(math.exp(-2 * float((x[i] - x[j]).square().sum())) for i, j in pairs) / len(pairs))
    assert float(uniformity_loss(x, t=2.0)) == pytest.approx(brute, rel=1e-12)


def test_uniformity_lower_for_spread_points_than_collapsed():
    angles = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
    spread = torch.stack([angles.cos(), angles.sin()], dim=1)
    collapsed = torch.tensor([[1.0, 0.0]], dtype=torch.float64).repeat(8, 1) + 1e-3 * _x(8, 2).detach()
    loss = UniformityLoss()
    assert float(loss(collapsed)) == pytest.approx(0.0, abs=1e-4)  # exp(0) everywhere
    assert float(loss(spread)) < float(loss(collapsed)) - 1.0


def test_alignment_zero_for_identical_positives_and_no_positive_pair():
    x = torch.tensor([[1.0, 2.0], [2.0, 4.0], [0.0, 1.0]])
    assert float(AlignmentLoss()(x, [0, 0, 1])) == pytest.approx(0.0, abs=1e-7)  # same direction
    assert float(alignment_loss(x, torch.tensor([0, 1, 2]))) == 0.0


def test_alignment_uniformity_bad_input():
    with pytest.raises(InputError, match="alpha"):
        AlignmentLoss(alpha=0)
    with pytest.raises(InputError, match="'t' parameter"):
        UniformityLoss(t=-1)
    with pytest.raises(InputError, match="uniformity_weight"):
        AlignmentUniformityLoss(uniformity_weight=-0.5)
    x = torch.ones(3, 2)
    with pytest.raises(InputError, match="NaN"):
        AlignmentLoss()(torch.tensor([[1.0, float("nan")], [1.0, 0.0]]), [0, 0])
    with pytest.raises(InputError, match="entries"):
        AlignmentLoss()(x, [0, 1])
    with pytest.raises(InputError, match="torch tensors"):
        UniformityLoss()(x.numpy())
    with pytest.raises(InputError, match="at least 2"):
        UniformityLoss()(x[:1])


# ----------------------------------------------------------------- MMCR
def test_mmcr_gradcheck():
    views = _x(12, 5).reshape(4, 3, 5)
    assert gradcheck(lambda v: MMCRLoss(lambda_local=0.1)(v), (views,))


def test_mmcr_equals_minus_nuclear_norm_of_centroids():
    x = _x(12, 5).detach()
    labels = torch.arange(12) % 4  # rows of item i: i, i+4, i+8
    z = torch.nn.functional.normalize(x, dim=1)
    centroids = torch.stack([z[labels == c].mean(0) for c in range(4)])
    expected = -torch.linalg.matrix_norm(centroids, ord="nuc")
    assert float(MMCRLoss()(x, labels)) == pytest.approx(float(expected), rel=1e-12)
    assert float(mmcr_loss(z[torch.argsort(labels, stable=True)].reshape(4, 3, 5))) == pytest.approx(float(expected), rel=1e-12)


def test_mmcr_lower_for_separated_centroids():
    g = torch.Generator().manual_seed(1)
    noise = 0.05 * torch.randn(4, 3, 4, generator=g, dtype=torch.float64)
    separated = torch.eye(4, dtype=torch.float64)[:, None, :] + noise
    collapsed = torch.tensor([1.0, 0, 0, 0], dtype=torch.float64).expand(4, 3, 4) + noise
    assert float(MMCRLoss()(separated)) < float(MMCRLoss()(collapsed)) - 1.0


def test_mmcr_bad_input():
    with pytest.raises(InputError, match="lambda_local"):
        MMCRLoss(lambda_local=-1)
    with pytest.raises(InputError, match="same number of views"):
        MMCRLoss()(torch.randn(5, 3), [0, 0, 1, 1, 1])
    with pytest.raises(InputError, match="at least 2 views"):
        MMCRLoss()(torch.randn(3, 1, 4))
    with pytest.raises(InputError, match="labels"):
        MMCRLoss()(torch.randn(4, 3))
    with pytest.raises(InputError, match="NaN"):
        MMCRLoss()(torch.full((2, 2, 3), float("inf")))


# ----------------------------------------------------------------- RKD
def test_rkd_gradcheck():
    s = _x(5, 3)
    t = _x(5, 6, seed=1).detach()
    assert gradcheck(lambda s: RKDLoss()(s, t), (s,))


def test_rkd_zero_when_student_is_teacher_up_to_scale_and_rotation():
    t = _x(7, 4).detach()
    q, _ = torch.linalg.qr(torch.randn(4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(2)))
    student = 2.5 * t @ q + 1.0
    assert float(RKDDistanceLoss()(student, t)) < 1e-20
    assert float(RKDAngleLoss()(student, t)) < 1e-20
    assert float(RKDDistanceLoss()(_x(7, 4, seed=3).detach(), t)) > 1e-3


def test_rkd_teacher_gets_no_gradient():
    s, t = _x(5, 3), _x(5, 3, seed=1)
    RKDLoss()(s, t).backward()
    assert t.grad is None and s.grad is not None


def test_rkd_bad_input():
    with pytest.raises(InputError, match="one teacher row"):
        RKDDistanceLoss()(torch.randn(4, 2), torch.randn(5, 2))
    with pytest.raises(InputError, match="at least 3"):
        RKDAngleLoss()(torch.randn(2, 2), torch.randn(2, 2))
    with pytest.raises(InputError, match="angle_weight"):
        RKDLoss(angle_weight=-1)
    with pytest.raises(InputError, match="floating-point"):
        RKDDistanceLoss()(torch.ones(3, 2, dtype=torch.int64), torch.randn(3, 2))
