"""isometry.losses without peers: validation, labels, gradients, functional == class."""

from __future__ import annotations

import pytest
import torch

import isometry.losses as L
from isometry.errors import InputError

PAIR = ["ContrastiveLoss", "TripletMarginLoss", "MultiSimilarityLoss", "CircleLoss", "LiftedStructureLoss",
        "NTXentLoss", "SupConLoss", "NCALoss", "MarginLoss", "SignalToNoiseRatioContrastiveLoss",
        "ThresholdConsistentMarginLoss"]
CLASS = ["ProxyAnchorLoss", "ProxyNCALoss", "SoftTripleLoss", "NormalizedSoftmaxLoss", "ArcFaceLoss", "CosFaceLoss",
         "SubCenterArcFaceLoss"]


def _batch(n=12, d=5, classes=3, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=dtype), torch.randint(0, classes, (n,), generator=g)


def _make(name, d=5, classes=3):
    cls = getattr(L, name)
    return cls(num_classes=classes, embedding_size=d).double() if name in CLASS else cls()


# CircleLoss holds its self-paced weights constant (detached), so its gradient is not the
# derivative of its value by design; it is checked against PML in tests/parity instead.
@pytest.mark.parametrize("name", [n for n in PAIR + CLASS if n != "CircleLoss"])
def test_gradcheck(name):
    loss = _make(name, d=4)
    x, y = _batch(n=8, d=4)
    x.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda e: loss(e, y), (x,), eps=1e-6, atol=1e-4)


@pytest.mark.parametrize("name", PAIR)
def test_string_labels_and_huge_integer_labels_are_not_merged(name):
    x, y = _batch()
    loss = _make(name)
    expected = loss(x, y)
    names = [f"class-{int(v)}" for v in y]
    torch.testing.assert_close(loss(x, names), expected)
    huge = torch.tensor([2**24 + int(v) for v in y])  # 2**24 and 2**24 + 1 collide as float32
    torch.testing.assert_close(loss(x, huge), expected)


