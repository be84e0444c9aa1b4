"""isometry.miners without peers: validity of tuples, random miners, errors."""

from __future__ import annotations

import pytest
import torch

import isometry.losses as L
import isometry.miners as M
from isometry.errors import InputError


def _batch(n=20, d=6, classes=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g), torch.randint(0, classes, (n,), generator=g)


def _check_triplets(t, y):
    a, p, n = t
    assert (y[a] == y[p]).all() and (y[a] != y[n]).all() and (a != p).all()


def test_batch_hard_picks_farthest_positive_and_closest_negative():
    x, y = _batch()
    a, p, n = M.BatchHardMiner()(x, y)
    xn = torch.nn.functional.normalize(x, dim=1)
    d = torch.cdist(xn, xn)
    for i, j, k in zip(a.tolist(), p.tolist(), n.tolist()):
        pos = [c for c in range(20) if c != i and y[c] == y[i]]
        neg = [c for c in range(20) if y[c] != y[i]]
        assert j == max(pos, key=lambda c: d[i, c]) and k == min(neg, key=lambda c: d[i, c])


def test_distance_weighted_miner_gives_valid_reproducible_triplets():
    x, y = _batch(n=32, d=16)
    t1 = M.DistanceWeightedMiner(seed=3)(x, y)
    t2 = M.DistanceWeightedMiner(seed=3)(x, y)
    assert len(t1.anchors) > 0
    _check_triplets(t1, y)
    assert all(torch.equal(u, v) for u, v in zip(t1, t2))
    xn = torch.nn.functional.normalize(x, dim=1)
    assert (torch.cdist(xn, xn)[t1.anchors, t1.negatives] < 1.4).all()


def test_distance_weighted_miner_samples_by_weight():
    from isometry.miners.distance_weighted import distance_weights

    x, y = _batch(n=12, d=8, classes=2, seed=2)
    miner = M.DistanceWeightedMiner(seed=0)
    counts = torch.zeros(12, 12)
    for _ in range(150):
        a, _, n = miner(x, y)
        counts.index_put_((a, n), torch.ones(len(a)), accumulate=True)
    xn = torch.nn.functional.normalize(x, dim=1)
    w = distance_weights(torch.cdist(xn, xn), y[:, None] != y[None, :], 8)
    rows = torch.isfinite(w).all(1) & (w.sum(1) > 0)
    empirical = counts[rows] / counts[rows].sum(1, keepdim=True)
    assert (empirical - w[rows]).abs().max() < 0.12


@pytest.mark.parametrize("miner", [M.BatchHardMiner(), M.TripletMarginMiner(margin=1.0),
                                   M.BatchEasyHardMiner(pos_strategy="easy", neg_strategy="hard")])
def test_miner_output_feeds_every_pair_loss(miner):
    x, y = _batch()
    mined = miner(x, y)
    for loss in (L.ContrastiveLoss(), L.TripletMarginLoss(), L.MultiSimilarityLoss(), L.NTXentLoss()):
        v = loss(x.requires_grad_(True), y, mined)
        assert torch.isfinite(v)


def test_pairs_and_triplets_are_named_tuples():
    x, y = _batch()
    pairs = M.PairMarginMiner()(x, y)
    assert isinstance(pairs, M.Pairs) and isinstance(pairs, tuple) and len(pairs) == 4
    assert isinstance(M.TripletMarginMiner()(x, y), M.Triplets)


def test_miners_reject_bad_input():
    x, y = _batch()
    with pytest.raises(InputError):
        M.BatchHardMiner()(x, None)
    with pytest.raises(InputError):
        M.MultiSimilarityMiner()(x, y[:3])
    with pytest.raises(InputError):
        M.TripletMarginMiner()(x[:, :, None], y)


@pytest.mark.parametrize("factory", [
    lambda: M.BatchEasyHardMiner(pos_strategy="semihard", neg_strategy="semihard"),
    lambda: M.BatchEasyHardMiner(pos_strategy="all", neg_strategy="semihard"),
    lambda: M.BatchEasyHardMiner(pos_strategy="medium"),
    lambda: M.BatchEasyHardMiner(allowed_pos_range=(1.0, 0.0)),
    lambda: M.TripletMarginMiner(type_of_triplets="hardest"),
    lambda: M.MultiSimilarityMiner(epsilon=-1),
    lambda: M.PairMarginMiner(pos_margin="a"),
    lambda: M.DistanceWeightedMiner(cutoff=0),
    lambda: M.DistanceWeightedMiner(distance="cosine_similarity"),
])
def test_bad_miner_hyperparameters(factory):
    with pytest.raises(InputError):
        factory()
