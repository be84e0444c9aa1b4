"""Fused autograd functions of isometry.losses: float64 gradcheck against their own forward."""

from __future__ import annotations

import pytest
import torch

from isometry.losses._fused import hinge_pair_list, hinge_pairs, nca_fused, normalized_pairwise, triplet_hinge_list
from isometry.losses._fused_softmax import Logits, class_softmax_loss

KINDS = ["euclidean", "sqeuclidean", "cosine_similarity"]


def _rows(n, d=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=torch.float64)


@pytest.mark.parametrize("kind", KINDS)
def test_normalized_pairwise_gradcheck_self(kind):
    x = _rows(6).requires_grad_(True)
    # the diagonal of a self-distance sits at the floor: weight it out, as losses do
    weight = 1.0 - torch.eye(6, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda a: normalized_pairwise(a, None, kind, 1e-300) * weight, (x,))


@pytest.mark.parametrize("kind", KINDS)
def test_normalized_pairwise_gradcheck_reference(kind):
    x, r = _rows(4).requires_grad_(True), _rows(7, seed=1).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a, b: normalized_pairwise(a, b, kind, 1e-300), (x, r))


@pytest.mark.parametrize("kind", KINDS)
def test_normalized_pairwise_matches_autograd_formula(kind):
    x = _rows(8, seed=2)
    x[3] = 0.0  # a zero row stays zero after normalization
    a = x.clone().requires_grad_(True)
    b = x.clone().requires_grad_(True)
    w = _rows(8, 8, seed=3)
    (normalized_pairwise(a, None, kind, 1e-300) * w).sum().backward()
    u = torch.nn.functional.normalize(b, dim=1)
    sq = ((u * u).sum(1, keepdim=True) + (u * u).sum(1) - 2 * u @ u.T).clamp_min(1e-300)
    ref = {"euclidean": sq.sqrt(), "sqeuclidean": sq, "cosine_similarity": u @ u.T}[kind]
    off = ~torch.eye(8, dtype=torch.bool)
    (ref * w * off).sum().backward()
    a_grad = a.grad.clone()
    a.grad = None
    (normalized_pairwise(a, None, kind, 1e-300) * w * off).sum().backward()
    torch.testing.assert_close(a.grad, b.grad)
    assert torch.isfinite(a_grad).all()


@pytest.mark.parametrize("inverted", [False, True])
@pytest.mark.parametrize("weights", ["mask", "counts"])
def test_hinge_pairs_gradcheck(inverted, weights):
    g = torch.Generator().manual_seed(4)
    mat = torch.rand(6, 7, generator=g, dtype=torch.float64).requires_grad_(True)
    pos = torch.rand(6, 7, generator=g) < 0.4
    neg = ~pos
    if weights == "counts":
        pos, neg = pos * torch.randint(1, 3, (6, 7), generator=g).double(), neg.double()
    assert torch.autograd.gradcheck(lambda m: hinge_pairs(m, pos, neg, 0.3, 0.6, inverted), (mat,))


def test_hinge_pairs_is_zero_without_active_pairs():
    mat = torch.full((3, 3), 0.5, dtype=torch.float64, requires_grad=True)
    pos = torch.eye(3, dtype=torch.bool)
    value = hinge_pairs(mat, pos, ~pos, 0.6, 0.4, False)
    value.backward()
    assert float(value.detach()) == 0.0 and not mat.grad.any()


SPECS = {
    "normalized_softmax": Logits("cosface", 2.0),
    "cosface": Logits("cosface", 3.0, 0.35),
    "arcface": Logits("arcface", 3.0, 0.5),
    "subcenter_arcface": Logits("arcface", 3.0, 0.5, centers=3),
    "softtriple": Logits("softtriple", 4.0, 0.1, centers=3, gamma=10.0),
    "proxynca": Logits("proxynca", 2.0, floor=1e-300, reduction="nca"),
}