@pytest.mark.parametrize("name", PAIR)
def test_float32_close_to_float64(name):
    x, y = _batch()
    loss = _make(name)
    torch.testing.assert_close(loss(x.float(), y).double(), loss(x, y), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("name", PAIR + CLASS)
def test_bad_inputs_raise_input_error(name):
    loss = _make(name)
    x, y = _batch()
    bad = x.clone()
    bad[3, 1] = float("nan")
    with pytest.raises(InputError, match="row"):
        loss(bad, y)
    with pytest.raises(InputError):
        loss(x, y[:-1])
    with pytest.raises(InputError):
        loss(x[0], y)
    with pytest.raises(InputError):
        loss(x.numpy(), y)
    with pytest.raises(InputError):
        loss(x[:0], y[:0])


@pytest.mark.parametrize("name", CLASS)
def test_class_losses_need_class_indices(name):
    loss = _make(name)
    x, y = _batch()
    with pytest.raises(InputError, match="class indices"):
        loss(x, y + 3)
    with pytest.raises(InputError, match="ref_emb"):
        loss(x, y, ref_emb=x, ref_labels=y)


@pytest.mark.parametrize("name,kwargs", [
    ("ContrastiveLoss", {"pos_margin": "a"}),
    ("TripletMarginLoss", {"triplets_per_anchor": 0}),
    ("TripletMarginLoss", {"swap": 1}),
    ("MultiSimilarityLoss", {"alpha": -1}),
    ("CircleLoss", {"gamma": 0}),
    ("NTXentLoss", {"temperature": 0}),
    ("SupConLoss", {"temperature": -0.1}),
    ("NCALoss", {"softmax_scale": 0}),
    ("MarginLoss", {"num_classes": 0}),
    ("ThresholdConsistentMarginLoss", {"lambda_plus": -1}),
    ("CircleLoss", {"distance": "euclidean"}),
    ("TripletMarginLoss", {"distance": "manhattan"}),
    ("SignalToNoiseRatioContrastiveLoss", {"distance": "euclidean"}),
])
def test_bad_hyperparameters_raise_input_error(name, kwargs):
    with pytest.raises(InputError, match=name if "distance" not in kwargs else "distance"):
        getattr(L, name)(**kwargs)


@pytest.mark.parametrize("name,kwargs", [
    ("ProxyAnchorLoss", {"alpha": 0}), ("ProxyAnchorLoss", {"num_classes": 0}),
    ("SoftTripleLoss", {"centers_per_class": 0}), ("NormalizedSoftmaxLoss", {"temperature": 0}),
    ("ArcFaceLoss", {"margin": 200}), ("CosFaceLoss", {"scale": -1}), ("SubCenterArcFaceLoss", {"sub_centers": 0}),
])
def test_bad_class_hyperparameters_raise_input_error(name, kwargs):
    args = {"num_classes": 3, "embedding_size": 4, **kwargs}
    with pytest.raises(InputError, match=name):
        getattr(L, name)(**args)


def test_message_format():
    with pytest.raises(InputError, match=r"The 'margin' parameter of TripletMarginLoss must be a number\. Got 'x'"):
        L.TripletMarginLoss(margin="x")


@pytest.mark.parametrize("fn,cls,kwargs", [
    (L.contrastive_loss, L.ContrastiveLoss, {"pos_margin": 0.1}),
    (L.triplet_margin_loss, L.TripletMarginLoss, {"margin": 0.2, "swap": True}),
    (L.margin_loss, L.MarginLoss, {"margin": 0.1}),
    (L.multi_similarity_loss, L.MultiSimilarityLoss, {"alpha": 1.0}),
    (L.circle_loss, L.CircleLoss, {"m": 0.3}),
    (L.lifted_structure_loss, L.LiftedStructureLoss, {"neg_margin": 0.8}),
    (L.ntxent_loss, L.NTXentLoss, {"temperature": 0.2}),
    (L.supcon_loss, L.SupConLoss, {"temperature": 0.2}),
    (L.nca_loss, L.NCALoss, {"softmax_scale": 2.0}),
    (L.threshold_consistent_margin_loss, L.ThresholdConsistentMarginLoss, {"margin_plus": 0.8}),
])
def test_function_equals_class(fn, cls, kwargs):
    x, y = _batch()
    torch.testing.assert_close(fn(x, y, **kwargs), cls(**kwargs)(x, y))


def test_proxy_anchor_function_equals_class():
    x, y = _batch()
    loss = L.ProxyAnchorLoss(3, 5).double()
    torch.testing.assert_close(L.proxy_anchor_loss(x, y, loss.proxies), loss(x, y))


def test_random_triplets_per_anchor_are_valid_and_reduce():
    x, y = _batch(n=16)
    value = L.TripletMarginLoss(margin=0.5, triplets_per_anchor=3)(x, y)
    assert torch.isfinite(value) and value >= 0
    value = L.MarginLoss(triplets_per_anchor=2)(x, y)
    assert torch.isfinite(value)


def test_all_triplets_blocks_agree_with_brute_force(monkeypatch):
    import isometry.losses._triplets as T

    x, y = _batch(n=14, classes=2)
    full = L.TripletMarginLoss(margin=0.3)(x, y)
    monkeypatch.setattr(T, "_BLOCK_ELEMENTS", 20)  # forces one anchor row per block
    torch.testing.assert_close(L.TripletMarginLoss(margin=0.3)(x, y), full)
    xn = torch.nn.functional.normalize(x, dim=1)
    dist = torch.cdist(xn, xn)
    terms = [max(0.0, float(dist[a, p] - dist[a, n] + 0.3)) for a in range(14) for p in range(14)
             for n in range(14) if a != p and y[a] == y[p] and y[a] != y[n]]
    active = [t for t in terms if t > 0]
    assert abs(float(full) - sum(active) / len(active)) < 1e-10


def test_distance_spec_accepts_names_and_objects():
    x, y = _batch()
    by_name = L.ContrastiveLoss(distance="cosine_similarity")(x, y)
    by_obj = L.ContrastiveLoss(distance=L.Distance("cosine_similarity"))(x, y)
    torch.testing.assert_close(by_name, by_obj)
    with pytest.raises(InputError):
        L.Distance("euclid")


def test_bad_indices_tuple_raises_input_error():
    x, y = _batch()
    loss = L.ContrastiveLoss()
    with pytest.raises(InputError, match=r"indices_tuple\[1\]"):
        loss(x, y, (torch.tensor([0]), torch.tensor([99]), torch.tensor([0]), torch.tensor([2])))
    with pytest.raises(InputError, match="3 .* or 4"):
        loss(x, y, (torch.tensor([0]),) * 2)
    with pytest.raises(InputError, match="differ in length"):
        loss(x, y, (torch.tensor([0, 1]), torch.tensor([1]), torch.tensor([2])))
