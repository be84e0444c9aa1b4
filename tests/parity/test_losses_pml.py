"""Parity of isometry.losses with pytorch-metric-learning 2.9.0: values and gradients in float64."""

from __future__ import annotations

import pytest
import torch

pml_losses = pytest.importorskip("pytorch_metric_learning.losses")
pml_miners = pytest.importorskip("pytorch_metric_learning.miners")

import isometry.losses as L  # noqa: E402
import isometry.miners as M  # noqa: E402

PAIR_LOSSES = [
    ("ContrastiveLoss", {}),
    ("ContrastiveLoss", {"pos_margin": 0.1, "neg_margin": 0.6}),
    ("TripletMarginLoss", {}),
    ("TripletMarginLoss", {"margin": 0.3, "swap": True}),
    ("TripletMarginLoss", {"smooth_loss": True}),
    ("MultiSimilarityLoss", {}),
    ("MultiSimilarityLoss", {"alpha": 1.0, "beta": 10.0, "base": 0.3}),
    ("CircleLoss", {}),
    ("LiftedStructureLoss", {}),
    ("NTXentLoss", {}),
    ("SupConLoss", {}),
    ("NCALoss", {}),
    ("NCALoss", {"softmax_scale": 3.0}),
    ("MarginLoss", {}),
    ("SignalToNoiseRatioContrastiveLoss", {}),
    ("ThresholdConsistentMarginLoss", {}),
]
CLASS_LOSSES = [
    ("ProxyAnchorLoss", {}),
    ("ProxyNCALoss", {}),
    ("SoftTripleLoss", {"centers_per_class": 3}),
    ("NormalizedSoftmaxLoss", {}),
    ("ArcFaceLoss", {}),
    ("CosFaceLoss", {}),
    ("SubCenterArcFaceLoss", {}),
]


def _batch(n=20, d=8, classes=4, seed=0, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=torch.float64) * scale
    y = torch.randint(0, classes, (n,), generator=g)
    return x, y


def _value_and_grad(loss, x, *args, **kwargs):
    x = x.clone().requires_grad_(True)
    value = loss(x, *args, **kwargs)
    value.backward()
    grad = x.grad if x.grad is not None else torch.zeros_like(x)
    return value.detach(), grad