@pytest.mark.parametrize("name", list(SPECS))
@pytest.mark.parametrize("mined", [False, True])
def test_class_softmax_loss_gradcheck(name, mined):
    spec = SPECS[name]
    x = _rows(6, 4, seed=5).requires_grad_(True)
    w = _rows(3 * spec.centers, 4, seed=6).requires_grad_(True)
    y = torch.tensor([0, 1, 2, 2, 1, 0])
    row_w = torch.tensor([1.0, 0.5, 0.0, 1.0, 0.5, 1.0], dtype=torch.float64) if mined else None
    assert torch.autograd.gradcheck(lambda a, b: class_softmax_loss(a, b, y, row_w, spec), (x, w))


def test_arcface_target_past_pi_minus_margin_uses_the_linear_fallback():
    x = torch.tensor([[1.0, 0.0]], dtype=torch.float64, requires_grad=True)
    w = torch.tensor([[-1.0, 0.05], [0.0, 1.0]], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: class_softmax_loss(a, b, torch.tensor([0]), None,
                                                                  SPECS["arcface"]), (x, w))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("with_ref", [False, True])
def test_nca_fused_gradcheck(kind, with_ref):
    x = _rows(6, seed=7).requires_grad_(True)
    y = torch.tensor([0, 0, 1, 1, 2, 3])  # class 3 has no neighbour in the batch: left out of the mean
    row_w = torch.tensor([1.0, 0.5, 1.0, 0.25, 1.0, 1.0], dtype=torch.float64)
    if with_ref:
        r = _rows(5, seed=8).requires_grad_(True)
        ry = torch.tensor([0, 1, 1, 2, 2])
        fn = lambda a, b: nca_fused(a, b, y, ry, row_w, kind, 1e-300, 2.0)  # noqa: E731
        assert torch.autograd.gradcheck(fn, (x, r))
    else:
        assert torch.autograd.gradcheck(lambda a: nca_fused(a, None, y, y, row_w, kind, 1e-300, 2.0), (x,))


@pytest.mark.parametrize("inverted", [False, True])
def test_listed_pair_and_triplet_hinges_gradcheck(inverted):
    g = torch.Generator().manual_seed(9)
    mat = torch.rand(5, 6, generator=g, dtype=torch.float64).requires_grad_(True)
    a1, p = torch.tensor([0, 0, 1, 3, 3]), torch.tensor([1, 1, 2, 4, 5])  # (0, 1) listed twice
    a2, n = torch.tensor([0, 2, 4, 4]), torch.tensor([3, 5, 0, 1])
    assert torch.autograd.gradcheck(lambda m: hinge_pair_list(m, (a1, p, a2, n), 0.3, 0.6, inverted), (mat,))
    a, tp, tn = torch.tensor([0, 0, 2, 4]), torch.tensor([1, 1, 3, 0]), torch.tensor([2, 2, 5, 3])
    assert torch.autograd.gradcheck(lambda m: triplet_hinge_list(m, (a, tp, tn), 0.2, inverted), (mat,))


def test_listed_hinges_equal_dense_hinges_with_counts():
    g = torch.Generator().manual_seed(10)
    mat = torch.rand(4, 4, generator=g, dtype=torch.float64)
    a1, p, a2, n = torch.tensor([0, 0, 1]), torch.tensor([1, 1, 0]), torch.tensor([2, 3]), torch.tensor([0, 1])
    pos = torch.zeros(4, 4, dtype=torch.float64).index_put_((a1, p), torch.ones(3, dtype=torch.float64), True)
    neg = torch.zeros(4, 4, dtype=torch.float64).index_put_((a2, n), torch.ones(2, dtype=torch.float64), True)
    dense = hinge_pairs(mat, pos, neg, 0.1, 0.9, False)
    torch.testing.assert_close(hinge_pair_list(mat, (a1, p, a2, n), 0.1, 0.9, False), dense)


@pytest.mark.parametrize("kind", ["euclidean", "sqeuclidean"])
def test_normalized_pairwise_coincident_rows_have_finite_gradients(kind):
    x = _rows(5, seed=11)
    x[1] = x[0] * 3.0  # the same direction: distance 0 after normalization
    x.requires_grad_(True)
    mat = normalized_pairwise(x, None, kind, 1e-300)
    assert float(mat[0, 1].detach()) < 1e-6 and float(mat[1, 1].detach()) <= 1e-150
    mat.sum().backward()
    assert torch.isfinite(x.grad).all()