def _assert_same(ours, theirs, x, *args, **kwargs):
    v1, g1 = _value_and_grad(ours, x, *args, **kwargs)
    v2, g2 = _value_and_grad(theirs, x, *args, **kwargs)
    assert torch.isfinite(v1) and torch.isfinite(g1).all()
    if torch.isnan(v2):  # PML averages an empty set (NCA with no same-label neighbour); isometry gives 0
        assert float(v1) == 0.0 and not g1.any()
        return
    torch.testing.assert_close(v1, v2.to(v1.dtype), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(g1, g2, atol=1e-5, rtol=1e-5)


def _pair(name, kwargs):
    return getattr(L, name)(**kwargs), getattr(pml_losses, name)(**kwargs)


def _with_classes(name, kwargs, classes, d):
    theirs = getattr(pml_losses, name)(num_classes=classes, embedding_size=d, **kwargs).double()
    ours = getattr(L, name)(num_classes=classes, embedding_size=d, **kwargs).double()
    for key, value in theirs.named_parameters():
        getattr(ours, key).data.copy_(value.data)
    return ours, theirs


EDGE_LABELS = {
    "random": None,
    "singleton_class": [0, 0, 0, 1, 1, 1, 2, 2, 3, 3, 3, 9],
    "one_class": [5] * 12,
    "all_distinct": list(range(12)),
}


@pytest.mark.parametrize("name,kwargs", PAIR_LOSSES)
@pytest.mark.parametrize("case", list(EDGE_LABELS))
def test_pair_losses_match_pml(name, kwargs, case):
    x, y = _batch(n=20 if case == "random" else 12)
    if EDGE_LABELS[case] is not None:
        y = torch.tensor(EDGE_LABELS[case])
    ours, theirs = _pair(name, kwargs)
    _assert_same(ours, theirs, x, y)


@pytest.mark.parametrize("name,kwargs", PAIR_LOSSES)
@pytest.mark.parametrize("scale", [1e-3, 1e3])
def test_pair_losses_match_pml_at_extreme_norms(name, kwargs, scale):
    x, y = _batch(n=14, scale=scale)
    _assert_same(*_pair(name, kwargs), x, y)


# PML's TCM ignores ref_emb and its triplet swap indexes the wrong matrix with a reference set.
@pytest.mark.parametrize("name,kwargs", [p for p in PAIR_LOSSES
                                         if p[0] != "ThresholdConsistentMarginLoss" and not p[1].get("swap")])
def test_pair_losses_match_pml_with_reference(name, kwargs):
    x, y = _batch(n=10, seed=1)
    ref, ref_y = _batch(n=14, seed=2)
    _assert_same(*_pair(name, kwargs), x, y, ref_emb=ref, ref_labels=ref_y)


@pytest.mark.parametrize("name,kwargs", PAIR_LOSSES)
@pytest.mark.parametrize("miner", ["batch_hard", "multi_similarity", "triplet_all"])
def test_pair_losses_match_pml_with_miner_output(name, kwargs, miner):
    x, y = _batch(n=16, seed=3)
    mined = {
        "batch_hard": pml_miners.BatchHardMiner(),
        "multi_similarity": pml_miners.MultiSimilarityMiner(epsilon=0.3),
        "triplet_all": pml_miners.TripletMarginMiner(margin=0.5),
    }[miner](x, y)
    _assert_same(*_pair(name, kwargs), x, y, mined)


@pytest.mark.parametrize("name,kwargs", CLASS_LOSSES)
@pytest.mark.parametrize("case", ["random", "one_class", "scale_small", "scale_large", "mined"])
def test_class_losses_match_pml(name, kwargs, case):
    classes, d = 5, 8
    scale = {"scale_small": 1e-3, "scale_large": 1e3}.get(case, 1.0)
    x, y = _batch(n=16, d=d, classes=classes, scale=scale)
    if case == "one_class":
        y = torch.full_like(y, 2)
    ours, theirs = _with_classes(name, kwargs, classes, d)
    mined = pml_miners.MultiSimilarityMiner(epsilon=0.2)(x, y) if case == "mined" else None
    _assert_same(ours, theirs, x, y, mined)


@pytest.mark.parametrize("name,kwargs", CLASS_LOSSES)
def test_class_losses_give_the_same_parameter_gradients(name, kwargs):
    x, y = _batch(n=16, classes=5)
    ours, theirs = _with_classes(name, kwargs, 5, 8)
    ours(x, y).backward()
    theirs(x, y).backward()
    for key, value in theirs.named_parameters():
        torch.testing.assert_close(getattr(ours, key).grad, value.grad, atol=1e-5, rtol=1e-5)


def test_margin_loss_with_learned_class_betas_matches_pml():
    x, y = _batch(n=16, classes=4)
    kwargs = {"learn_beta": True, "num_classes": 4, "nu": 0.1}
    ours, theirs = L.MarginLoss(**kwargs).double(), pml_losses.MarginLoss(**kwargs).double()
    _assert_same(ours, theirs, x, y)
    torch.testing.assert_close(ours.beta.grad, theirs.beta.grad, atol=1e-6, rtol=1e-6)


NEED_POSITIVES = {"TripletMarginLoss", "MarginLoss", "NTXentLoss", "SupConLoss", "LiftedStructureLoss", "CircleLoss",
                  "NCALoss"}


def test_no_positive_pair_gives_zero_without_nan():
    x, y = _batch(n=8)
    y = torch.arange(8)
    for name, kwargs in PAIR_LOSSES:
        value, grad = _value_and_grad(getattr(L, name)(**kwargs), x, y)
        assert torch.isfinite(value) and torch.isfinite(grad).all(), name
        if name in NEED_POSITIVES:
            assert float(value) == 0.0, name


def test_isometry_miner_output_is_accepted_by_pml_losses():
    x, y = _batch(n=16, seed=4)
    triplets = M.BatchHardMiner()(x, y)
    _assert_same(L.TripletMarginLoss(), pml_losses.TripletMarginLoss(), x, y, triplets)
